"""What the UI pulls once per frame: the live alarm list, counts, floods, recent events."""

from __future__ import annotations

from dataclasses import dataclass

from core.alarms.definitions import AlarmDef, Priority
from core.alarms.flood import FloodStatus
from core.alarms.state import AlarmEvent, AlarmState, IsaState


@dataclass(frozen=True, slots=True)
class AlarmView:
    """One alarm as the alarm list shows it.

    ``value`` is the process value at the alarm's latest transition (the live
    value is in the grid snapshot); ``first_out`` marks the first alarm of its
    position's present flood; ``chattering`` means it activated at least 3
    times in the last minute.
    """

    definition: AlarmDef
    state: AlarmState
    value: float
    changed: float  # time of the latest event of this alarm
    chattering: bool
    first_out: bool

    @property
    def id(self) -> str:
        return self.definition.id

    @property
    def priority(self) -> Priority:
        return self.definition.priority

    @property
    def isa(self) -> IsaState:
        return self.state.isa


@dataclass(frozen=True, slots=True)
class AlarmSnapshot:
    """The alarm system at ``ts``.

    ``alarms`` holds every alarm not in the plain normal state (unacknowledged,
    active, latched, shelved, suppressed or out of service), most urgent first,
    then newest first. ``recent`` holds the latest journal events, newest last.
    """

    ts: float
    alarms: tuple[AlarmView, ...]
    floods: tuple[FloodStatus, ...]
    recent: tuple[AlarmEvent, ...]
    defined: int

    def annunciated(self) -> tuple[AlarmView, ...]:
        """Alarms the operator is told about (the summary's default view)."""
        return tuple(a for a in self.alarms if a.state.annunciated and a.state.retain)

    def unacknowledged(self) -> tuple[AlarmView, ...]:
        return tuple(a for a in self.alarms if a.state.annunciated and not a.state.acked)

    def banner(self, n: int = 3) -> tuple[AlarmView, ...]:
        """The ``n`` most urgent, newest unacknowledged annunciated alarms (for the banner on every tab)."""
        return self.unacknowledged()[:n]

    def count(self, isa: IsaState) -> int:
        return sum(1 for a in self.alarms if a.state.isa is isa)

    @property
    def audible(self) -> bool:
        """True while the horn should sound: an annunciated alarm is unacknowledged and not silenced."""
        return any(a.state.audible for a in self.alarms)

    @property
    def in_flood(self) -> bool:
        return any(f.in_flood for f in self.floods)
