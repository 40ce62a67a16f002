"""Typed alarm definitions (what is watched, when it alarms, how urgent, what to do).

Values are SI, like every sample: a frequency limit is in Hz, a voltage in V,
a rate of change in SI units per second. Construction validates every field
and raises :class:`AlarmConfigError` naming the alarm and the field.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from core.alarms.errors import AlarmConfigError

DEFAULT_POSITION = "main"
DEFAULT_MAX_SHELVE_S = 8 * 3600.0  # one shift: a shelved alarm must come back to someone who knows why


class Priority(enum.IntEnum):
    """ISA-18.2 priority; lower number is more urgent (sorts first)."""

    CRITICAL = 1
    HIGH = 2
    MEDIUM = 3
    LOW = 4

    @classmethod
    def parse(cls, alarm: str, raw: object) -> Priority:
        """``1``–``4`` or a name (``"high"``); anything else is a config error."""
        if isinstance(raw, int) and not isinstance(raw, bool):
            try:
                return cls(raw)
            except ValueError:
                pass
        elif isinstance(raw, str) and raw.upper() in cls.__members__:
            return cls[raw.upper()]
        raise AlarmConfigError(alarm, "priority", f"{raw!r} is not a priority; use 1–4 or one of "
                                                  "critical, high, medium, low")


class LimitKind(enum.Enum):
    """Which side of a limit alarms."""

    HIGH_HIGH = "high-high"
    HIGH = "high"
    LOW = "low"
    LOW_LOW = "low-low"

    @property
    def upper(self) -> bool:
        """True when exceeding the limit alarms."""
        return self in (LimitKind.HIGH, LimitKind.HIGH_HIGH)


@dataclass(frozen=True, slots=True)
class LimitCondition:
    """Value above (high, high-high) or below (low, low-low) ``limit``."""

    kind: LimitKind
    limit: float


@dataclass(frozen=True, slots=True)
class DeviationCondition:
    """``|value − setpoint| > limit``; the setpoint is a number or another point's latest value."""

    limit: float
    setpoint: float | None = None
    setpoint_point: str | None = None


@dataclass(frozen=True, slots=True)
class RateOfChangeCondition:
    """``|rate| > limit`` (SI units per second).

    With ``window_s`` the rate is the least-squares slope over that window, by the same
    :class:`core.frequency.RocofEstimator` as the console's ROCOF readout (the frequency's rate
    alarm gets the console's ``rocof_window_ms``, so the alarm and the readout agree); without it,
    the difference of two consecutive usable samples (a power ramp, a level).
    """

    limit: float
    window_s: float | None = None


@dataclass(frozen=True, slots=True)
class QualityCondition:
    """Bad quality (bad, comm-failure, stale) or, when ``stale_after_s`` is set, no sample for that long."""

    stale_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class DiscreteCondition:
    """A discrete point (breaker, mode, status word) in one of the ``alarm_states``."""

    alarm_states: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ExternalCondition:
    """Decided outside the point evaluator (chain down, settlement failed, historian spooling).

    The service reports it with :meth:`AlarmEngine.set_external`; delays and
    the state machine apply as for any other alarm.
    """


Condition = (LimitCondition | DeviationCondition | RateOfChangeCondition | QualityCondition
             | DiscreteCondition | ExternalCondition)


@dataclass(frozen=True, slots=True)
class SuppressWhenAlarm:
    """Suppressed by design while another alarm is active (e.g. feeder voltage while islanded)."""

    alarm: str


@dataclass(frozen=True, slots=True)
class SuppressWhenPoint:
    """Suppressed by design while a (discrete) point equals ``equals`` (a breaker open, a unit stopped)."""

    point: str
    equals: int


@dataclass(frozen=True, slots=True)
class SuppressWhenSourceDown:
    """Suppressed by design while the alarm's own point has no usable data (its source is out of
    service): the quality alarm of that source speaks for it instead of a cascade."""


@dataclass(frozen=True, slots=True)
class SuppressWhenCause:
    """Suppressed by design while the *condition* of ``alarm`` holds, from its first moment (not only once
    that alarm is active past its on-delay): ``alarm`` speaks for the cause (``source.world.lost`` for the
    stale data of a lost session), and its on-delay alone decides whether a short loss is an alarm at all.

    While it holds, the alarm takes no unusable sample as its condition (a lost session's stale marks are
    the driver's word for the loss, not the source's data) and its stale-data timer stands still; once the
    cause is gone the timer counts from then (the source's fresh values get ``stale_after`` to arrive)."""

    alarm: str


SuppressRule = SuppressWhenAlarm | SuppressWhenPoint | SuppressWhenSourceDown | SuppressWhenCause


