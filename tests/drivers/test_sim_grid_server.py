"""The grid simulator is a real OPC-UA server: read it, subscribe to it, trip it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest
from asyncua import ua
from asyncua.client.client import Client

from drivers.sim.grid.model import GridSimConfig
from drivers.sim.grid.server import GridSimServer
from tests.conftest import free_port

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(60)]


async def test_sim_publishes_plausible_values_fast_and_trips_on_request() -> None:
    sim = GridSimServer(port=free_port(), config=replace(GridSimConfig(), noise=True), rate_hz=20)
    await sim.start()
    client = Client(sim.endpoint, timeout=5)
    await client.connect()
    try:
        freq = client.get_node("ns=2;s=Grid.Frequency")
        dv1 = await freq.read_data_value()
        assert 49.9 < dv1.Value.Value < 50.1
        assert abs(dv1.SourceTimestamp.timestamp() - time.time()) < 2
        for i in range(1, 5):
            v = await client.get_node(f"ns=2;s=Grid.Feeder{i}.Voltage").read_value()
            assert 207 < v < 253
        demand = await client.get_node("ns=2;s=Grid.Demand").read_value()
        assert 7e9 < demand < 9e9
        await asyncio.sleep(0.3)
        dv2 = await freq.read_data_value()
        assert dv2.SourceTimestamp > dv1.SourceTimestamp

        sub = await client.create_subscription(50, None, queue_maxsize=0)
        await sub.subscribe_data_change(freq, sampling_interval=ua.Double(50))
        changes: list[float] = []

        async def consume() -> None:
            async for ev in sub:
                changes.append(ev.value)

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(2.0)
        assert len(changes) >= 20  # ≥ 10 updates per second

        await client.get_node("ns=2;s=Grid.Control.TripMW").write_value(ua.DataValue(ua.Variant(
            400.0, ua.VariantType.Double)))
        await asyncio.sleep(4.0)
        assert min(changes) < 49.95
        assert sim.model.trip_log and sim.model.trip_log[-1][1] == 400.0
        consumer.cancel()
    finally:
        await client.disconnect()
        await sim.stop()


@pytest.mark.timeout(120)
async def test_the_standard_address_space_cache_serves_the_same_server(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """First start: built as usual (then cached); second start: from the cache file. A client sees the same
    server either way: the standard nodes (namespaces, server status, types) and the simulator's own."""
    from drivers.sim.opcua_base import write_cache

    cache = tmp_path / "nodes.pickle"
    await write_cache(cache)  # what the writer process started by a first start does
    assert cache.stat().st_size > 1_000_000
    seen = []
    for use in (None, cache):
        sim = GridSimServer(port=free_port(), aspace_cache=use)
        await sim.start()
        client = Client(sim.endpoint, timeout=5)
        await client.connect()
        try:
            namespaces = await client.get_namespace_array()
            state = await client.get_node(ua.ObjectIds.Server_ServerStatus_State).read_value()
            base_type = client.get_node(ua.ObjectIds.BaseObjectType)
            types = sorted(n.nodeid.to_string() for n in await base_type.get_children())
            freq = await client.get_node("ns=2;s=Grid.Frequency").read_value()
            seen.append((namespaces, state, types))
            assert 49.5 < freq < 50.5
        finally:
            await client.disconnect()
            await sim.stop()
    assert seen[0] == seen[1]
    assert seen[0][0][-1] == "urn:energynet:sim:grid" and len(seen[0][2]) > 50


@pytest.mark.timeout(120)
async def test_an_unreadable_cache_is_removed_and_the_nodes_built(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    from asyncua.server.server import Server

    from drivers.sim.opcua_base import init_server

    cache = tmp_path / "nodes.pickle"
    cache.write_bytes(b"\x80\x05truncated")
    server = Server()
    assert await init_server(server, cache) is False
    assert "unusable" in caplog.text and str(cache) in caplog.text
    assert await server.get_node(ua.ObjectIds.Server).read_browse_name()
    # the writer process started for the next start replaces the bad file with a good one, then exits
    deadline = time.monotonic() + 40
    while not (cache.is_file() and cache.stat().st_size > 1_000_000) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert cache.stat().st_size > 1_000_000
    assert await init_server(Server(), cache) is True


async def test_the_cached_nodes_are_out_of_the_collectors_sight(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The ~150,000 objects of the standard nodes go to the permanent generation when they are loaded: the
    collector's first runs after the load walked them all, once per generation (a gen-2 run held the world's
    GIL for over a second on a loaded machine, and a console's 2 s watchdog read timed out)."""
    import gc

    from asyncua.server.server import Server

    from drivers.sim.opcua_base import init_server, write_cache

    cache = tmp_path / "nodes.pickle"
    await write_cache(cache)
    server = Server()
    before = gc.get_freeze_count()
    try:
        assert await init_server(server, cache) is True
        nodes = server.iserver.aspace._nodes
        assert len(nodes) > 5_000
        assert gc.get_freeze_count() - before > 10 * len(nodes)  # each node: NodeData, its dicts, attribute values
        young = {id(o) for g in (0, 1, 2) for o in gc.get_objects(g)}
        server_node = nodes[ua.NodeId(ua.ObjectIds.Server)]
        assert id(server_node) not in young and id(server_node.attributes) not in young
    finally:
        gc.unfreeze()
