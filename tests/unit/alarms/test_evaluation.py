"""Samples and time in, transitions out: deadband, delays, conditions, suppression, shelving, flood."""

from __future__ import annotations

import math

import pytest

from core.alarms import (
    AlarmDef,
    AlarmEngine,
    DeviationCondition,
    DiscreteCondition,
    EventKind,
    ExternalCondition,
    IsaState,
    LimitCondition,
    LimitKind,
    Priority,
    QualityCondition,
    RateOfChangeCondition,
    Shelving,
    SuppressWhenAlarm,
    SuppressWhenCause,
    SuppressWhenPoint,
    SuppressWhenSourceDown,
)
from core.alarms.errors import AlarmConfigError, AlarmStateError
from core.points import Quality
from tests.unit.alarms.helpers import high, sample

pytestmark = pytest.mark.unit


def kinds(events: list) -> list[tuple[float, EventKind]]:  # type: ignore[type-arg]
    return [(round(e.ts, 6), e.kind) for e in events]


def test_high_limit_with_deadband_and_on_delay_the_brief_scenario() -> None:
    eng = AlarmEngine([high(deadband=0.05, on_delay_s=2.0)])
    quiet = [eng.feed([sample("grid.frequency", 50.25, t / 10)]) for t in range(20)]  # t = 0 … 1.9
    assert all(e == [] for e in quiet)
    assert eng.state("f.high").isa is IsaState.NORMAL
    (act,) = eng.feed([sample("grid.frequency", 50.25, 2.0)])
    assert act.kind is EventKind.ACTIVATED and act.ts == 2.0 and act.value == 50.25
    assert eng.state("f.high").isa is IsaState.UNACK_ACTIVE
    assert eng.feed([sample("grid.frequency", 50.17, 3.0)]) == []  # above 50.2 − 0.05: still active
    (rtn,) = eng.feed([sample("grid.frequency", 50.14, 4.0)])
    assert rtn.kind is EventKind.CLEARED and rtn.ts == 4.0
    assert eng.state("f.high").isa is IsaState.RTN_UNACK
    eng.acknowledge("f.high", "anna", 5.0)
    assert eng.state("f.high").isa is IsaState.NORMAL


def test_on_delay_restarts_when_the_condition_drops_and_tick_fires_it_without_samples() -> None:
    eng = AlarmEngine([high(on_delay_s=2.0)])
    eng.feed([sample("grid.frequency", 50.3, 0.0)])
    eng.feed([sample("grid.frequency", 50.1, 1.5)])  # dropped out: the delay starts again
    eng.feed([sample("grid.frequency", 50.3, 3.0)])
    assert eng.tick(4.9) == []
    (act,) = eng.tick(5.25)  # value reported on change only: the clock fires it, stamped when it was due
    assert act.kind is EventKind.ACTIVATED and act.ts == 5.0


def test_off_delay_holds_the_alarm_until_the_condition_has_been_gone_long_enough() -> None:
    eng = AlarmEngine([high(off_delay_s=3.0)])
    eng.feed([sample("grid.frequency", 50.3, 0.0)])
    eng.feed([sample("grid.frequency", 50.0, 1.0)])
    eng.feed([sample("grid.frequency", 50.3, 2.0)])  # back within the off-delay: no clear
    eng.feed([sample("grid.frequency", 50.0, 2.5)])
    assert eng.tick(5.4) == []
    assert kinds(eng.tick(5.5)) == [(5.5, EventKind.CLEARED)]


@pytest.mark.parametrize(("kind", "limit", "values", "active_after"), [
    (LimitKind.HIGH_HIGH, 51.0, [50.9, 51.1, 50.95, 50.85], [False, True, True, False]),
    (LimitKind.LOW, 49.8, [49.9, 49.7, 49.85, 49.95], [False, True, True, False]),
    (LimitKind.LOW_LOW, 49.0, [49.0, 48.99, 49.05, 49.11], [False, True, True, False]),
])
def test_limit_kinds_with_deadband_0_1(kind: LimitKind, limit: float, values: list[float],
                                       active_after: list[bool]) -> None:
    eng = AlarmEngine([AlarmDef("a", "p", LimitCondition(kind, limit), Priority.LOW, "m", deadband=0.1)])
    seen = []
    for i, v in enumerate(values):
        eng.feed([sample("p", v, float(i))])
        seen.append(eng.state("a").active)
    assert seen == active_after


