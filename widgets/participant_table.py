"""Participants: what each house or farm draws, produces, stores and trades with the grid, and the total."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QTableWidget, QWidget

from core.participants import EnergyBalance
from widgets import palette
from widgets.cells import RIGHT, ColumnFit, header_tips, set_cell, set_row_count, setup_table

# Short labels, each explained in its tooltip: the ten columns fit the panel's ~860 px at 1366 x 768.
COLUMNS = ("Participant", "Grid kW", "Use kW", "Solar kW", "Wind kW", "Batt. kW", "SoC %", "Self %", "Imp. kWh",
           "Exp. kWh")
CONSUMPTION, SELF_SUPPLIED = 2, 7
_TIPS = {
    1: "Grid [kW]: net exchange at the participant's meter: + import, − export",
    2: "Consumption [kW]: meter import + generation − battery charging, each device's power taken at the "
       "same instant. "
       "Slightly below zero (measurement tolerance: 50 W + 2 % of the flows + what changed within a poll) "
       "shows as 0; negative in amber: the inputs do not fit together (an unmetered generator, a sign convention)",
    3: "Solar generation [kW]",
    4: "Wind generation [kW]",
    5: "Battery [kW]: + charging, − discharging",
    6: "Battery state of charge [%]",
    7: "Self-supplied [%]: share of the consumption covered by the participant's own generation and storage right now; "
       "for all participants: the community's generation against the community's consumption, so "
       "neighbours' export counts",
    8: "Energy imported from the grid [kWh]",
    9: "Energy exported to the grid [kWh]",
}


class ParticipantTable(QTableWidget):
    """One row per participant and a bold total; grey normally, blue-grey text where values are stale."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        setup_table(self, COLUMNS, "participantTable")
        header_tips(self, _TIPS)
        self.columns = ColumnFit(self)  # never a cut label or value; the room left shared out

    def show_rows(self, rows: Sequence[EnergyBalance], total: EnergyBalance) -> None:
        """The participants' rows, then their total (computed by core.participants.total)."""
        shown = [*rows, total] if rows else []
        changed = set_row_count(self, len(shown))
        if changed:
            bold = QFont()
            bold.setBold(True)
            for c in range(len(COLUMNS)):
                set_cell(self, len(shown) - 1, c, "", palette.TEXT, RIGHT if c else None)
                item = self.item(len(shown) - 1, c)
                if item is not None:
                    item.setFont(bold)
        for r, row in enumerate(shown):
            values = (row.participant, _kw(row.grid_w), _kw(row.consumption_w), _kw(row.pv_w), _kw(row.wind_w),
                      _kw(row.battery_w), _num(row.soc_pct, 0), _num(row.self_supplied * 100, 0),
                      _num(row.imported_wh / 1000, 2), _num(row.exported_wh / 1000, 2))
            colour = palette.STALE if row.stale else palette.TEXT
            for c, text in enumerate(values):
                implausible = c == CONSUMPTION and row.consumption_implausible
                set_cell(self, r, c, text, palette.ALERT if implausible else colour, RIGHT if c else None)

    def row_texts(self) -> list[list[str]]:
        return [[item.text() if (item := self.item(r, c)) else "" for c in range(self.columnCount())]
                for r in range(self.rowCount())]


def _kw(w: float) -> str:
    return _num(w / 1000, 2)


def _num(value: float, decimals: int) -> str:
    return "" if not math.isfinite(value) else f"{value:,.{decimals}f}"
