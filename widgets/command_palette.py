"""The command palette (Ctrl+K): type a few letters of any action or point, Enter runs it.

Entries are registered by whoever owns the action (the main window its tabs and keys, a view its own
actions, the points from the configuration), each with a category and, where there is one, its key, so
the palette also teaches the shortcuts. Matching is by subsequence, ranked: a match at the start of a
word beats one inside it, consecutive letters beat scattered ones, and shorter labels win ties — so "frq"
finds "Frequency" and "ack" puts "Acknowledge selected alarm" before "Pack…".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

MAX_SHOWN = 12


@dataclass(frozen=True, slots=True)
class PaletteEntry:
    label: str                  # "Go to Alarms", "Point grid.frequency — Frequency"
    category: str               # "Tab", "Action", "Point"
    run: Callable[[], object]
    key: str = ""               # the shortcut, shown beside the label ("F5", "Space")
    detail: str = ""            # extra words to match on (a point's unit, its source)

    @property
    def text(self) -> str:
        return f"{self.label} {self.detail}".strip()


def score(query: str, text: str) -> int | None:
    """How well ``query`` matches ``text`` as a subsequence (higher is better); None when it does not."""
    q, t = query.lower().replace(" ", ""), text.lower()
    if not q:
        return 0
    pos, total, run = -1, 0, 0
    for ch in q:
        found = t.find(ch, pos + 1)
        if found < 0:
            return None
        run = run + 1 if pos >= 0 and found == pos + 1 else 0
        at_word = found == 0 or not t[found - 1].isalnum()
        total += 10 + (8 if at_word else 0) + 5 * run - min(found - pos - 1, 5)
        pos = found
    return total * 100 - len(t)


def ranked(entries: Sequence[PaletteEntry], query: str, limit: int = MAX_SHOWN) -> list[PaletteEntry]:
    scored = [(s, i, e) for i, e in enumerate(entries) if (s := score(query, e.text)) is not None]
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [e for _, _, e in scored[:limit]]


class CommandPalette(QDialog):
    """A small frameless box at the top of the window: a search field and the best matches."""

    def __init__(self, parent: QWidget, entries: Callable[[], Sequence[PaletteEntry]]) -> None:
        super().__init__(parent, Qt.WindowType.Popup | Qt.WindowType.FramelessWindowHint)
        self.setObjectName("commandPalette")
        self._owner = parent
        self._entries = entries
        self._shown: list[PaletteEntry] = []
        self.search = QLineEdit()
        self.search.setPlaceholderText("Type an action or a point…   (Enter runs it, Esc closes)")
        self.search.textChanged.connect(self._refill)
        self.search.installEventFilter(self)
        self.results = QListWidget()
        self.results.setUniformItemSizes(True)
        self.results.itemActivated.connect(lambda _item: self.run_current())
        self.hint = QLabel("")
        self.hint.setStyleSheet("color: #9aa0a6;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.search)
        layout.addWidget(self.results)
        layout.addWidget(self.hint)

    def open_palette(self) -> None:
        parent = self._owner
        width = min(640, max(360, parent.width() // 2))
        self.setFixedWidth(width)
        top_left = parent.mapToGlobal(parent.rect().topLeft())
        self.move(top_left.x() + (parent.width() - width) // 2, top_left.y() + 60)
        self.search.clear()
        self._refill("")
        self.show()
        self.search.setFocus()

    def _refill(self, query: str) -> None:
        everything = list(self._entries())
        self._shown = ranked(everything, query)
        self.results.clear()
        for e in self._shown:
            item = QListWidgetItem(f"{e.category:7}  {e.label}" + (f"    [{e.key}]" if e.key else ""))
            item.setToolTip(e.text)
            self.results.addItem(item)
        if self._shown:
            self.results.setCurrentRow(0)
        self.hint.setText(f"{len(self._shown)} of {len(everything)} shown" if query else
                          f"{len(everything)} actions and points")
        self.results.setFixedHeight(self.results.sizeHintForRow(0) * max(1, min(len(self._shown), MAX_SHOWN)) + 6)

    def run_current(self) -> None:
        row = self.results.currentRow()
        if 0 <= row < len(self._shown):
            entry = self._shown[row]
            self.accept()
            entry.run()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Up/Down move through the results while the cursor stays in the search field."""
        if watched is self.search and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                step = 1 if key == Qt.Key.Key_Down else -1
                count = self.results.count()
                if count:
                    self.results.setCurrentRow((self.results.currentRow() + step) % count)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.run_current()
                return True
        return super().eventFilter(watched, event)