def test_deviation_from_a_setpoint_point() -> None:
    d = AlarmDef("soc.dev", "bat.soc", DeviationCondition(limit=10.0, setpoint_point="bat.soc_target"),
                 Priority.MEDIUM, "SoC off target", deadband=2.0)
    eng = AlarmEngine([d])
    assert eng.feed([sample("bat.soc", 90.0, 0.0)]) == []  # no setpoint yet: nothing to compare with
    eng.feed([sample("bat.soc_target", 70.0, 1.0)])
    assert kinds(eng.feed([sample("bat.soc", 81.0, 2.0)])) == [(2.0, EventKind.ACTIVATED)]  # |81 − 70| = 11 > 10
    assert eng.feed([sample("bat.soc", 79.0, 3.0)]) == []  # 9 > 10 − 2
    eng.feed([sample("bat.soc_target", 75.0, 4.0)])
    assert kinds(eng.feed([sample("bat.soc", 79.0, 5.0)])) == [(5.0, EventKind.CLEARED)]  # 4 < 8


def test_rate_of_change_between_consecutive_samples() -> None:
    d = AlarmDef("f.rocof", "grid.frequency", RateOfChangeCondition(0.5), Priority.HIGH, "RoCoF high")
    eng = AlarmEngine([d])
    eng.feed([sample("grid.frequency", 50.0, 0.0)])
    assert eng.feed([sample("grid.frequency", 49.8, 0.5)]) == []  # 0.4 Hz/s
    assert kinds(eng.feed([sample("grid.frequency", 49.4, 1.0)])) == [(1.0, EventKind.ACTIVATED)]  # 0.8 Hz/s
    eng.feed([sample("grid.frequency", 49.4, 1.2, Quality.BAD)])  # a gap: no rate across it
    assert eng.feed([sample("grid.frequency", 49.0, 2.2)]) == []  # first after the gap: no rate yet
    assert kinds(eng.feed([sample("grid.frequency", 49.0, 3.2)])) == [(3.2, EventKind.CLEARED)]


def test_bad_quality_and_stale_data() -> None:
    d = AlarmDef("f.data", "grid.frequency", QualityCondition(stale_after_s=10.0), Priority.MEDIUM, "No data")
    eng = AlarmEngine([d])
    eng.feed([sample("grid.frequency", 50.0, 0.0)])
    assert kinds(eng.feed([sample("grid.frequency", 50.0, 1.0, Quality.COMM_FAILURE)])) == [(1.0, EventKind.ACTIVATED)]
    assert kinds(eng.feed([sample("grid.frequency", 50.0, 2.0)])) == [(2.0, EventKind.CLEARED)]
    assert eng.tick(11.9) == []
    assert kinds(eng.tick(12.0)) == [(12.0, EventKind.ACTIVATED)]  # nothing since t = 2: stale at 2 + 10


def test_discrete_state_and_external_conditions() -> None:
    breaker = AlarmDef("brk", "breaker.main", DiscreteCondition((0,)), Priority.CRITICAL, "Main breaker open")
    chain = AlarmDef("chain.down", "chain", ExternalCondition(), Priority.HIGH, "Chain unreachable", on_delay_s=5)
    eng = AlarmEngine([breaker, chain])
    assert eng.feed([sample("breaker.main", 1.0, 0.0)]) == []
    assert kinds(eng.feed([sample("breaker.main", 0.0, 1.0)])) == [(1.0, EventKind.ACTIVATED)]
    assert eng.set_external("chain.down", True, 10.0) == []
    assert kinds(eng.tick(15.0)) == [(15.0, EventKind.ACTIVATED)]
    with pytest.raises(AlarmStateError, match="evaluated from its point"):
        eng.set_external("brk", True, 16.0)


def test_suppressed_by_design_while_islanded_and_while_a_breaker_is_open() -> None:
    islanded = AlarmDef("islanded", "grid.islanded", DiscreteCondition((1,)), Priority.HIGH, "Islanded")
    volts = AlarmDef("v.low", "bus1.v", LimitCondition(LimitKind.LOW, 207.0), Priority.MEDIUM, "Voltage low",
                     suppress_when=(SuppressWhenAlarm("islanded"), SuppressWhenPoint("feeder.brk", 0)))
    eng = AlarmEngine([islanded, volts])
    (sup,) = eng.feed([sample("grid.islanded", 1.0, 0.0)])[1:]
    assert sup.alarm == "v.low" and sup.kind is EventKind.SUPPRESSED
    (act,) = eng.feed([sample("bus1.v", 200.0, 1.0)])
    assert act.kind is EventKind.ACTIVATED and not act.state.annunciated
    assert eng.state("v.low").isa is IsaState.SUPPRESSED
    assert eng.flood.status("main", 1.0).count == 1  # only "islanded" reached the operator
    events = eng.feed([sample("grid.islanded", 0.0, 2.0)])
    assert [(e.alarm, e.kind) for e in events] == [("islanded", EventKind.CLEARED), ("v.low", EventKind.UNSUPPRESSED)]
    assert eng.state("v.low").isa is IsaState.UNACK_ACTIVE  # still low: now the operator sees it
    assert kinds(eng.feed([sample("feeder.brk", 0.0, 3.0)])) == [(3.0, EventKind.SUPPRESSED)]


