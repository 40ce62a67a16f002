"""Composition root: the ONLY module that names concrete drivers.

Everything else in ``console`` talks to services and ports.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from console.config import Settings
from console.services.acquisition import AcquisitionService
from core.grid import GridState
from core.points import Quality, Sample
from core.ports import SampleSource
from core.sources import SourceStatus
from drivers.opcua import OpcUaHub


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


def build_field_sources(settings: Settings, acquisition: AcquisitionService) -> SampleSource:
    """The drivers for every configured source, feeding ``acquisition``."""
    return OpcUaHub(settings.sources, acquisition.on_samples, acquisition.on_status)


async def probe_opcua(settings: Settings, seconds: float) -> tuple[list[ProbeResult], list[SourceStatus]]:
    """Connect to every source for ``seconds`` and return each point's last sample."""
    latest: dict[str, Sample] = {}

    def keep(batch: object) -> None:
        for s in batch:  # type: ignore[attr-defined]
            latest[s.point] = s

    statuses: dict[str, SourceStatus] = {}
    hub = OpcUaHub(settings.sources, keep, lambda st: statuses.__setitem__(st.source, st))
    await hub.start()
    try:
        await asyncio.sleep(seconds)
        final = dict(latest)  # before stop() marks every point stale
    finally:
        await hub.stop()
    results = []
    for p in settings.points:
        s = final.get(p.id)
        if s is None:
            results.append(ProbeResult(p.id, None, p.unit, Quality.COMM_FAILURE.value, None))
        else:
            value = s.value if math.isfinite(s.value) else None
            results.append(ProbeResult(p.id, value, s.unit, s.quality.value, s.source_ts))
    return results, list(statuses.values())


async def run_grid_simulator(host: str, port: int, trips: bool = True) -> None:
    """Serve the simulated grid area over OPC-UA until cancelled."""
    from drivers.sim.grid.model import GridSimConfig
    from drivers.sim.grid.server import demo_config
    from drivers.sim.grid.server import run_grid_simulator as serve

    config = demo_config() if trips else GridSimConfig()
    await serve(host, port, None, config)

