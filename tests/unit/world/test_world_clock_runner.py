"""The world's clock and its runner: simulated time in ticks, commands between ticks, the loop kept free."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from drivers.sim.world.clock import WorldClock, utc
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.runner import WorldRunner

pytestmark = pytest.mark.unit


def test_the_clock_counts_ticks_from_its_start() -> None:
    clock = WorldClock(start=utc(2026, 6, 22, 10), tick_s=0.5)
    for _ in range(7):
        clock.advance()
    assert clock.t_s == 3.5
    assert clock.now == utc(2026, 6, 22, 10) + timedelta(seconds=3.5)


def test_a_naive_start_or_an_absurd_tick_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        WorldClock(start=datetime(2026, 6, 22))
    with pytest.raises(ValueError, match="tick_s"):
        WorldClock(tick_s=0.0)


async def test_the_runner_steps_the_world_and_runs_commands_between_ticks() -> None:
    world = World(WorldConfig(clock=WorldClock(start=utc(2026, 6, 22, 1))))
    runner = WorldRunner(world, speed=20.0)
    seen: list[float] = []
    runner.subscribe(lambda s: seen.append(s.t_s))
    await runner.start()
    try:
        while len(seen) < 3:
            await asyncio.sleep(0.05)
        await runner.call(lambda w: w.open_breaker())
        opened = runner.snapshot.t_s
        while runner.snapshot.t_s < opened + 2:
            await asyncio.sleep(0.05)
        assert not runner.snapshot.breaker_closed
        assert runner.snapshot.trafo_p_w == 0.0, "islanded: nothing flows over the transformer"
        with pytest.raises(ValueError, match="has no battery"):
            no_battery = next(c.index for c in world.connections if world.assets.battery_wh[c.index] == 0)
            await runner.call(lambda w: w.set_battery_setpoint(no_battery, -1000.0))
    finally:
        await runner.stop()
    assert seen == sorted(seen) and len(set(seen)) == len(seen), "snapshots arrive in order, each once"
