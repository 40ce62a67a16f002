"""What a journal search asks for, with its meaning fixed here so every store answers alike."""

from __future__ import annotations

from dataclasses import dataclass

from core.alarms.definitions import Priority
from core.alarms.state import AlarmEvent, EventKind, IsaState


@dataclass(frozen=True, slots=True)
class JournalQuery:
    """Events in ``[t0, t1)`` matching every given filter (``None``/empty: any), oldest first, at most ``limit``.

    ``text`` matches the alarm id, point or comment, case-insensitively (the
    journal search box); ``states`` is the ISA-18.2 state after the event.
    """

    t0: float
    t1: float
    alarms: frozenset[str] = frozenset()
    points: frozenset[str] = frozenset()
    priorities: frozenset[Priority] = frozenset()
    kinds: frozenset[EventKind] = frozenset()
    states: frozenset[IsaState] = frozenset()
    users: frozenset[str] = frozenset()
    positions: frozenset[str] = frozenset()
    text: str = ""
    limit: int = 10_000

    def matches(self, e: AlarmEvent) -> bool:
        """True when ``e`` belongs in the answer (stores may translate this into SQL; tests compare with it)."""
        if not self.t0 <= e.ts < self.t1:
            return False
        if self.alarms and e.alarm not in self.alarms:
            return False
        if self.points and e.point not in self.points:
            return False
        if self.priorities and e.priority not in self.priorities:
            return False
        if self.kinds and e.kind not in self.kinds:
            return False
        if self.states and e.state.isa not in self.states:
            return False
        if self.users and e.user not in self.users:
            return False
        if self.positions and e.position not in self.positions:
            return False
        if self.text:
            needle = self.text.casefold()
            return any(needle in s.casefold() for s in (e.alarm, e.point, e.comment))
        return True
