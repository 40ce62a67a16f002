"""Modbus hub against a real pymodbus device fleet on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.commands import WriteError
from core.points import PointDef, PointKind, Quality
from core.sources import ConnectionState, ModbusDeviceSpec
from drivers.modbus.hub import ModbusHub
from drivers.sim.devices import DeviceFleet, FleetDevice, SunSpecInverterMap
from tests.conftest import free_port
from tests.drivers.test_opcua_hub import Recorder, wait_until

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(60)]


@pytest.fixture
async def fleet() -> AsyncIterator[DeviceFleet]:
    f = DeviceFleet(count=3, port=free_port())  # ids 1, 2: SDM630 meters; 3: SunSpec inverter
    await f.start()
    yield f
    await f.stop()


def meter(f: DeviceFleet, name: str, device_id: int, profile: str = "eastron_sdm630.toml") -> ModbusDeviceSpec:
    return ModbusDeviceSpec(name, f.host, f.port, device_id, profile, timeout_s=0.3, reconnect_min_s=0.2,
                            reconnect_max_s=1.0, poll_overrides=(("power", 0.2), ("energy", 0.5)))


async def test_sdm630_floats_decode_with_units_and_scale(fleet: DeviceFleet) -> None:
    rec = Recorder()
    hub = ModbusHub([meter(fleet, "m1", 1)], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: all(rec.latest(f"m1.{p}") for p in ("voltage_l1", "frequency", "energy_import",
                                                                      "serial")), 10)
        v = rec.latest("m1.voltage_l1")
        assert v is not None and v.unit == "V" and 220 < v.value < 240 and v.quality is Quality.GOOD
        hz = rec.latest("m1.frequency")
        assert hz is not None and 49.9 < hz.value < 50.1
        serial = rec.latest("m1.serial")
        assert serial is not None and serial.value == 10_000_001
        energy = rec.latest("m1.energy_import")
        assert energy is not None and energy.unit == "Wh"
        await wait_until(lambda: rec.status("m1").reads_ok > 0, 3)
        status = rec.status("m1")
        assert status.state is ConnectionState.CONNECTED and status.latency_ms is not None
    finally:
        await hub.stop()


async def test_sunspec_discovery_and_scale_factors(fleet: DeviceFleet) -> None:
    rec = Recorder()
    spec = ModbusDeviceSpec("inv3", fleet.host, fleet.port, 3, "sunspec", timeout_s=0.5,
                            poll_overrides=(("fast", 0.2),))
    hub = ModbusHub([spec], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: rec.latest("inv3.inverter_three_phase.Hz") is not None, 10)
        session = hub.sessions[0]
        assert session.profile is not None and session.profile.kind == "inverter"
        hz = rec.latest("inv3.inverter_three_phase.Hz")
        assert hz is not None and hz.value == pytest.approx(50.0) and hz.unit == "Hz"  # 5000 × 10^-2
        v = rec.latest("inv3.inverter_three_phase.PhVphA")
        assert v is not None and v.value == pytest.approx(230.1)  # 2301 × 10^-1
        # Not implemented points (sentinel 0x8000 / 0xFFFF) are "no value", not a number.
        va = rec.latest("inv3.inverter_three_phase.VA")
        assert va is not None and va.quality is Quality.BAD
        await wait_until(lambda: "common.Mn" in session.identity, 5)
        assert session.identity["common.Mn"] == "EnergyNet" and session.identity["common.SN"] == "INV10000003"
    finally:
        await hub.stop()


async def test_silent_device_goes_stale_within_one_interval_while_others_keep_cycling(fleet: DeviceFleet) -> None:
    rec = Recorder()
    hub = ModbusHub([meter(fleet, "m1", 1), meter(fleet, "m2", 2)], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: rec.count("m1.power") >= 3 and rec.count("m2.power") >= 3, 10)
        fleet.set_fault(2, "no_answer")
        silenced = time.monotonic()
        took = await wait_until(lambda: rec.count("m2.power", Quality.STALE, silenced) > 0, 1.0)
        assert took <= 0.2 + 0.3 + 0.3  # next poll (0.2 s) + timeout (0.3 s), with margin
        assert "no answer" in (rec.status("m2").last_error or "")
        m2 = [s for _, s in rec.samples if s.point == "m2.power"]
        first_mark = next(i for i, s in enumerate(m2) if s.quality is Quality.STALE)
        # The mark keeps the time of the value on screen (as OPC-UA's), so its age is that value's age.
        assert m2[first_mark].source_ts == m2[first_mark - 1].source_ts < m2[first_mark].recv_ts
        mark = time.monotonic()
        await asyncio.sleep(1.0)
        assert rec.count("m1.power", since=mark) >= 4  # m1 kept its 0.2 s cycle
        fleet.set_fault(2, None)
        back = time.monotonic()
        await wait_until(lambda: rec.count("m2.power", since=back) > 0, 10)
    finally:
        await hub.stop()


async def test_exception_code_names_device_and_registers(fleet: DeviceFleet) -> None:
    rec = Recorder()
    hub = ModbusHub([meter(fleet, "m1", 1)], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: rec.count("m1.power") >= 1, 10)
        fleet.set_fault(1, "exception")
        await wait_until(lambda: rec.status("m1").state is ConnectionState.DEGRADED, 5)
        message = rec.status("m1").last_error or ""
        assert "device 'm1' (id 1" in message and "Modbus exception 4 (device failure)" in message
        # Every read of the SDM630 fails now; the last error names one of its blocks exactly
        # (power: input 0–11, 52–53, 70–71; energy: input 72–75; identity: holding 64512–64513).
        assert re.search(r"for (input registers (0–11|52–53|70–71|72–75)|holding registers 64512–64513)$", message), \
            message
        bad = rec.latest("m1.voltage_l1")
        assert bad is not None and bad.quality is Quality.BAD
    finally:
        await hub.stop()


async def test_malformed_profile_leaves_that_device_out(fleet: DeviceFleet, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('[profile]\nname = "x"\n[[points]]\nid = "a"\naddress = 1\ntype = "float33"\n')
    rec = Recorder()
    hub = ModbusHub([meter(fleet, "bad", 1, profile=str(broken)), meter(fleet, "m2", 2)], rec.on_samples,
                    rec.on_status)
    await hub.start()
    try:
        assert len(hub.errors) == 1
        assert str(broken) in hub.errors[0] and "points[0 'a'].type: 'float33' is not a data type" in hub.errors[0]
        assert rec.status("bad").state is ConnectionState.STOPPED
        await wait_until(lambda: rec.count("m2.power") >= 2, 10)
    finally:
        await hub.stop()


async def test_counter_reset_is_detected_and_only_that_reading_flagged(fleet: DeviceFleet) -> None:
    fleet.houses[1].imported_wh = 50_000.0
    fleet.houses[1].pv_peak_w = 0.0  # a pure consumer: the import counter only grows
    rec = Recorder()
    events = []
    hub = ModbusHub([meter(fleet, "m1", 1)], rec.on_samples, rec.on_status, on_event=events.append)
    await hub.start()
    try:
        await wait_until(lambda: rec.count("m1.energy_import") >= 2, 10)
        assert events == []
        fleet.set_fault(1, "counter_reset")
        await wait_until(lambda: bool(events), 5)
        (event,) = events
        assert event.kind.name == "COUNTER_RESET" and event.device == "m1" and event.point == "energy_import"
        flagged = rec.latest("m1.energy_import")
        assert flagged is not None and flagged.quality is Quality.UNCERTAIN  # not settleable
        same_poll = [s for _, s in rec.samples if s.point == "m1.energy_export" and s.source_ts == flagged.source_ts]
        assert same_poll and same_poll[0].quality is Quality.GOOD  # only that reading
        fleet.set_fault(1, None)
        mark = time.monotonic()
        await wait_until(lambda: rec.count("m1.energy_import", Quality.GOOD, mark) >= 1, 5)
    finally:
        await hub.stop()


async def test_power_limit_write_is_range_checked_read_back_and_obeyed(fleet: DeviceFleet) -> None:
    from core.commands import WriteError

    fleet.houses[3].pv_peak_w = 8000.0
    rec = Recorder()
    spec = ModbusDeviceSpec("inv3", fleet.host, fleet.port, 3, "sunspec", timeout_s=0.5,
                            poll_overrides=(("fast", 0.2),))
    hub = ModbusHub([spec, meter(fleet, "m1", 1)], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: rec.latest("inv3.controls.WMaxLimPct") is not None
                         and rec.latest("m1.power") is not None, 10)
        with pytest.raises(WriteError, match="outside the allowed range 0–100"):
            await hub.write("inv3", "controls.WMaxLimPct", 150)
        with pytest.raises(WriteError, match="read-only register"):
            await hub.write("inv3", "inverter_three_phase.W", 10)
        with pytest.raises(WriteError, match="read-only register"):
            await hub.write("m1", "power", 0)
        with pytest.raises(WriteError, match="no Modbus device named 'nope'"):
            await hub.write("nope", "x", 1)
        enable = await hub.write("inv3", "controls.WMaxLim_Ena", 1)
        assert enable.confirmed
        result = await hub.write("inv3", "controls.WMaxLimPct", 40)
        assert result.confirmed and result.old == 100 and result.read_back == 40
        assert "confirmed by read-back" in result.message
        mark = time.monotonic()
        await wait_until(lambda: rec.count("inv3.inverter_three_phase.W", since=mark) >= 2, 5)
        assert (rec.latest("inv3.inverter_three_phase.W") or pytest.fail()).value <= 2000  # 40 % of 5 kW
    finally:
        await hub.stop()


async def test_garbage_registers_never_pass_as_values_and_others_are_unaffected(fleet: DeviceFleet) -> None:
    rec = Recorder()
    hub = ModbusHub([meter(fleet, "m1", 1), meter(fleet, "m2", 2)], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: rec.count("m1.power") >= 2 and rec.count("m2.power") >= 2, 10)
        fleet.set_fault(1, "garbage")
        mark = time.monotonic()
        await wait_until(lambda: "implausible" in (rec.status("m1").last_error or ""), 5)
        assert rec.status("m1").state is ConnectionState.DEGRADED
        await asyncio.sleep(1.0)
        limits = {"voltage_l1": (0, 500), "current_l1": (0, 200), "frequency": (45, 65), "power": (-1.5e5, 1.5e5)}
        for point, (lo, hi) in limits.items():
            after = [s for t, s in rec.samples if s.point == f"m1.{point}" and t > mark]
            assert after, point
            assert all(lo <= s.value <= hi for s in after if s.quality is Quality.GOOD), point
            assert any(s.quality is Quality.BAD for s in after), point  # random words are mostly implausible
        m2 = [s for t, s in rec.samples if s.point.startswith("m2.") and t > mark]
        assert m2 and all(s.quality is Quality.GOOD for s in m2 if s.point != "m2.serial")
        assert rec.status("m2").state is ConnectionState.CONNECTED
    finally:
        await hub.stop()


async def test_battery_is_discovered_and_follows_a_verified_setpoint() -> None:
    layout = [FleetDevice(1, "meter", 1), FleetDevice(151, "battery", 1)]
    fleet = DeviceFleet(port=free_port(), layout=layout)
    fleet.houses[1].pv_peak_w = 0.0
    await fleet.start()
    rec = Recorder()
    spec = ModbusDeviceSpec("bat", fleet.host, fleet.port, 151, "sunspec", timeout_s=0.5,
                            poll_overrides=(("fast", 0.2),))
    hub = ModbusHub([spec], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: rec.latest("bat.storage_basic.InOutWRte_SF") is not None
                         and rec.latest("bat.battery.SoC") is not None, 10)
        assert hub.sessions[0].profile is not None and hub.sessions[0].profile.kind == "battery"
        soc = rec.latest("bat.battery.SoC")
        assert soc is not None and soc.unit.startswith("%") and 0 < soc.value <= 100
        rate = await hub.write("bat", "storage_basic.InWRte", 60)  # 60 % of 5 kW
        assert rate.confirmed, rate.message
        mode = await hub.write("bat", "storage_basic.StorCtl_Mod", 1)  # charge
        assert mode.confirmed, mode.message
        mark = time.monotonic()
        await wait_until(lambda: any(s.point == "bat.battery.W" and t > mark and s.value == pytest.approx(3000, abs=1)
                                     for t, s in rec.samples), 5)
        with pytest.raises(WriteError, match="outside the allowed range"):
            await hub.write("bat", "storage_basic.InWRte", 150)
        with pytest.raises(WriteError, match="read-only"):
            await hub.write("bat", "battery.SoC", 50)
    finally:
        await hub.stop()
        await fleet.stop()


async def test_wind_turbine_reports_through_a_sunspec_inverter() -> None:
    fleet = DeviceFleet(port=free_port(), layout=[FleetDevice(1, "meter", 1), FleetDevice(201, "wind", 1)])
    await fleet.start()
    rec = Recorder()
    hub = ModbusHub([ModbusDeviceSpec("wind", fleet.host, fleet.port, 201, "sunspec", timeout_s=0.5)],
                    rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: rec.latest("wind.inverter_three_phase.W") is not None, 10)
        await wait_until(lambda: "common.Md" in hub.sessions[0].identity, 5)
        assert hub.sessions[0].identity["common.Md"] == "SimWind 50k"
        w = rec.latest("wind.inverter_three_phase.W")
        assert w is not None and 0 <= w.value <= 50_000
    finally:
        await hub.stop()
        await fleet.stop()


@pytest.mark.parametrize(("kind", "point", "spec_changes", "tamper"), [
    ("COUNTER_BACKWARDS", "energy_import", {}, lambda h: setattr(h, "imported_wh", h.imported_wh - 10_000)),
    ("IMPLAUSIBLE_JUMP", "energy_import", {"rated_power_w": 5_000.0},
     lambda h: setattr(h, "imported_wh", h.imported_wh + 1_000_000)),
    ("SERIAL_CHANGED", "serial", {}, lambda h: setattr(h, "serial", 99_999_999)),
    # 12 kW of PV at noon exports several kW through a consumer-only meter, but below its 25 kW rating: a
    # 60 kW array also made the export counter jump implausibly (a second, genuine finding) now that the
    # fleet integrates each 1 s step's power into the counters.
    ("REVERSED_FLOW", "power", {"consumer_only": True}, lambda h: setattr(h, "pv_peak_w", 12_000.0)),
])
async def test_each_tamper_case_on_a_real_meter_flags_only_that_reading(
        fleet: DeviceFleet, kind: str, point: str, spec_changes: dict[str, object], tamper) -> None:  # type: ignore[no-untyped-def]
    house = fleet.houses[1]
    house.imported_wh = 50_000.0
    house.pv_peak_w = 0.0
    house.start_hour = (12.0 - time.monotonic() / 3600) % 24  # simulated noon: the sun shines
    rec = Recorder()
    events: list[object] = []
    spec = dataclasses.replace(meter(fleet, "m1", 1), poll_overrides=(("power", 0.2), ("energy", 0.3),
                                                                       ("identity", 0.3)), **spec_changes)
    hub = ModbusHub([spec], rec.on_samples, rec.on_status, on_event=events.append)
    await hub.start()
    try:
        await wait_until(lambda: rec.count("m1.energy_import") >= 2 and rec.count("m1.serial") >= 2, 10)
        assert events == []
        tamper(house)
        await wait_until(lambda: any(e.kind.name == kind for e in events), 5)  # type: ignore[attr-defined]
        event = next(e for e in events if e.kind.name == kind)  # type: ignore[attr-defined]
        assert event.device == "m1" and event.point == point  # type: ignore[attr-defined]
        flagged = next(s for _, s in reversed(rec.samples) if s.point == f"m1.{point}"
                       and s.quality is Quality.UNCERTAIN)
        # Readings of the same moment (the same poll, or the neighbouring ones of other poll groups).
        others = [s for _, s in rec.samples if abs(s.source_ts - flagged.source_ts) < 0.5
                  and s.point in ("m1.voltage_l1", "m1.frequency", "m1.energy_export")]
        assert others and all(s.quality is Quality.GOOD for s in others)  # only that reading is not settleable
    finally:
        await hub.stop()


async def test_point_definitions_are_announced_once_before_the_first_sample(fleet: DeviceFleet) -> None:
    """The profile's unit, role and access travel with the point, for a profile file and after SunSpec discovery."""
    rec = Recorder()
    announced: list[tuple[int, list[PointDef]]] = []  # (samples seen at that moment, definitions)
    inverter = ModbusDeviceSpec("inv3", fleet.host, fleet.port, 3, "sunspec", timeout_s=0.5,
                                poll_overrides=(("fast", 0.2),))
    hub = ModbusHub([meter(fleet, "m1", 1), inverter], rec.on_samples, rec.on_status,
                    on_points=lambda defs: announced.append((len(rec.samples), list(defs))))
    await hub.start()
    try:
        await wait_until(lambda: rec.latest("inv3.inverter_three_phase.W") is not None
                         and rec.latest("m1.power") is not None, 10)
        await asyncio.sleep(0.5)  # more polls: still one announcement per device
        assert len(announced) == 2
        by_id = {d.id: d for _, defs in announced for d in defs}
        first_sample = {s.point: i for i, (_, s) in reversed(list(enumerate(rec.samples)))}
        for seen, defs in announced:
            assert all(first_sample.get(d.id, seen) >= seen for d in defs)  # none of them reported before
        power = by_id["m1.power"]
        assert (power.name, power.unit, power.role, power.kind, power.writable) == (
            "m1: Total active power", "W", "power", PointKind.OTHER, False)
        assert by_id["m1.energy_import"].unit == "Wh" and by_id["m1.energy_import"].role == "energy_import"
        assert "m1.serial" in by_id and by_id["m1.voltage_l1"].role is None
        assert (by_id["inv3.inverter_three_phase.W"].role, by_id["inv3.inverter_three_phase.WH"].role) == (
            "power", "energy_export")
        limit = by_id["inv3.controls.WMaxLimPct"]
        assert (limit.role, limit.unit, limit.writable) == ("power_limit", "%", True)
        assert "inv3.common.Mn" not in by_id and "inv3.common.SN" not in by_id  # text: identity, never a sample
    finally:
        await hub.stop()


