"""Every decoded value of one device, live: point, value, unit, quality, age."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QWidget

from core.points import Quality
from widgets.cells import RIGHT, fit_columns, set_cell, set_row_count, setup_table
from widgets.palette import BAD, STALE, TEXT, TEXT_DIM


@dataclass(frozen=True, slots=True)
class PointRow:
    point: str
    value: float
    unit: str
    quality: Quality
    age_s: float


COLUMNS = ("Register", "Value", "Unit", "Quality", "Age [s]")
_COLOURS = {Quality.BAD: BAD, Quality.COMM_FAILURE: BAD, Quality.STALE: STALE, Quality.UNCERTAIN: "#f2c12e"}


class PointTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        setup_table(self, COLUMNS, "pointTable", row_height=18)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)

    def show_rows(self, rows: list[PointRow]) -> None:
        changed = set_row_count(self, len(rows))
        for r, row in enumerate(rows):
            value = ("no value" if not math.isfinite(row.value) else
                     f"{row.value:.0f}" if row.value.is_integer() and abs(row.value) < 1e15 else f"{row.value:,.6g}")
            texts = (row.point, value, row.unit, row.quality.value, f"{row.age_s:.1f}")
            colour = _COLOURS.get(row.quality, TEXT)
            for c, text in enumerate(texts):
                set_cell(self, r, c, text, colour if c in (1, 3) else (TEXT if c == 0 else TEXT_DIM),
                         RIGHT if c == 1 else None)
        fit_columns(self, changed)

    def row_texts(self) -> list[list[str]]:
        return [[self.item(r, c).text() for c in range(self.columnCount())] for r in range(self.rowCount())]
