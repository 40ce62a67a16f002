"""The field-devices tab against a real simulated house (meter, PV, battery): participant totals, the device
detail, and a battery setpoint sent through the audited command service and obeyed by the battery."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from console.bootstrap import Application, build
from console.config import default_config_path, load
from console.ui.devices_view import DevicesView
from core.sources import ModbusDeviceSpec
from drivers.modbus.profile import PROFILE_DIR
from drivers.sim.devices import DeviceFleet, FleetDevice
from tests.conftest import free_port, until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def application(specs: list[ModbusDeviceSpec]) -> Application:
    """The composition root with these Modbus devices only, no historian."""
    settings = load(default_config_path())
    return build(dataclasses.replace(settings, sources=(), modbus=tuple(specs),
                                     historian=dataclasses.replace(settings.historian, enabled=False)))



async def test_house_totals_detail_and_battery_setpoint(qapp) -> None:  # type: ignore[no-untyped-def]
    layout = [FleetDevice(1, "meter", 1), FleetDevice(101, "pv", 1), FleetDevice(151, "battery", 1)]
    fleet = DeviceFleet(port=free_port(), layout=layout)
    house = fleet.houses[1]
    house.steady = True  # the meter, the inverter and the battery see the same house when each is read
    house.start_hour = 12.0 - time.monotonic() / 3600  # noon: a clear sky gives the PV its peak
    house.pv_peak_w, house.load_w = 3000.0, 2000.0  # at noon the load is 0.5501 of the day's mean: 1,100 W
    await fleet.start()
    specs = [ModbusDeviceSpec(name, fleet.host, fleet.port, dev_id, profile, timeout_s=0.5,
                              poll_overrides=(("power", 0.2), ("fast", 0.2)), participant="house-01", asset=asset)
             for name, dev_id, profile, asset in (("h1", 1, "eastron_sdm630.toml", "meter"),
                                                  ("h1-pv", 101, "sunspec", "pv"),
                                                  ("h1-bat", 151, "sunspec", "battery"))]
    app = application(specs)
    acq = app.acquisition
    assert app.commands is not None  # the Modbus devices take setpoints
    view = DevicesView(specs, app.commands)
    await app.start()
    try:
        await until(lambda: all(acq.snapshot().reading(p) for p in ("h1.power", "h1-pv.inverter_three_phase.W",
                                                                     "h1-bat.battery.W", "h1-bat.battery.SoC",
                                                                     "h1-bat.storage_basic.WChaMax")))
        view.refresh(acq.snapshot(), acq.statuses())  # the rating (WChaMax 5,000 W) is the snapshot's
        view.send_battery_setpoint("h1-bat", "charge", 40)  # charge at 40 % of 5 kW = 2.0 kW
        await until(lambda: not view.tasks)
        assert view.command_result.text().endswith("h1-bat (battery): charging at 2.0 kW (40 % of 5 kW) — "
                                                   "confirmed by read-back"), view.command_result.text()
        mark = time.time()

        def fresh(pid: str) -> bool:
            view.record_totals(acq.snapshot())  # as the window does at 4 Hz: the view sees every sample
            r = acq.snapshot().reading(pid)
            return r is not None and r.source_ts > mark + 0.3  # read after the battery took the setpoint

        await until(lambda: all(fresh(p) for p in ("h1.power", "h1-pv.inverter_three_phase.W", "h1-bat.battery.W")))
        view.refresh(acq.snapshot(), acq.statuses())
        (house_text, everyone_text) = view.participants.row_texts()
        assert house_text[0] == "house-01" and everyone_text[0] == "All participants"
        (row,), total = view.balances(acq.snapshot())
        # By hand: PV 3.0 kW, the battery takes 2.0 kW, the house draws 1.1 kW, so the meter imports 0.1 kW;
        # consumption 0.1 + 3.0 − 2.0 = 1.1 kW, of which 3.0 − 2.0 = 1.0 kW is its own: 1.0 / 1.1 = 91 %.
        assert row.battery_w == 2000.0
        assert row.pv_w == pytest.approx(3000.0, abs=5.0)
        assert row.grid_w == pytest.approx(100.0, abs=10.0)
        assert row.consumption_w == pytest.approx(1100.0, abs=10.0)
        assert row.self_supplied == pytest.approx(1000 / 1100, abs=0.01)
        assert row.consumption_w == pytest.approx(house.consumption_w, abs=5.0)  # what the simulator drew
        battery = house.battery
        assert battery is not None
        assert row.soc_pct == pytest.approx(100 * battery.soc_wh / battery.capacity_wh, abs=0.6)
        assert total.consumption_w == row.consumption_w and total.self_supplied == row.self_supplied

        view.table.selectRow([r[0] for r in view.table.row_texts()].index("h1-bat"))
        view.refresh(acq.snapshot(), acq.statuses())
        details = {r[0]: r for r in view.points.row_texts()}
        assert "battery.SoC" in details and "storage_basic.StorCtl_Mod" in details
        assert details["battery.SoC"][3] == "r" and details["storage_basic.InWRte"][3] == "rw"
        assert view.battery_button.isEnabled() and not view.limit_button.isEnabled()

        view.send_battery_setpoint("h1-bat", "discharge", 40)  # discharge at 40 % of 5 kW
        await until(lambda: not view.tasks)
        assert "discharging at 2.0 kW (40 % of 5 kW) — confirmed by read-back" in view.command_result.text()
        mark = time.time()
        await until(lambda: (r := acq.snapshot().reading("h1-bat.battery.W")) is not None and r.source_ts > mark
                    and r.value == pytest.approx(-2000, abs=1))
        view.points.selectRow([r[0] for r in view.points.row_texts()].index("battery.SoC"))
        soc = acq.snapshot().reading("h1-bat.battery.SoC")
        assert soc is not None and view.selected_register() == ("battery.SoC", soc.value)
        assert not view.write_button.isEnabled()  # the profile says read-only
        view.send_register("h1-bat", "battery.SoC", 80)  # and the device session refuses it anyway
        await until(lambda: not view.tasks)
        assert "refused, nothing changed" in view.command_result.text()
        assert "read-only register" in view.command_result.text()
        view.points.selectRow([r[0] for r in view.points.row_texts()].index("storage_basic.InWRte"))
        assert view.write_button.isEnabled() and view.selected_register() == ("storage_basic.InWRte", 40.0)
        view.send_register("h1-bat", "storage_basic.InWRte", 30)
        await until(lambda: not view.tasks)
        assert view.command_result.text().endswith("storage_basic.InWRte = 30 % — confirmed by read-back")
        view.send_battery_setpoint("h1-bat", "self-consumption")
        await until(lambda: not view.tasks)
        assert view.command_result.text().endswith("in self-consumption — confirmed by read-back")
        await until(lambda: battery.mode == 0)
    finally:
        await app.stop()
        await fleet.stop()


async def test_a_meter_whose_power_point_has_another_name_still_shows_its_power(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A vendor calls the SDM630's total power "P_total": the profile's role is all the console needs."""
    shipped = (PROFILE_DIR / "eastron_sdm630.toml").read_text(encoding="utf-8")
    assert 'id = "power"' in shipped
    profile = tmp_path / "vendor_meter.toml"
    profile.write_text(shipped.replace('id = "power"', 'id = "P_total"'), encoding="utf-8")
    fleet = DeviceFleet(port=free_port(), layout=[FleetDevice(1, "meter", 1)])
    house = fleet.houses[1]
    house.steady = True
    house.start_hour = 12.0 - time.monotonic() / 3600
    house.load_w = 2000.0  # no PV, no battery: at noon the meter imports 0.5501 × 2,000 W = 1,100 W
    await fleet.start()
    spec = ModbusDeviceSpec("m", fleet.host, fleet.port, 1, str(profile), timeout_s=0.5,
                            poll_overrides=(("power", 0.2),), participant="house-01")
    app = application([spec])
    acq = app.acquisition
    view = DevicesView([spec])
    await app.start()
    try:
        await until(lambda: acq.snapshot().reading("m.P_total") is not None)
        view.refresh(acq.snapshot(), acq.statuses())
        (device,) = view.table.row_texts()
        assert device[4] == "1.10"  # kW
        (house_text, everyone) = view.participants.row_texts()
        assert house_text[1:3] == ["1.10", "1.10"] and house_text[7] == "0"  # imports all it uses
        assert everyone[1:3] == ["1.10", "1.10"]
    finally:
        await app.stop()
        await fleet.stop()
