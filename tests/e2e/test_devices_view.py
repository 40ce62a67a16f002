"""The field-devices tab against a real simulated house (meter, PV, battery): participant totals, the device
detail, and a battery setpoint sent through the audited command service and obeyed by the battery."""

from __future__ import annotations

import time

import pytest

from console.bootstrap import build_acquisition
from console.config import default_config_path, load
from console.services.commands import CommandService
from console.ui.devices_view import DevicesView
from core.sources import ModbusDeviceSpec
from drivers.modbus.hub import ModbusHub
from drivers.sim.devices import DeviceFleet, FleetDevice
from tests.conftest import free_port, until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]



async def test_house_totals_detail_and_battery_setpoint(qapp) -> None:  # type: ignore[no-untyped-def]
    layout = [FleetDevice(1, "meter", 1), FleetDevice(101, "pv", 1), FleetDevice(151, "battery", 1)]
    fleet = DeviceFleet(port=free_port(), layout=layout)
    await fleet.start()
    specs = [ModbusDeviceSpec(name, fleet.host, fleet.port, dev_id, profile, timeout_s=0.5,
                              poll_overrides=(("power", 0.2), ("fast", 0.2)), participant="house-01", asset=asset)
             for name, dev_id, profile, asset in (("h1", 1, "eastron_sdm630.toml", "meter"),
                                                  ("h1-pv", 101, "sunspec", "pv"),
                                                  ("h1-bat", 151, "sunspec", "battery"))]
    acq = build_acquisition(load(default_config_path()))
    hub = ModbusHub(specs, acq.on_samples, acq.on_status)
    view = DevicesView(specs, CommandService(hub, None, user="test"))
    await hub.start()
    try:
        await until(lambda: all(acq.snapshot().reading(p) for p in ("h1.power", "h1-pv.inverter_three_phase.W",
                                                                     "h1-bat.battery.W", "h1-bat.battery.SoC")))
        view.refresh(acq.snapshot(), acq.statuses())
        (house, everyone) = view.participants.row_texts()
        assert house[0] == "house-01" and everyone[0] == "All participants"
        (row,) = view.participant_rows(acq.snapshot())
        # The meter sees consumption less PV plus battery charging: consumption adds them back.
        assert row.consumption_w == pytest.approx(row.grid_w + row.pv_w - row.battery_w)
        assert 0 < row.soc_pct <= 100
        view.table.selectRow([r[0] for r in view.table.row_texts()].index("h1-bat"))
        view.refresh(acq.snapshot(), acq.statuses())
        details = {r[0]: r for r in view.points.row_texts()}
        assert "battery.SoC" in details and "storage_basic.StorCtl_Mod" in details
        assert view.battery_button.isEnabled() and not view.limit_button.isEnabled()

        view.send_battery_setpoint("h1-bat", -40)  # discharge at 40 % of 5 kW
        await until(lambda: not view.tasks)
        assert view.command_result.text().startswith("h1-bat: confirmed"), view.command_result.text()
        mark = time.time()
        await until(lambda: (r := acq.snapshot().reading("h1-bat.battery.W")) is not None and r.source_ts > mark
                    and r.value == pytest.approx(-2000, abs=1))
        soc_row = [r[0] for r in view.points.row_texts()].index("battery.SoC")
        view.points.selectRow(soc_row)
        assert view.selected_register() is not None and view.selected_register()[0] == "battery.SoC"  # type: ignore[index]
        assert view.write_button.isEnabled()
        view.send_register("h1-bat", "battery.SoC", 80)  # read-only: refused, nothing written
        await until(lambda: not view.tasks)
        assert "rejected" in view.command_result.text() and "read-only register" in view.command_result.text()
        view.send_register("h1-bat", "storage_basic.InWRte", 30)
        await until(lambda: not view.tasks)
        assert view.command_result.text().startswith("h1-bat: confirmed"), view.command_result.text()
        view.send_battery_setpoint("h1-bat", 0)  # back to self-consumption
        await until(lambda: not view.tasks)
        assert view.command_result.text().startswith("h1-bat: confirmed"), view.command_result.text()
        battery = fleet.houses[1].battery
        assert battery is not None
        await until(lambda: battery.mode == 0)
    finally:
        await hub.stop()
        await fleet.stop()
