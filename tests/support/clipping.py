"""Clipped text on a screen: labels, buttons, table header sections and table cells that need more room than
they are given (used by the screenshot scripts and by tests/widgets/test_no_clipping.py).

A header section is clipped when its width is less than what the style asks for its label
(``QStyle.sizeFromContents(CT_HeaderSection)``: the font's horizontal advance of the text, the header
margins, the style sheet's padding and border, the sort arrow when shown); a vertical header (row labels)
when the header's width is. A table column's cells are clipped when the widest text on a visible row
(``sizeHintForColumn``: the delegate's size hint, plus the grid line, as ``resizeColumnsToContents`` measures) is
wider than the column. A column scrolled out of sight is not clipped text but a hidden one: it is reported
as such (an operator does not see it either).
"""

from __future__ import annotations

import math
import re

from PySide6 import QtGui
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStyle,
    QStyleOptionHeader,
    QTableView,
    QWidget,
)

from widgets.cells import ColumnFit
from widgets.elided_label import ElidedLabel
from widgets.trend import TrendWidget

SLACK = 1  # px: rounding between the measure and the layout


def clipped(root: QWidget) -> list[str]:
    """Every visible label, button, header section and table cell under ``root`` whose text is cut."""
    out: list[str] = []
    for w in [root, *root.findChildren(QWidget)]:
        if not w.isVisible():
            continue
        if isinstance(w, QTableView):
            out += table_clipped(w)
        elif isinstance(w, TrendWidget):
            out += legend_clipped(w) + time_axis_clipped(w)
        elif isinstance(w, ElidedLabel):
            # It cuts on purpose (the whole text in its tooltip) where room is short; at 1366 x 768 and at
            # 200 % it has the room: an elided title or status is cut text to an operator all the same.
            if w.is_elided():
                out.append(f"label {w.text()[:50]!r} elided to {w.shown_text()!r}")
        elif isinstance(w, QLabel) and w.text() and not w.wordWrap() and not w.pixmap():
            need = label_need(w)
            have = w.contentsRect().width() - 2 * w.margin() - max(w.indent(), 0)
            if need > have + SLACK:
                out.append(f"label {w.text()[:50]!r}: needs {need} px, has {have}")
        elif isinstance(w, QAbstractButton) and w.text():
            hint = w.sizeHint().width()
            if hint > w.width() + SLACK:
                out.append(f"button {w.text()[:50]!r}: needs {hint} px, has {w.width()}")
    return out


def time_axis_clipped(trend: TrendWidget) -> list[str]:
    """A trend whose time axis (the tick labels under the plot) is not wholly inside the widget: the feeder
    voltages' axis was pushed below the trend's edge by its eleven-entry legend at 1366 x 768."""
    axis = trend.getPlotItem().getAxis("bottom")
    if not axis.isVisible():
        return []
    box = axis.sceneBoundingRect()
    bottom = trend.mapFromScene(box.bottomLeft()).y()
    labels = QFontMetrics(axis.font() if axis.style.get("tickFont") is None else axis.style["tickFont"]).height()
    if bottom <= trend.viewport().height() + SLACK and box.height() + SLACK >= labels:
        return []
    title = re.sub("<[^>]+>", "", trend.getPlotItem().titleLabel.text)
    return [f"trend {title!r}: time axis {box.height():.0f} px high ending at {bottom} px, "
            f"{trend.viewport().height()} px shown: its time labels are cut"]


def legend_clipped(trend: TrendWidget) -> list[str]:
    """A trend's legend entries below the trend's bottom edge (drawn off the widget, not seen)."""
    legend = trend.legend
    if legend is None or not legend.isVisible() or not legend.items:
        return []
    rect = legend.sceneBoundingRect()
    cut = [label.text for _sample, label in legend.items
           if trend.mapFromScene(label.sceneBoundingRect().bottomLeft()).y() > trend.viewport().height() + SLACK]
    if not cut:
        return []
    title = re.sub("<[^>]+>", "", trend.getPlotItem().titleLabel.text)
    return [f"trend {title!r}: legend {rect.height():.0f} px high, "
            f"{trend.viewport().height()} px shown: {len(cut)} of {len(legend.items)} entries cut ({cut[:3]})"]


