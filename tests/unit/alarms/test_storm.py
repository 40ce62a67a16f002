"""A scripted alarm storm through the engine: live flood, first out, then the hour's KPIs by hand."""

from __future__ import annotations

import pytest

from core.alarms import AlarmEngine, EventKind, Priority, Shelving, alarm_kpis
from tests.unit.alarms.helpers import high, sample

pytestmark = pytest.mark.unit


def test_storm_flood_first_out_and_kpis() -> None:
    prio = [Priority.LOW] * 12 + [Priority.MEDIUM] * 2 + [Priority.HIGH]
    eng = AlarmEngine([high(f"a{i:02}", f"p{i:02}", priority=prio[i]) for i in range(15)])
    journal = []
    for i in range(15):  # one point after another goes high, every 10 s from t = 0
        journal += eng.feed([sample(f"p{i:02}", 51.0, 10.0 * i)])
        if i == 10:  # the 11th alarm in 10 minutes
            flood = eng.flood.status("main", 100.0)
            assert flood.in_flood and flood.since == 100.0 and flood.first_out == "a00"
    journal.append(eng.shelve("a05", "anna", 200.0, Shelving.TIMED, "known cause", 600.0))
    journal += eng.feed([sample(f"p{i:02}", 50.0, 300.0) for i in range(15)])  # all back to normal
    for t in (400.0, 410.0, 420.0, 430.0, 440.0, 450.0):  # a00 chatters: active at 400, 420, 440
        journal += eng.feed([sample("p00", 51.0 if t % 20 == 0 else 50.0, t)])
    journal += eng.tick(900.0)
    assert journal[-1].kind is EventKind.SHELVING_EXPIRED and journal[-1].ts == 800.0

    k = alarm_kpis(journal, 0.0, 3600.0)
    assert k.alarms == 18  # 15 + a00 three more times
    assert (k.per_hour, k.per_10min) == (pytest.approx(18.0), pytest.approx(3.0))
    assert (k.peak_10min, k.periods, k.flood_periods) == (18, 6, 1)
    assert k.chattering == ("a00",)
    assert k.top[0] == ("a00", 4) and [a for a, _ in k.top[1:]] == [f"a{i:02}" for i in range(1, 10)]
    assert dict(k.priority_counts) == {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 15}
    assert (k.shelved, k.longest_shelved_s) == (0, pytest.approx(600.0))
    assert k.stale == ()
