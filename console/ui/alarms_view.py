"""The operator's alarm screen: the live alarm list (keyboard first), the journal and the KPI panel.

It talks to :class:`AlarmService` only: ``refresh()`` pulls one ``AlarmSnapshot`` per UI frame, and every
button or key becomes one service command with the operator's name. Keys (on the screen):

- Enter / Space: acknowledge the selected alarm(s)
- Ctrl+Shift+A: acknowledge every unacknowledged alarm in the list (asks; Cancel is the default)
- Ctrl+M: silence the horn (everything sounding, without acknowledging)
- Ctrl+H: shelve the selected alarm…   Ctrl+U: unshelve   Ctrl+R: reset a latched alarm
- Ctrl+K: comment…   Ctrl+F: the filter box
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from console.services.alarms import AlarmService
from console.ui.alarm_dialogs import CommentDialog, ShelveDialog, acknowledge_page_box
from console.ui.alarm_history import JournalPanel, KpiPanel
from core.alarms.definitions import Priority
from core.alarms.errors import AlarmError
from core.alarms.snapshot import AlarmSnapshot, AlarmView
from core.alarms.state import IsaState
from core.points import PointDef
from widgets import palette
from widgets.alarm_style import PRIORITY_COLOUR, priority_label
from widgets.alarm_table import AlarmTable, local_time

log = logging.getLogger(__name__)

# (label, which alarms of the snapshot the list shows)
STATE_FILTERS: tuple[tuple[str, Callable[[AlarmView], bool]], ...] = (
    ("annunciated", lambda a: a.state.annunciated and a.state.retain),
    ("unacknowledged", lambda a: a.state.annunciated and not a.state.acked),
    ("active", lambda a: a.state.annunciated and a.state.active),
    ("shelved", lambda a: a.isa is IsaState.SHELVED),
    ("suppressed / out of service", lambda a: a.isa in (IsaState.SUPPRESSED, IsaState.OUT_OF_SERVICE)),
    ("everything listed", lambda a: True),
)


class _AckKeys(QObject):
    """Enter, Return and Space on the list acknowledge the selection (Space would toggle it otherwise)."""

    def __init__(self, view: AlarmsView) -> None:
        super().__init__(view)
        self.view = view

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if (event.type() in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride) and isinstance(event, QKeyEvent)
                and not event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space)):
            if event.type() == QEvent.Type.ShortcutOverride:
                event.accept()  # the key is the list's: a window shortcut (Space = pause trends) must not take it
                return True
            self.view.acknowledge_selected()
            return True
        return False


class AlarmsView(QWidget):
    """The alarm screen.

    Parameters
    ----------
    service:
        The running alarm service.
    user:
        The operator's name for every command (a callable for a login that changes; users come later).
    clock:
        Wall time for the journal's default range and the KPI periods.
    points:
        The configured points, so values show in the operator's unit (``201.4 V``, ``1.18 MW``).
    """

    def __init__(self, service: AlarmService, user: str | Callable[[], str], clock: Callable[[], float] = time.time,
                 fmt_time: Callable[[float], str] = local_time, points: Iterable[PointDef] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self._user = user
        self._last: AlarmSnapshot | None = None
        self._filter_key: tuple[object, ...] = ()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("alarmTabs")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

        live = QWidget()
        col = QVBoxLayout(live)
        col.setContentsMargins(4, 4, 4, 4)
        col.setSpacing(4)
        bar = QHBoxLayout()
        self.priority_buttons: dict[Priority, QPushButton] = {}
        for p in Priority:
            b = QPushButton(priority_label(p))
            b.setCheckable(True)
            b.setChecked(True)
            b.setToolTip(f"show {p.name.lower()}-priority alarms")
            b.setStyleSheet(f"QPushButton:checked {{ color: {PRIORITY_COLOUR[p]}; }}"
                            f"QPushButton {{ color: {palette.TEXT_DIM}; padding: 2px 8px; }}")
            b.toggled.connect(lambda _on: self.refresh(force=True))
            self.priority_buttons[p] = b
            bar.addWidget(b)
        self.state_filter = QComboBox()
        for name, _ in STATE_FILTERS:
            self.state_filter.addItem(name)
        self.state_filter.currentIndexChanged.connect(lambda _i: self.refresh(force=True))
        bar.addWidget(self.state_filter)
        self.text_filter = QLineEdit()
        self.text_filter.setPlaceholderText("filter: alarm, point or message contains…  (Ctrl+F)")
        self.text_filter.setClearButtonEnabled(True)
        self.text_filter.textChanged.connect(lambda _t: self.refresh(force=True))
        bar.addWidget(self.text_filter, 1)
        self.shown_label = QLabel("")
        self.shown_label.setStyleSheet(f"color: {palette.TEXT_DIM};")
        # A fixed size: the counts change every frame in a flood, and a label whose size hint changes
        # re-lays the whole screen and repaints every widget on it (4 of 10 ms of a flood frame).
        widest = "88888 shown · 88888 unacknowledged · 88888 listed · 88888 defined"
        self.shown_label.setFixedSize(self.shown_label.fontMetrics().horizontalAdvance(widest) + 8,
                                      self.shown_label.sizeHint().height())
        self.shown_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bar.addWidget(self.shown_label)
        col.addLayout(bar)

        self.table = AlarmTable(fmt_time=fmt_time, points=points)
        self.table.installEventFilter(_AckKeys(self))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_detail())
        col.addWidget(self.table, 1)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setStyleSheet(f"color: {palette.TEXT}; padding: 2px 4px;")
        col.addWidget(self.detail)

        actions = QHBoxLayout()
        self.ack_button = self._button(actions, "Acknowledge (Enter)", self.acknowledge_selected)
        self.ack_page_button = self._button(actions, "Acknowledge list… (Ctrl+Shift+A)", self.acknowledge_visible)
        self.silence_button = self._button(actions, "Silence horn (Ctrl+M)", self.silence_all)
        self.shelve_button = self._button(actions, "Shelve… (Ctrl+H)", self.open_shelve_dialog)
        self.unshelve_button = self._button(actions, "Unshelve (Ctrl+U)", self.unshelve_selected)
        self.reset_button = self._button(actions, "Reset latch (Ctrl+R)", self.reset_selected)
        self.comment_button = self._button(actions, "Comment… (Ctrl+K)", self.open_comment_dialog)
        actions.addStretch(1)
        self.result = QLabel("")
        self.result.setObjectName("alarmCommandResult")
        actions.addWidget(self.result)
        col.addLayout(actions)
        for keys, slot in (("Ctrl+Shift+A", self.acknowledge_visible), ("Ctrl+M", self.silence_all),
                           ("Ctrl+H", self.open_shelve_dialog), ("Ctrl+U", self.unshelve_selected),
                           ("Ctrl+R", self.reset_selected), ("Ctrl+K", self.open_comment_dialog),
                           ("Ctrl+F", self.text_filter.setFocus)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self.tabs.addTab(live, "Alarm list")
        self.journal = JournalPanel(service, clock)
        self.tabs.addTab(self.journal, "Journal")
        self.kpis = KpiPanel(service, clock)
        self.tabs.addTab(self.kpis, "Alarm KPIs")
        self.table.setFocus()

    @staticmethod
    def _button(row: QHBoxLayout, text: str, slot: Callable[[], object]) -> QPushButton:
        b = QPushButton(text)
        b.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # clicks leave the keyboard on the list
        b.clicked.connect(lambda _checked=False: slot())
        row.addWidget(b)
        return b

    @property
    def user(self) -> str:
        return self._user() if callable(self._user) else self._user

    # ---- per frame -----------------------------------------------------------------------------------

    def refresh(self, force: bool = False) -> None:
        """Pull the snapshot; rewrite the list only when it or the filter changed."""
        snap = self.service.snapshot()
        key = (tuple(p for p, b in self.priority_buttons.items() if b.isChecked()),
               self.state_filter.currentIndex(), self.text_filter.text().strip().casefold())
        if snap is self._last and key == self._filter_key and not force:
            return
        self._last, self._filter_key = snap, key
        shown = self.filtered(snap)
        self.table.show_alarms(shown)
        unacked = sum(1 for a in snap.unacknowledged())
        counts = f"{len(shown)} shown · {unacked} unacknowledged · {len(snap.alarms)} listed · {snap.defined} defined"
        if counts != self.shown_label.text():
            self.shown_label.setText(counts)
        self._show_detail()

    def filtered(self, snap: AlarmSnapshot) -> list[AlarmView]:
        priorities = {p for p, b in self.priority_buttons.items() if b.isChecked()}
        keep = STATE_FILTERS[self.state_filter.currentIndex()][1]
        needle = self.text_filter.text().strip().casefold()
        return [a for a in snap.alarms if a.priority in priorities and keep(a)
                and (not needle or any(needle in s.casefold() for s in (a.id, a.definition.point,
                                                                       a.definition.message)))]

    def _show_detail(self) -> None:
        """The selected alarm's rationalization: what happens if nobody acts, and what to do."""
        ids = self.table.selected_ids()
        snap = self._last
        a = next((v for v in snap.alarms if v.id == ids[0]), None) if ids and snap else None
        if a is None:
            text = "Select an alarm: Enter acknowledges; Ctrl+H shelves; Ctrl+K comments."
        else:
            d = a.definition
            text = (f"<b>{d.id}</b> ({d.point}) — {d.message}. "
                    + (f"<b>Consequence:</b> {d.consequence} " if d.consequence else "")
                    + (f"<b>Do:</b> {d.response}" if d.response else ""))
        if text != self.detail.text():
            self.detail.setText(text)

    # ---- commands ------------------------------------------------------------------------------------

    def _say(self, text: str, problem: bool = False) -> None:
        self.result.setText(text)
        self.result.setStyleSheet(f"color: {palette.ALERT}; font-weight: bold;" if problem
                                  else f"color: {palette.TEXT_DIM};")

    def _run(self, what: str, action: Callable[[], object]) -> bool:
        try:
            action()
        except AlarmError as e:  # refused by the state machine, or an unknown alarm: the message says why
            self._say(str(e), problem=True)
            return False
        self._say(what)
        self.refresh(force=True)
        return True

    def _selected(self) -> list[str]:
        ids = self.table.selected_ids()
        if not ids:
            self._say("select an alarm first", problem=True)
        return ids

    def acknowledge_selected(self) -> None:
        ids = self._selected()
        if not ids:
            return
        snap = self.service.snapshot()
        unacked = [a.id for a in snap.alarms if a.id in set(ids) and not a.state.acked]
        if not unacked:
            self._say("already acknowledged", problem=True)
            return
        self._run(f"acknowledged {', '.join(unacked)}",
                  lambda: self.service.acknowledge_visible(unacked, self.user))

    def acknowledge_visible(self, confirmed: bool | None = None) -> None:
        """Acknowledge every unacknowledged alarm the list shows; asks first (``confirmed`` answers for tests)."""
        snap = self.service.snapshot()
        visible = set(self.table.visible_ids())
        targets = [a.id for a in snap.alarms if a.id in visible and not a.state.acked]
        if not targets:
            self._say("nothing to acknowledge in the list")
            return
        if confirmed is None:
            confirmed = acknowledge_page_box(len(targets), self).exec() == QMessageBox.StandardButton.Yes
        if confirmed:
            self._run(f"acknowledged {len(targets)} alarm(s)",
                      lambda: self.service.acknowledge_visible(targets, self.user))

    def silence_all(self) -> None:
        events = self.service.silence_all(self.user)
        self._say(f"horn silenced ({len(events)} alarm(s))" if events else "nothing sounding")
        self.refresh(force=True)

    def shelve(self, alarm: str, reason: str, duration_s: float | None) -> bool:
        how = "until normal" if duration_s is None else f"for {duration_s / 60:g} min"
        return self._run(f"shelved {alarm} {how}",
                         lambda: self.service.shelve(alarm, self.user, reason, duration_s))

    def open_shelve_dialog(self) -> None:
        view = self._selected_view()
        if view is None:
            return
        dialog = ShelveDialog(view.definition, view.state, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.shelve(view.id, dialog.reason_text, dialog.duration_s)

    def unshelve_selected(self) -> None:
        for alarm in self._selected():
            self._run(f"unshelved {alarm}", lambda a=alarm: self.service.unshelve(a, self.user))  # type: ignore[misc]

    def reset_selected(self) -> None:
        for alarm in self._selected():
            self._run(f"reset {alarm}", lambda a=alarm: self.service.reset(a, self.user))  # type: ignore[misc]

    def comment(self, alarm: str, text: str) -> bool:
        return self._run(f"comment kept on {alarm}", lambda: self.service.comment(alarm, self.user, text))

    def open_comment_dialog(self) -> None:
        view = self._selected_view()
        if view is None:
            return
        dialog = CommentDialog(view.definition, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.comment(view.id, dialog.text.text().strip())

    def _selected_view(self) -> AlarmView | None:
        ids = self._selected()
        if not ids:
            return None
        return next((a for a in self.service.snapshot().alarms if a.id == ids[0]), None)

    def views(self) -> Sequence[AlarmView]:
        """What the list shows now (for the banner and tests)."""
        return self.filtered(self.service.snapshot())
