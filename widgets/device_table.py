"""Field-device table: one row per device, communication state first."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget, QWidget

from widgets.cells import RIGHT, fit_columns, set_cell, set_row_count, setup_table
from widgets.palette import ALERT, EMERGENCY, STALE, TEXT


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """What the table shows of one device."""

    name: str
    kind: str
    address: str
    state: str  # connected | degraded | disconnected | connecting | stopped
    power_w: float
    energy_wh: float
    reads_ok: int
    reads_failed: int
    latency_ms: float | None
    last_error: str


COLUMNS = ("Device", "Kind", "Address", "Comm", "Power [kW]", "Energy [kWh]", "Reads ok", "Errors",
           "Latency [ms]", "Last error")
_STATE_COLOURS = {"degraded": ALERT, "disconnected": EMERGENCY, "connecting": STALE, "stopped": STALE}


class DeviceTable(QTableWidget):
    """Dense, sortable, read-only; colour only on devices that need a look."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        setup_table(self, COLUMNS, "deviceTable")
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)

    def show_rows(self, rows: list[DeviceRow]) -> None:
        self.setSortingEnabled(False)  # no re-sorting while cells change
        changed = set_row_count(self, len(rows))
        # Each device is written where it is shown now, so sorting and the selection stay put.
        where = {} if changed else {self.item(r, 0).text(): r for r in range(self.rowCount()) if self.item(r, 0)}
        if len(where) != len(rows) or set(where) != {row.name for row in rows}:
            where = {row.name: r for r, row in enumerate(rows)}
        for row in rows:
            r = where[row.name]
            values = (row.name, row.kind, row.address, row.state, _num(row.power_w / 1000, 2),
                      _num(row.energy_wh / 1000, 1), str(row.reads_ok), str(row.reads_failed),
                      _num(row.latency_ms, 1), row.last_error)
            # A tamper note needs a look even while the device communicates fine.
            attention = ALERT if row.last_error.startswith("TAMPER") else TEXT
            colour = _STATE_COLOURS.get(row.state, attention)
            for c, text in enumerate(values):
                set_cell(self, r, c, text, colour if c in (0, 3, 9) else TEXT, RIGHT if c in (4, 5, 6, 7, 8) else None)
        fit_columns(self, changed)
        self.setSortingEnabled(True)

    def row_texts(self) -> list[list[str]]:
        """Cell texts (for tests)."""
        return [[self.item(r, c).text() for c in range(self.columnCount())] for r in range(self.rowCount())]


def _num(value: float | None, decimals: int) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.{decimals}f}"
