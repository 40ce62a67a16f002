"""A real OPC-UA server whose values do not change: report by exception sends them once,
and the console still shows them as live: ROCOF 0.000, readouts not stale, units as configured."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from console.bootstrap import build_acquisition, build_field_sources
from console.config import parse
from console.ui.grid_view import GridView
from core.points import Sample
from tests.conftest import ServerProcess, until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

# The plant layout of tests/support/opcua_server.py rewrites constant values:
# 49,987 mHz, 20.6 kV and 1,234.5 kW.
PLANT = """
[[sources]]
name = "plant7"
endpoint = "{endpoint}"
publishing_interval_ms = 50
sampling_interval_ms = 50
  [[sources.points]]
  id = "plant7.f"
  node = "ns=3;i=1001"       # published in mHz
  unit = "Hz"
  kind = "frequency"
  scale = 0.001
  [[sources.points]]
  id = "plant7.load"
  node = "ns=3;i=1102"       # published in kW
  unit = "kW"
  kind = "demand"
  [[sources.points]]
  id = "plant7.bay_a.u"
  node = "ns=3;i=1101"       # published in kV
  unit = "kV"
  kind = "voltage"
  nominal = 20
"""


async def test_a_steady_frequency_from_a_healthy_server_reads_rocof_zero(  # type: ignore[no-untyped-def]
        plant_server: ServerProcess, qtbot) -> None:
    settings = parse(PLANT.format(endpoint=plant_server.endpoint), Path("plant.toml"))
    acq = build_acquisition(settings)
    frequency_samples: list[Sample] = []
    acq.subscribe(lambda batch: frequency_samples.extend(s for s in batch if s.point == "plant7.f"))
    view = GridView(acq, settings.frequency_bands, settings.voltage_bands)
    qtbot.addWidget(view)
    sources = build_field_sources(settings, acq)
    await sources.start()
    try:
        await until(lambda: all(acq.snapshot().reading(p) for p in ("plant7.f", "plant7.load", "plant7.bay_a.u")))
        await asyncio.sleep(1.5)  # three ROCOF windows with nothing new from the server
        view.refresh(acq.snapshot())
        received = len(frequency_samples)
    finally:
        await sources.stop()
    # The server rewrote the same value 20 times a second; report by exception sent it once.
    assert received == 1
    assert (view.rocof_readout.text, view.rocof_readout.state, view.rocof_readout.tag) == ("0.000", "normal", "")
    assert (view.freq_readout.text, view.freq_readout.state) == ("49.987", "normal")
    assert (view.demand_readout.text, view.demand_readout.unit, view.demand_readout.state) == (
        "1,234.5", "kW", "normal")
    bus = view.bus_readouts["plant7.bay_a.u"]
    assert (bus.text, bus.unit, bus.state) == ("20.60", "kV", "normal")
    _, y = view.voltage_trend.curve_data("plant7.bay_a.u")
    assert y[-1] == pytest.approx(103.0)  # 20.6 kV of 20 kV, held to now
