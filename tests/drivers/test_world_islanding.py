"""Islanding through the world's real OPC-UA face: the community battery's droop holds the frequency inside
the emergency band when it can; when it cannot, the load-shedding stages trip in order (published as
``Ufls.Stages``) and the frequency recovers; the operator's shed / restore command (``Control.ShedStage``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from asyncua import ua
from asyncua.client.client import Client

from core.balancing.emergency import EMERGENCY_LOW_HZ
from drivers.opcua.writer import write_double
from drivers.sim.world.clock import WorldClock, utc
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.opcua_face import WorldOpcUaServer
from drivers.sim.world.runner import WorldRunner
from tests.conftest import free_port

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(180)]

NIGHT = utc(2026, 6, 22, 1, 0)  # 03:00 CEST: no sun, the community imports all it uses
SPEED = 5.0


@asynccontextmanager
async def served(world: World) -> AsyncIterator[tuple[WorldRunner, WorldOpcUaServer, Client]]:
    runner = WorldRunner(world, speed=SPEED)
    face = WorldOpcUaServer(runner, port=free_port(), rate_hz=20)
    await face.start()
    await runner.start()
    client = Client(face.endpoint, timeout=5)
    await client.connect()
    try:
        yield runner, face, client
    finally:
        await client.disconnect()
        await runner.stop()
        await face.stop()


async def island(client: Client, runner: WorldRunner) -> None:
    await client.get_node("ns=2;s=World.Control.BreakerClose").write_value(
        ua.DataValue(ua.Variant(False, ua.VariantType.Boolean)))
    for _ in range(200):
        if not runner.world.breaker_closed:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the breaker did not open")


async def watch(client: Client, runner: WorldRunner, sim_s: float) -> tuple[list[float], list[float]]:
    """Frequency and Ufls.Stages read over OPC-UA every 50 ms for ``sim_s`` simulated seconds."""
    end = runner.world.clock.t_s + sim_s
    f, stages = [], []
    while runner.world.clock.t_s < end:
        f.append(await client.get_node("ns=2;s=World.Frequency").read_value())
        stages.append(await client.get_node("ns=2;s=World.Ufls.Stages").read_value())
        await asyncio.sleep(0.05)
    return f, stages


def night_world(battery_fcr: bool = True) -> World:
    return World(WorldConfig(clock=WorldClock(start=NIGHT), load_noise=0.0, battery_fcr=battery_fcr))


async def test_a_battery_with_headroom_holds_the_island_inside_the_emergency_band() -> None:
    world = night_world(battery_fcr=False)  # the community battery alone: its droop figure by hand
    deficit = world.snapshot.trafo_p_w  # what the transformer brought in: the battery must now supply it
    async with served(world) as (runner, _, client):
        await island(client, runner)
        f, stages = await watch(client, runner, 20)
    # by hand: the droop settles at Δf = −R · ΔP / S · f0 = −0.04 · ΔP / 250 kW · 50 Hz;
    # ΔP ≈ 39 kW (the night import) → −0.31 Hz. Load damping adds D·C ≈ 1 · 39 kW per pu to the battery's
    # S/R = 6.25 MW per pu: 0.6 % less deviation, within the tolerance
    droop_only = 50.0 - 0.04 * deficit / 250e3 * 50.0
    print(f"ISLAND-HELD deficit {deficit / 1e3:.1f} kW droop-only {droop_only:.3f} Hz "
          f"min {min(f):.3f} Hz last {f[-1]:.3f} Hz")
    assert min(f) > EMERGENCY_LOW_HZ
    assert f[-1] == pytest.approx(droop_only, abs=0.03)
    assert max(stages) == 0, "no stage trips while the battery holds"


async def test_a_battery_without_headroom_sheds_stages_in_order_then_the_operator_sheds_and_restores() -> None:
    world = night_world(battery_fcr=False)  # home batteries would hold 12 kW: only the relays are left
    s = world.snapshot
    # the battery may deliver only 70 % of the import: a 30 % deficit of what the transformer carried
    world.set_community_battery(0.0, limit_w=0.7 * s.trafo_p_w)
    async with served(world) as (runner, face, client):
        await island(client, runner)
        f, stages = await watch(client, runner, 30)
        tripped = runner.world.ufls.tripped
        print(f"ISLAND-SHED stages {sum(tripped)} min {min(f):.3f} Hz last {f[-1]:.3f} Hz")
        assert min(f) < 49.0, "below the first stage's threshold"
        assert stages == sorted(stages), "Ufls.Stages never goes down by itself"
        k = round(stages[-1])
        assert k >= 1 and tripped == [True] * k + [False] * (6 - k), "stages trip in order"
        assert f[-1] > min(f) + 0.3, "shedding stops the fall and the frequency recovers"

        await write_double(face.endpoint, "ns=2;s=World.Control.ShedStage", 1.0)
        await until_stages(client, k + 1)
        assert runner.world.ufls.tripped == [True] * (k + 1) + [False] * (5 - k)
        # Restore once supply is back (the battery's full rating) and the frequency with it: restoring into the
        # same deficit re-trips the relays within their delay, and a poll could miss the moment the count was 0.
        runner.world.set_community_battery(0.0)
        for _ in range(600):  # the frequency climbs back above every stage's threshold (stage 1: 49.0 Hz)
            if await client.get_node("ns=2;s=World.Frequency").read_value() > 49.3:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the frequency did not recover with the battery's full rating")
        await write_double(face.endpoint, "ns=2;s=World.Control.ShedStage", -1.0)
        await until_stages(client, 0)


async def until_stages(client: Client, n: int) -> None:
    for _ in range(400):
        if await client.get_node("ns=2;s=World.Ufls.Stages").read_value() == n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"Ufls.Stages never became {n}")


async def test_a_write_to_a_server_that_is_not_there_names_the_endpoint_and_node() -> None:
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/nothing"
    with pytest.raises(RuntimeError, match=r"cannot connect to opc\.tcp://127\.0\.0\.1:\d+/nothing to write ns=2"):
        await write_double(endpoint, "ns=2;s=World.Control.ShedStage", 1.0, timeout_s=2.0)
