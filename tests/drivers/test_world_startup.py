"""The world's fast start: the frequency is served before the world is built, and it is the world's own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from asyncua import ua
from asyncua.client.client import Client

from drivers.sim.world.clock import WorldClock, utc
from drivers.sim.world.frequency import InterconnectionConfig
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.opcua_face import WorldOpcUaServer
from drivers.sim.world.preview import FrequencyPreview
from drivers.sim.world.runner import WorldRunner
from drivers.sim.world.solar import daytime_start
from tests.conftest import free_port

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(90)]
START = utc(2026, 6, 22, 10)


def test_the_preview_is_the_worlds_frequency_bit_for_bit() -> None:
    # a trip now and then, so the trip draws are part of the stream too
    config = InterconnectionConfig(trip_mean_interval_s=20.0)
    world = World(WorldConfig(seed=7, clock=WorldClock(START), interconnection=config))
    preview = FrequencyPreview(7, config, START)
    assert preview.trace == tuple(world.snapshot.frequency_trace_hz)
    for _ in range(60):
        s = world.step()
        preview.step()
        assert preview.trace == tuple(s.frequency_trace_hz)
        assert preview.time == s.time
        assert preview.rocof_hz_s == s.rocof_hz_s
    assert world.interconnection.trips == preview.interconnection.trips != []


def test_the_demo_clock_starts_in_daylight_at_the_site() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    night = datetime(2026, 12, 2, 3, 23, tzinfo=UTC)  # 04:23 in Munich
    assert daytime_start(night) == datetime(2026, 12, 2, 11, 0, tzinfo=berlin)
    noon = datetime(2026, 6, 22, 10, 30, 15, 500, tzinfo=UTC)  # 12:30 CEST: the wall clock as it is
    assert daytime_start(noon) == datetime(2026, 6, 22, 12, 30, 15, tzinfo=berlin)
    late = datetime(2026, 6, 22, 21, 0, tzinfo=UTC)  # 23:00 CEST: that day's 11:00
    assert daytime_start(late) == datetime(2026, 6, 22, 11, 0, tzinfo=berlin)


async def test_the_frequency_is_served_while_the_world_is_built_then_everything() -> None:
    preview = FrequencyPreview(1, InterconnectionConfig(), START)
    runner = WorldRunner.building(preview, speed=2.0)
    offset = timedelta(hours=6)  # the demo: a daytime world stamped with the wall clock
    face = WorldOpcUaServer(runner, port=free_port(), rate_hz=20, stamp_offset=offset)
    await face.start()
    await runner.start()
    client = Client(face.endpoint, timeout=5)
    await client.connect()
    try:
        await asyncio.sleep(0.6)
        f = await client.get_node("ns=2;s=World.Frequency").read_data_value()
        assert f.StatusCode.is_good() and 49.9 < f.Value.Value < 50.1
        assert f.SourceTimestamp.astimezone(UTC) <= START - offset + timedelta(seconds=preview.ticks)
        assert preview.ticks >= 1
        demand = await client.get_node("ns=2;s=World.Demand").read_data_value(raise_on_bad_status=False)
        assert demand.StatusCode.value == ua.StatusCodes.BadWaitingForInitialData
        ends = await client.get_node("ns=2;s=World.Feeder10.EndVoltage").read_data_value(raise_on_bad_status=False)
        assert ends.StatusCode.value == ua.StatusCodes.BadWaitingForInitialData

        world = await runner.attach(lambda: World(WorldConfig(clock=WorldClock(START))))
        # the world catches up with the ticks since the start (the preview stops at the handover) and serves
        for _ in range(200):
            if world.clock.ticks >= preview.ticks:
                break
            await asyncio.sleep(0.05)
        assert world.clock.ticks >= preview.ticks
        await asyncio.sleep(0.3)
        demand = await client.get_node("ns=2;s=World.Demand").read_data_value()
        assert demand.StatusCode.is_good() and 10e3 < demand.Value.Value < 500e3
        p = await client.get_node("ns=2;s=World.Transformer.P").read_data_value()
        stamp = p.SourceTimestamp.astimezone(UTC) + offset
        assert stamp.timestamp() == pytest.approx(START.timestamp() + round((stamp - START).total_seconds()))
        assert 49.9 < await client.get_node("ns=2;s=World.Frequency").read_value() < 50.1
    finally:
        await client.disconnect()
        await runner.stop()
        await face.stop()


async def test_a_world_started_with_the_collector_paused_settles_it_once_built() -> None:
    """`energynet sim world` pauses the cyclic collector for its start (console.heap.pause_collector):
    serve_world turns it on again once the world is built, with what the start built frozen."""
    import gc

    from drivers.sim.world.serve import serve_world

    stop = asyncio.Event()
    opcua_port, modbus_port = free_port(), free_port()
    frozen = gc.get_freeze_count()
    gc.disable()
    task = asyncio.create_task(serve_world(opcua_port=opcua_port, modbus_port=modbus_port, households=2,
                                           stop=stop, start=START))
    try:
        for _ in range(1200):  # the Modbus face opens once the world is built
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", modbus_port)
                writer.close()
                break
            except OSError:
                assert not task.done()
                await asyncio.sleep(0.05)
        assert gc.isenabled()
        assert gc.get_freeze_count() > frozen + 100_000  # the world's network and households, the modules
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        gc.unfreeze()
        gc.enable()


WATCH_IMPORTS = """
import asyncio, sys, threading
from pathlib import Path
first = {}

class Watch:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in ("pymodbus", "eth_account", "pandapower") and top not in first:
            first[top] = threading.current_thread().name
        return None

sys.meta_path.insert(0, Watch())
from drivers.sim.world.serve import serve_world

async def main():
    stop = asyncio.Event()
    out = Path(sys.argv[3])
    task = asyncio.create_task(serve_world(opcua_port=int(sys.argv[1]), modbus_port=int(sys.argv[2]), households=2,
                                           participants_out=out, stop=stop))
    while not out.exists():
        assert not task.done()
        await asyncio.sleep(0.05)
    stop.set()
    await task

asyncio.run(main())
print(" ".join(f"{k}={v}" for k, v in sorted(first.items())))
"""


def test_the_worlds_heavy_imports_are_not_made_on_its_loop(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """pandapower (the build), pymodbus (the Modbus face) and eth_account (the keystores) are imported in worker
    threads: an import on the loop kept the OPC-UA face from answering a console's watchdog probe, which
    asyncua allows 0.5 s (min(session timeout / 2, watchdog interval)), and the console dropped its session."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", WATCH_IMPORTS, str(free_port()), str(free_port()),
                          str(tmp_path / "participants.json")], capture_output=True, text=True, timeout=80,
                         cwd=root, check=True)
    seen = dict(item.split("=") for item in out.stdout.split())
    assert set(seen) == {"eth_account", "pandapower", "pymodbus"}
    assert "MainThread" not in seen.values(), seen
