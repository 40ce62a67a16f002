"""One line at the top of every screen: unacknowledged alarms by priority, the newest most urgent one,
flood and horn. Fixed height; the alarm text elides (full text in the tooltip), so a long message never
widens the window."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QWidget

from core.alarms.definitions import Priority
from core.alarms.snapshot import AlarmSnapshot
from widgets import palette, theme
from widgets.alarm_style import PRIORITY_COLOUR, PRIORITY_GLYPH, PRIORITY_TEXT

HEIGHT = 26


class ElidedLabel(QLabel):
    """A label that shows as much of its text as fits, ending in "…", and never asks for more width."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(40)

    @property
    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        if text != self._full:
            self._full = text
            self.setToolTip(text)
            self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(0, self.width() - 4))
        if shown != self.text():
            self.setText(shown)


class AlarmBanner(QFrame):
    """``show_snapshot(snap)`` once per frame; it changes labels only when what they say changes.

    Emits ``clicked`` when the operator clicks it (the window switches to the alarm screen).
    """

    clicked = Signal()

    def __init__(self, parent: QWidget | None = None,
                 fmt_time: Callable[[float], str] = lambda t: time.strftime("%H:%M:%S", time.localtime(t))) -> None:
        super().__init__(parent)
        self.setObjectName("alarmBanner")
        self.fmt_time = fmt_time
        self.setFixedHeight(HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        # Built in the theme shown now; a later switch recolours it (theme.recolour), and show_snapshot
        # reads palette.* when it draws, so both themes read right whichever was shown first.
        self.setStyleSheet(f"QFrame#alarmBanner {{ background: {theme.shown('#25292c')}; "
                           f"border-bottom: 1px solid {palette.GRID}; }}"
                           "QLabel { background: transparent; padding: 0 4px; }")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 0, 6, 0)
        row.setSpacing(6)
        self.title = QLabel("ALARMS")
        self.title.setStyleSheet(f"color: {palette.TEXT_DIM}; font-weight: bold;")
        row.addWidget(self.title)
        self.counts: dict[Priority, QLabel] = {}
        for p in Priority:
            label = QLabel()
            label.setToolTip(f"unacknowledged {PRIORITY_TEXT[p].lower()}-priority alarms")
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance("◆ 9999") + 8)
            self.counts[p] = label
            row.addWidget(label)
        self.newest = ElidedLabel()
        row.addWidget(self.newest, 1)
        self.flood = QLabel()
        row.addWidget(self.flood)
        self.horn = QLabel()
        row.addWidget(self.horn)
        self._shown: tuple[object, ...] | None = None

    def show_snapshot(self, snap: AlarmSnapshot) -> None:
        unacked = snap.unacknowledged()
        per = {p: 0 for p in Priority}
        for a in unacked:
            per[a.priority] += 1
        top = unacked[0] if unacked else None
        floods = tuple(f for f in snap.floods if f.in_flood)
        key = (tuple(per.values()), top and (top.id, top.state), tuple((f.position, f.count) for f in floods),
               snap.audible, bool(snap.alarms))
        if key == self._shown:
            return
        self._shown = key
        for p, n in per.items():
            colour = PRIORITY_COLOUR[p] if n else palette.TEXT_DIM
            weight = "bold" if n else "normal"
            self.counts[p].setText(f"{PRIORITY_GLYPH[p]} {n}")
            self.counts[p].setStyleSheet(f"color: {colour}; font-weight: {weight};")
        if top is None:
            self.newest.set_full_text("no unacknowledged alarms")
            self.newest.setStyleSheet(f"color: {palette.TEXT_DIM};")
        else:
            when = top.state.active_since if top.state.active_since is not None else top.changed
            # An alarm back to normal but not acknowledged says so: "No current data…" above live readouts
            # read as if the data were still stale.
            cleared = "" if top.state.active else "CLEARED  "
            self.newest.set_full_text(f"{PRIORITY_GLYPH[top.priority]} {PRIORITY_TEXT[top.priority]}  "
                                      f"{self.fmt_time(when)}  {cleared}{top.definition.message}  ({top.id})")
            self.newest.setStyleSheet(f"color: {PRIORITY_COLOUR[top.priority]}; "
                                      f"font-weight: {'bold' if top.state.active else 'normal'};")
        if floods:
            self.flood.setText("FLOOD " + ", ".join(f"{f.position} {f.count}/10 min" for f in floods))
            self.flood.setStyleSheet(f"color: {palette.ALERT}; font-weight: bold; border: 1px solid {palette.ALERT};")
        else:
            self.flood.setText("")
            self.flood.setStyleSheet("")
        if snap.audible:
            self.horn.setText("HORN ON")
            self.horn.setStyleSheet(f"color: {palette.ALERT}; font-weight: bold;")
        elif unacked:
            self.horn.setText("horn silenced")
            self.horn.setStyleSheet(f"color: {palette.TEXT};")
        else:
            self.horn.setText("")

    # ---- for tests ----------------------------------------------------------------------------------

    def counts_text(self) -> str:
        return "  ".join(self.counts[p].text() for p in Priority)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)
