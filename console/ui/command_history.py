"""Command history: the operator commands of the audit log, newest first, in the words that were confirmed."""

from __future__ import annotations

import time
from collections.abc import Iterable

from PySide6.QtWidgets import QTableWidget, QWidget

from console.services.commands import COMMAND_ACTION, AuditEntry
from widgets import palette
from widgets.cells import set_cell, set_row_count, setup_table

COLUMNS = ("Time", "Operator", "Result", "Command")
RESULT, COMMAND = 2, 3
MAX_ROWS = 200


def when(ts: float, now: float) -> str:
    """Local time; with the date when it is not today."""
    t = time.localtime(ts)
    return time.strftime("%H:%M:%S" if time.localtime(now)[:3] == t[:3] else "%Y-%m-%d %H:%M:%S", t)


class CommandHistory(QTableWidget):
    """Operator commands (audit action "command"); register-level writes stay in the audit log only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        setup_table(self, COLUMNS, "commandHistory", row_height=18)
        self.entries: list[AuditEntry] = []

    def show_entries(self, entries: Iterable[AuditEntry], now: float | None = None) -> None:
        """Replace the list with ``entries`` (any order); commands only, newest first."""
        commands = [e for e in entries if e.action == COMMAND_ACTION]
        self.entries = sorted(commands, key=lambda e: e.ts, reverse=True)[:MAX_ROWS]
        self._fill(time.time() if now is None else now)

    def add(self, entry: AuditEntry, now: float | None = None) -> None:
        """One command just sent from this console, before the audit log is read again."""
        self.show_entries([entry, *self.entries], now)

    def _fill(self, now: float) -> None:
        changed = set_row_count(self, len(self.entries))
        for r, e in enumerate(self.entries):
            outcome, _, detail = e.result.partition(": ")  # "confirmed: <the device's words>"
            confirmed = outcome == "confirmed"
            texts = (when(e.ts, now), e.user, outcome, e.new or e.target)
            for c, text in enumerate(texts):
                plain = palette.TEXT if confirmed or c == COMMAND else palette.ALERT
                set_cell(self, r, c, text, palette.TEXT_DIM if c < RESULT else plain)
            for c, tip in ((RESULT, detail or e.result), (COMMAND, e.new or e.target)):
                item = self.item(r, c)
                if item is not None and item.toolTip() != tip:
                    item.setToolTip(tip)
        if changed:
            self.resizeColumnsToContents()

    def row_texts(self) -> list[list[str]]:
        return [[item.text() if (item := self.item(r, c)) else "" for c in range(self.columnCount())]
                for r in range(self.rowCount())]
