"""Participants: what each house or farm draws, produces, stores and trades with the grid, and the total."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QTableWidget, QWidget

from widgets.cells import RIGHT, fit_columns, set_cell, set_row_count, setup_table
from widgets.palette import STALE, TEXT


@dataclass(frozen=True, slots=True)
class ParticipantRow:
    """Power in W (nan = no such device or no value), energy in Wh, state of charge in %."""

    participant: str
    grid_w: float  # + import, − export
    consumption_w: float
    pv_w: float
    wind_w: float
    battery_w: float  # + charging, − discharging
    soc_pct: float
    imported_wh: float
    exported_wh: float
    stale: bool = False

    @property
    def self_sufficiency(self) -> float:
        """Share of the consumption not drawn from the grid right now (0–1)."""
        if not (math.isfinite(self.consumption_w) and math.isfinite(self.grid_w)) or self.consumption_w <= 0:
            return math.nan
        return max(0.0, min(1.0, 1.0 - max(self.grid_w, 0.0) / self.consumption_w))


COLUMNS = ("Participant", "Grid [kW]", "Consumption [kW]", "Solar [kW]", "Wind [kW]", "Battery [kW]", "SoC [%]",
           "Self-supplied [%]", "Imported [kWh]", "Exported [kWh]")


def total(rows: list[ParticipantRow]) -> ParticipantRow:
    """Sum over participants (SoC: plain mean of the batteries)."""
    def s(values: list[float]) -> float:
        finite = [v for v in values if math.isfinite(v)]
        return sum(finite) if finite else math.nan

    socs = [r.soc_pct for r in rows if math.isfinite(r.soc_pct)]
    return ParticipantRow("All participants", s([r.grid_w for r in rows]), s([r.consumption_w for r in rows]),
                          s([r.pv_w for r in rows]), s([r.wind_w for r in rows]), s([r.battery_w for r in rows]),
                          sum(socs) / len(socs) if socs else math.nan, s([r.imported_wh for r in rows]),
                          s([r.exported_wh for r in rows]), any(r.stale for r in rows))


class ParticipantTable(QTableWidget):
    """One row per participant and a bold total; grey normally, blue-grey text where values are stale."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        setup_table(self, COLUMNS, "participantTable")

    def show_rows(self, rows: list[ParticipantRow]) -> None:
        shown = [*rows, total(rows)] if rows else []
        changed = set_row_count(self, len(shown))
        if changed:
            bold = QFont()
            bold.setBold(True)
            for c in range(len(COLUMNS)):
                set_cell(self, len(shown) - 1, c, "", TEXT, RIGHT if c else None)
                self.item(len(shown) - 1, c).setFont(bold)
        for r, row in enumerate(shown):
            ss = row.self_sufficiency
            values = (row.participant, _kw(row.grid_w), _kw(row.consumption_w), _kw(row.pv_w), _kw(row.wind_w),
                      _kw(row.battery_w), _num(row.soc_pct, 0), _num(ss * 100, 0), _num(row.imported_wh / 1000, 2),
                      _num(row.exported_wh / 1000, 2))
            colour = STALE if row.stale else TEXT
            for c, text in enumerate(values):
                set_cell(self, r, c, text, colour, RIGHT if c else None)
        fit_columns(self, changed)

    def row_texts(self) -> list[list[str]]:
        return [[self.item(r, c).text() for c in range(self.columnCount())] for r in range(self.rowCount())]


def _kw(w: float) -> str:
    return _num(w / 1000, 2)


def _num(value: float, decimals: int) -> str:
    return "" if not math.isfinite(value) else f"{value:,.{decimals}f}"
