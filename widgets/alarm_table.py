"""The alarm list (ISA-18.2 alarm summary, ISA-101 look): one row per alarm not in plain normal.

Priority reads from shape, word and colour together; an unacknowledged alarm
is bold (no blinking: a calm screen shows the one thing that needs a hand by
weight); acknowledged active alarms keep their priority colour in plain
weight; returned-unacknowledged rows are grey and bold (nothing is wrong any
more, but someone must acknowledge); shelved, suppressed and out-of-service
rows are dim.

A model/view table: a QTableWidget costs ~75 µs per cell written and ~300 ms
per frame at 1,000 alarms. Here each row's cells (text, colour, weight), their
brush and font, and its sort key are rendered once per change of the alarm and
kept; an unchanged alarm is known by identity (the engine reuses its view), a
frame signals ``dataChanged`` for the changed rows only, and Qt paints only the
changed rows on screen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from core.alarms.snapshot import AlarmView
from core.alarms.state import IsaState, Shelving
from core.points import PointDef
from widgets import palette, theme
from widgets.alarm_style import PRIORITY_COLOUR, STATE_TEXT, priority_label
from widgets.cells import RIGHT, ColumnFit, keep_state_on_selection

COLUMNS = ("Priority", "State", "Time", "Alarm", "Message", "Value", "Point", "Flags")
PRI, STATE, TIME, ALARM, MESSAGE, VALUE, POINT, FLAGS = range(len(COLUMNS))

ID_ROLE = Qt.ItemDataRole.UserRole + 1  # the alarm id of a row
LOOK_ROLE = Qt.ItemDataRole.UserRole + 2  # the colour name of a cell (for tests)

_HIDDEN = (IsaState.SHELVED, IsaState.SUPPRESSED, IsaState.OUT_OF_SERVICE)


def local_time(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def row_values(a: AlarmView, fmt_time: Callable[[float], str],
               units: Mapping[str, tuple[str, float]] | None = None) -> tuple[str, ...]:
    """The texts of one alarm's row, in column order; ``units`` maps a point to (unit, SI factor)."""
    when = a.state.active_since if a.state.active_since is not None else a.changed
    unit, factor = (units or {}).get(a.definition.point, ("", 1.0))
    return (priority_label(a.priority), STATE_TEXT[a.isa], fmt_time(when), a.id, a.definition.message,
            _value(a.value, unit, factor), a.definition.point, flags(a, fmt_time))


def flags(a: AlarmView, fmt_time: Callable[[float], str]) -> str:
    """What else the operator must know of the row: hidden why, first out, chattering, horn, latch."""
    s = a.state
    out: list[str] = []
    if s.out_of_service:
        out.append(f"out of service: {s.out_of_service_reason}")
    if s.suppressed:
        out.append("suppressed by design")
    if s.shelving is Shelving.ONE_SHOT:
        out.append(f"shelved until normal: {s.shelve_reason}")
    elif s.shelving is Shelving.TIMED and s.shelved_until is not None:
        out.append(f"shelved until {fmt_time(s.shelved_until)}: {s.shelve_reason}")
    if a.first_out:
        out.append("FIRST OUT")
    if a.chattering:
        out.append("chattering")
    if s.silenced:
        out.append("silenced")
    if s.latched and not s.active:
        out.append("latched: reset")
    if not s.confirmed and s.acked:
        out.append("confirm")
    return " · ".join(out)


def row_look(a: AlarmView) -> tuple[str, str, bool]:
    """(colour of the priority and state cells, colour of the rest, bold) for one alarm."""
    isa = a.isa
    if isa in _HIDDEN:
        return palette.TEXT_DIM, palette.TEXT_DIM, False
    if isa is IsaState.UNACK_ACTIVE:
        return PRIORITY_COLOUR[a.priority], palette.TEXT, True
    if isa is IsaState.ACKED_ACTIVE:
        return PRIORITY_COLOUR[a.priority], palette.TEXT, False
    if isa is IsaState.RTN_UNACK:
        return palette.TEXT, palette.TEXT_DIM, True
    return palette.TEXT, palette.TEXT_DIM, False  # latched, normal-but-listed


Cell = tuple[str, str, bool]  # text, colour, bold
Style = tuple[QBrush, QFont]  # what Qt asks for a cell's look, made once per rendered row
# one rendered row: the view it was made from, its change key, cells, styles and sort key
_Row = tuple[AlarmView, tuple[object, ...], tuple[Cell, ...], tuple[Style, ...], tuple[object, ...]]
_SORT_KEY = itemgetter(4)


