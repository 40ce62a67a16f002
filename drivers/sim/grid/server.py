"""A real OPC-UA server publishing the simulated grid area.

Address space (namespace ``urn:energynet:sim:grid``, index 2)::

    Objects/GridArea                ns=2;s=Grid
      Frequency   Hz                ns=2;s=Grid.Frequency
      Rocof       Hz/s              ns=2;s=Grid.Rocof
      Demand      W                 ns=2;s=Grid.Demand
      Supply      W                 ns=2;s=Grid.Supply
      PV          W                 ns=2;s=Grid.PV
      Feeder1..N/Voltage  V         ns=2;s=Grid.Feeder<i>.Voltage
      Control/TripMW (writable)     ns=2;s=Grid.Control.TripMW   write X > 0 to trip X MW

Values are written at ``rate_hz`` with the simulation's source timestamps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from asyncua import ua
from asyncua.common.node import Node
from asyncua.server.server import Server
from asyncua.ua.attribute_ids import AttributeIds

from core.tasks import cancel_and_wait
from drivers.sim.grid.model import GridModel, GridSimConfig
from drivers.sim.opcua_base import cache_path, open_server

log = logging.getLogger(__name__)

NAMESPACE = "urn:energynet:sim:grid"


def demo_config() -> GridSimConfig:
    """The demo's area: noise on, a 300 MW unit trips 20 s in and every
    2 minutes after, and comes back a minute later."""
    return replace(GridSimConfig(), trip_period_s=120.0, first_periodic_trip_s=20.0,
                   periodic_trip_mw=300.0, restore_after_s=60.0)


class GridSimServer:
    """OPC-UA server around a :class:`GridModel`, stepped in real time."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4840,
        config: GridSimConfig | None = None,
        rate_hz: float = 20.0,
        aspace_cache: Path | None = None,
    ) -> None:
        if not 1 <= rate_hz <= 100:
            raise ValueError(f"publish rate must be within 1–100 Hz, got {rate_hz}")
        self.host = host
        self.port = port
        self.rate_hz = rate_hz
        self.aspace_cache = aspace_cache  # the standard nodes from this file (drivers.sim.opcua_base)
        self.model = GridModel(config)
        self._server = Server()
        self._values: dict[str, Node] = {}
        self._trip: Node | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/energynet/grid"

    async def start(self) -> None:
        """Build the address space and start serving and simulating."""
        server = self._server
        ns = await open_server(server, self.endpoint, "EnergyNet grid simulator", NAMESPACE, self.aspace_cache)
        area = await server.nodes.objects.add_object(ua.NodeId("Grid", ns), ua.QualifiedName("GridArea", ns))
        for name in ("Frequency", "Rocof", "Demand", "Supply", "PV"):
            self._values[name] = await area.add_variable(
                ua.NodeId(f"Grid.{name}", ns), ua.QualifiedName(name, ns), 0.0, ua.VariantType.Double
            )
        for i, feeder in enumerate(self.model.config.feeders, start=1):
            obj = await area.add_object(ua.NodeId(f"Grid.Feeder{i}", ns), ua.QualifiedName(f"Feeder{i}", ns))
            await obj.write_attribute(AttributeIds.Description, ua.DataValue(ua.Variant(
                ua.LocalizedText(feeder.name), ua.VariantType.LocalizedText)))
            self._values[f"Feeder{i}"] = await obj.add_variable(
                ua.NodeId(f"Grid.Feeder{i}.Voltage", ns), ua.QualifiedName("Voltage", ns), 0.0,
                ua.VariantType.Double,
            )
        control = await area.add_object(ua.NodeId("Grid.Control", ns), ua.QualifiedName("Control", ns))
        self._trip = await control.add_variable(
            ua.NodeId("Grid.Control.TripMW", ns), ua.QualifiedName("TripMW", ns), 0.0, ua.VariantType.Double
        )
        await self._trip.set_writable()
        await self._publish()
        await server.start()
        self._task = asyncio.create_task(self._run(), name="grid-sim")
        log.info("grid simulator serving on %s", self.endpoint)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        await self._server.stop()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def _run(self) -> None:
        period = 1.0 / self.rate_hz
        last = time.monotonic()
        next_tick = last + period
        while True:
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            now = time.monotonic()
            # Real time, but a stalled loop must not make the physics jump.
            self.model.step(min(now - last, 0.2))
            last = now
            next_tick += period
            if next_tick < now:
                next_tick = now + period
            await self._check_trip_request()
            await self._publish()

    async def _check_trip_request(self) -> None:
        assert self._trip is not None
        requested = await self._trip.read_value()
        if isinstance(requested, int | float) and requested > 0:
            log.warning("trip requested over OPC-UA: %.0f MW", requested)
            self.model.trip(float(requested))
            await self._trip.write_value(0.0)

    async def _publish(self) -> None:
        s = self.model.state
        now = datetime.now(UTC)
        values = {"Frequency": s.frequency_hz, "Rocof": s.rocof_hz_s, "Demand": s.demand_w,
                  "Supply": s.supply_w, "PV": s.pv_w}
        values.update({f"Feeder{i}": v for i, v in enumerate(s.bus_voltages_v, start=1)})
        for name, value in values.items():
            dv = ua.DataValue(ua.Variant(value, ua.VariantType.Double), SourceTimestamp=now, ServerTimestamp=now)
            await self._server.write_attribute_value(self._values[name].nodeid, dv)


async def run_grid_simulator(
    host: str, port: int, stop: asyncio.Event | None = None, config: GridSimConfig | None = None
) -> None:
    """Serve the simulated area until ``stop`` is set or the task is cancelled (a simulator process:
    the standard address space comes from the user's cache once it is written)."""
    sim = GridSimServer(host, port, config or demo_config(), aspace_cache=cache_path())
    await sim.start()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        await sim.stop()
