"""The alarm screen's history panels: the journal search and the ISA-18.2 KPI panel (both through
AlarmService, whose journal calls run in a worker thread)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from console.services.alarm_export import export
from console.services.alarms import AlarmService
from core.alarms.definitions import Priority
from core.alarms.flood import FLOOD_LIMIT
from core.alarms.journal import JournalQuery
from core.alarms.kpis import TARGET_PER_10MIN, TARGET_PER_HOUR, TARGET_TIME_IN_FLOOD, AlarmKpis
from core.alarms.state import AlarmEvent, EventKind, IsaState
from widgets import palette
from widgets.alarm_style import PRIORITY_COLOUR, STATE_TEXT, priority_label
from widgets.cells import RIGHT, ColumnFit, set_cell, setup_table

log = logging.getLogger(__name__)

JOURNAL_COLUMNS = ("Time", "Alarm", "Priority", "Event", "State after", "Value", "User", "Comment", "Point")
JOURNAL_LIMIT = 5000


def _datetime(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + f".{int((ts % 1) * 10)}"


class JournalPanel(QWidget):
    """Search the alarm journal by time range, priority, state after, event, user and text."""

    def __init__(self, service: AlarmService, clock: Callable[[], float] = time.time,
                 fmt_time: Callable[[float], str] = _datetime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.clock = clock
        self.fmt_time = fmt_time
        self.tasks: set[asyncio.Task[None]] = set()
        self.results: list[AlarmEvent] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        now = QDateTime.fromSecsSinceEpoch(int(clock()))
        self.t0 = QDateTimeEdit(now.addDays(-1))
        self.t1 = QDateTimeEdit(now.addSecs(60))
        for edit in (self.t0, self.t1):
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.setCalendarPopup(True)
        self.priority = QComboBox()
        self.priority.addItem("any priority", None)
        for p in Priority:
            self.priority.addItem(priority_label(p), p)
        self.state = QComboBox()
        self.state.addItem("any state", None)
        for s in IsaState:
            self.state.addItem(STATE_TEXT[s], s)
        self.kind = QComboBox()
        self.kind.addItem("any event", None)
        for k in EventKind:
            self.kind.addItem(k.value, k)
        self.user = QLineEdit()
        self.user.setPlaceholderText("operator")
        self.user.setMaximumWidth(110)
        self.text = QLineEdit()
        self.text.setPlaceholderText("alarm, point or comment contains…")
        self.search_button = QPushButton("Search")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        self.text.returnPressed.connect(self.search)
        for w in (QLabel("from"), self.t0, QLabel("to"), self.t1, self.priority, self.state, self.kind, self.user):
            bar.addWidget(w)
        bar.addWidget(self.text, 1)
        bar.addWidget(self.search_button)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("save the events found as CSV or XLSX")
        self.export_button.clicked.connect(self.open_export_dialog)
        bar.addWidget(self.export_button)
        layout.addLayout(bar)
        self.table = QTableWidget(0, len(JOURNAL_COLUMNS))
        setup_table(self.table, JOURNAL_COLUMNS, "alarmJournal")
        self.columns = ColumnFit(self.table, stretch=(JOURNAL_COLUMNS.index("Comment"),))
        layout.addWidget(self.table, 1)
        self.status = QLabel("")
        self.status.setStyleSheet(f"color: {palette.TEXT_DIM};")
        layout.addWidget(self.status)

    def query_from_controls(self) -> JournalQuery:
        def one(combo: QComboBox) -> frozenset[object]:
            v = combo.currentData()
            return frozenset() if v is None else frozenset({v})

        user = self.user.text().strip()
        return JournalQuery(
            float(self.t0.dateTime().toSecsSinceEpoch()), float(self.t1.dateTime().toSecsSinceEpoch()),
            priorities=one(self.priority), states=one(self.state), kinds=one(self.kind),  # type: ignore[arg-type]
            users=frozenset({user}) if user else frozenset(), text=self.text.text().strip(),
            limit=JOURNAL_LIMIT + 1)

    def search(self) -> None:
        task = asyncio.get_running_loop().create_task(self.run_search(self.query_from_controls()))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run_search(self, q: JournalQuery) -> None:
        self.status.setText("searching…")
        try:
            events = await self.service.query(q)
        except Exception as e:  # the database is unreachable: say so, keep the old results
            log.warning("alarm journal search failed: %s", e)
            self.status.setText(f"journal search failed: {e}; the database may be unreachable, try again")
            return
        more = len(events) > JOURNAL_LIMIT
        self.show_events(events[:JOURNAL_LIMIT])
        self.status.setText(f"{len(self.results)} event(s)" + (f" — only the first {JOURNAL_LIMIT}; narrow the "
                                                                 "search" if more else ""))

    def open_export_dialog(self) -> None:
        """Ask for a file (the filter chooses CSV or XLSX), then write the events found."""
        if not self.results:
            self.status.setText("nothing to export: search first")
            return
        path, chosen = QFileDialog.getSaveFileName(self, "Export alarm journal", "alarm-journal.csv",
                                                   "CSV (*.csv);;Excel workbook (*.xlsx)")
        if path:
            fmt = "xlsx" if path.lower().endswith(".xlsx") or "xlsx" in chosen else "csv"
            task = asyncio.get_running_loop().create_task(self.run_export(Path(path), fmt))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def run_export(self, path: Path, fmt: str) -> None:
        """Write the shown events to ``path`` in a worker thread; the result is said in the status line."""
        try:
            n = await asyncio.to_thread(export, list(self.results), path, fmt)
        except OSError as e:
            self.status.setText(f"export failed: cannot write {path}: {e.strerror or e}")
            return
        self.status.setText(f"exported {n} event(s) to {path}")

    def show_events(self, events: list[AlarmEvent]) -> None:
        self.results = events
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(events))
        for r, e in enumerate(events):
            values = (self.fmt_time(e.ts), e.alarm, priority_label(e.priority), e.kind.value,
                      STATE_TEXT[e.state.isa], "" if math.isnan(e.value) else f"{e.value:.6g}", e.user or "",
                      e.comment, e.point)
            for c, text in enumerate(values):
                plain = palette.TEXT if e.kind.operator or c != 3 else palette.TEXT_DIM
                colour = PRIORITY_COLOUR[e.priority] if c == 2 else plain
                set_cell(self.table, r, c, text, colour, RIGHT if c == 5 else None)


KPI_COLUMNS = ("Figure", "Value", "Target (ISA-18.2 / EEMUA 191)")
PERIODS = (("last hour", 3600.0), ("last 8 h (shift)", 8 * 3600.0), ("last 24 h", 86400.0),
           ("last 7 days", 7 * 86400.0))


def kpi_rows(k: AlarmKpis) -> list[tuple[str, str, str, bool]]:
    """(figure, value, target, missed) for the KPI panel; missed rows are shown amber."""
    top_crit = k.priority_share(Priority.CRITICAL) + k.priority_share(Priority.HIGH)
    top_three = top_crit + k.priority_share(Priority.MEDIUM)
    rows = [
        ("Alarms in period", f"{k.alarms}", "", False),
        ("Alarms per hour (average)", f"{k.per_hour:.1f}", f"≤ {TARGET_PER_HOUR:g}", k.per_hour > TARGET_PER_HOUR),
        ("Alarms per 10 min (average)", f"{k.per_10min:.2f}", f"≤ {TARGET_PER_10MIN:g}",
         k.per_10min > TARGET_PER_10MIN),
        ("Peak alarms in 10 min", f"{k.peak_10min}", f"≤ {FLOOD_LIMIT}", k.peak_10min > FLOOD_LIMIT),
        ("Time in flood", f"{k.time_in_flood * 100:.1f} % ({k.flood_periods} of {k.periods} periods)",
         f"< {TARGET_TIME_IN_FLOOD * 100:g} %", k.time_in_flood >= TARGET_TIME_IN_FLOOD),
        ("Chattering alarms", f"{len(k.chattering)}" + (f": {', '.join(k.chattering[:5])}" if k.chattering else ""),
         "0", bool(k.chattering)),
        ("Stale alarms (active > 24 h)", f"{len(k.stale)}" + (f": {', '.join(k.stale[:5])}" if k.stale else ""),
         "0", bool(k.stale)),
        ("Top-10 share of all alarms", f"{k.top_share * 100:.0f} %", "< 5 %", k.alarms > 0 and k.top_share >= 0.05),
        ("Priority split low / medium / high+critical",
         f"{k.priority_share(Priority.LOW) * 100:.0f} / {k.priority_share(Priority.MEDIUM) * 100:.0f} / "
         f"{top_crit * 100:.0f} %", "≈ 80 / 15 / 5 %",
         # too many urgent alarms is what degrades the operator's response; more low ones is no miss
         k.alarms > 0 and (top_crit > 0.05 or top_three > 0.20)),
        ("Shelved now", f"{k.shelved}", "", False),
        ("Longest shelving", _duration(k.longest_shelved_s), "", False),
    ]
    return rows


def _duration(s: float) -> str:
    return f"{s / 60:.0f} min" if s < 3600 else f"{s / 3600:.1f} h"


class KpiPanel(QWidget):
    """The alarm system's own health over a chosen period; amber where a target is missed."""

    def __init__(self, service: AlarmService, clock: Callable[[], float] = time.time,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.clock = clock
        self.tasks: set[asyncio.Task[None]] = set()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        self.period = QComboBox()
        for name, span in PERIODS:
            self.period.addItem(name, span)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.period.currentIndexChanged.connect(lambda _i: self.refresh())
        bar.addWidget(QLabel("Period"))
        bar.addWidget(self.period)
        bar.addWidget(self.refresh_button)
        bar.addStretch(1)
        layout.addLayout(bar)
        self.table = QTableWidget(0, len(KPI_COLUMNS))
        setup_table(self.table, KPI_COLUMNS, "alarmKpis")
        self.columns = ColumnFit(self.table, stretch=(len(KPI_COLUMNS) - 1,))
        layout.addWidget(self.table)
        layout.addWidget(QLabel("Top bad actors (most frequent alarms)"))
        self.top = QTableWidget(0, 2)
        setup_table(self.top, ("Activations", "Alarm"), "alarmTop")
        self.top_columns = ColumnFit(self.top, stretch=(1,))
        layout.addWidget(self.top, 1)
        self.status = QLabel("")
        self.status.setStyleSheet(f"color: {palette.TEXT_DIM};")
        layout.addWidget(self.status)

    def refresh(self) -> None:
        t1 = self.clock()
        task = asyncio.get_running_loop().create_task(self.run_kpis(t1 - float(self.period.currentData()), t1))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run_kpis(self, t0: float, t1: float) -> None:
        self.status.setText("computing…")
        try:
            k = await self.service.kpis(t0, t1)
        except Exception as e:
            log.warning("alarm KPIs failed: %s", e)
            self.status.setText(f"KPIs not available: {e}; the database may be unreachable, try again")
            return
        self.show_kpis(k)
        self.status.setText(f"{_datetime(t0)} – {_datetime(t1)}, all positions")

    def show_kpis(self, k: AlarmKpis) -> None:
        rows = kpi_rows(k)
        if self.table.rowCount() != len(rows):  # every figure in view, no scrolling
            self.table.setRowCount(len(rows))
            self.table.setFixedHeight(self.table.horizontalHeader().height() + 4
                                      + len(rows) * self.table.verticalHeader().defaultSectionSize())
        for r, (name, value, target, missed) in enumerate(rows):
            colour = palette.ALERT if missed else palette.TEXT
            set_cell(self.table, r, 0, name, colour)
            set_cell(self.table, r, 1, value, colour)
            set_cell(self.table, r, 2, target, palette.TEXT_DIM)
        self.top.setRowCount(len(k.top))
        for r, (alarm, n) in enumerate(k.top):
            set_cell(self.top, r, 0, str(n), palette.TEXT, RIGHT)
            set_cell(self.top, r, 1, alarm, palette.TEXT)

    def missed(self) -> list[str]:
        """Figures shown as missed (for tests)."""
        items = [self.table.item(r, 0) for r in range(self.table.rowCount())]
        return [i.text() for i in items if i is not None and i.data(Qt.ItemDataRole.UserRole) == palette.ALERT]