class AlarmTableModel(QAbstractTableModel):
    """The rows of the alarm list, sorted in Python (priority then newest, or by one column)."""

    def __init__(self, fmt_time: Callable[[float], str], units: Mapping[str, tuple[str, float]],
                 font: QFont) -> None:
        super().__init__()
        self.fmt_time = fmt_time
        self.units = units
        self.cell_writes = 0
        self.sort_column = PRI
        self.sort_order = Qt.SortOrder.AscendingOrder
        self._views: list[AlarmView] = []
        self._cells: list[tuple[Cell, ...]] = []
        self._styles: list[tuple[Style, ...]] = []
        self._ids: list[str] = []
        self._plain = QFont(font)
        self._bold = QFont(font)
        self._bold.setBold(True)
        self._brushes: dict[str, QBrush] = {}
        self._rendered: dict[str, _Row] = {}
        self._theme = theme.current()

    # ---- Qt model --------------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._cells)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        r, c = index.row(), index.column()
        if not 0 <= r < len(self._cells):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cells[r][c][0]
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._styles[r][c][0]
        if role == Qt.ItemDataRole.FontRole:
            return self._styles[r][c][1]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(RIGHT) if c == VALUE else None
        if role == Qt.ItemDataRole.ToolTipRole and c in (MESSAGE, FLAGS):
            return self._cells[r][c][0] or None
        if role == ID_ROLE:
            return self._ids[r]
        if role == LOOK_ROLE:
            return self._cells[r][c][1]
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Header click: sort by that column (the priority column sorts by priority, then newest)."""
        self.sort_column, self.sort_order = column, order
        self._rendered = {}  # the sort keys depend on the column
        self.set_views(self._views)

    # ---- frames --------------------------------------------------------------------------------------

    def _key(self, a: AlarmView, cells: tuple[Cell, ...]) -> tuple[object, ...]:
        when = a.state.active_since if a.state.active_since is not None else a.changed
        if self.sort_column == PRI:
            return (int(a.priority), -when, a.id)
        if self.sort_column == TIME:
            return (when, a.id)
        if self.sort_column == VALUE:
            return (math.isnan(a.value), a.value if not math.isnan(a.value) else 0.0, a.id)
        return (cells[self.sort_column][0].casefold(), a.id)

    def _style(self, cells: tuple[Cell, ...]) -> tuple[Style, ...]:
        out = []
        for _, colour, bold in cells:
            brush = self._brushes.get(colour)
            if brush is None:
                brush = self._brushes[colour] = QBrush(QColor(colour))
            out.append((brush, self._bold if bold else self._plain))
        return tuple(out)

    def _render(self, a: AlarmView, hit: _Row | None) -> _Row:
        # a row's cells change only with these (the engine makes a new view on every change; a view made
        # anew with the same content, as tests do, still finds its row)
        key = (a.state, a.changed, a.chattering, a.first_out, a.value if a.value == a.value else None)
        if hit is not None and hit[1] == key:
            return (a, key, hit[2], hit[3], hit[4])
        cells = render(a, self.fmt_time, self.units)
        return (a, key, cells, self._style(cells), self._key(a, cells))

    def set_views(self, views: Sequence[AlarmView]) -> None:
        restyle = self._theme != theme.current()
        if restyle:  # rows rendered in the other theme: render all again, in this one, and repaint them all
            self._theme = theme.current()
            self._rendered, self._brushes = {}, {}
        cache = self._rendered
        fresh: dict[str, _Row] = {}
        rows: list[_Row] = []
        for a in views:
            hit = cache.get(a.id)
            row = hit if hit is not None and hit[0] is a else self._render(a, hit)
            fresh[a.id] = row
            rows.append(row)
        self._rendered = fresh
        rows.sort(key=_SORT_KEY, reverse=self.sort_order is Qt.SortOrder.DescendingOrder)
        ids = [row[0].id for row in rows]
        cells = [row[2] for row in rows]
        self._views = [row[0] for row in rows]
        if restyle or ids != self._ids:  # rows came, went or moved: one reset (the selection is kept by id)
            old = dict(zip(self._ids, self._cells, strict=True))
            self.beginResetModel()
            self._ids, self._cells, self._styles = ids, cells, [row[3] for row in rows]
            self.endResetModel()
            self.cell_writes += sum(_differing(old.get(i), row) for i, row in zip(ids, cells, strict=True))
            return
        mine = self._cells
        for r, after in enumerate(cells):
            before = mine[r]
            if before is not after and before != after:
                changed = [c for c in range(len(COLUMNS)) if before[c] != after[c]]
                mine[r] = after
                self._styles[r] = rows[r][3]
                self.cell_writes += len(changed)
                self.dataChanged.emit(self.index(r, changed[0]), self.index(r, changed[-1]))


def _differing(before: tuple[Cell, ...] | None, after: tuple[Cell, ...]) -> int:
    if before is None:
        return len(after)
    return sum(1 for b, a in zip(before, after, strict=True) if b != a)


def render(a: AlarmView, fmt_time: Callable[[float], str], units: Mapping[str, tuple[str, float]]) -> tuple[Cell, ...]:
    """Every cell of one alarm's row: text, colour, bold."""
    lead, rest, bold = row_look(a)
    texts = row_values(a, fmt_time, units)
    return tuple((text, lead if c in (PRI, STATE) else rest, bold and c in (PRI, STATE, MESSAGE))
                 for c, text in enumerate(texts))


