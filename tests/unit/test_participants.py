"""Participant energy accounting and lookup by role, against figures worked out by hand."""

from __future__ import annotations

import math

import pytest

from core.bands import Band
from core.grid import Reading
from core.participants import (
    Asset,
    AssetKind,
    EnergyBalance,
    Participant,
    RoleIndex,
    account,
    balances,
    participants_of,
    total,
)
from core.points import PointDef, Quality
from core.roles import Role
from core.sources import ModbusDeviceSpec

METER, PV, WIND, BATTERY = AssetKind.METER, AssetKind.PV, AssetKind.WIND, AssetKind.BATTERY


def reading(pid: str, value: float, role: Role | None, quality: Quality = Quality.GOOD) -> Reading:
    return Reading(PointDef(pid, pid, "W", role=role.value if role else None), value, quality, 0.0, Band.NORMAL)


def snapshot(*readings: Reading) -> dict[str, Reading]:
    return {r.point.id: r for r in readings}


def house(name: str, *assets: tuple[str, AssetKind]) -> Participant:
    return Participant(name, tuple(Asset(device, kind) for device, kind in assets))


def balance_of(participant: Participant, readings: dict[str, Reading]) -> EnergyBalance:
    index = RoleIndex(a.device for a in participant.assets)
    index.update(readings)
    return account(participant, index.lookup(readings))


def test_consumption_adds_generation_back_and_takes_battery_charging_out() -> None:
    # The meter imports 1.2 kW while the PV makes 3.0 kW and the battery takes 0.8 kW:
    # the house uses 1.2 + 3.0 − 0.8 = 3.4 kW, of which 3.0 − 0.8 = 2.2 kW is its own (2.2 / 3.4 = 11/17).
    a = house("a", ("a-meter", METER), ("a-pv", PV), ("a-bat", BATTERY))
    row = balance_of(a, snapshot(reading("a-meter.power", 1200.0, Role.POWER),
                                 reading("a-pv.inverter_three_phase.W", 3000.0, Role.POWER),
                                 reading("a-bat.battery.W", 800.0, Role.POWER),
                                 reading("a-bat.battery.SoC", 64.0, Role.STATE_OF_CHARGE)))
    assert row.consumption_w == pytest.approx(3400.0)
    assert row.local_supply_w == pytest.approx(2200.0)
    assert row.self_supplied == pytest.approx(11 / 17)  # 64.7 %: it still imports 1.2 of 3.4 kW
    assert (row.grid_w, row.pv_w, row.battery_w, row.soc_pct) == (1200.0, 3000.0, 800.0, 64.0)
    assert math.isnan(row.wind_w) and row.generation_w == 3000.0 and not row.stale


def test_an_exporting_house_is_fully_self_supplied() -> None:
    # Exports 1.5 kW while the PV makes 2.5 kW: it uses 1.0 kW, all of it its own.
    b = house("b", ("b-meter", METER), ("b-pv", PV))
    row = balance_of(b, snapshot(reading("b-meter.power", -1500.0, Role.POWER),
                                 reading("b-pv.W", 2500.0, Role.POWER)))
    assert row.consumption_w == pytest.approx(1000.0)
    assert row.self_supplied == 1.0


def test_a_discharging_battery_supplies_the_house() -> None:
    # At night: imports 0.2 kW, the battery gives 0.6 kW: 0.8 kW used, 0.6 / 0.8 = 75 % own.
    c = house("c", ("c-meter", METER), ("c-bat", BATTERY))
    row = balance_of(c, snapshot(reading("c-meter.power", 200.0, Role.POWER),
                                 reading("c-bat.battery.W", -600.0, Role.POWER)))
    assert row.consumption_w == pytest.approx(800.0)
    assert row.self_supplied == pytest.approx(0.75)


def test_a_meter_whose_power_point_has_another_name_still_counts() -> None:
    m = house("m", ("m1", METER))
    row = balance_of(m, snapshot(reading("m1.P_total", 2300.0, Role.POWER),
                                 reading("m1.power", 999.0, None),  # a vendor name without the role: ignored
                                 reading("m1.Ea_plus", 12_345.0, Role.ENERGY_IMPORT),
                                 reading("m1.Ea_minus", 678.0, Role.ENERGY_EXPORT)))
    assert (row.grid_w, row.consumption_w, row.imported_wh, row.exported_wh) == (2300.0, 2300.0, 12_345.0, 678.0)
    assert row.self_supplied == 0.0


def test_no_meter_no_consumption_and_a_stale_value_marks_the_row() -> None:
    farm = house("farm", ("farm-wind", WIND))
    row = balance_of(farm, snapshot(reading("farm-wind.W", 40_000.0, Role.POWER, Quality.STALE)))
    assert row.wind_w == 40_000.0 and math.isnan(row.consumption_w) and math.isnan(row.self_supplied)
    assert row.stale and math.isnan(row.grid_w)


