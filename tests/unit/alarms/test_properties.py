"""No sequence of samples, time and operator actions leaves an alarm in a state no legal path reaches."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.alarms import (
    AlarmDef,
    AlarmEngine,
    AlarmStateError,
    DiscreteCondition,
    IsaState,
    LimitCondition,
    LimitKind,
    Priority,
    Shelving,
    SuppressWhenAlarm,
    SuppressWhenSourceDown,
)
from core.alarms import state as sm
from core.points import Quality
from tests.unit.alarms.helpers import sample

pytestmark = pytest.mark.unit

DEFS = [
    AlarmDef("hi", "p", LimitCondition(LimitKind.HIGH, 10.0), Priority.HIGH, "high", deadband=1.0, on_delay_s=2.0,
             off_delay_s=1.0, max_shelve_s=30.0, suppress_when=(SuppressWhenAlarm("trip"), SuppressWhenSourceDown())),
    AlarmDef("lo", "p", LimitCondition(LimitKind.LOW, 0.0), Priority.LOW, "low", latching=True, confirm=True),
    AlarmDef("trip", "b", DiscreteCondition((1,)), Priority.CRITICAL, "trip", latching=True),
]
IDS = [d.id for d in DEFS]

op = st.one_of(
    st.tuples(st.just("sample"), st.sampled_from(["p", "b"]), st.floats(-5, 15), st.sampled_from(list(Quality))),
    st.tuples(st.just("tick")),
    st.tuples(st.sampled_from(["ack", "confirm", "reset", "unshelve", "oos", "back", "comment", "once", "silence"]),
              st.sampled_from(IDS)),
    st.tuples(st.just("timed"), st.sampled_from(IDS), st.floats(-5, 40)),
)


def run(engine: AlarmEngine, now: float, action: tuple[object, ...]) -> list[object]:
    kind = action[0]
    if kind == "sample":
        _, point, value, quality = action
        return list(engine.feed([sample(str(point), float(value), now, quality)]))  # type: ignore[arg-type]
    if kind == "tick":
        return list(engine.tick(now))
    alarm = str(action[1])
    calls = {
        "ack": lambda: engine.acknowledge(alarm, "op", now),
        "confirm": lambda: engine.confirm(alarm, "op", now),
        "reset": lambda: engine.reset(alarm, "op", now),
        "unshelve": lambda: engine.unshelve(alarm, "op", now),
        "oos": lambda: engine.remove_from_service(alarm, "op", now, "maintenance"),
        "back": lambda: engine.return_to_service(alarm, "op", now),
        "comment": lambda: engine.comment(alarm, "op", now, "note"),
        "silence": lambda: engine.silence(alarm, "op", now),
        "once": lambda: engine.shelve(alarm, "op", now, Shelving.ONE_SHOT, "why"),
        "timed": lambda: engine.shelve(alarm, "op", now, Shelving.TIMED, "why", float(action[2])),  # type: ignore[arg-type]
    }
    return [calls[str(kind)]()]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 3), op), max_size=60))
def test_every_reachable_state_is_legal(steps: list[tuple[float, tuple[object, ...]]]) -> None:
    engine = AlarmEngine(DEFS)
    defs = {d.id: d for d in DEFS}
    now = 0.0
    for dt, action in steps:
        now += dt
        before = {a: engine.state(a) for a in IDS}
        try:
            events = run(engine, now, action)
        except AlarmStateError:
            assert {a: engine.state(a) for a in IDS} == before, "a refused action changed a state"
            continue
        for e in events:
            assert e.kind.operator == (e.user is not None)  # type: ignore[attr-defined]
        latest = {e.alarm: e.state for e in events}  # type: ignore[attr-defined]
        for a, s in latest.items():
            assert engine.state(a) == s, "the last event's state is the alarm's state"
        for a in IDS:
            s = engine.state(a)
            assert sm.invariant_violations(defs[a], s) == []
            if s.shelved_until is not None:
                assert s.shelved_until <= now + defs[a].max_shelve_s
        snap = engine.snapshot(now)
        listed = {v.id for v in snap.alarms}
        assert listed == {a for a in IDS if engine.state(a).isa is not IsaState.NORMAL}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=40))
def test_without_deadband_or_delays_active_means_beyond_the_limit(values: list[float]) -> None:
    d = AlarmDef("a", "p", LimitCondition(LimitKind.HIGH, 0.0), Priority.LOW, "m")
    engine = AlarmEngine([d])
    for i, v in enumerate(values):
        engine.feed([sample("p", v, float(i))])
        assert engine.state("a").active == (v > 0.0)
    assert not math.isnan(engine.snapshot(len(values)).ts)
