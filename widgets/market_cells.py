"""Shared bits of the market widgets: a table that writes only the cells that changed, and number formats.

A QTableWidget costs ~75 µs per cell written (see widgets/alarm_table.py), so a ladder or tape that
rewrote every cell each frame would cost the grid view its frame rate; these tables compare first.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem, QWidget

from widgets import palette
from widgets.cells import ColumnFit, keep_state_on_selection
from widgets.palette import STATE_COLOURS

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CENTER = Qt.AlignmentFlag.AlignCenter
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


def kwh(wh: int | float) -> str:
    """Energy in kWh, one decimal (the default lot, 100 Wh, is 0.1 kWh)."""
    return f"{wh / 1000:,.1f}"


def price(p: int | None) -> str:
    return "—" if p is None else f"{p:,}"


def hhmm(ts: float) -> str:
    return time.strftime("%H:%M", time.localtime(ts))


def hms(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def period(start: int, period_s: int = 900) -> str:
    """``14:15–14:30``: a delivery period in local time."""
    return f"{hhmm(start)}–{hhmm(start + period_s)}"


def countdown(seconds: int) -> str:
    """``12:34`` (min:s), ``1:02:03`` over an hour, ``closed`` at or after zero."""
    if seconds <= 0:
        return "closed"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class CachedTable(QTableWidget):
    """A read-only table whose cells are written only when their text or state changed."""

    def __init__(self, headers: Sequence[str], aligns: Sequence[Qt.AlignmentFlag], parent: QWidget | None = None,
                 mono: bool = True, tips: Sequence[str] = ()) -> None:
        super().__init__(0, len(headers), parent)
        self.setObjectName("marketTable")
        self.setHorizontalHeaderLabels(list(headers))
        self.aligns = list(aligns)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(18)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        keep_state_on_selection(self)
        self.setShowGrid(False)
        self.horizontalHeader().setHighlightSections(False)
        for c, tip in enumerate(tips):  # the whole name of a short header label
            header = self.horizontalHeaderItem(c)
            if header is not None and tip:
                header.setToolTip(tip)
        # Never a cut label or cell: columns as wide as their label and values ask, the rest shared out
        # (an equal Stretch cut "Delivery" to "eliver" in the open orders at 1366 x 768).
        self.columns = ColumnFit(self)
        if mono:
            font = QFont("DejaVu Sans Mono")
            font.setPointSizeF(9)
            self.setFont(font)
        self._cells: dict[tuple[int, int], tuple[str, str]] = {}
        self.writes = 0  # cells written (tests check a repeated frame writes none)

    def set_rows(self, n: int) -> None:
        if self.rowCount() != n:
            for key in [k for k in self._cells if k[0] >= n]:
                del self._cells[key]
            self.setRowCount(n)

    def set_cell(self, row: int, col: int, text: str, state: str = "normal", bold: bool = False) -> None:
        """Write one cell if its text or state changed; a state other than normal colours its text."""
        key = (row, col)
        if self._cells.get(key) == (text, state + ("b" if bold else "")):
            return
        self._cells[key] = (text, state + ("b" if bold else ""))
        item = self.item(row, col)
        if item is None:
            item = QTableWidgetItem()
            item.setTextAlignment(self.aligns[col])
            self.setItem(row, col, item)
        item.setText(text)
        item.setForeground(QBrush(QColor(palette.TEXT if state == "normal" else STATE_COLOURS.get(state, state))))
        if bold or state not in ("normal", "unknown"):
            f = item.font()
            f.setBold(True)
            item.setFont(f)
        elif item.font().bold():
            f = item.font()
            f.setBold(False)
            item.setFont(f)
        self.writes += 1

    def text(self, row: int, col: int) -> str:
        item = self.item(row, col)
        return "" if item is None else item.text()
