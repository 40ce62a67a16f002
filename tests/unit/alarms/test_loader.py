"""[[alarms]] tables → definitions; every mistake named with the alarm, the field and what to do."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from core.alarms import (
    AlarmConfigError,
    DeviationCondition,
    DiscreteCondition,
    LimitCondition,
    LimitKind,
    Priority,
    QualityCondition,
    SuppressWhenAlarm,
    SuppressWhenCause,
    SuppressWhenPoint,
    SuppressWhenSourceDown,
    load_alarms,
)

pytestmark = pytest.mark.unit

TOML = """
[[alarms]]
id = "grid.frequency.high"
point = "grid.frequency"
type = "high"
limit = 50.2
deadband = 0.05
on_delay = 2.0
priority = "high"
message = "Frequency high"
consequence = "Generators trip above 51.5 Hz"
response = "Reduce generation; check the interconnector"

[[alarms]]
id = "bus1.v.low"
point = "bus1.v"
type = "low"
limit = 0.207           # kV, the point's unit
deadband = 0.002
priority = 3
message = "Bus 1 voltage low"
latching = true
suppress_when = [{ alarm = "grid.frequency.high" }, { point = "breaker.main", equals = 0 }, { source_down = true }]

[[alarms]]
id = "bus1.v.dev"
point = "bus1.v"
type = "deviation"
setpoint = 0.230
limit = 0.02
priority = "low"
message = "Bus 1 voltage off nominal"

[[alarms]]
id = "breaker"
point = "breaker.main"
type = "discrete"
states = [0]
priority = "critical"
message = "Main breaker open"
position = "substation"
max_shelve = 600

[[alarms]]
id = "f.data"
point = "grid.frequency"
type = "quality"
stale_after = 10
priority = "medium"
message = "No frequency data"
suppress_when = [{ cause = "source.s.lost" }]
"""

FACTORS = {"grid.frequency": 1.0, "bus1.v": 1000.0, "breaker.main": 1.0}


def test_a_toml_file_loads_with_values_converted_to_si() -> None:
    f_high, v_low, v_dev, brk, data = load_alarms(tomllib.loads(TOML)["alarms"], FACTORS)
    assert f_high.condition == LimitCondition(LimitKind.HIGH, 50.2) and f_high.on_delay_s == 2.0
    assert f_high.priority is Priority.HIGH and f_high.response.startswith("Reduce")
    assert v_low.condition == LimitCondition(LimitKind.LOW, 207.0) and v_low.deadband == pytest.approx(2.0)
    assert v_low.latching and v_low.priority is Priority.MEDIUM
    assert v_low.suppress_when == (SuppressWhenAlarm("grid.frequency.high"), SuppressWhenPoint("breaker.main", 0),
                                   SuppressWhenSourceDown())
    assert v_dev.condition == DeviationCondition(limit=pytest.approx(20.0), setpoint=pytest.approx(230.0))
    assert brk.condition == DiscreteCondition((0,)) and brk.position == "substation" and brk.max_shelve_s == 600
    assert data.condition == QualityCondition(10.0) and data.suppress_when == (SuppressWhenCause("source.s.lost"),)


def entry(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "f.high", "point": "grid.frequency", "type": "high", "limit": 50.2,
                            "priority": "high", "message": "Frequency high"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(("over", "field", "words"), [
    ({"type": "hihg"}, "type", "'hihg' is not an alarm type"),
    ({"limt": 3}, "limt", "is not a key of a 'high' alarm"),
    ({"states": [0]}, "states", "is not a key of a 'high' alarm"),
    ({"limit": None}, "limit", "is required"),
    ({"limit": "50.2"}, "limit", "must be a number"),
    ({"priority": 5}, "priority", "use 1–4"),
    ({"priority": "urgent"}, "priority", "critical, high, medium, low"),
    ({"priority": None}, "priority", "is required"),
    ({"priority": True}, "priority", "is not a priority"),
    ({"message": " "}, "message", "write what the operator should read"),
    ({"deadband": -0.1}, "deadband", "must be at least 0"),
    ({"on_delay": float("nan")}, "on_delay", "not a finite number"),
    ({"point": "grid.freq"}, "point", "not a configured point"),
    ({"latching": 1}, "latching", "must be a bool"),
    ({"max_shelve": 0}, "max_shelve", "must be above 0"),
    ({"suppress_when": [{"alarm": "f.high"}]}, "suppress_when", "cannot be suppressed by itself"),
    ({"suppress_when": [{"point": "b"}]}, "suppress_when[0]", "is not a rule"),
    ({"suppress_when": [{"cause": " "}]}, "suppress_when[0]", "is not a rule"),
    ({"suppress_when": [{"cause": "f.high"}]}, "suppress_when", "cannot be its own cause"),
    ({"type": "deviation", "setpoint": 50.0, "setpoint_point": "x"}, "setpoint", "exactly one of"),
    ({"type": "discrete", "limit": None, "states": ["open"]}, "states", "list of integers"),
    ({"type": "quality", "limit": None, "deadband": 0.1}, "deadband", "applies to limit, deviation and rate"),
    ({"type": "rate", "limit": 0}, "limit", "must be above 0"),
])
def test_mistakes_name_the_alarm_the_field_and_the_fix(over: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(AlarmConfigError, match=words) as err:
        load_alarms([entry(**over)], {"grid.frequency": 1.0})
    assert err.value.alarm == "alarms[0] (f.high)"
    assert err.value.field == field


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(AlarmConfigError, match="used by an earlier alarm") as err:
        load_alarms([entry(), entry()])
    assert err.value.alarm == "alarms[1] (f.high)"
