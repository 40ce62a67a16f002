"""Table cells updated only where something changed: a QTableWidgetItem.setText costs ~30 µs (the view
re-measures and repaints), and most cells of a live table hold the same text frame after frame."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, QPoint, QSize, Qt, QTimer, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionHeader,
    QStyleOptionViewItem,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
)

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


# A text colour at least this saturated (HSV) is a state colour (amber alert, red emergency, blue-grey stale,
# magenta bad, the alarm priorities, in both themes); the greys of normal text are below 0.1.
STATE_SATURATION = 0.25


class StateColourDelegate(QStyledItemDelegate):
    """Draws a selected cell whose text is in a state colour in that colour, on the selection grey.

    The style sheet's ``selection-color`` paints every selected cell's text in one light grey: an alarm's
    priority colour or a disconnected device's red went grey the moment the operator selected the row, the
    one row he was looking at. Grey (normal) text still takes the selection's text colour."""

    def initStyleOption(self, option: QStyleOptionViewItem,
                        index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        if not option.state & QStyle.StateFlag.State_Selected:  # type: ignore[operator]
            return
        fg = index.data(Qt.ItemDataRole.ForegroundRole)
        if isinstance(fg, QColor):
            fg = QBrush(fg)
        if isinstance(fg, QBrush) and fg.color().hsvSaturationF() >= STATE_SATURATION:
            pal = option.palette  # type: ignore[attr-defined]
            for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
                pal.setBrush(group, QPalette.ColorRole.HighlightedText, fg)
            option.palette = pal  # type: ignore[attr-defined]


def keep_state_on_selection(view: QAbstractItemView) -> None:
    """A selected row keeps the state colours of its cells (see StateColourDelegate)."""
    view.setItemDelegate(StateColourDelegate(view))


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
    keep_state_on_selection(table)


def header_tips(table: QTableWidget, tips: dict[int, str]) -> None:
    """Tooltips on header sections: what a short label ("kWh", "Err") stands for."""
    for c, tip in tips.items():
        item = table.horizontalHeaderItem(c)
        if item is not None:
            item.setToolTip(tip)


def column_menu(table: QTableView) -> None:
    """A right click on the header lists the columns, each to show or hide (a table that hides its
    diagnostic columns at first keeps them at hand)."""
    header = table.horizontalHeader()
    header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def show_column(c: int, on: bool) -> None:
        table.setColumnHidden(c, not on)
        for fit in table.findChildren(ColumnFit):  # the room is shared out again
            fit.need.clear()
            fit.schedule()

    def menu(pos: QPoint) -> None:
        m = QMenu(header)
        model = table.model()
        for c in range(model.columnCount()):
            action = m.addAction(str(model.headerData(c, Qt.Orientation.Horizontal) or ""))
            action.setCheckable(True)
            action.setChecked(not table.isColumnHidden(c))
            action.toggled.connect(lambda on, c=c: show_column(c, on))
        m.exec(header.mapToGlobal(pos))

    header.customContextMenuRequested.connect(menu)


def label_width(header: QHeaderView, logical: int) -> int:
    """The width header section ``logical`` needs for its label, as the style measures it (the text, the
    header margins, the style sheet's padding and border, the sort arrow). ``sectionSizeHint`` measures in
    bold, for a header that highlights the selected sections; one that never does draws the label plain."""
    if header.highlightSections():
        return header.sectionSizeHint(logical)
    model = header.model()
    opt = QStyleOptionHeader()
    opt.initFrom(header)
    opt.section = logical
    opt.orientation = header.orientation()
    opt.text = str(model.headerData(logical, header.orientation(), Qt.ItemDataRole.DisplayRole) or "")
    font = model.headerData(logical, header.orientation(), Qt.ItemDataRole.FontRole)
    if isinstance(font, QFont):
        opt.fontMetrics = QFontMetrics(font)
    if header.isSortIndicatorShown():
        opt.sortIndicator = QStyleOptionHeader.SortIndicator.SortDown
    size = header.style().sizeFromContents(QStyle.ContentsType.CT_HeaderSection, opt, QSize(), header)
    return max(size.width(), header.minimumSectionSize())


ELIDE_CHARS = 18  # what a column that elides keeps at least (average characters)


class ColumnFit(QObject):
    """Columns that never cut their header label or a cell: each column is at least as wide as the style
    asks for its label (``QHeaderView.sectionSizeHint``: the font's advance of the text, the header margins
    and the style sheet's padding, at any scale factor) and for its widest cell
    (``sizeHintForColumn``); the width left over is shared by the ``stretch`` columns (all when None).

    Unlike ``QHeaderView.Stretch`` (equal columns, whatever they hold: at 1366 x 768 it cut "Delivery" to
    "eliver" and "Open kWh" to "en k\\") and ``ResizeToContents`` (re-measured on every change, and the
    columns move as the values do), the widths only grow while the table lives, so a column does not jump
    with each value; they are worked out afresh when the table is resized or restyled (a theme switch, a
    font change). Refitted at most once per event-loop turn, however many cells changed.
    """

    def __init__(self, table: QTableView, stretch: Sequence[int] | None = None, elide: Sequence[int] = ()) -> None:
        """``elide``: columns whose cells may be cut ("…"; the table keeps each such cell's whole text in its
        tooltip, as a free-text error): they need room for their label only and take a share of what is
        left, so one long message does not push the columns beside it out of sight."""
        super().__init__(table)
        self.table = table
        self.stretch = None if stretch is None else tuple(stretch)
        self.elide = frozenset(elide)
        self.need: dict[int, int] = {}
        self.fits = 0  # fits done (tests: a burst of cell changes is one fit)
        self._timer = QTimer(self)  # the fit's own: it goes with the table, never fires after it
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.fit)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(8)
        model = table.model()
        for signal in (model.dataChanged, model.rowsInserted, model.rowsRemoved, model.modelReset,
                       model.columnsInserted, model.columnsRemoved, model.headerDataChanged, model.layoutChanged):
            signal.connect(self.schedule)
        for w in (table, table.viewport(), header):
            w.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.FontChange, QEvent.Type.StyleChange,
                            QEvent.Type.Show) and hasattr(self, "need"):
            self.need.clear()  # measured afresh: the room or the measure changed
            self.schedule()
        return False

    @Slot()  # a slot of its own: Qt drops the model's connections when the table goes
    def schedule(self) -> None:
        timer = getattr(self, "_timer", None)  # None: the Python side already went, with its table
        if timer is not None and not timer.isActive():
            timer.start()

    def fit(self) -> None:
        self._timer.stop()
        t = self.table
        model = t.model()
        header = t.horizontalHeader()
        shown = [c for c in range(model.columnCount()) if not t.isColumnHidden(c)]
        if not shown:
            return
        rows = model.rowCount() > 0
        grid = 1 if t.showGrid() else 0
        for c in shown:
            label = label_width(header, c) if not header.isHidden() else 0
            # QAbstractItemView's measure (the delegate's size hint) leaves out the grid line QTableView adds:
            # one pixel short, "RTN UNACK" was drawn "RTN ..."
            cells = QAbstractItemView.sizeHintForColumn(t, c) + grid if rows else 0
            if c in self.elide:  # room for a start worth reading ("20:53:11 energy ju…"), not the whole
                cells = min(cells, t.fontMetrics().averageCharWidth() * ELIDE_CHARS)
            self.need[c] = max(self.need.get(c, 0), label, cells)
        widths = {c: self.need[c] for c in shown}
        extra = t.viewport().width() - sum(widths.values())
        grow = [c for c in (self.stretch if self.stretch is not None else shown) if c in widths]
        if extra > 0 and grow:
            share, rest = divmod(extra, len(grow))
            for i, c in enumerate(grow):
                widths[c] += share + (1 if i < rest else 0)
        for c, w in widths.items():
            if header.sectionSize(c) != w:
                header.resizeSection(c, w)
        if sum(widths.values()) <= t.viewport().width():
            # Everything fits now: no offset left from when the columns did not (narrower at first show,
            # the columns beyond the edge stayed scrolled out of sight).
            t.horizontalScrollBar().setValue(0)
        self.fits += 1

    def needed(self) -> int:
        """The width all columns need (their labels and cells, no stretch)."""
        return sum(self.need.values())
