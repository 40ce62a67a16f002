"""The world's OPC-UA face is a real server whose numbers are the world's: read them, island over it."""

from __future__ import annotations

import asyncio

import pytest
from asyncua import ua
from asyncua.client.client import Client

from drivers.sim.world.clock import WorldClock, utc
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.opcua_face import WorldOpcUaServer
from drivers.sim.world.runner import WorldRunner
from tests.conftest import free_port

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(90)]


async def test_the_substation_publishes_the_worlds_numbers_and_islands_on_request() -> None:
    world = World(WorldConfig(clock=WorldClock(start=utc(2026, 6, 22, 11))))
    runner = WorldRunner(world, speed=5.0)
    face = WorldOpcUaServer(runner, port=free_port(), rate_hz=20)
    seen = {world.snapshot.time: world.snapshot}
    runner.subscribe(lambda s: seen.__setitem__(s.time, s))
    await face.start()
    await runner.start()
    client = Client(face.endpoint, timeout=5)
    await client.connect()
    try:
        await asyncio.sleep(0.5)
        # every value is stamped with its simulated instant: compare with the world's snapshot of that instant
        p = await client.get_node("ns=2;s=World.Transformer.P").read_data_value()
        snap = seen[p.SourceTimestamp]
        assert p.Value.Value == snap.trafo_p_w
        assert p.Value.Value < -100e3, "13:00 CEST in June: the suburb exports"
        ends = [await client.get_node(f"ns=2;s=World.Feeder{i}.EndVoltage").read_value() for i in range(1, 11)]
        assert min(ends) > 207 and max(ends) < 253
        assert await client.get_node("ns=2;s=World.Breaker.Closed").read_value() is True
        f = await client.get_node("ns=2;s=World.Frequency").read_value()
        assert 49.9 < f < 50.1

        await client.get_node("ns=2;s=World.Control.BreakerClose").write_value(
            ua.DataValue(ua.Variant(False, ua.VariantType.Boolean)))
        for _ in range(400):
            if not await client.get_node("ns=2;s=World.Breaker.Closed").read_value():
                break
            await asyncio.sleep(0.05)
        assert not runner.world.breaker_closed
        await asyncio.sleep(0.5)
        assert await client.get_node("ns=2;s=World.Transformer.P").read_value() == 0.0
        battery = await client.get_node("ns=2;s=World.CommunityBattery.P").read_value()
        assert battery < -50e3, "islanded at noon: the grid-forming battery absorbs the PV surplus"
    finally:
        await client.disconnect()
        await runner.stop()
        await face.stop()


async def test_noon_pv_export_raises_the_feeder_end_voltage_against_the_same_instant_without_pv() -> None:
    """Two worlds at the same noon instant, same seed: one with its PV, one with every inverter at 0 %."""
    faces, clients = [], []
    for pv_share in (1.0, 0.0):
        world = World(WorldConfig(clock=WorldClock(start=utc(2026, 6, 22, 11)), load_noise=0.0, cloud_mean=0.0))
        world.set_pv_limit(None, pv_share)
        world.step()
        face = WorldOpcUaServer(WorldRunner(world), port=free_port(), rate_hz=20)  # the runner is not paced
        await face.start()
        faces.append(face)
        client = Client(face.endpoint, timeout=5)
        await client.connect()
        clients.append(client)
    try:
        async def read(client: Client, node: str) -> float:
            return float(await client.get_node(f"ns=2;s=World.{node}").read_value())

        with_pv, without = clients
        ends_pv = [await read(with_pv, f"Feeder{i}.EndVoltage") for i in range(1, 11)]
        ends_dark = [await read(without, f"Feeder{i}.EndVoltage") for i in range(1, 11)]
        assert await read(with_pv, "PV") > 300e3 and await read(without, "PV") == 0.0
        assert await read(with_pv, "Transformer.P") < -100e3  # noon in June: the suburb exports
        assert await read(without, "Transformer.P") > 20e3  # the same instant without PV: it imports
        busbar_pv, busbar_dark = await read(with_pv, "Busbar.Voltage"), await read(without, "Busbar.Voltage")
        rise = [a - b for a, b in zip(ends_pv, ends_dark, strict=True)]
        top = max(range(10), key=lambda i: rise[i])
        assert rise[top] > 1.0  # volts, at the end of the most-exporting feeder
        assert ends_pv[top] > busbar_pv and ends_dark[top] < busbar_dark  # above its busbar with PV, below without
        assert all(r > 0 for r in rise)  # every feeder end sits higher with its PV exporting
    finally:
        for client in clients:
            await client.disconnect()
        for face in faces:
            await face.stop()


@pytest.mark.timeout(120)
async def test_the_world_face_serves_from_the_address_space_cache(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`sim world` loads the standard OPC-UA nodes from the user's cache (drivers/sim/opcua_base.py) instead of
    building them: with a cache file, asyncua's builder is never called and a client still finds the standard
    nodes and the world's frequency."""
    from asyncua.server.standard_address_space import standard_address_space

    from drivers.sim.opcua_base import write_cache

    cache = tmp_path / "nodes.pickle"
    await write_cache(cache)

    def not_built(*_args: object) -> None:
        raise AssertionError("the standard address space was built, not loaded from the cache")

    monkeypatch.setattr(standard_address_space, "fill_address_space", not_built)
    world = World(WorldConfig(clock=WorldClock(start=utc(2026, 6, 22, 11))))
    face = WorldOpcUaServer(WorldRunner(world, speed=5.0), port=free_port(), rate_hz=20, aspace_cache=cache)
    await face.start()
    await face.runner.start()
    client = Client(face.endpoint, timeout=5)
    await client.connect()
    try:
        assert (await client.get_namespace_array())[-1] == "urn:energynet:sim:world"
        state = await client.get_node(ua.ObjectIds.Server_ServerStatus_State).read_value()
        assert state == ua.ServerState.Running
        await asyncio.sleep(0.3)
        assert 49.5 < await client.get_node("ns=2;s=World.Frequency").read_value() < 50.5
    finally:
        await client.disconnect()
        await face.runner.stop()
        await face.stop()