def test_total_is_the_sum_of_the_rows_and_its_share_comes_from_the_sums() -> None:
    # a: 3.4 kW used, 2.2 kW own; b: 1.0 kW used, 2.5 kW own (exports 1.5); d: 0.8 kW used, nothing own.
    # Community: 5.2 kW used, 4.7 kW generated and stored locally → 4.7 / 5.2 = 47/52 = 90.4 %
    # (the mean of the rows' shares, (64.7 + 100 + 0) / 3 = 54.9 %, would be wrong).
    people = (house("a", ("a-meter", METER), ("a-pv", PV), ("a-bat", BATTERY)),
              house("b", ("b-meter", METER), ("b-pv", PV)),
              house("d", ("d-meter", METER)))
    readings = snapshot(reading("a-meter.power", 1200.0, Role.POWER), reading("a-pv.W", 3000.0, Role.POWER),
                        reading("a-bat.W", 800.0, Role.POWER), reading("a-bat.SoC", 60.0, Role.STATE_OF_CHARGE),
                        reading("b-meter.power", -1500.0, Role.POWER), reading("b-pv.W", 2500.0, Role.POWER),
                        reading("d-meter.power", 800.0, Role.POWER))
    index = RoleIndex(a.device for p in people for a in p.assets)
    index.update(readings)
    rows, everyone = balances(people, index.lookup(readings))
    assert [r.self_supplied for r in rows] == [pytest.approx(11 / 17), 1.0, 0.0]
    assert everyone.participant == "All participants"
    assert everyone.grid_w == pytest.approx(500.0)
    assert everyone.consumption_w == pytest.approx(5200.0)
    assert everyone.pv_w == pytest.approx(5500.0) and everyone.battery_w == 800.0 and everyone.soc_pct == 60.0
    assert everyone.self_supplied == pytest.approx(47 / 52)


def test_a_community_whose_exports_cover_its_importers_is_self_supplied() -> None:
    # A house at 0 % (imports 2 kW) next to a wind farm exporting 5 kW with no load of its own:
    # the community uses 2 kW and makes 5 kW, so it is 100 % self-supplied although the house is not.
    rows = [EnergyBalance("h", 2000.0, 2000.0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan),
            EnergyBalance("farm", -5000.0, 0.0, math.nan, 5000.0, math.nan, math.nan, math.nan, math.nan, 5000.0)]
    assert rows[0].self_supplied == 0.0 and math.isnan(rows[1].self_supplied)
    assert total(rows).self_supplied == 1.0 and total(rows).grid_w == -3000.0


def test_negative_consumption_is_flagged_not_hidden() -> None:
    # The meter exports 2 kW but the PV reports only 1 kW: −1 kW "consumption" cannot be a load.
    p = house("p", ("p-meter", METER), ("p-pv", PV))
    row = balance_of(p, snapshot(reading("p-meter.power", -2000.0, Role.POWER), reading("p-pv.W", 1000.0, Role.POWER)))
    assert row.consumption_w == pytest.approx(-1000.0) and row.consumption_implausible
    assert math.isnan(row.self_supplied)
    ok = balance_of(p, snapshot(reading("p-meter.power", -1020.0, Role.POWER), reading("p-pv.W", 1000.0, Role.POWER)))
    assert not ok.consumption_implausible  # −20 W is meter noise


def test_role_index_finds_devices_with_dots_and_ignores_unknown_roles() -> None:
    index = RoleIndex(["site.meter", "site"])
    readings = {
        "site.meter.power": reading("site.meter.power", 1.0, Role.POWER),
        "site.W": reading("site.W", 2.0, Role.POWER),
        "other.W": reading("other.W", 3.0, Role.POWER),  # not one of ours
        "site.x": Reading(PointDef("site.x", "x", "", role="flux_capacitor"), 4.0, Quality.GOOD, 0.0, Band.NORMAL),
    }
    index.update(readings)
    assert index.point("site.meter", Role.POWER) == "site.meter.power"  # the longer device name wins
    assert index.point("site", Role.POWER) == "site.W"
    assert index.point("other", Role.POWER) is None


def test_participants_group_devices_by_owner_in_config_order() -> None:
    specs = [ModbusDeviceSpec("m1", "h", 502, 1, "eastron_sdm630.toml", participant="house-1"),
             ModbusDeviceSpec("pv1", "h", 502, 2, "sunspec", participant="house-1"),
             ModbusDeviceSpec("solo", "h", 502, 3, "eastron_sdm630.toml"),
             ModbusDeviceSpec("bat1", "h", 502, 4, "sunspec", participant="house-1", asset="battery")]
    people = participants_of(specs)
    assert [p.name for p in people] == ["house-1", "solo"]
    assert people[0].assets == (Asset("m1", METER), Asset("pv1", PV), Asset("bat1", BATTERY))
    with pytest.raises(ValueError, match="device 'x': asset 'heat pump' is not one of meter, pv, wind, battery"):
        participants_of([ModbusDeviceSpec("x", "h", 502, 5, "p.toml", asset="heat pump")])


def test_a_role_defined_after_the_first_sample_is_picked_up_within_a_refresh() -> None:
    index = RoleIndex(["m"])
    bare = {"m.P": Reading(PointDef("m.P", "m.P", "W"), 5.0, Quality.GOOD, 0.0, Band.NORMAL)}
    index.update(bare)
    assert index.point("m", Role.POWER) is None
    defined = {"m.P": reading("m.P", 5.0, Role.POWER)}  # same points, now with their definition
    for _ in range(RoleIndex.REFRESH_EVERY):
        index.update(defined)
    assert index.point("m", Role.POWER) == "m.P"
