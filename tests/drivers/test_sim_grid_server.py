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
