"""The alarm service on a real asyncio loop: acquisition batches in, snapshot, commands, journal, restart."""

from __future__ import annotations

import asyncio

import pytest

from console.services.acquisition import AcquisitionService
from console.services.alarms import AlarmService
from core.alarms import AlarmEngine, AlarmStateError, EventKind, IsaState, Priority
from core.alarms.journal import JournalQuery
from core.grid import GridState
from core.points import PointDef, PointKind
from tests.conftest import until
from tests.unit.alarms.helpers import high, sample
from tests.unit.alarms.journal_double import MemoryJournal

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def build(journal: MemoryJournal, clock: Clock, **kw: object) -> tuple[AcquisitionService, AlarmService]:
    acq = AcquisitionService(GridState([PointDef("grid.frequency", "Frequency", "Hz", PointKind.FREQUENCY, 50.0)]),
                             clock=clock)
    svc = AlarmService(AlarmEngine([high(deadband=0.05, on_delay_s=2.0)]), journal, clock=clock, tick_s=0.01,
                       **kw)  # type: ignore[arg-type]
    acq.subscribe(svc.on_samples)
    return acq, svc


async def test_batches_become_alarms_commands_and_journal_entries() -> None:
    journal, clock = MemoryJournal(), Clock()
    acq, svc = build(journal, clock)
    await svc.start()
    try:
        acq.on_samples([sample("grid.frequency", 50.25, 1000.0)])
        assert svc.snapshot().alarms == ()
        clock.now = 1002.5  # no further sample: the tick fires the on-delay
        await until(lambda: svc.snapshot().unacknowledged() != ())
        (alarm,) = svc.snapshot().banner()
        assert alarm.id == "f.high" and alarm.priority is Priority.HIGH and alarm.state.active_since == 1002.0
        e = svc.acknowledge("f.high", "anna", "governor checked")
        assert (e.user, e.comment, e.ts) == ("anna", "governor checked", 1002.5)
        assert svc.snapshot().alarms[0].isa is IsaState.ACKED_ACTIVE  # the cached snapshot was rebuilt
        with pytest.raises(AlarmStateError, match="already acknowledged"):
            svc.acknowledge("f.high", "anna")
        svc.shelve("f.high", "anna", "sensor work", duration_s=60.0)
        await until(lambda: len(journal.events) == 3)
        assert [x.kind for x in journal.events] == [EventKind.ACTIVATED, EventKind.ACKNOWLEDGED, EventKind.SHELVED]
        assert svc.stats().journaled == 3 and svc.stats().evaluated == 1
    finally:
        await svc.stop()


async def test_an_unreachable_journal_loses_nothing_and_writes_in_order_later() -> None:
    journal, clock = MemoryJournal(), Clock()
    journal.fail_next = 1
    acq, svc = build(journal, clock)
    await svc.start()
    try:
        acq.on_samples([sample("grid.frequency", 50.3, 1000.0), sample("grid.frequency", 50.3, 1002.0),
                        sample("grid.frequency", 50.0, 1003.0)])
        await until(lambda: not svc.stats().journal_ok)
        assert svc.stats().queued == 2 and journal.events == []
        await until(lambda: len(journal.events) == 2)  # the retry (after 1 s) wrote both, in order
        assert [x.kind for x in journal.events] == [EventKind.ACTIVATED, EventKind.CLEARED]
        assert svc.stats().journal_ok and svc.stats().queued == 0 and svc.stats().dropped == 0
    finally:
        await svc.stop()


async def test_a_restart_takes_the_alarms_up_where_they_were() -> None:
    journal, clock = MemoryJournal(), Clock()
    acq, svc = build(journal, clock)
    await svc.start()
    acq.on_samples([sample("grid.frequency", 50.3, 1000.0), sample("grid.frequency", 50.3, 1002.0)])
    await svc.stop()
    assert [x.kind for x in journal.events] == [EventKind.ACTIVATED]

    clock.now = 2000.0
    acq2, svc2 = build(journal, clock)
    await svc2.start()
    try:
        assert svc2.snapshot().alarms[0].isa is IsaState.UNACK_ACTIVE
        acq2.on_samples([sample("grid.frequency", 50.0, 2001.0)])
        assert svc2.snapshot().alarms[0].isa is IsaState.RTN_UNACK
    finally:
        await svc2.stop()
    assert [x.kind for x in journal.events] == [EventKind.ACTIVATED, EventKind.RESTORED, EventKind.CLEARED]


async def test_kpis_and_search_come_from_the_journal() -> None:
    journal, clock = MemoryJournal(), Clock()
    acq, svc = build(journal, clock)
    await svc.start()
    try:
        for t in (1000.0, 1002.0, 1003.0, 1010.0, 1012.0, 1013.0, 1020.0, 1022.0):  # 3 activations in 22 s
            acq.on_samples([sample("grid.frequency", 50.0 if t % 10 == 3 else 50.3, t)])
        svc.acknowledge("f.high", "bo")
        await until(lambda: len(journal.events) == 6)
        k = await svc.kpis(600.0, 1200.0)
        assert (k.alarms, k.chattering, k.peak_10min) == (3, ("f.high",), 3)
        found = await svc.query(JournalQuery(0.0, 2000.0, users=frozenset({"bo"})))
        assert [x.kind for x in found] == [EventKind.ACKNOWLEDGED]
    finally:
        await svc.stop()


async def test_what_comes_after_the_stop_request_is_no_alarm() -> None:
    """Once the console is stopping, the drivers' last marks and the time that passes while the parts stop are
    not evaluated: 50.25 Hz for 3 s (above 50.2 for more than the 2-s on-delay) raises nothing, and nothing is
    journaled for the next start to take up."""
    journal, clock = MemoryJournal(), Clock()
    acq, svc = build(journal, clock)
    await svc.start()
    try:
        svc.stopping()
        acq.on_samples([sample("grid.frequency", 50.25, 1000.0)])
        clock.now = 1003.0
        await asyncio.sleep(0.1)  # ten ticks
        assert svc.snapshot().alarms == () and svc.stats().evaluated == 0
    finally:
        await svc.stop()
    assert journal.events == []