async def test_modbus_points_reach_the_process_image_and_the_historian_with_unit_and_kind(
        fleet: DeviceFleet, tmp_path: Path) -> None:
    from sqlalchemy import select

    from console.services.acquisition import AcquisitionService
    from console.services.historian import HistorianService
    from console.store.historian import SqlHistorian
    from console.store.schema import points
    from core.grid import GridState

    acq = AcquisitionService(GridState([]))
    historian = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "h.spool", flush_s=0.1)
    service = HistorianService(historian)
    acq.subscribe(service.on_samples)
    acq.subscribe_points(service.on_points)
    await service.start()
    hub = ModbusHub([meter(fleet, "m1", 1)], acq.on_samples, acq.on_status, on_points=acq.register_points)
    await hub.start()
    try:
        await wait_until(lambda: acq.snapshot().reading("m1.power") is not None, 10)
        reading = acq.snapshot().reading("m1.power")
        assert reading is not None and (reading.point.unit, reading.point.role) == ("W", "power")
        assert acq.stats().unknown == 0  # every sample had its definition first

        def stored() -> dict[str, tuple[str, str, str]]:
            with historian.engine.connect() as conn:
                return {k: (n, u, kd) for k, n, u, kd in conn.execute(
                    select(points.c.key, points.c.name, points.c.unit, points.c.kind))}

        await wait_until(lambda: "m1.energy_import" in stored() and historian.stats().written > 0, 10)
        rows = stored()
        assert rows["m1.power"] == ("m1: Total active power", "W", "other")
        assert rows["m1.energy_import"] == ("m1: Imported active energy", "Wh", "other")
        assert rows["m1.frequency"] == ("m1: Frequency", "Hz", "other")
    finally:
        await hub.stop()
        await service.stop()


