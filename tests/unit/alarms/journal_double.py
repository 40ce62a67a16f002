"""TEST DOUBLE ONLY: an in-memory alarm journal for the service tests.

The console's journal is the SQL store (console/store, later); this keeps
events in a list so the service's queueing, retry and restore can be tested
without a database. ``fail_next`` makes the next appends raise, like an
unreachable database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.alarms import AlarmEvent, AlarmState
from core.alarms.journal import JournalQuery


class MemoryJournal:
    def __init__(self) -> None:
        self.events: list[AlarmEvent] = []
        self.fail_next = 0
        self.attempts = 0

    def append(self, events: Sequence[AlarmEvent]) -> None:
        self.attempts += 1
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("database unreachable")
        self.events.extend(events)

    def latest_states(self) -> Mapping[str, AlarmState]:
        return {e.alarm: e.state for e in self.events}

    def query(self, q: JournalQuery) -> list[AlarmEvent]:
        return [e for e in self.events if q.matches(e)][: q.limit]