class AlarmTable(QTableView):
    """Sortable (priority column: priority then newest first, the default), row-selecting, read-only.

    ``show_alarms(views)`` takes the rows to show (filtered by the caller); ``cell_writes`` counts the
    cells whose text, colour or weight changed, for tests and the flood benchmark.
    """

    def __init__(self, parent: QWidget | None = None, fmt_time: Callable[[float], str] = local_time,
                 points: Iterable[PointDef] = (), row_height: int = 20) -> None:
        super().__init__(parent)
        self.setObjectName("alarmTable")
        # A grey selection: the bright system blue would be the loudest thing on a calm screen and hide
        # the priority colours of the selected row.
        # (In the theme shown when the list is built: built under the light theme, the dark grey stayed, and
        # a selected alarm's priority colour, dark in the light theme, was drawn on it.)
        self.setStyleSheet(f"QTableView#alarmTable {{ gridline-color: {theme.shown('#3d4348')}; }}"
                           f"QTableView#alarmTable::item:selected {{ background: {theme.shown('#4f565d')}; }}")
        self.units = {p.id: (p.unit, p.factor) for p in points}  # values in the operator's unit
        self.table_model = AlarmTableModel(fmt_time, self.units, self.font())
        self.setModel(self.table_model)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        keep_state_on_selection(self)  # a selected alarm keeps its priority colour
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(row_height)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setSortingEnabled(True)
        self.sortByColumn(PRI, Qt.SortOrder.AscendingOrder)
        # Each column as wide as its label (and the sort arrow) and its values ask, the message taking the
        # rest: fixed widths cut "Priority" and ids such as "modbus.household-4-15-battery.comm".
        self.columns = ColumnFit(self, stretch=(MESSAGE,))

    @property
    def cell_writes(self) -> int:
        return self.table_model.cell_writes

    def show_alarms(self, views: Sequence[AlarmView]) -> None:
        model = self.table_model
        before = model._ids
        selected = self.selected_ids()
        current = self.currentIndex().row()
        model.set_views(views)
        if model._ids is not before:  # the model was reset: put the selection back on its alarms
            self._reselect(set(selected), current)

    def rowCount(self) -> int:
        return self.table_model.rowCount()

    def alarm_at(self, row: int) -> str | None:
        ids = self.table_model._ids
        return ids[row] if 0 <= row < len(ids) else None

    def visible_ids(self) -> list[str]:
        """Alarm ids in the order shown (the "acknowledge page" set)."""
        return list(self.table_model._ids)

    def selected_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        return [a for r in rows if (a := self.alarm_at(r)) is not None]

    def select_alarm(self, alarm: str) -> bool:
        ids = self.table_model._ids
        if alarm not in ids:
            return False
        self.selectRow(ids.index(alarm))
        return True

    def _reselect(self, selected: set[str], current: int) -> None:
        ids = self.table_model._ids
        rows = [r for r, a in enumerate(ids) if a in selected]
        model = self.selectionModel()
        if rows:
            selection = QItemSelection()
            for r in rows:
                selection.select(self.table_model.index(r, 0), self.table_model.index(r, len(COLUMNS) - 1))
            model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            model.setCurrentIndex(self.table_model.index(rows[0], 0), QItemSelectionModel.SelectionFlag.NoUpdate)
        elif ids and current >= 0:
            self.selectRow(min(current, len(ids) - 1))  # keep the keyboard somewhere sensible

    def row_texts(self) -> list[list[str]]:
        """Cell texts in display order (for tests)."""
        return [[cell[0] for cell in row] for row in self.table_model._cells]

    def is_bold(self, row: int, col: int) -> bool:
        return self.table_model._cells[row][col][2]

    def colour(self, row: int, col: int) -> str:
        return self.table_model._cells[row][col][1]


def _value(v: float, unit: str, factor: float) -> str:
    if not math.isfinite(v):
        return ""
    text = f"{v / factor:.6g}"
    return f"{text} {unit}" if unit else text
