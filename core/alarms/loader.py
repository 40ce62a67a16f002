"""``[[alarms]]`` tables (as ``tomllib`` reads them) → validated :class:`AlarmDef` values.

A pure function: the config loader reads the file and passes the list in.
Limits, deadbands and setpoints are written in the point's configured unit
(what the operator reads: kV, MW, mHz…) and converted to SI with the point's
factor; durations are seconds. A ``rate`` alarm may name a ``window`` (s):
the rate is then the least-squares slope over it (the ROCOF readout's
estimator); ``rate_windows`` gives a point's default. Unknown keys are
rejected (a typo must not fall back to a default). Example::

    [[alarms]]
    id = "grid.frequency.high"
    point = "grid.frequency"
    type = "high"            # high-high, high, low, low-low, deviation, rate, quality, discrete, external
    limit = 50.2
    deadband = 0.05
    on_delay = 2.0
    priority = "high"        # critical, high, medium, low or 1–4
    message = "Frequency high"
    consequence = "Generators trip above 51.5 Hz"
    response = "Reduce generation; check the interconnector"
    suppress_when = [{ alarm = "grid.islanded" }, { point = "breaker.main", equals = 0 }, { source_down = true }]

``{ cause = "source.world.lost" }`` suppresses while that alarm's condition holds, from its first moment
(before its on-delay): the stale-data alarm of a source, while the source's session is lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.alarms.definitions import (
    DEFAULT_MAX_SHELVE_S,
    DEFAULT_POSITION,
    AlarmDef,
    Condition,
    DeviationCondition,
    DiscreteCondition,
    ExternalCondition,
    LimitCondition,
    LimitKind,
    Priority,
    QualityCondition,
    RateOfChangeCondition,
    SuppressRule,
    SuppressWhenAlarm,
    SuppressWhenCause,
    SuppressWhenPoint,
    SuppressWhenSourceDown,
)
from core.alarms.errors import AlarmConfigError

_COMMON = {"id", "point", "type", "priority", "message", "consequence", "response", "deadband", "on_delay",
           "off_delay", "latching", "confirm", "position", "max_shelve", "suppress_when"}
_PER_TYPE: dict[str, set[str]] = {
    **{k.value: {"limit"} for k in LimitKind},
    "deviation": {"limit", "setpoint", "setpoint_point"},
    "rate": {"limit", "window"},
    "quality": {"stale_after"},
    "discrete": {"states"},
    "external": set(),
}


def load_alarms(entries: Sequence[Mapping[str, Any]],
                point_factors: Mapping[str, float] | None = None,
                rate_windows: Mapping[str, float] | None = None) -> tuple[AlarmDef, ...]:
    """Validate every ``[[alarms]]`` entry.

    ``point_factors`` maps each configured point to its factor to SI (``PointDef.factor``);
    when given, an alarm on an unknown point is an error and values are converted.
    ``rate_windows`` gives a point's default window (s) for ``rate`` alarms that name none
    (the frequency point: the console's ROCOF window, so alarm and readout agree).
    Errors name the entry as ``alarms[i]`` (and its id), the field and what to do.
    """
    out: list[AlarmDef] = []
    seen: set[str] = set()
    for i, raw in enumerate(entries):
        where = f"alarms[{i}]"
        if not isinstance(raw, Mapping):
            raise AlarmConfigError(where, "", "each [[alarms]] entry must be a table")
        ident = raw.get("id")
        if isinstance(ident, str) and ident:
            where = f"alarms[{i}] ({ident})"
        d = _one(where, raw, point_factors, rate_windows or {})
        if d.id in seen:
            raise AlarmConfigError(where, "id", f"{d.id!r} is used by an earlier alarm; ids must be unique")
        seen.add(d.id)
        out.append(d)
    return tuple(out)


def _one(where: str, raw: Mapping[str, Any], factors: Mapping[str, float] | None,
         rate_windows: Mapping[str, float]) -> AlarmDef:
    kind = _get(where, raw, "type", str)
    if kind not in _PER_TYPE:
        raise AlarmConfigError(where, "type", f"{kind!r} is not an alarm type; use one of {', '.join(_PER_TYPE)}")
    unknown = set(raw) - _COMMON - _PER_TYPE[kind]
    if unknown:
        raise AlarmConfigError(where, sorted(unknown)[0], f"is not a key of a {kind!r} alarm; allowed: "
                                                          f"{', '.join(sorted(_COMMON | _PER_TYPE[kind]))}")
    point = _get(where, raw, "point", str)
    factor = 1.0
    if factors is not None and kind != "external":
        if point not in factors:
            raise AlarmConfigError(where, "point", f"{point!r} is not a configured point; define it under "
                                                   "[[sources.points]] or [[modbus]] first, or fix the name")
        factor = factors[point]
    condition = _condition(where, kind, raw, factor, rate_windows.get(point))
    try:
        return AlarmDef(
            id=_get(where, raw, "id", str),
            point=point,
            condition=condition,
            priority=_priority(where, raw),
            message=_get(where, raw, "message", str),
            consequence=_get(where, raw, "consequence", str, ""),
            response=_get(where, raw, "response", str, ""),
            deadband=_number(where, raw, "deadband", 0.0) * factor,
            on_delay_s=_number(where, raw, "on_delay", 0.0),
            off_delay_s=_number(where, raw, "off_delay", 0.0),
            latching=_get(where, raw, "latching", bool, False),
            confirm=_get(where, raw, "confirm", bool, False),
            position=_get(where, raw, "position", str, DEFAULT_POSITION),
            max_shelve_s=_number(where, raw, "max_shelve", DEFAULT_MAX_SHELVE_S),
            suppress_when=_rules(where, raw.get("suppress_when", [])),
        )
    except AlarmConfigError as e:
        if e.alarm == where:
            raise
        raise AlarmConfigError(where, e.field, e.problem) from None


def _condition(where: str, kind: str, raw: Mapping[str, Any], factor: float,
               rate_window: float | None = None) -> Condition:
    if kind in {k.value for k in LimitKind}:
        return LimitCondition(LimitKind(kind), _number(where, raw, "limit") * factor)
    if kind == "deviation":
        setpoint = raw.get("setpoint")
        return DeviationCondition(_number(where, raw, "limit") * factor,
                                  None if setpoint is None else _number(where, raw, "setpoint") * factor,
                                  _get(where, raw, "setpoint_point", str, None))
    if kind == "rate":
        window = raw.get("window")
        return RateOfChangeCondition(_number(where, raw, "limit") * factor,
                                     rate_window if window is None else _number(where, raw, "window"))
    if kind == "quality":
        stale = raw.get("stale_after")
        return QualityCondition(None if stale is None else _number(where, raw, "stale_after"))
    if kind == "discrete":
        states = raw.get("states")
        if not isinstance(states, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in states):
            raise AlarmConfigError(where, "states", f"{states!r} must be a list of integers, e.g. states = [0, 2]")
        return DiscreteCondition(tuple(states))
    return ExternalCondition()


def _rules(where: str, raw: object) -> tuple[SuppressRule, ...]:
    if not isinstance(raw, list):
        raise AlarmConfigError(where, "suppress_when", "must be a list of tables, e.g. [{ alarm = \"grid.islanded\" }]")
    rules: list[SuppressRule] = []
    for j, r in enumerate(raw):
        field = f"suppress_when[{j}]"
        if not isinstance(r, Mapping):
            raise AlarmConfigError(where, field, "must be a table")
        keys = set(r)
        if keys == {"alarm"} and isinstance(r["alarm"], str):
            rules.append(SuppressWhenAlarm(r["alarm"]))
        elif keys == {"point", "equals"} and isinstance(r["point"], str) and isinstance(r["equals"], int) \
                and not isinstance(r["equals"], bool):
            rules.append(SuppressWhenPoint(r["point"], r["equals"]))
        elif keys == {"source_down"} and r["source_down"] is True:
            rules.append(SuppressWhenSourceDown())
        elif keys == {"cause"} and isinstance(r["cause"], str) and r["cause"].strip():
            rules.append(SuppressWhenCause(r["cause"]))
        else:
            raise AlarmConfigError(where, field, f"{dict(r)!r} is not a rule; write {{ alarm = \"id\" }}, "
                                                 "{ point = \"id\", equals = 0 }, { source_down = true } or "
                                                 "{ cause = \"id\" }")
    return tuple(rules)


def _priority(where: str, raw: Mapping[str, Any]) -> Priority:
    if "priority" not in raw:
        raise AlarmConfigError(where, "priority", "is required: critical, high, medium or low (or 1–4)")
    return Priority.parse(where, raw["priority"])


_MISSING = object()


def _get(where: str, raw: Mapping[str, Any], key: str, typ: type, default: Any = _MISSING) -> Any:
    if key not in raw:
        if default is _MISSING:
            raise AlarmConfigError(where, key, "is required")
        return default
    value = raw[key]
    if not isinstance(value, typ) or (typ is not bool and isinstance(value, bool)):
        raise AlarmConfigError(where, key, f"{value!r} must be a {typ.__name__}")
    return value


def _number(where: str, raw: Mapping[str, Any], key: str, default: float | None = None) -> float:
    if key not in raw:
        if default is None:
            raise AlarmConfigError(where, key, "is required (a number)")
        return default
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AlarmConfigError(where, key, f"{value!r} must be a number")
    return float(value)
