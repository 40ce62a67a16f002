"""KPIs of a scripted hour with a storm, against figures worked out by hand."""

from __future__ import annotations

import pytest

from core.alarms import AlarmEvent, AlarmState, EventKind, Priority, Shelving, alarm_kpis

pytestmark = pytest.mark.unit

L, M, H, C = Priority.LOW, Priority.MEDIUM, Priority.HIGH, Priority.CRITICAL
ACTIVE = AlarmState(active=True, acked=False, active_since=0.0)


def ev(ts: float, alarm: str, kind: EventKind = EventKind.ACTIVATED, priority: Priority = L,
       state: AlarmState | None = None, position: str = "main") -> AlarmEvent:
    if state is None:
        state = AlarmState(active=True, acked=False, active_since=ts) if kind is EventKind.ACTIVATED else \
            AlarmState(active=False, acked=False, active_since=ts)
    return AlarmEvent(ts, alarm, kind, state, priority, position, "p")


def shelved(until: float | None) -> AlarmState:
    return AlarmState(shelving=Shelving.TIMED, shelved_until=until, shelve_reason="r")


STORM = [
    # period 0 [0, 600): 12 alarms in 110 s, a flood
    *[ev(100.0 + 10 * k, f"storm.{k}") for k in range(12)],
    # period 1: one alarm chattering (3 activations in 40 s)
    ev(700.0, "chat", priority=M), ev(710.0, "chat", EventKind.CLEARED, M),
    ev(720.0, "chat", priority=M), ev(730.0, "chat", EventKind.CLEARED, M),
    ev(740.0, "chat", priority=M),
    # period 2: one high alarm; an alarm suppressed by design activating does not count
    ev(1300.0, "x", priority=H),
    ev(1400.0, "hidden", state=AlarmState(active=True, acked=False, active_since=1400.0, suppressed=True)),
    ev(1500.0, "x", EventKind.SHELVED, H, state=shelved(2500.0)),
    # period 4: x's shelving expires (1,000 s shelved), storm.0 again
    ev(2500.0, "x", EventKind.SHELVING_EXPIRED, H, state=AlarmState()),
    ev(2500.0, "storm.0"),
    # period 5: y shelved and still shelved at the end (600 s so far); a critical alarm
    ev(3000.0, "y", EventKind.SHELVED, state=shelved(9e9)),
    ev(3500.0, "crit", priority=C),
    ev(3600.0, "late"),  # at t1: outside [t0, t1)
    # another operator position
    ev(100.0, "east.1", position="east"),
    # before the period: a standing alarm for 26 h (stale), one for 22 h (not), an old shelving
    ev(-90000.0, "old"), ev(-80000.0, "young"),
    ev(-5000.0, "z", EventKind.SHELVED, state=shelved(9e9)), ev(-100.0, "z", EventKind.UNSHELVED, state=AlarmState()),
]


def test_kpis_of_the_scripted_hour() -> None:
    k = alarm_kpis(STORM, 0.0, 3600.0, position="main")
    # 12 storm + 3 chat + x + storm.0 + crit = 18
    assert k.alarms == 18
    assert k.per_10min == pytest.approx(3.0)  # 18 / 6 periods
    assert k.per_hour == pytest.approx(18.0)
    assert k.peak_10min == 12
    assert (k.periods, k.flood_periods) == (6, 1)
    assert k.time_in_flood == pytest.approx(1 / 6)
    assert k.chattering == ("chat",)
    assert k.stale == ("old",)
    assert k.top == (("chat", 3), ("storm.0", 2), ("crit", 1), ("storm.1", 1), ("storm.10", 1), ("storm.11", 1),
                     ("storm.2", 1), ("storm.3", 1), ("storm.4", 1), ("storm.5", 1))
    assert k.top_share == pytest.approx(13 / 18)
    assert dict(k.priority_counts) == {C: 1, H: 1, M: 3, L: 13}
    assert k.priority_share(L) == pytest.approx(13 / 18)
    assert k.shelved == 1  # y
    assert k.longest_shelved_s == pytest.approx(1000.0)  # x; z ended before the period


def test_all_positions_and_a_partial_last_period() -> None:
    k = alarm_kpis(STORM, 0.0, 3600.0)
    assert k.alarms == 19  # east.1 as well
    short = alarm_kpis(STORM, 0.0, 900.0, position="main")  # 1½ periods: the half one counts as a period
    assert (short.alarms, short.periods, short.flood_periods) == (15, 2, 1)
    assert short.per_hour == pytest.approx(60.0)  # 15 in a quarter hour
    assert short.longest_shelved_s == 0.0


def test_an_empty_period() -> None:
    k = alarm_kpis([], 0.0, 600.0)
    assert (k.alarms, k.peak_10min, k.time_in_flood, k.top_share) == (0, 0, 0.0, 0.0)
    with pytest.raises(ValueError, match="must end after it starts"):
        alarm_kpis([], 10.0, 10.0)