def test_suppressed_while_the_points_source_is_down() -> None:
    d = high(suppress_when=(SuppressWhenSourceDown(),))
    eng = AlarmEngine([d])
    assert kinds(eng.feed([sample("grid.frequency", math.nan, 0.0, Quality.COMM_FAILURE)])) == \
        [(0.0, EventKind.SUPPRESSED)]
    assert kinds(eng.feed([sample("grid.frequency", 50.0, 1.0)])) == [(1.0, EventKind.UNSUPPRESSED)]


def test_latching_alarm_stays_until_acknowledged_and_reset() -> None:
    eng = AlarmEngine([high(latching=True)])
    eng.feed([sample("grid.frequency", 50.3, 0.0)])
    eng.feed([sample("grid.frequency", 50.0, 1.0)])
    assert eng.state("f.high").isa is IsaState.LATCHED
    with pytest.raises(AlarmStateError, match="acknowledge it first"):
        eng.reset("f.high", "anna", 2.0)
    eng.acknowledge("f.high", "anna", 2.0)
    assert eng.state("f.high").isa is IsaState.LATCHED
    e = eng.reset("f.high", "anna", 3.0, "checked the governor")
    assert e.kind is EventKind.RESET and e.user == "anna" and e.state.isa is IsaState.NORMAL


def test_timed_shelving_expires_on_the_clock() -> None:
    eng = AlarmEngine([high()])
    eng.feed([sample("grid.frequency", 50.3, 0.0)])
    e = eng.shelve("f.high", "anna", 10.0, Shelving.TIMED, "sensor under repair", duration_s=600.0)
    assert e.comment == "sensor under repair" and e.state.shelved_until == 610.0
    assert eng.snapshot(20.0).unacknowledged() == ()
    assert eng.tick(609.0) == []
    (exp,) = eng.tick(612.0)
    assert exp.kind is EventKind.SHELVING_EXPIRED and exp.ts == 610.0 and exp.user is None
    assert eng.state("f.high").isa is IsaState.UNACK_ACTIVE
    with pytest.raises(AlarmStateError, match="maximum shelving"):
        eng.shelve("f.high", "anna", 700.0, Shelving.TIMED, "again", duration_s=9 * 3600.0)


def test_one_shot_shelving_ends_when_the_alarm_returns_to_normal() -> None:
    eng = AlarmEngine([high()])
    eng.feed([sample("grid.frequency", 50.3, 0.0)])
    eng.shelve("f.high", "anna", 1.0, Shelving.ONE_SHOT, "known disturbance")
    (clr,) = eng.feed([sample("grid.frequency", 50.0, 2.0)])
    assert clr.state.shelving is Shelving.UNSHELVED and clr.state.isa is IsaState.RTN_UNACK
    (again,) = eng.feed([sample("grid.frequency", 50.3, 3.0)])
    assert again.state.annunciated


def test_chattering_and_first_out_in_a_flood() -> None:
    defs = [high(f"a{i:02}", f"p{i:02}") for i in range(12)]
    eng = AlarmEngine(defs)
    for i in range(12):  # one new alarm every 30 s: the 11th (t = 300) makes it a flood
        eng.feed([sample(f"p{i:02}", 51.0, 30.0 * i)])
    status = eng.flood.status("main", 330.0)
    assert status.in_flood and status.count == 12 and status.since == 300.0 and status.first_out == "a00"
    snap = eng.snapshot(330.0)
    assert [a.id for a in snap.alarms if a.first_out] == ["a00"]
    assert snap.banner(2)[0].id == "a11"  # same priority: newest first
    assert not eng.flood.status("main", 930.0).in_flood  # the window drained
    for t in (1000.0, 1010.0, 1020.0, 1030.0, 1040.0, 1050.0):
        eng.feed([sample("p00", 51.0 if t % 20 else 50.0, t)])  # activates at 1010, 1030 and 1050
    assert [a.id for a in eng.snapshot(1060.0).alarms if a.chattering] == ["a00"]
    assert [a.id for a in eng.snapshot(1071.0).alarms if a.chattering] == []  # 1010 is over a minute ago


def test_acknowledge_the_visible_page_skips_those_already_acknowledged() -> None:
    eng = AlarmEngine([high("a", "p"), high("b", "q"), high("c", "r")])
    eng.feed([sample("p", 51.0, 0.0), sample("q", 51.0, 0.0)])
    eng.acknowledge("a", "anna", 1.0)
    events = eng.acknowledge_many(["a", "b", "c"], "bo", 2.0, "page")
    assert [(e.alarm, e.user, e.comment) for e in events] == [("b", "bo", "page")]


