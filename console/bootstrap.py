"""Composition root: the ONLY module that names concrete drivers.

Everything else in ``console`` talks to services and ports.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from console.config import Settings
from console.services.acquisition import AcquisitionService
from console.services.commands import CommandService
from console.services.historian import HistorianService
from core.grid import GridState
from core.points import Quality, Sample
from core.ports import DeviceWriter, SampleSink, SampleSource, StatusSink
from core.sources import SourceStatus
from drivers.modbus.hub import ModbusHub
from drivers.opcua import OpcUaHub

if TYPE_CHECKING:
    from console.store.historian import SqlHistorian


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Last value of one point after a probe."""

    point: str
    value: float | None
    unit: str
    quality: str
    source_ts: float | None


def build_acquisition(settings: Settings) -> AcquisitionService:
    """Process image and trend buffers for the configured points."""
    state = GridState(
        settings.points,
        frequency_bands=settings.frequency_bands,
        voltage_bands=settings.voltage_bands,
        rocof_window_s=settings.console.rocof_window_s,
    )
    return AcquisitionService(state, history_s=settings.console.trend_history_s,
                              rate_hz=settings.console.refresh_hz)


class FieldSources:
    """All field drivers as one :class:`core.ports.SampleSource`."""

    def __init__(self, parts: Sequence[SampleSource], writer: DeviceWriter | None = None) -> None:
        self.parts = list(parts)
        self.writer = writer  # the Modbus hub: devices that take setpoints

    async def start(self) -> None:
        for part in self.parts:
            await part.start()

    async def stop(self) -> None:
        for part in self.parts:
            await part.stop()

    def statuses(self) -> Sequence[SourceStatus]:
        return [st for part in self.parts for st in part.statuses()]


def build_field_sources(settings: Settings, acquisition: AcquisitionService) -> FieldSources:
    """The drivers for every configured source, feeding ``acquisition``."""
    parts: list[SampleSource] = []
    if settings.sources:
        parts.append(OpcUaHub(settings.sources, acquisition.on_samples, acquisition.on_status))
    modbus = None
    if settings.modbus:
        modbus = ModbusHub(settings.modbus, acquisition.on_samples, acquisition.on_status,
                           on_event=acquisition.on_event)
        parts.append(modbus)
    return FieldSources(parts, modbus)


def build_commands(sources: FieldSources, historian: HistorianService | None) -> CommandService | None:
    """Operator commands to the devices that take them (None without any)."""
    if sources.writer is None:
        return None
    return CommandService(sources.writer, historian.historian if historian is not None else None)


def historian_url(settings: Settings) -> str:
    """The configured database, or SQLite in the user's data directory."""
    from console.store.database import default_url

    return settings.historian.url or default_url()


def build_sql_historian(settings: Settings) -> SqlHistorian:
    """The historian on the configured database (not started)."""
    from console.store.database import default_data_dir
    from console.store.historian import SqlHistorian
    from console.store.retention import RetentionPolicy

    h = settings.historian
    url = historian_url(settings)
    if h.spool:
        spool = Path(h.spool)
    elif url.startswith("sqlite:///"):
        spool = Path(url.removeprefix("sqlite:///") + ".spool")
    else:
        spool = default_data_dir() / "historian.spool"
    return SqlHistorian(url, spool, settings.points, RetentionPolicy(h.raw_days, h.minute_days, h.hour_days),
                        batch_rows=h.batch_rows, flush_s=h.flush_s)


def build_historian(settings: Settings, acquisition: AcquisitionService) -> HistorianService | None:
    """Historian service fed by every acquisition batch (None when disabled)."""
    if not settings.historian.enabled:
        return None
    service = HistorianService(build_sql_historian(settings), dict(settings.deadbands),
                               heartbeat_s=settings.historian.heartbeat_s)
    acquisition.subscribe(service.on_samples)
    acquisition.subscribe_events(service.on_event)
    return service


def upgrade_database(url: str) -> tuple[str, str | None]:
    """Run migrations; returns (url shown without password, revision now current)."""
    from console.store.database import make_engine, upgrade

    engine = make_engine(url)
    try:
        return engine.url.render_as_string(hide_password=True), upgrade(engine)
    finally:
        engine.dispose()


def database_status(url: str) -> dict[str, object]:
    """Revision, head and sample count of a database."""
    from console.store.database import current_revision, head_revision, make_engine
    from console.store.samples import SampleStore

    engine = make_engine(url)
    try:
        current = current_revision(engine)
        count = SampleStore(engine).count() if current else 0
        return {"url": engine.url.render_as_string(hide_password=True), "revision": current,
                "head": head_revision(), "samples": count}
    finally:
        engine.dispose()


