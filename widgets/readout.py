"""Large numeric readout whose look carries the value's quality and band."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from core.bands import Band
from core.points import Quality
from widgets.elided_label import ElidedLabel
from widgets.palette import state_of
from widgets.style import set_style_property

_TAGS = {"stale": "STALE", "bad": "BAD", "alert": "ALERT", "emergency": "EMERGENCY", "unknown": "NO DATA"}


class Readout(QFrame):
    """Title, big value and unit; frame and tag show abnormal states.

    The state is a dynamic property (``state``) styled by the theme, so a
    readout in its normal state is plain grey and an abnormal one is
    unmistakable even in peripheral vision.
    """

    def __init__(self, title: str, unit: str, decimals: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("readout")
        self.decimals = decimals
        self.unit = unit
        # Title and tag elide (full text in the tooltip): a long bus name or note never widens the window.
        self._title = ElidedLabel(title, max_hint_chars=24)
        self._title.setObjectName("readoutTitle")
        self._value = QLabel("—")
        self._value.setObjectName("readoutValue")
        self._value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._tag = ElidedLabel("", max_hint_chars=24)
        self._tag.setObjectName("readoutTag")
        self._tag.setAlignment(Qt.AlignmentFlag.AlignRight)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(0)
        layout.addWidget(self._title)
        layout.addWidget(self._value)
        layout.addWidget(self._tag)
        self.state = ""
        self.set_value(math.nan, Quality.BAD, Band.UNKNOWN)

    def set_value(self, value: float, quality: Quality, band: Band, note: str = "") -> None:
        """Show a value; the look follows quality first, then band."""
        # + 0.0: -0.0002 Hz/s rounds to "0.000", not "-0.000" (a sign on a zero reads as a direction)
        text = "—" if not math.isfinite(value) else f"{round(value, self.decimals) + 0.0:,.{self.decimals}f}"
        self._value.setText(f"{text} <span style='font-size:11pt'>{self.unit}</span>")
        state = "unknown" if not math.isfinite(value) and quality.usable else state_of(quality, band)
        tag = _TAGS.get(state, "")
        self._tag.setText(" · ".join(t for t in (tag, note) if t) or " ")
        if state != self.state:
            self.state = state
            for w in (self, self._value, self._tag):
                set_style_property(w, "state", state)

    @property
    def text(self) -> str:
        """Plain text of the value (for tests and accessibility)."""
        return self._value.text().split(" <span")[0]

    @property
    def tag(self) -> str:
        return self._tag.text().strip()

    @property
    def tag_label(self) -> ElidedLabel:
        """The tag line (state and note), for layout tests."""
        return self._tag