@dataclass(frozen=True, slots=True)
class AlarmDef:
    """One alarm: a condition on a point, with its urgency and the operator's guidance.

    Parameters
    ----------
    id:
        Unique, stable alarm id (``"grid.frequency.high"``); journals and commands use it.
    point:
        The point the condition watches (for :class:`ExternalCondition`, the
        source it describes, e.g. ``"chain"``).
    condition:
        When the alarm is active.
    priority:
        ISA-18.2 priority.
    message:
        What the operator reads in the alarm list.
    consequence, response:
        What happens if nobody acts, and what to do (ISA-18.2 alarm rationalization).
    deadband:
        Hysteresis in the condition's unit: an active high alarm clears only below
        ``limit − deadband`` (a rate alarm below ``limit − deadband``).
    on_delay_s, off_delay_s:
        The condition must hold (resp. be gone) this long before the alarm activates (resp. clears).
    latching:
        After the condition clears the alarm stays latched until an operator resets it.
    confirm:
        OPC UA ConfirmedState: after acknowledgement the alarm waits for an explicit confirm.
    position:
        Operator position (console) that handles it; flood detection counts per position.
    max_shelve_s:
        Longest timed shelving allowed.
    suppress_when:
        Suppression-by-design rules; any one true suppresses the alarm.
    """

    id: str
    point: str
    condition: Condition
    priority: Priority
    message: str
    consequence: str = ""
    response: str = ""
    deadband: float = 0.0
    on_delay_s: float = 0.0
    off_delay_s: float = 0.0
    latching: bool = False
    confirm: bool = False
    position: str = DEFAULT_POSITION
    max_shelve_s: float = DEFAULT_MAX_SHELVE_S
    suppress_when: tuple[SuppressRule, ...] = field(default=())

    def __post_init__(self) -> None:
        _validate(self)


def _finite(alarm: str, name: str, value: float, minimum: float | None = None) -> None:
    if not math.isfinite(value):
        raise AlarmConfigError(alarm, name, f"{value!r} is not a finite number")
    if minimum is not None and value < minimum:
        raise AlarmConfigError(alarm, name, f"{value!r} must be at least {minimum:g}")


def _validate(d: AlarmDef) -> None:
    if not d.id or not d.id.strip():
        raise AlarmConfigError(d.id, "id", "an alarm needs a non-empty id")
    if not d.point:
        raise AlarmConfigError(d.id, "point", "name the point (or source) this alarm watches")
    if not d.message.strip():
        raise AlarmConfigError(d.id, "message", "write what the operator should read, e.g. 'Frequency high'")
    if not isinstance(d.priority, Priority):
        raise AlarmConfigError(d.id, "priority", f"{d.priority!r} is not a Priority")
    if not d.position:
        raise AlarmConfigError(d.id, "position", "name the operator position, or leave it out for 'main'")
    _finite(d.id, "deadband", d.deadband, 0.0)
    _finite(d.id, "on_delay", d.on_delay_s, 0.0)
    _finite(d.id, "off_delay", d.off_delay_s, 0.0)
    _finite(d.id, "max_shelve", d.max_shelve_s, 0.0)
    if d.max_shelve_s == 0:
        raise AlarmConfigError(d.id, "max_shelve", "must be above 0 s (an alarm that may not be shelved "
                                                   "still needs a positive maximum; use a short one)")
    c = d.condition
    match c:
        case LimitCondition():
            _finite(d.id, "limit", c.limit)
        case DeviationCondition():
            _finite(d.id, "limit", c.limit, 0.0)
            if (c.setpoint is None) == (c.setpoint_point is None):
                raise AlarmConfigError(d.id, "setpoint", "give exactly one of 'setpoint' (a number) "
                                                         "or 'setpoint_point' (a point id)")
            if c.setpoint is not None:
                _finite(d.id, "setpoint", c.setpoint)
        case RateOfChangeCondition():
            _finite(d.id, "limit", c.limit, 0.0)
            if c.limit == 0:
                raise AlarmConfigError(d.id, "limit", "a rate-of-change limit must be above 0 (units per second)")
            if c.window_s is not None:
                _finite(d.id, "window", c.window_s, 0.0)
                if c.window_s == 0:
                    raise AlarmConfigError(d.id, "window", "must be above 0 s (e.g. window = 0.5), or left out "
                                                           "for the rate between consecutive samples")
        case QualityCondition():
            if c.stale_after_s is not None:
                _finite(d.id, "stale_after", c.stale_after_s, 0.0)
                if c.stale_after_s == 0:
                    raise AlarmConfigError(d.id, "stale_after", "must be above 0 s, or left out")
        case DiscreteCondition():
            if not c.alarm_states:
                raise AlarmConfigError(d.id, "states", "list the state values that alarm, e.g. states = [0]")
        case ExternalCondition():
            pass
        case _:
            raise AlarmConfigError(d.id, "type", f"{c!r} is not an alarm condition")
    if d.deadband and isinstance(c, (DiscreteCondition, QualityCondition, ExternalCondition)):
        raise AlarmConfigError(d.id, "deadband", "a deadband applies to limit, deviation and rate alarms only; "
                                                 "remove it")
    for rule in d.suppress_when:
        if isinstance(rule, SuppressWhenAlarm) and rule.alarm == d.id:
            raise AlarmConfigError(d.id, "suppress_when", "an alarm cannot be suppressed by itself")
        if isinstance(rule, SuppressWhenCause) and rule.alarm == d.id:
            raise AlarmConfigError(d.id, "suppress_when", "an alarm cannot be its own cause; name the alarm "
                                                          "that speaks for the cause, e.g. source.world.lost")