async def test_a_point_given_in_kwh_is_sampled_in_wh_and_shown_in_kwh(fleet: DeviceFleet, tmp_path: Path) -> None:
    """The SDM630 counts kWh; the shipped profile scales by 1000 to Wh, a vendor's says unit = "kWh"
    instead. Both devices must sample the same SI value; the second one's definition shows kWh."""
    from drivers.modbus.profile import PROFILE_DIR

    shipped = (PROFILE_DIR / "eastron_sdm630.toml").read_text(encoding="utf-8")
    in_wh = 'unit = "Wh"\nscale = 1000\npoll = "energy"\nrole = "energy_import"'
    assert in_wh in shipped
    kwh_profile = tmp_path / "sdm630_kwh.toml"
    kwh_profile.write_text(shipped.replace(in_wh, 'unit = "kWh"\npoll = "energy"\nrole = "energy_import"'),
                           encoding="utf-8")
    rec = Recorder()
    announced: list[PointDef] = []
    hub = ModbusHub([meter(fleet, "wh", 1), meter(fleet, "kwh", 1, str(kwh_profile))], rec.on_samples,
                    rec.on_status, on_points=announced.extend)
    fleet.houses[1].imported_wh = 12_345.0  # the meter has counted 12.345 kWh
    await hub.start()
    try:
        await wait_until(lambda: rec.latest("wh.energy_import") is not None
                         and rec.latest("kwh.energy_import") is not None, 10)
        wh, kwh = rec.latest("wh.energy_import"), rec.latest("kwh.energy_import")
        assert wh is not None and kwh is not None
        assert kwh.value == pytest.approx(12_345.0, abs=5.0) and wh.value == pytest.approx(kwh.value, abs=5.0)
        definition = next(d for d in announced if d.id == "kwh.energy_import")
        assert (definition.unit, definition.factor) == ("kWh", 1000.0)
        assert definition.display(kwh.value) == pytest.approx(12.345, abs=0.005)
    finally:
        await hub.stop()


