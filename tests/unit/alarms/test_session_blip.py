"""A lost OPC-UA session is one cause: the source-lost alarm (5 s on-delay) speaks for it, not the stale-data
alarm of the same source (ISA-18.2: no duplicate, no fleeting alarm). The world's shipped alarms, the real
engine, service and alarm sources; only the clock is set by hand. The inputs come in the OPC-UA driver's order
(drivers/opcua/session.py): the status DISCONNECTED, then every point's stale mark; on reconnect CONNECTED,
then the fresh values."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from console.config import load
from console.services.alarm_sources import AlarmSources, builtin_definitions, merge_definitions
from console.services.alarms import AlarmService
from core.alarms import AlarmEngine, AlarmEvent, EventKind, Priority
from core.points import Quality, Sample
from core.sources import ConnectionState, SourceStatus
from tests.conftest import until
from tests.unit.alarms.journal_double import MemoryJournal

pytestmark = pytest.mark.unit

WORLD = Path(__file__).resolve().parents[3] / "resources" / "world.toml"
F = "grid.frequency"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class World:
    """The alarm side of the console for resources/world.toml, fed as the OPC-UA driver of 'world' feeds it."""

    def __init__(self) -> None:
        settings = load(WORLD)
        defs = merge_definitions(settings.alarms, builtin_definitions([s.name for s in settings.sources], [],
                                                                      False, False))
        self.clock = Clock(1000.0)
        self.svc = AlarmService(AlarmEngine(defs), MemoryJournal(), clock=self.clock, tick_s=0.01)
        self.sources = AlarmSources(self.svc, [d.id for d in defs], [], clock=self.clock)
        self.events: list[AlarmEvent] = []
        self.svc.subscribe(self.events.extend)
        self.polls: list[float] = []
        self.svc.add_poller(self.polls.append)
        self.last_good = 0.0

    async def at(self, t: float) -> None:
        """Console time is ``t``; wait until the service's tick has evaluated it (two polls: the engine's tick
        follows the poll of the same round)."""
        self.clock.now = t
        n = len(self.polls)
        await until(lambda: len(self.polls) >= n + 2, 30.0)

    def status(self, state: ConnectionState) -> None:
        self.sources.on_status(SourceStatus("world", "opc.tcp://127.0.0.1:4840", state, self.clock.now))

    def value(self, v: float = 50.0, quality: Quality = Quality.GOOD) -> None:
        now = self.clock.now
        self.svc.on_samples([Sample(F, v, "Hz", quality, now, now)])
        if quality is Quality.GOOD:
            self.last_good = now

    def lose(self) -> None:
        """session.py: status DISCONNECTED, then the stale mark (last value's time, now)."""
        self.status(ConnectionState.DISCONNECTED)
        self.svc.on_samples([Sample(F, float("nan"), "Hz", Quality.STALE, self.last_good, self.clock.now)])

    def activated(self) -> list[tuple[str, float, Priority]]:
        return [(e.alarm, e.ts, e.priority) for e in self.events if e.kind is EventKind.ACTIVATED]

    def annunciated(self) -> Sequence[str]:
        return [a.id for a in self.svc.snapshot().alarms if a.state.active and a.state.annunciated]


async def test_a_blip_raises_nothing_a_loss_one_alarm_and_stale_data_still_alarms() -> None:
    w = World()
    await w.svc.start()
    try:
        w.status(ConnectionState.CONNECTING)  # the first attempt is no absence
        w.status(ConnectionState.CONNECTED)
        w.value()
        await w.at(1001.0)
        # 1. A 3-s blip (the event loop stalled, asyncua's watchdog timed out): lost at 1001, back at 1004.
        w.lose()
        assert w.activated() == [] and w.annunciated() == []  # no stale alarm for the marks
        await w.at(1003.9)
        w.status(ConnectionState.CONNECTING)
        await w.at(1004.0)
        w.status(ConnectionState.CONNECTED)  # the fresh values follow the status
        await w.at(1004.05)
        assert w.activated() == []  # between CONNECTED and the first fresh value: no alarm either
        w.value(50.01)
        await w.at(1006.0)  # past the source-lost on-delay from the loss (1001 + 5): it never held that long
        assert w.activated() == [] and w.annunciated() == []
        w.value(50.0)
        await w.at(1009.0)
        w.value(49.99)
        # 2. A 10-s loss, 1010 → 1020 (last good value at 1009): one HIGH alarm, source lost, at 1010 + 5 = 1015.
        await w.at(1010.0)
        w.lose()
        await w.at(1014.9)
        assert w.activated() == []
        await w.at(1015.0)
        assert w.activated() == [("source.world.lost", 1015.0, Priority.HIGH)]
        await w.at(1019.0)  # 1019 − 1009 = 10 s without data, twice stale_after: still the one alarm
        assert w.activated() == [("source.world.lost", 1015.0, Priority.HIGH)]
        assert w.annunciated() == ["source.world.lost"]
        await w.at(1020.0)
        w.status(ConnectionState.CONNECTED)
        await w.at(1020.5)
        w.value(50.0)
        await w.at(1021.0)
        assert not w.svc.engine.state("source.world.lost").active
        assert not w.svc.engine.state("world.data.stale").active
        # 3. Connected, but the frequency stops updating: stale after 5 s, at 1020.5 + 5 = 1025.5, as before.
        await w.at(1025.4)
        assert len(w.activated()) == 1
        await w.at(1025.5)
        assert w.activated()[1:] == [("world.data.stale", 1025.5, Priority.HIGH)]
        assert w.annunciated() == ["world.data.stale"]
        w.value(50.0)  # fresh again: it clears
        await w.at(1026.0)
        assert not w.svc.engine.state("world.data.stale").active
        # ... or it turns bad (the server's own word on the value): at once, no delay.
        w.value(50.0, Quality.BAD)
        assert w.activated()[2:] == [("world.data.stale", 1026.0, Priority.HIGH)]
        assert w.annunciated() == ["world.data.stale"]
    finally:
        await w.svc.stop()
