"""History from the world model, faster than real time and without protocol servers.

``energynet sim backfill --days N`` steps one world (the same model, seed and community as ``sim world``)
from N days ago to now in ticks of ``step_s`` (60 s by default: 1,440 samples a day and point; up to 900 s) and turns
every tick's snapshot into the samples a console would have received from the world's two faces: the
configured substation points (what the OPC-UA face publishes, through the same scale and offset the
console's config applies) and each served device's points under the names the console's Modbus drivers
give them (``<device>.power``, ``<device>.energy_import``, ``<device>-pv.inverter_three_phase.W`` …).
The console side (``console.bootstrap_sim.backfill``) hands the batches to the historian service, its
normal write path (deadband, writer thread, spool).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from core.points import PointDef, PointKind, Quality, Sample
from drivers.sim.world.clock import WorldClock
from drivers.sim.world.modbus_face import WorldDevice, world_layout
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.opcua_face import values_of
from drivers.sim.world.snapshot import WorldSnapshot

DEFAULT_STEP_S = 60.0
# The frequency's integration step: 0.1 s instead of the live world's 10 ms. The interconnection's time
# constants are 6 s and more (explicit Euler at 0.1 s is within ~1 % of them; the OU imbalance is stepped
# exactly), so the history has the live frequency's statistics (another draw of it), and a day is 0.86 million
# sub-steps instead of 8.6 million (the Python loop was most of a backfill's time).
BACKFILL_SUBSTEP_S = 0.1


@dataclass(frozen=True, slots=True)
class SubstationPoint:
    """One configured OPC-UA point of the world's face: ``node`` is the value's name after ``World.``
    (``Frequency``, ``Transformer.P``, ``Breaker.Closed`` …); SI value = raw × scale + offset."""

    id: str
    node: str
    scale: float
    offset: float
    unit: str


@dataclass(frozen=True, slots=True)
class BackfillPlan:
    start: datetime
    ticks: int
    step_s: float
    devices: tuple[WorldDevice, ...]
    points: tuple[PointDef, ...]  # the device points, for the historian's point table


def node_name(node: str) -> str | None:
    """``ns=2;s=World.Transformer.P`` → ``Transformer.P``; None for a node that is not the world's."""
    _, _, ident = node.partition(";s=")
    return ident.removeprefix("World.") if ident.startswith("World.") else None


def _device_points(d: WorldDevice) -> list[tuple[str, str, str]]:
    """(point id, name, SI unit) of what the console reads from ``d`` and the backfill writes."""
    n = d.name
    if d.kind == "meter":
        return [(f"{n}.power", f"{n}: Total active power", "W"),
                (f"{n}.energy_import", f"{n}: Imported active energy", "Wh"),
                (f"{n}.energy_export", f"{n}: Exported active energy", "Wh"),
                (f"{n}.voltage_l1", f"{n}: Voltage L1-N", "V"),
                (f"{n}.frequency", f"{n}: Frequency", "Hz")]
    if d.kind == "battery":
        return [(f"{n}.battery.W", f"{n}: Battery power (+ charging)", "W"),
                (f"{n}.battery.SoC", f"{n}: State of charge", "%")]
    return [(f"{n}.inverter_three_phase.W", f"{n}: AC power", "W"),
            (f"{n}.inverter_three_phase.WH", f"{n}: AC energy", "Wh")]


def plan(world: World, days: float, households: int | None, step_s: float = DEFAULT_STEP_S) -> BackfillPlan:
    ticks = round(days * 86_400 / step_s)
    devices = tuple(world_layout(world.participants, households, world.network.feeder_ends))
    defs = tuple(PointDef(pid, name, unit, PointKind.OTHER) for d in devices for pid, name, unit in _device_points(d))
    return BackfillPlan(world.clock.start, ticks, step_s, devices, defs)


def build_world(end: datetime, days: float, seed: int = 1, step_s: float = DEFAULT_STEP_S) -> World:
    """The world whose clock starts ``days`` before ``end`` and ticks every ``step_s``."""
    if not 0 < days <= 366:
        raise ValueError(f"backfill: --days must be within (0, 366], got {days}")
    if end.tzinfo is None:
        raise ValueError(f"backfill: the end time must carry a time zone, got {end.isoformat()}")
    return World(WorldConfig(seed=seed, clock=WorldClock(end - timedelta(days=days), step_s),
                             substep_s=BACKFILL_SUBSTEP_S))


def snapshot_samples(s: WorldSnapshot, substation: Sequence[SubstationPoint], devices: Sequence[WorldDevice],
                     background: np.ndarray, battery_kwh: np.ndarray) -> list[Sample]:
    """What the console would have stored for ``s``: the substation points and every device's points."""
    ts = s.time.timestamp()
    good = Quality.GOOD
    values = values_of(s, s.frequency_hz)
    values["Breaker.Closed"] = 1.0 if s.breaker_closed else 0.0
    out = [Sample(p.id, values[p.node] * p.scale + p.offset, p.unit, good, ts, ts)
           for p in substation if p.node in values]
    f = s.frequency_hz
    for d in devices:
        n, c = d.name, d.connection
        if d.kind == "meter":
            if c < 0:
                p, v = float(s.p_w[background].sum()), s.busbar_v
                imp, exp = float(s.import_wh[background].sum()), float(s.export_wh[background].sum())
            else:
                p, v, imp, exp = float(s.p_w[c]), float(s.v_v[c]), float(s.import_wh[c]), float(s.export_wh[c])
            out += [Sample(f"{n}.power", p, "W", good, ts, ts), Sample(f"{n}.energy_import", imp, "Wh", good, ts, ts),
                    Sample(f"{n}.energy_export", exp, "Wh", good, ts, ts),
                    Sample(f"{n}.voltage_l1", v, "V", good, ts, ts), Sample(f"{n}.frequency", f, "Hz", good, ts, ts)]
        elif d.kind == "battery":
            at: Any = background if c < 0 else c  # the background's devices are sums (as the Modbus face serves)
            w = float(np.sum(s.battery_w[at]))
            soc = 100 * float(np.sum(s.battery_soc[at] * battery_kwh[at]) / max(np.sum(battery_kwh[at]), 1e-9))
            out += [Sample(f"{n}.battery.W", w, "W", good, ts, ts), Sample(f"{n}.battery.SoC", soc, "%", good, ts, ts)]
        else:
            at = background if c < 0 else c
            wind = d.kind == "wind"
            w = float(np.sum((s.wind_w if wind else s.pv_w)[at]))
            wh = float(np.sum((s.wind_wh if wind else s.pv_wh)[at]))
            out += [Sample(f"{n}.inverter_three_phase.W", w, "W", good, ts, ts),
                    Sample(f"{n}.inverter_three_phase.WH", wh, "Wh", good, ts, ts)]
    return out


def run(world: World, the_plan: BackfillPlan, substation: Sequence[SubstationPoint],
        progress: Callable[[int, int], None] | None = None) -> Iterator[list[Sample]]:
    """One batch of samples per tick, ticks 1 … ``the_plan.ticks`` (the instants after the start)."""
    served = {d.connection for d in the_plan.devices if d.connection >= 0}
    background = np.array([p.connection not in served for p in world.participants])
    battery_kwh = np.array([p.battery_kwh for p in world.participants])
    for k in range(1, the_plan.ticks + 1):
        snapshot = world.step()
        yield snapshot_samples(snapshot, substation, the_plan.devices, background, battery_kwh)
        if progress is not None and (k % 360 == 0 or k == the_plan.ticks):
            progress(k, the_plan.ticks)