def export_samples(url: str, point: str, start: float, end: float, out: TextIO) -> int:
    """Write raw samples of ``point`` in [start, end) as CSV; returns the row count."""
    import csv
    from datetime import UTC, datetime

    from console.store.database import make_engine
    from console.store.samples import SampleStore

    engine = make_engine(url)
    try:
        writer = csv.writer(out)
        writer.writerow(["time_utc", "point", "value", "quality"])
        n = 0
        for ts_us, value, quality in SampleStore(engine).export(point, round(start * 1e6), round(end * 1e6)):
            stamp = datetime.fromtimestamp(ts_us / 1e6, UTC).isoformat(timespec="microseconds")
            writer.writerow([stamp, point, "" if value is None else repr(value), quality.value])
            n += 1
        return n
    finally:
        engine.dispose()


async def _listen[SourceT: SampleSource](
    make: Callable[[SampleSink, StatusSink], SourceT], seconds: float
) -> tuple[dict[str, Sample], list[SourceStatus], SourceT]:
    """Run a source for ``seconds``; the last sample of every point and the last status of every source."""
    latest: dict[str, Sample] = {}
    statuses: dict[str, SourceStatus] = {}

    def keep(batch: Sequence[Sample]) -> None:
        for s in batch:
            latest[s.point] = s

    source = make(keep, lambda st: statuses.__setitem__(st.source, st))
    await source.start()
    try:
        await asyncio.sleep(seconds)
        final = dict(latest)  # before stop() marks every point stale
    finally:
        await source.stop()
    return final, list(statuses.values()), source


async def probe_opcua(settings: Settings, seconds: float) -> tuple[list[ProbeResult], list[SourceStatus]]:
    """Connect to every source for ``seconds`` and return each point's last sample."""
    final, statuses, _ = await _listen(lambda keep, status: OpcUaHub(settings.sources, keep, status), seconds)
    results = []
    for p in settings.points:
        s = final.get(p.id)
        if s is None:
            results.append(ProbeResult(p.id, None, p.unit, Quality.COMM_FAILURE.value, None))
        else:
            value = s.value if math.isfinite(s.value) else None
            results.append(ProbeResult(p.id, value, s.unit, s.quality.value, s.source_ts))
    return results, statuses


async def probe_modbus(settings: Settings, seconds: float) -> tuple[list[dict[str, object]], list[str]]:
    """Poll every Modbus device for ``seconds``; one row per device point, plus problems."""
    final, status_list, hub = await _listen(lambda keep, status: ModbusHub(settings.modbus, keep, status), seconds)
    statuses = {st.source: st for st in status_list}
    rows: list[dict[str, object]] = []
    problems = list(hub.errors)
    for session in hub.sessions:
        name = session.spec.name
        st = statuses.get(name)
        if st is not None and st.last_error and st.last_error not in problems:
            problems.append(f"device {name!r}: {st.last_error}")
        for point_id, text in sorted(session.identity.items()):
            rows.append({"device": name, "point": point_id, "value": text, "unit": "", "quality": "good"})
        for p in session.profile.points if session.profile else ():
            sample = final.get(f"{name}.{p.id}")
            if p.id in session.identity or (sample is None and p.dtype.value == "string"):
                continue
            value = sample.value if sample is not None and math.isfinite(sample.value) else None
            quality = sample.quality.value if sample is not None else Quality.COMM_FAILURE.value
            rows.append({"device": name, "point": p.id, "value": value, "unit": p.unit, "quality": quality})
    return rows, problems


async def probe_sunspec(host: str, port: int, device_id: int) -> list[dict[str, object]]:
    """The SunSpec models a device announces."""
    from pymodbus.client import AsyncModbusTcpClient

    from drivers.modbus.sunspec import discover, model_definition

    client = AsyncModbusTcpClient(host, port=port, timeout=2.0, retries=0)
    if not await client.connect():
        raise ConnectionError(f"cannot connect to {host}:{port}")
    try:
        async def read(address: int, count: int) -> list[int]:
            rr = await client.read_holding_registers(address, count=count, device_id=device_id)
            if rr.isError():
                raise OSError(f"Modbus exception {getattr(rr, 'exception_code', '?')} at {address}")
            return list(rr.registers)

        headers = await discover(read)
    finally:
        client.close()
    out: list[dict[str, object]] = []
    for h in headers:
        try:
            name = str(model_definition(h.model_id)["group"].get("label") or "")
        except Exception:
            name = "(not defined in pysunspec2)"
        out.append({"model": h.model_id, "address": h.start, "length": h.length, "name": name})
    return out


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