class _RatedInverter(SunSpecInverterMap):
    """The fleet's 5 kW inverter with a nameplate (model 120): WRtg 500 × 10^1 W."""

    models = (1, 120, 103, 123)

    def values(self) -> dict[str, float | str]:
        return {**super().values(), "nameplate.ID": 120, "nameplate.L": 26, "nameplate.DERTyp": 4,
                "nameplate.WRtg": 500, "nameplate.WRtg_SF": 1}


@pytest.mark.parametrize(("configured", "bound_kw"), [(None, 5), (8_000.0, 8)])
async def test_an_inverter_counter_is_bounded_by_its_own_rating_unless_the_config_names_one(
        configured: float | None, bound_kw: int) -> None:
    fleet = DeviceFleet(port=free_port(), layout=[FleetDevice(1, "meter", 1), FleetDevice(101, "pv", 1)])
    fleet.maps[101] = _RatedInverter(fleet.houses[1], "pv")
    house = fleet.houses[1]
    house.start_hour = (12.0 - time.monotonic() / 3600) % 24  # simulated noon
    await fleet.start()
    spec = ModbusDeviceSpec("pv", fleet.host, fleet.port, 101, "sunspec", timeout_s=0.5)
    if configured is not None:
        spec = dataclasses.replace(spec, rated_power_w=configured)
    rec = Recorder()
    events: list[object] = []
    hub = ModbusHub([spec], rec.on_samples, rec.on_status, on_event=events.append)
    await hub.start()
    try:
        await wait_until(lambda: rec.count("pv.inverter_three_phase.WH") >= 2, 10)
        assert rec.latest("pv.nameplate.WRtg").value == 5_000  # type: ignore[union-attr]
        assert hub.sessions[0].plausibility.rules.rated_power_w == bound_kw * 1000
        assert events == []
        house.produced_wh += 1_000  # 1 kWh within a second
        await wait_until(lambda: bool(events), 5)
        assert f"at {bound_kw} kW" in events[0].detail  # type: ignore[attr-defined]
    finally:
        await hub.stop()
        await fleet.stop()
