# asyncua annotates its constructors with NewTypes (ua.String, ua.Int16, ua.DateTime): building an address
# space from plain str/int/datetime is correct at run time (as drivers.sim.grid.server, via pyproject).
# mypy: disable-error-code="arg-type"
"""The world's OPC-UA face: the substation as a real OPC-UA server.

Address space (namespace ``urn:energynet:sim:world``, index 2), all values from
one :class:`~drivers.sim.world.snapshot.WorldSnapshot`, so they agree with each
other and with the Modbus face's meters::

    Objects/Community                        ns=2;s=World
      Frequency        Hz   (what every meter sees)     ns=2;s=World.Frequency
      Rocof            Hz/s                             ns=2;s=World.Rocof
      SystemFrequency  Hz   (the interconnection's)     ns=2;s=World.SystemFrequency
      Demand, Supply, PV   W  (demand: consumption + charging) ns=2;s=World.Demand …
      Transformer/P, Q, Losses   W, var, W (10 kV side) ns=2;s=World.Transformer.P …
      Breaker/Closed   Boolean                          ns=2;s=World.Breaker.Closed
      Busbar/Voltage   V   (phase-to-neutral)           ns=2;s=World.Busbar.Voltage
      Lines/Losses     W   (all LV cables)              ns=2;s=World.Lines.Losses
      Feeder1..10/EndVoltage  V                         ns=2;s=World.Feeder<i>.EndVoltage
      CommunityBattery/P (+ discharge), SoC (0..1)      ns=2;s=World.CommunityBattery.P …
      Control/BreakerClose (writable Boolean)           write False to island, True to reconnect
      Control/TripW (writable Double)                   write X > 0: the interconnection loses X W
      Ufls/Stages      Double: load-shedding stages tripped (they trip in order)   ns=2;s=World.Ufls.Stages
      Control/ShedStage (writable Double)               write 1: shed the next stage; write −1: restore all

Values are written at ``rate_hz`` with the simulated instant as source
timestamp (less ``stamp_offset``: the demo's daytime world is stamped with the
wall clock). Between ticks the frequency is replayed from the last tick's 10 ms
trace (one tick late), so a 20 Hz subscriber sees its dynamics, not a staircase.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from asyncua import ua
from asyncua.common.node import Node
from asyncua.server.server import Server
from asyncua.ua.status_codes import StatusCodes

from core.tasks import cancel_and_wait
from drivers.sim.opcua_base import open_server
from drivers.sim.world.preview import FEEDERS
from drivers.sim.world.runner import WorldRunner
from drivers.sim.world.snapshot import WorldSnapshot

if TYPE_CHECKING:
    from drivers.sim.world.model import World

log = logging.getLogger(__name__)

NAMESPACE = "urn:energynet:sim:world"

_SCALARS = ("Frequency", "Rocof", "SystemFrequency", "Demand", "Supply", "PV")
_GROUPS = {
    "Transformer": ("P", "Q", "Losses"),
    "Busbar": ("Voltage",),
    "Lines": ("Losses",),
    "CommunityBattery": ("P", "SoC"),
    "Ufls": ("Stages",),
}


def values_of(s: WorldSnapshot, frequency_hz: float) -> dict[str, float]:
    """The published doubles, by node name, for ``s`` (frequency replayed separately)."""
    out = {
        "Frequency": frequency_hz, "Rocof": s.rocof_hz_s, "SystemFrequency": s.system_frequency_hz,
        "Demand": s.load_w, "Supply": s.supply_w, "PV": s.pv_total_w,
        "Transformer.P": s.trafo_p_w, "Transformer.Q": s.trafo_q_var,
        "Transformer.Losses": s.trafo_loss_w,
        "Busbar.Voltage": s.busbar_v,
        "Lines.Losses": s.line_loss_w,
        "CommunityBattery.P": s.community_battery_w, "CommunityBattery.SoC": s.community_battery_soc,
        "Ufls.Stages": float(sum(s.ufls_tripped)),
    }
    out.update({f"Feeder{i}.EndVoltage": v for i, v in enumerate(s.feeder_end_v, start=1)})
    return out


class WorldOpcUaServer:
    """A real OPC-UA server publishing a running world's substation."""

    def __init__(self, runner: WorldRunner, host: str = "127.0.0.1", port: int = 4841, rate_hz: float = 20.0,
                 stamp_offset: timedelta = timedelta(0), aspace_cache: Path | None = None) -> None:
        """``stamp_offset``: published timestamps are the simulated instant minus this (the demo runs a
        daytime world on the wall clock: its offset is the world's start minus the wall time at the start);
        ``aspace_cache``: the standard OPC-UA nodes from this file (a simulator process:
        :func:`drivers.sim.opcua_base.cache_path`; None builds them, as a test's server does)."""
        if not 1 <= rate_hz <= 100:
            raise ValueError(f"world OPC-UA face: publish rate must be within 1–100 Hz, got {rate_hz}")
        self.runner = runner
        self.host, self.port, self.rate_hz = host, port, rate_hz
        self.stamp_offset = stamp_offset
        self.aspace_cache = aspace_cache
        self._server = Server()
        self._nodes: dict[str, Node] = {}
        self._breaker: Node | None = None
        self._trip: Node | None = None
        self._shed: Node | None = None
        self._breaker_cmd = True  # the control's value as last synced with the breaker
        self._task: asyncio.Task[None] | None = None
        self._arrived: tuple[WorldSnapshot, float] | None = (runner.snapshot, time.monotonic()) if runner.ready \
            else None
        self._preview_arrived = (-1, time.monotonic())  # (preview tick, when it was first seen)
        self._written: WorldSnapshot | None = None  # the snapshot whose values are all written
        runner.subscribe(self._on_snapshot)

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/energynet/world"

    async def start(self) -> None:
        server = self._server
        ns = await open_server(server, self.endpoint, "EnergyNet simulated community", NAMESPACE,
                               self.aspace_cache)
        root = await server.nodes.objects.add_object(ua.NodeId("World", ns), ua.QualifiedName("Community", ns))
        for name in _SCALARS:
            await self._variable(root, ns, name, name)
        groups = dict(_GROUPS)
        feeders = len(self.runner.snapshot.feeder_end_v) if self.runner.ready else FEEDERS
        groups.update({f"Feeder{i}": ("EndVoltage",) for i in range(1, feeders + 1)})
        for group, names in groups.items():
            obj = await root.add_object(ua.NodeId(f"World.{group}", ns), ua.QualifiedName(group, ns))
            for name in names:
                await self._variable(obj, ns, f"{group}.{name}", name)
        breaker = await root.add_object(ua.NodeId("World.Breaker", ns), ua.QualifiedName("Breaker", ns))
        self._nodes["Breaker.Closed"] = await breaker.add_variable(
            ua.NodeId("World.Breaker.Closed", ns), ua.QualifiedName("Closed", ns), True, ua.VariantType.Boolean)
        control = await root.add_object(ua.NodeId("World.Control", ns), ua.QualifiedName("Control", ns))
        self._breaker = await control.add_variable(
            ua.NodeId("World.Control.BreakerClose", ns), ua.QualifiedName("BreakerClose", ns), True,
            ua.VariantType.Boolean)
        self._trip = await control.add_variable(
            ua.NodeId("World.Control.TripW", ns), ua.QualifiedName("TripW", ns), 0.0, ua.VariantType.Double)
        self._shed = await control.add_variable(
            ua.NodeId("World.Control.ShedStage", ns), ua.QualifiedName("ShedStage", ns), 0.0, ua.VariantType.Double)
        await self._breaker.set_writable()
        await self._trip.set_writable()
        await self._shed.set_writable()
        if not self.runner.ready:  # until the world is built only the frequency has values (see preview.py)
            waiting = ua.DataValue(ua.Variant(0.0, ua.VariantType.Double),
                                   StatusCode=ua.StatusCode(StatusCodes.BadWaitingForInitialData))
            for node in self._nodes.values():
                await self._server.write_attribute_value(node.nodeid, waiting)
        await self._publish()
        await server.start()
        self._task = asyncio.create_task(self._run(), name="world-opcua")
        log.info("world OPC-UA face serving on %s", self.endpoint)

    async def _variable(self, parent: Node, ns: int, node_id: str, name: str) -> None:
        self._nodes[node_id] = await parent.add_variable(
            ua.NodeId(f"World.{node_id}", ns), ua.QualifiedName(name, ns), 0.0, ua.VariantType.Double)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        await self._server.stop()

    def _on_snapshot(self, snapshot: WorldSnapshot) -> None:
        self._arrived = (snapshot, time.monotonic())

    async def _run(self) -> None:
        period = 1.0 / self.rate_hz
        while True:
            await asyncio.sleep(period)
            try:
                if self.runner.ready:
                    await self._apply_control()
            except (RuntimeError, ValueError) as exc:  # e.g. the synchrocheck refused: say so, keep serving
                log.warning("world OPC-UA face: control write refused: %s", exc)
            await self._publish()

    async def _apply_control(self) -> None:
        assert self._breaker is not None and self._trip is not None
        want_closed = bool(await self._breaker.read_value())
        # act on a client's write only (a change of the control value): a scenario or the world itself may
        # have opened the breaker, and the control's stale True must not close it again at once
        if want_closed != self._breaker_cmd and want_closed != self.runner.snapshot.breaker_closed:
            def switch(w: World) -> None:
                if want_closed:
                    w.close_breaker()
                else:
                    w.open_breaker()
            try:
                await self.runner.call(switch)
            finally:
                await self._sync_breaker_control(self.runner.world.breaker_closed)
        trip = await self._trip.read_value()
        if isinstance(trip, int | float) and trip > 0:
            log.warning("world: interconnection trip of %.0f W requested over OPC-UA", trip)
            await self.runner.call(lambda w: w.interconnection.trip(w.clock.t_s, float(trip)))
            await self._trip.write_value(ua.DataValue(ua.Variant(0.0, ua.VariantType.Double)))
        assert self._shed is not None
        shed = await self._shed.read_value()
        if isinstance(shed, int | float) and shed != 0:
            await self._shed.write_value(ua.DataValue(ua.Variant(0.0, ua.VariantType.Double)))
            if shed > 0:
                log.warning("world: next load-shedding stage shed over OPC-UA")
                await self.runner.call(lambda w: w.shed_next_stage())
            else:
                log.warning("world: shed load restored over OPC-UA")
                await self.runner.call(lambda w: w.restore_shed())

    async def _sync_breaker_control(self, closed: bool) -> None:
        """The control shows the breaker's state; a write that differs from it is a command."""
        assert self._breaker is not None
        self._breaker_cmd = closed
        await self._breaker.write_value(ua.DataValue(ua.Variant(closed, ua.VariantType.Boolean)))

    def _replayed(self, trace: Sequence[float], arrived: float, at: datetime) -> tuple[float, datetime]:
        """The trace's value for now (one tick late) and the instant it belongs to: the tick's ``at`` less the
        rest of the tick, so each replayed value has its own source time (a historian keeps one row per
        point and time) and none is later than the tick."""
        h = self.runner.tick_s
        share = (time.monotonic() - arrived) * self.runner.speed / h
        n = len(trace)
        i = min(n - 1, int(share * n))
        return float(trace[i]), at - timedelta(seconds=h * (n - 1 - i) / n)

    async def _publish_preview(self) -> None:
        p = self.runner.preview
        assert p is not None
        if p.ticks != self._preview_arrived[0]:
            self._preview_arrived = (p.ticks, time.monotonic())
        stamp = p.time - self.stamp_offset
        frequency, f_stamp = self._replayed(p.trace, self._preview_arrived[1], stamp)
        values = {"Frequency": (frequency, f_stamp), "SystemFrequency": (p.frequency_hz, stamp),
                  "Rocof": (p.rocof_hz_s, stamp)}
        for name, (value, when) in values.items():
            dv = ua.DataValue(ua.Variant(float(value), ua.VariantType.Double), SourceTimestamp=when,
                              ServerTimestamp=when)
            await self._server.write_attribute_value(self._nodes[name].nodeid, dv)

    async def _publish(self) -> None:
        if self._arrived is None:
            await self._publish_preview()
            return
        s, arrived = self._arrived
        stamp = s.time - self.stamp_offset
        frequency, f_stamp = self._replayed(s.frequency_trace_hz, arrived, stamp)
        # the rest changes once a tick: in between only the replayed frequency moves
        values = {"Frequency": frequency} if s is self._written else values_of(s, frequency)
        for name, value in values.items():
            when = f_stamp if name == "Frequency" else stamp
            dv = ua.DataValue(ua.Variant(float(value), ua.VariantType.Double), SourceTimestamp=when,
                              ServerTimestamp=when)
            await self._server.write_attribute_value(self._nodes[name].nodeid, dv)
        if s is not self._written:
            dv = ua.DataValue(ua.Variant(s.breaker_closed, ua.VariantType.Boolean), SourceTimestamp=stamp,
                              ServerTimestamp=stamp)
            await self._server.write_attribute_value(self._nodes["Breaker.Closed"].nodeid, dv)
            if self._breaker is not None and s.breaker_closed != self._breaker_cmd:
                await self._sync_breaker_control(s.breaker_closed)
            self._written = s