def test_restore_after_restart_takes_up_the_journal_state() -> None:
    eng = AlarmEngine([high()])
    eng.feed([sample("grid.frequency", 50.3, 0.0)])
    kept = {"f.high": eng.state("f.high"), "gone": eng.state("f.high")}
    fresh = AlarmEngine([high()])
    events, skipped = fresh.restore(kept, 100.0)
    assert [e.kind for e in events] == [EventKind.RESTORED] and skipped == ["gone"]
    assert fresh.state("f.high").isa is IsaState.UNACK_ACTIVE
    assert fresh.feed([sample("grid.frequency", 50.3, 101.0)]) == []  # still high: no new occurrence
    assert kinds(fresh.feed([sample("grid.frequency", 50.0, 102.0)])) == [(102.0, EventKind.CLEARED)]


def test_silence_stops_the_horn_until_the_next_occurrence() -> None:
    eng = AlarmEngine([high("a", "p"), high("b", "q")])
    eng.feed([sample("p", 51.0, 0.0), sample("q", 51.0, 0.0)])
    assert eng.snapshot(1.0).audible
    events = eng.silence_all("anna", 1.0)
    assert [(e.alarm, e.kind, e.user) for e in events] == [("a", EventKind.SILENCED, "anna"),
                                                            ("b", EventKind.SILENCED, "anna")]
    snap = eng.snapshot(1.0)
    assert not snap.audible and len(snap.unacknowledged()) == 2  # silenced, still to acknowledge
    eng.feed([sample("p", 50.0, 2.0), sample("p", 51.0, 3.0)])  # a new occurrence of a
    assert eng.snapshot(3.0).audible and eng.silence_all("anna", 4.0)[0].alarm == "a"


def test_cause_rule_suppresses_from_the_causes_condition_holds_the_stale_timer_and_restarts_it() -> None:
    lost = AlarmDef("source.s.lost", "s", ExternalCondition(), Priority.HIGH, "Source s lost", on_delay_s=5.0)
    stale = AlarmDef("s.stale", "p", QualityCondition(stale_after_s=5.0), Priority.HIGH, "Data of s stale",
                     suppress_when=(SuppressWhenCause("source.s.lost"),))
    eng = AlarmEngine([lost, stale])
    assert eng.tick(0.0) == []
    assert eng.feed([sample("p", 1.0, 1.0)]) == []
    # the session lost at 2: suppressed at once (the cause's condition, not its alarm after the 5-s on-delay)
    assert kinds(eng.set_external("source.s.lost", True, 2.0)) == [(2.0, EventKind.SUPPRESSED)]
    assert eng.feed([sample("p", math.nan, 2.0, Quality.STALE)]) == []  # the lost session's mark: not its condition
    # at 8 the data is 8 − 1 = 7 s old (> 5): the timer stands still; the cause's alarm fires at 2 + 5 = 7
    assert [(e.alarm, e.ts, e.kind) for e in eng.tick(8.0)] == [("source.s.lost", 7.0, EventKind.ACTIVATED)]
    assert not eng.state("s.stale").active
    # back at 10: the cause clears, the alarm is unsuppressed, its timer counts from 10 (fresh values due by 15)
    assert [(e.alarm, e.kind) for e in eng.set_external("source.s.lost", False, 10.0)] == [
        ("s.stale", EventKind.UNSUPPRESSED), ("source.s.lost", EventKind.CLEARED)]
    assert eng.tick(14.9) == []
    assert kinds(eng.tick(15.0)) == [(15.0, EventKind.ACTIVATED)]  # connected, no data for 5 s: 10 + 5
    assert kinds(eng.feed([sample("p", 1.0, 16.0)])) == [(16.0, EventKind.CLEARED)]
    assert kinds(eng.feed([sample("p", 1.0, 17.0, Quality.BAD)])) == [(17.0, EventKind.ACTIVATED)]  # bad: at once


def test_cause_rule_names_a_defined_alarm_other_than_itself() -> None:
    stale = AlarmDef("s.stale", "p", QualityCondition(), Priority.HIGH, "stale",
                     suppress_when=(SuppressWhenCause("source.s.lost"),))
    with pytest.raises(AlarmConfigError, match=r"names cause 'source\.s\.lost'"):
        AlarmEngine([stale])
    with pytest.raises(AlarmConfigError, match="its own cause"):
        AlarmDef("s.stale", "p", QualityCondition(), Priority.HIGH, "stale",
                 suppress_when=(SuppressWhenCause("s.stale"),))
