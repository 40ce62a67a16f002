"""`energynet sim world`: one world, its OPC-UA and Modbus faces, a scenario, the participants file.

Start-up in two steps, so that a console gets the frequency within a second or two of the start and not
after the seconds of CPU that pandapower, pvlib and the network take: (1) the OPC-UA face listens at once
and publishes the interconnection's frequency from a :class:`FrequencyPreview` (the other values say
BadWaitingForInitialData); (2) the world is built in the runner's thread, catches up the ticks since the
start, and then the Modbus face, the scenario and the participants file follow. Only numpy, asyncua and
this package's light modules are imported before step (1).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.sim.world.clock import WorldClock
from drivers.sim.world.frequency import InterconnectionConfig
from drivers.sim.world.opcua_face import WorldOpcUaServer
from drivers.sim.world.preview import FrequencyPreview
from drivers.sim.world.runner import WorldRunner
from drivers.sim.world.scenario import load_scenario

if TYPE_CHECKING:
    from drivers.sim.world.modbus_face import WorldModbusServer
    from drivers.sim.world.model import World
    from drivers.sim.world.participants import ParticipantsFile

log = logging.getLogger(__name__)

DEFAULT_HOUSEHOLDS = 24  # + 9 businesses and farms + the feeder ends: ~67 Modbus devices polled at 1 Hz


def settle_collector() -> None:
    """What the start built (modules, the address space, the network, the households) lives as long as the
    process: out of the collector's sight, and the collector on again. Unlike console.heap.settle_heap without
    a collection first: a full one here held this loop 0.3–0.5 s on a loaded machine, while the start's
    cyclic garbage is ~3,000 objects (frozen with the rest)."""
    gc.freeze()
    gc.enable()


def _modbus_face(runner: WorldRunner, host: str, port: int, households: int | None) -> WorldModbusServer:
    from drivers.sim.world.modbus_face import WorldModbusServer

    return WorldModbusServer(runner, host, port, households)


async def serve_world(host: str = "127.0.0.1", opcua_port: int = 4841, modbus_port: int = 5020,
                      households: int | None = DEFAULT_HOUSEHOLDS, speed: float = 1.0,
                      scenario: Path | None = None, seed: int = 1, participants_out: Path | None = None,
                      stop: asyncio.Event | None = None, start: datetime | None = None,
                      keys_dir: Path | None = None, stamp_offset: timedelta = timedelta(0),
                      aspace_cache: Path | None = None) -> None:
    """Run the world and both faces until ``stop`` is set or the task is cancelled.

    ``start``: the world clock's start (default: the clock's default, a June night; the CLI passes a
    daytime); ``keys_dir``: the participants' keystores (default ``keys/`` beside ``participants_out``);
    ``stamp_offset``: the OPC-UA timestamps are the simulated instants minus this; ``aspace_cache``: the
    standard OPC-UA nodes from this cache file (drivers/sim/opcua_base.py; the CLI passes the user's)."""
    t0 = time.monotonic()
    played = load_scenario(scenario) if scenario is not None else None
    clock = WorldClock() if start is None else WorldClock(start)
    preview = FrequencyPreview(seed, InterconnectionConfig(), clock.start, clock.tick_s)
    runner = WorldRunner.building(preview, speed=speed)
    opcua = WorldOpcUaServer(runner, host, opcua_port, stamp_offset=stamp_offset, aspace_cache=aspace_cache)
    modbus = None
    player = None
    await opcua.start()
    await runner.start()
    log.info("world: OPC-UA listening %.2f s after the start; building the world", time.monotonic() - t0)

    def build() -> World:
        from drivers.sim.world.model import World, WorldConfig

        return World(WorldConfig(seed=seed, clock=clock))

    try:
        world = await runner.attach(build)
        log.info("world: built %.2f s after the start", time.monotonic() - t0)
        if not gc.isenabled():  # paused by the CLI for the start (console.heap.pause_collector)
            settle_collector()
        from drivers.sim.world.scenario import ScenarioPlayer

        # pymodbus imported in a worker thread (as the participants module below): its import on this loop
        # (with the collector's full run after the build) kept the loop from answering the console's watchdog
        # probe, which asyncua allows 0.5 s (min(session timeout / 2, watchdog interval)), and the console
        # dropped the session once, right after the build, at most starts
        modbus = await asyncio.to_thread(_modbus_face, runner, host, modbus_port, households)
        await modbus.start()
        if played is not None:
            player = ScenarioPlayer(played, runner, modbus)
            await player.start()
        log.info("world: serving %d Modbus devices %.2f s after the start", len(modbus.devices),
                 time.monotonic() - t0)
        if participants_out is not None:
            out, devices = participants_out, modbus.devices

            def write() -> ParticipantsFile:
                from drivers.sim.world.participants import write_participants

                return write_participants(out, world.participants, devices, host=host,
                                          modbus_port=modbus_port, seed=seed, start=clock.start, keys_dir=keys_dir)

            written = await asyncio.to_thread(write)
            log.info("participants file written to %s (%d participants, keystores in %s)", participants_out,
                     len(written.participants), keys_dir or participants_out.parent / "keys")
        await (stop or asyncio.Event()).wait()
    finally:
        if player is not None:
            await player.stop()
        await runner.stop()
        await opcua.stop()
        if modbus is not None:
            await modbus.stop()
