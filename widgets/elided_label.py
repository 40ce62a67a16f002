"""A one-line label that never widens its window: long text is cut with "…", the full text is in the tooltip.

A plain QLabel asks for the width of its whole text as its minimum; in a status bar one
long error string made the main window wider than the screen (2,093 px on 1,920) and it
never shrank back. This label asks for little and shows what fits.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

# The widest a label asks to be (its size hint), in average characters: enough for a
# source name with its state and retry, not a stack trace.
MAX_HINT_CHARS = 60
MIN_CHARS = 6  # what it keeps when squeezed: a symbol and a few letters


class ElidedLabel(QLabel):
    """Plain text, elided on the right to the width it gets; ``text()`` is the full text."""

    def __init__(self, text: str = "", parent: QWidget | None = None, max_hint_chars: int = MAX_HINT_CHARS) -> None:
        super().__init__(parent)
        self._full = ""
        self._detail = ""
        self._max_hint_chars = max_hint_chars
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(False)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setText(text)

    # QLabel's own text() would give the elided text; callers want what was set.
    def text(self) -> str:
        return self._full

    def shown_text(self) -> str:
        """What is on screen (the full text, or its elided start)."""
        return super().text()

    def setText(self, text: str) -> None:
        if text == self._full and super().text():
            return
        self._full = text
        self.updateGeometry()  # a new hint for the layout, never a new minimum
        self._elide()

    def set_detail(self, detail: str) -> None:
        """Tooltip text beyond the label's own (endpoint, last error, ...)."""
        if detail != self._detail:
            self._detail = detail
            self._update_tooltip()

    def is_elided(self) -> bool:
        return super().text() != " ".join(self._full.split("\n"))

    def sizeHint(self) -> QSize:
        fm = self.fontMetrics()
        margins = self.contentsMargins()
        extra = margins.left() + margins.right() + 2 * self.margin() + 2
        width = min(fm.horizontalAdvance(self._full), fm.averageCharWidth() * self._max_hint_chars)
        return QSize(width + extra, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        fm = self.fontMetrics()
        margins = self.contentsMargins()
        width = min(fm.horizontalAdvance(self._full), fm.averageCharWidth() * MIN_CHARS)
        return QSize(width + margins.left() + margins.right() + 2 * self.margin() + 2,
                     super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event: QEvent) -> None:
        """A new font (a status turning bold through its style sheet): a new hint and the text cut afresh
        (the status bar's Modbus label kept the width of its plain text and cut the bold one's last letter)."""
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange) and hasattr(self, "_full"):
            self.updateGeometry()
            self._elide()

    def _elide(self) -> None:
        available = self.contentsRect().width() - 2 * self.margin()
        one_line = " ".join(self._full.split("\n"))
        shown = self.fontMetrics().elidedText(one_line, Qt.TextElideMode.ElideRight, max(available, 0))
        if shown != super().text():
            super().setText(shown)
        self._update_tooltip()

    def _update_tooltip(self) -> None:
        parts = [self._full] if self.is_elided() else []
        if self._detail:
            parts.append(self._detail)
        tip = "\n".join(parts)
        if tip != self.toolTip():
            self.setToolTip(tip)
