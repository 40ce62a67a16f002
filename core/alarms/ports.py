"""The port the alarm service journals through (its own module, like a section of :mod:`core.ports`:
the SQL store implements it, the service depends only on this)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from core.alarms.journal import JournalQuery
from core.alarms.state import AlarmEvent, AlarmState


class AlarmJournal(Protocol):
    """Keeps every alarm event and operator action.

    Blocking calls: the alarm service runs them in a worker thread. States are
    stored whole with each event, so a restart takes every alarm up where it was
    and an audit reads who did what from which state to which.
    """

    def append(self, events: Sequence[AlarmEvent]) -> None:
        """Store ``events`` in order, all or none (a failure raises; the service keeps them and retries)."""

    def latest_states(self) -> Mapping[str, AlarmState]:
        """Each alarm's state after its newest event."""
        ...

    def query(self, q: JournalQuery) -> list[AlarmEvent]:
        """Events matching ``q`` (:meth:`JournalQuery.matches` defines the meaning), oldest first,
        at most ``q.limit``."""
        ...
