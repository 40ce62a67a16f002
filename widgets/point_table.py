"""Every decoded value of one device, live: point, value, unit, access, quality, age."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QWidget

from core.points import Quality
from widgets.cells import RIGHT, fit_columns, set_cell, set_row_count, setup_table
from widgets.palette import BAD, STALE, TEXT, TEXT_DIM


@dataclass(frozen=True, slots=True)
class PointRow:
    point: str  # the point id within its device, as shown
    value: float
    unit: str
    quality: Quality
    age_s: float
    writable: bool = False


COLUMNS = ("Register", "Value", "Unit", "Access", "Quality", "Age [s]")
_COLOURS = {Quality.BAD: BAD, Quality.COMM_FAILURE: BAD, Quality.STALE: STALE, Quality.UNCERTAIN: "#f2c12e"}


class PointTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        setup_table(self, COLUMNS, "pointTable", row_height=18)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._rows: list[PointRow] = []

    def show_rows(self, rows: list[PointRow]) -> None:
        changed = set_row_count(self, len(rows))
        self._rows = list(rows)
        for r, row in enumerate(rows):
            value = ("no value" if not math.isfinite(row.value) else
                     f"{row.value:.0f}" if row.value.is_integer() and abs(row.value) < 1e15 else f"{row.value:,.6g}")
            texts = (row.point, value, row.unit, "rw" if row.writable else "r", row.quality.value, f"{row.age_s:.1f}")
            colour = _COLOURS.get(row.quality, TEXT)
            for c, text in enumerate(texts):
                plain = TEXT if c == 0 or (c == 3 and row.writable) else TEXT_DIM  # "rw" stands out a little
                set_cell(self, r, c, text, colour if c in (1, 4) else plain, RIGHT if c == 1 else None)
        fit_columns(self, changed)

    def selected_point(self) -> PointRow | None:
        """The row selected, as it was given (not read back from the cells)."""
        rows = {i.row() for i in self.selectedIndexes()}
        if len(rows) != 1:
            return None
        r = rows.pop()
        return self._rows[r] if r < len(self._rows) else None

    def row_texts(self) -> list[list[str]]:
        return [[item.text() if (item := self.item(r, c)) else "" for c in range(self.columnCount())]
                for r in range(self.rowCount())]