def is_rich(label: QLabel) -> bool:
    """Whether ``label`` draws its text as rich text (as QLabel decides for ``Qt.AutoText``)."""
    fmt = label.textFormat()
    return fmt == Qt.TextFormat.RichText or (fmt == Qt.TextFormat.AutoText and QtGui.Qt.mightBeRichText(label.text()))


def label_need(label: QLabel) -> int:
    """The width ``label``'s one-line text takes: the font's advance of plain text; for rich text the
    width of the QTextDocument QLabel lays it out in (the label's font, no document margin), so a span in
    another size ("44.6 <span style='font-size:11pt'>Hz/s</span>") is measured as drawn."""
    if not is_rich(label):
        return label.fontMetrics().horizontalAdvance(label.text().replace("&&", "&"))
    doc = QTextDocument()
    doc.setDefaultFont(label.font())
    doc.setDocumentMargin(0)
    doc.setHtml(label.text())
    return math.ceil(doc.idealWidth())


def section_need(header: QHeaderView, logical: int) -> int:
    """The width the style asks for header section ``logical``'s label (0 when it has none)."""
    model = header.model()
    text = model.headerData(logical, header.orientation(), Qt.ItemDataRole.DisplayRole)
    if not text:
        return 0
    opt = QStyleOptionHeader()
    opt.initFrom(header)
    opt.section = logical
    opt.orientation = header.orientation()
    opt.text = str(text)
    font = model.headerData(logical, header.orientation(), Qt.ItemDataRole.FontRole)
    if isinstance(font, QFont):
        opt.fontMetrics = QFontMetrics(font)
    if header.isSortIndicatorShown() and header.sortIndicatorSection() == logical:
        opt.sortIndicator = (QStyleOptionHeader.SortIndicator.SortDown
                             if header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
                             else QStyleOptionHeader.SortIndicator.SortUp)
    size = header.style().sizeFromContents(QStyle.ContentsType.CT_HeaderSection, opt, QSize(), header)
    return size.width()


def header_clipped(header: QHeaderView, name: str) -> list[str]:
    """The sections of ``header`` whose label does not fit (or that lie beyond the visible width)."""
    if not header.isVisible() or header.model() is None:
        return []
    out = []
    horizontal = header.orientation() == Qt.Orientation.Horizontal
    for logical in range(header.count()):
        if header.isSectionHidden(logical):
            continue
        text = str(header.model().headerData(logical, header.orientation(), Qt.ItemDataRole.DisplayRole) or "")
        need = section_need(header, logical)
        have = header.sectionSize(logical) if horizontal else header.width()
        if need > have + SLACK:
            out.append(f"{name} header {text!r}: needs {need} px, has {have}")
        end = header.sectionViewportPosition(logical) + header.sectionSize(logical)
        if horizontal and end > header.viewport().width() + SLACK:
            out.append(f"{name} column {text!r}: out of sight (ends at {end} px of {header.viewport().width()})")
    return out


def table_clipped(view: QTableView) -> list[str]:
    """Header sections and cells of ``view`` that are cut."""
    name = view.objectName() or type(view).__name__
    out = header_clipped(view.horizontalHeader(), name) + header_clipped(view.verticalHeader(), name)
    model = view.model()
    if model is None or model.rowCount() == 0:
        return out
    elide = {c for fit in view.findChildren(ColumnFit) for c in fit.elide}
    for c in range(model.columnCount()):
        if view.isColumnHidden(c):
            continue
        if c in elide and all(str(model.index(r, c).data() or "") in str(
                model.index(r, c).data(Qt.ItemDataRole.ToolTipRole) or "") for r in range(model.rowCount())):
            continue  # cut on purpose ("…"), each cell's whole text in its tooltip
        # the widest cell (the delegate's size hint: text and margins) and the grid line the column draws
        need = QAbstractItemView.sizeHintForColumn(view, c) + (1 if view.showGrid() else 0)
        have = view.columnWidth(c)
        if need > have:  # exact: one pixel short and the delegate elides ("RTN UNACK" drawn "RTN ...")
            head = model.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
            widest = max((str(model.index(r, c).data() or "") for r in range(min(model.rowCount(), 200))),
                         key=len, default="")
            out.append(f"{name} cells of {str(head)!r} (e.g. {widest[:30]!r}): need {need} px, have {have}")
    return out
