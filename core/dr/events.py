"""A demand-response event shaped like OpenADR 2.0b (oadrEvent), and its status at a given time.

OpenADR's event status is *far* until the notification window before the start, *near* inside it
(participants ramp), *active* from the start for the duration, then *completed*; *cancelled* overrides
them all. Times are Unix seconds; money in the token's base units (integers, never floats).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EventStatus(StrEnum):
    FAR = "far"
    NEAR = "near"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class SignalType(StrEnum):
    """OpenADR's SIMPLE signal (levels 0–3: normal, moderate, high, special) and the ones a target
    reduction needs: a delta (kW to shed) or a setpoint (kW not to exceed)."""

    SIMPLE = "simple"
    DELTA = "delta"
    SETPOINT = "setpoint"


@dataclass(frozen=True, slots=True)
class DrEvent:
    event_id: str
    start: float
    duration_s: float
    target_kw: float                     # the reduction asked for, in total
    price_per_kwh: int                   # compensation per verified kWh, token base units
    signal: SignalType = SignalType.DELTA
    level: float = 1.0                   # SIMPLE: 0–3; DELTA: kW; SETPOINT: kW
    ramp_s: float = 0.0                  # participants may start ramping this long before start
    notification_s: float = 900.0        # 'near' this long before start (or the ramp, if longer)
    targets: tuple[str, ...] = field(default=())  # participant names or group names; empty = everyone
    modification: int = 0                # OpenADR modificationNumber: raised on every change
    cancelled: bool = False

    def __post_init__(self) -> None:
        problems = []
        if not self.event_id.strip():
            problems.append("event_id is empty")
        if self.duration_s <= 0:
            problems.append(f"duration_s must be > 0, got {self.duration_s}")
        if self.target_kw <= 0:
            problems.append(f"target_kw must be > 0 (a reduction), got {self.target_kw}")
        if self.price_per_kwh < 0:
            problems.append(f"price_per_kwh must be >= 0, got {self.price_per_kwh}")
        if self.ramp_s < 0 or self.notification_s < 0:
            problems.append("ramp_s and notification_s must be >= 0")
        if self.signal is SignalType.SIMPLE and self.level not in (0, 1, 2, 3):
            problems.append(f"a SIMPLE signal's level is 0, 1, 2 or 3, got {self.level}")
        if problems:
            raise ValueError(f"demand-response event {self.event_id!r}: " + "; ".join(problems))

    @property
    def end(self) -> float:
        return self.start + self.duration_s

    def status(self, now: float) -> EventStatus:
        if self.cancelled:
            return EventStatus.CANCELLED
        if now >= self.end:
            return EventStatus.COMPLETED
        if now >= self.start:
            return EventStatus.ACTIVE
        if now >= self.start - max(self.notification_s, self.ramp_s):
            return EventStatus.NEAR
        return EventStatus.FAR

    def targets_participant(self, name: str, groups: frozenset[str] = frozenset()) -> bool:
        return not self.targets or name in self.targets or bool(groups.intersection(self.targets))
