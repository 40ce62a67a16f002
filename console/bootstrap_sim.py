"""Composition root, simulators: what ``energynet sim grid`` / ``sim meters`` / ``sim world`` / ``sim backfill`` run.

Apart from bootstrap.py so that a simulator process imports only the simulator (not the console's drivers,
services and stores): it is on the demo's start-up critical path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.config import Settings


async def run_device_fleet(host: str, port: int, count: int, houses: int | None = None) -> None:
    """Serve the simulated Modbus device fleet until cancelled (the demo's houses when `houses` is given)."""
    from drivers.sim.devices import demo_layout
    from drivers.sim.devices import run_device_fleet as serve

    await serve(host, port, count, layout=demo_layout(houses) if houses else None)


async def run_grid_simulator(host: str, port: int, trips: bool = True) -> None:
    """Serve the simulated grid area over OPC-UA until cancelled."""
    from drivers.sim.grid.model import GridSimConfig
    from drivers.sim.grid.server import demo_config
    from drivers.sim.grid.server import run_grid_simulator as serve

    config = demo_config() if trips else GridSimConfig()
    await serve(host, port, None, config)


async def run_world(host: str, opcua_port: int, modbus_port: int, households: int | None, speed: float,
                    scenario: Path | None, seed: int, participants_out: Path | None, start: str | None = None,
                    keys_dir: Path | None = None) -> None:
    """Serve the simulated community (OPC-UA substation + Modbus devices of the participants) until cancelled.
    ``start``: ISO 8601 (site time without an offset); None: a daytime at the site (sunshine for the demo)."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from drivers.sim.opcua_base import cache_path
    from drivers.sim.world.serve import serve_world
    from drivers.sim.world.solar import Site, daytime_start

    offset = timedelta(0)
    if start is None:  # a daytime world on the wall clock: sun and loads of the daytime, values stamped now
        now = datetime.now(UTC).replace(microsecond=0)
        when = daytime_start(now)
        offset = when - now
    else:
        try:
            when = datetime.fromisoformat(start)
        except ValueError as exc:
            raise ValueError(f"--start {start!r}: not an ISO 8601 time, e.g. 2026-06-22T12:00 or "
                             "2026-06-22T12:00+02:00") from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=ZoneInfo(Site().timezone))
    await serve_world(host, opcua_port, modbus_port, households, speed, scenario, seed, participants_out,
                      start=when, keys_dir=keys_dir, stamp_offset=offset, aspace_cache=cache_path())


@dataclass(frozen=True, slots=True)
class BackfillReport:
    """What ``energynet sim backfill`` wrote."""

    url: str
    start: datetime
    end: datetime
    ticks: int
    step_s: float
    points: int
    samples: int
    kept: int  # past the deadband
    stored: int
    seconds: float


async def backfill(settings: Settings, days: float, households: int | None, end: datetime | None = None,
                   seed: int = 1, step_s: float = 60.0,
                   progress: Callable[[int, int], None] | None = None) -> BackfillReport:
    """Write ``days`` of the world's history up to ``end`` (default: now, to the minute) into the historian of
    ``settings`` through the historian service (deadband, writer thread, spool), as the console would."""
    import time

    from console.bootstrap import build_sql_historian, historian_url
    from console.services.historian import HistorianService
    from drivers.sim.world import backfill as bf

    t0 = time.perf_counter()
    end = end or datetime.now(UTC).replace(second=0, microsecond=0)
    world = bf.build_world(end, days, seed, step_s)
    plan = bf.plan(world, days, households, step_s)
    substation = [bf.SubstationPoint(b.point.id, name, b.scale, b.offset, b.point.si_unit)
                  for s in settings.sources for b in s.points if (name := bf.node_name(b.node_id or "")) is not None]
    if not substation:
        raise ValueError("backfill: the config has no OPC-UA points of the world (nodes ns=2;s=World.…); "
                         "use resources/world.toml or a config made by drivers/sim/world/console_config.py")
    sql = build_sql_historian(settings)
    sql.register_points(list(plan.points))
    service = HistorianService(sql, dict(settings.deadbands), heartbeat_s=settings.historian.heartbeat_s,
                               maintain_every_s=3600.0)
    await service.start()
    samples = 0
    try:
        for batch in bf.run(world, plan, substation, progress):
            service.on_samples(batch)
            samples += len(batch)
            while service.stats().queued > 200_000:  # the world outruns the writer: let it catch up
                await asyncio.sleep(0.05)
            await asyncio.sleep(0)
    finally:
        await service.stop()
    stats = service.stats()
    return BackfillReport(historian_url(settings), plan.start, end, plan.ticks, step_s,
                          len(substation) + len(plan.points), samples, service.counts().kept,
                          stats.written + stats.spooled,
                          time.perf_counter() - t0)
