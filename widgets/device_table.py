"""Field-device table: one row per device, communication state first, tamper findings apart from errors."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem, QWidget

from core.sources import ConnectionState
from core.tamper import TamperEvent
from widgets import palette
from widgets.cells import RIGHT, ColumnFit, column_menu, header_tips, set_cell, set_row_count, setup_table

# An operator override is a state the operator chose, not an alarm (no alarm colour): bright text behind a
# badge, so it stands out from the grey rows without reading as amber or red.
OVERRIDDEN = "#ffffff"
OVERRIDE_BADGE = "◆ "


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """What the table shows of one device."""

    name: str
    kind: str
    address: str
    state: ConnectionState
    power_w: float
    energy_wh: float
    reads_ok: int
    reads_failed: int
    latency_ms: float | None
    last_error: str
    tamper: TamperEvent | None = None  # the device's latest plausibility finding
    override: str = ""  # what an operator set that the device would not do on its own, and since when


# Short labels (what each stands for in its tooltip): with the device's values beside it the table has
# ~870 px at 1366 x 768, and every column it shows fits (ColumnFit; a tamper finding and the last error are
# cut, whole in their tooltips). The address, reads, failed reads and latency are diagnostics: hidden at first
# (the device's tooltip and the values panel carry them; Comm says whether it answers now), shown by a right
# click on the header. With "Err" shown, "Last error" lay 27 px out of sight at 1366 x 768 and at 200 %.
COLUMNS = ("Device", "Kind", "Address", "Comm", "kW", "kWh", "Override", "Reads", "Err", "ms", "Tamper",
           "Last error")
COMM, OVERRIDE, TAMPER, LAST_ERROR = 3, 6, 10, 11
ADDRESS, READS, FAILED, LATENCY = 2, 7, 8, 9
HIDDEN = (ADDRESS, READS, FAILED, LATENCY)
TIPS = {0: "Device name (its tooltip: address, reads, errors, latency)", 1: "Device kind (its profile)",
        2: "Modbus address: host:port/unit id", 3: "Communication state", 4: "Active power [kW]",
        5: "Energy register [kWh]", 6: "What an operator set that the device would not do on its own",
        7: "Reads that succeeded", 8: "Reads that failed", 9: "Latency of the last read [ms]",
        10: "The device's latest plausibility (tamper) finding", 11: "The last communication error"}
_NUMERIC = (4, 5, 7, 8, 9)
_STATE_NAMES = {ConnectionState.DEGRADED: "ALERT", ConnectionState.DISCONNECTED: "EMERGENCY",
                ConnectionState.CONNECTING: "STALE", ConnectionState.STOPPED: "STALE"}


def _state_colour(state: ConnectionState) -> str | None:  # looked up when drawn: a theme switch is followed
    name = _STATE_NAMES.get(state)
    return None if name is None else str(getattr(palette, name))


def tamper_text(event: TamperEvent | None) -> str:
    """Local time and what was found (the detail goes into the tooltip)."""
    if event is None:
        return ""
    return f"{time.strftime('%H:%M:%S', time.localtime(event.ts))} {event.kind.value}"


class DeviceTable(QTableWidget):
    """Dense, sortable, read-only; colour only on devices that need a look."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        setup_table(self, COLUMNS, "deviceTable")
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        header_tips(self, TIPS)
        self.columns = ColumnFit(self, stretch=(TAMPER, LAST_ERROR), elide=(TAMPER, LAST_ERROR))
        for c in HIDDEN:  # after ColumnFit set the header's resize mode (before it, Qt kept counting the hidden
            self.setColumnHidden(c, True)  # sections' 100 px in the positions: the last columns out of sight)
        column_menu(self)

    def show_rows(self, rows: list[DeviceRow]) -> None:
        self.setSortingEnabled(False)  # no re-sorting while cells change
        changed = set_row_count(self, len(rows))
        # Each device is written where it is shown now, so sorting and the selection stay put.
        where = {} if changed else {item.text(): r for r in range(self.rowCount()) if (item := self.item(r, 0))}
        if len(where) != len(rows) or set(where) != {row.name for row in rows}:
            where = {row.name: r for r, row in enumerate(rows)}
        for row in rows:
            r = where[row.name]
            values = (row.name, row.kind, row.address, row.state.value, _num(row.power_w / 1000, 2),
                      _num(row.energy_wh / 1000, 1),
                      OVERRIDE_BADGE + row.override if row.override else "", str(row.reads_ok), str(row.reads_failed),
                      _num(row.latency_ms, 1), tamper_text(row.tamper), row.last_error)
            state_colour = _state_colour(row.state) or palette.TEXT
            # A tamper finding needs a look even while the device communicates fine.
            name_colour = state_colour if row.state in _STATE_NAMES else palette.ALERT if row.tamper else palette.TEXT
            for c, text in enumerate(values):
                colour = (name_colour if c == 0 else state_colour if c in (COMM, LAST_ERROR)
                          else palette.ALERT if c == TAMPER else OVERRIDDEN if c == OVERRIDE else palette.TEXT)
                set_cell(self, r, c, text, colour, RIGHT if c in _NUMERIC else None)
            latency = "—" if row.latency_ms is None else f"{row.latency_ms:.1f} ms"
            for c, tip in ((0, f"{row.address}\nreads ok {row.reads_ok}, failed {row.reads_failed}, "
                               f"latency {latency}"),
                           (TAMPER, f"{tamper_text(row.tamper)}\n{row.tamper}" if row.tamper else ""),
                           (OVERRIDE, f"Set by an operator: {row.override}" if row.override else ""),
                           (LAST_ERROR, row.last_error)):
                item = self.item(r, c)
                if item is not None and item.toolTip() != tip:
                    item.setToolTip(tip)
        self.setSortingEnabled(True)

    def row_texts(self) -> list[list[str]]:
        """Cell texts (for tests)."""
        return [[_text(self.item(r, c)) for c in range(self.columnCount())] for r in range(self.rowCount())]

    def cell_colour(self, row: int, column: int) -> str:
        """The text colour of a cell (for tests)."""
        item = self.item(row, column)
        return "" if item is None else str(item.data(Qt.ItemDataRole.UserRole))


def _text(item: QTableWidgetItem | None) -> str:
    return "" if item is None else item.text()


def _num(value: float | None, decimals: int) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.{decimals}f}"
