"""Every decoded value of one device, live: point, value, unit, access, quality, age."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QWidget

from core.points import Quality
from widgets import palette
from widgets.cells import RIGHT, ColumnFit, set_cell, set_row_count, setup_table


@dataclass(frozen=True, slots=True)
class PointRow:
    point: str  # the point id within its device, as shown
    value: float
    unit: str
    quality: Quality
    age_s: float
    writable: bool = False


COLUMNS = ("Register", "Value", "Unit", "Access", "Quality", "Age [s]")
def _quality_colour(q: Quality) -> str:  # looked up when drawn, so a theme switch is followed
    return {Quality.BAD: palette.BAD, Quality.COMM_FAILURE: palette.BAD, Quality.STALE: palette.STALE,
            Quality.UNCERTAIN: palette.ALERT}.get(q, palette.TEXT)


class PointTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        setup_table(self, COLUMNS, "pointTable", row_height=18)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._rows: list[PointRow] = []
        self.columns = ColumnFit(self)  # every column fits its label and values; the room left shared out

    def show_rows(self, rows: list[PointRow]) -> None:
        set_row_count(self, len(rows))
        self._rows = list(rows)
        for r, row in enumerate(rows):
            value = ("no value" if not math.isfinite(row.value) else
                     f"{row.value:.0f}" if row.value.is_integer() and abs(row.value) < 1e15 else f"{row.value:,.6g}")
            texts = (row.point, value, row.unit, "rw" if row.writable else "r", row.quality.value, f"{row.age_s:.1f}")
            colour = _quality_colour(row.quality)
            for c, text in enumerate(texts):
                # "rw" stands out a little
                plain = palette.TEXT if c == 0 or (c == 3 and row.writable) else palette.TEXT_DIM
                set_cell(self, r, c, text, colour if c in (1, 4) else plain, RIGHT if c == 1 else None)

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
