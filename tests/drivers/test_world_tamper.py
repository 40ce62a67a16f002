"""The world's devices polled with the console's own configuration (resources/world.toml's generator): at full
midday output no device trips the tamper checks, and a tampered meter or a counter jump still does."""

from __future__ import annotations

import dataclasses

import pytest

from console.config import parse
from core.points import Quality
from core.sources import ModbusDeviceSpec
from core.tamper import TamperEvent, TamperKind
from drivers.modbus.hub import ModbusHub
from drivers.sim.world.clock import WorldClock, utc
from drivers.sim.world.console_config import default_console_config
from drivers.sim.world.modbus_face import WorldModbusServer
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.runner import WorldRunner
from drivers.sim.world.serve import DEFAULT_HOUSEHOLDS
from tests.conftest import free_port
from tests.drivers.test_opcua_hub import Recorder, wait_until

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(120)]

# The demo's devices that tripped the 25 kW default (the 07:25 demo run) and the scenario's tampered meter.
POLLED = ("background-pv", "prosumer-2-6-pv", "business-1-9-pv", "prosumer-2-6", "background", "household-1-1")


def rate_w(rec: Recorder, point: str) -> float:
    """The mean power (W) a counter's good samples imply, first to last."""
    good = [s for _, s in rec.samples if s.point == point and s.quality is Quality.GOOD]
    assert len(good) >= 2, point
    return (good[-1].value - good[0].value) * 3600 / (good[-1].source_ts - good[0].source_ts)


async def test_full_midday_output_is_plausible_and_a_tampered_meter_or_a_counter_jump_is_not() -> None:
    # 12:00 CEST at midsummer: PV near its peak; the meters' counters start at 50 kWh so that a meter
    # reporting 60 % goes backwards by 20 kWh
    world = World(WorldConfig(clock=WorldClock(start=utc(2026, 6, 22, 10))))
    world.import_wh[:] = 50_000.0
    world.export_wh[:] = 50_000.0
    world.step()  # the counters into the snapshot the faces serve
    runner = WorldRunner(world)
    port = free_port()
    face = WorldModbusServer(runner, port=port, households=DEFAULT_HOUSEHOLDS)
    by_name = {d.name: d for d in face.devices}
    settings = parse(default_console_config())
    # the meters' energy every second (their profile: a minute), as the inverters' is
    specs: list[ModbusDeviceSpec] = [dataclasses.replace(s, port=port, timeout_s=2.0, poll_overrides=(("energy", 1.0),))
                                     for s in settings.modbus if s.name in POLLED]
    assert sorted(s.name for s in specs) == sorted(POLLED)
    rated = {s.name: s.rated_power_w for s in specs}
    assert rated["background-pv"] == 338_500 and rated["prosumer-2-6"] == 138_000  # from the world, not 25 kW
    rec = Recorder()
    events: list[TamperEvent] = []
    hub = ModbusHub(specs, rec.on_samples, rec.on_status, on_event=events.append)
    await face.start()
    await runner.start()
    await hub.start()
    try:
        pv_wh = "background-pv.inverter_three_phase.WH"
        await wait_until(lambda: rec.count(pv_wh, Quality.GOOD) >= 8 and rec.count("prosumer-2-6.energy_export") >= 8,
                         60)
        # genuinely more than the old 25 kW default allowed, every second, and not one event
        assert rate_w(rec, pv_wh) > 150_000
        assert rate_w(rec, "prosumer-2-6-pv.inverter_three_phase.WH") > 50_000
        assert rate_w(rec, "background.energy_export") > 100_000
        assert events == [], [str(e) for e in events]

        # the scenario's tamper (resources/scenarios/demo.toml at 600 s): household 1-1 reports 60 %
        face.set_tamper(by_name["household-1-1"].device_id, 0.6)
        await wait_until(lambda: any(e.device == "household-1-1" for e in events), 10)
        (back, *_) = [e for e in events if e.device == "household-1-1"]
        assert back.kind is TamperKind.COUNTER_BACKWARDS and back.point == "energy_import"
        assert back.previous is not None and back.value == pytest.approx(0.6 * back.previous, rel=1e-3)

        # a counter that jumps by 10 kWh within a second: far more than 138 kW allow (46 Wh a second)
        connection = by_name["prosumer-2-6"].connection
        await runner.call(lambda w: w.import_wh.__setitem__(connection, w.import_wh[connection] + 10_000.0))
        await wait_until(lambda: any(e.device == "prosumer-2-6" for e in events), 10)
        (jump, *_) = [e for e in events if e.device == "prosumer-2-6"]
        assert jump.kind is TamperKind.IMPLAUSIBLE_JUMP and jump.point == "energy_import"
        assert "at 138 kW" in jump.detail
        assert {e.device for e in events} == {"household-1-1", "prosumer-2-6"}  # the PV plants stay plausible
    finally:
        await hub.stop()
        await runner.stop()
        await face.stop()
