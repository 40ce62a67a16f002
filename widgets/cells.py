"""Table cells updated only where something changed: a QTableWidgetItem.setText costs ~30 µs (the view
re-measures and repaints), and most cells of a live table hold the same text frame after frame."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def set_cell(table: QTableWidget, row: int, col: int, text: str, colour: str,
             align: Qt.AlignmentFlag | None = None) -> None:
    item = table.item(row, col)
    if item is None:
        item = QTableWidgetItem()
        if align is not None:
            item.setTextAlignment(align)
        table.setItem(row, col, item)
    if item.text() != text:
        item.setText(text)
    if item.data(Qt.ItemDataRole.UserRole) != colour:  # the colour last set, cheaper to compare than a brush
        item.setData(Qt.ItemDataRole.UserRole, colour)
        item.setForeground(QBrush(QColor(colour)))


def set_row_count(table: QTableWidget, rows: int) -> bool:
    """Set the number of rows; True when it changed: then size the columns (`fit_columns`) after filling
    them, rather than re-measuring every cell on every update."""
    if table.rowCount() == rows:
        return False
    table.setRowCount(rows)
    return True


def fit_columns(table: QTableWidget, changed: bool) -> None:
    if changed:
        table.resizeColumnsToContents()


def fixed_columns(table: QTableWidget) -> None:
    """Columns the operator may widen; sized by set_row_count, never re-measured per frame."""
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)


def setup_table(table: QTableWidget, columns: tuple[str, ...], name: str, row_height: int = 20) -> None:
    """A dense, read-only table selecting whole rows, with operator-sizable columns."""
    table.setObjectName(name)
    table.setColumnCount(len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(row_height)
    fixed_columns(table)
