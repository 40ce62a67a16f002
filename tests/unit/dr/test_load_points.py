"""Which historian points a participant's M&V reads: its grid meter and its PV / wind inverters (gross load)."""

from __future__ import annotations

from console.services.dr_measurement import LoadPoints, load_points_of
from core.participants import Asset, AssetKind, Participant

PEOPLE = (
    Participant("house-01", (Asset("h1-meter", AssetKind.METER),)),
    Participant("house-02", (Asset("h2-meter", AssetKind.METER), Asset("h2-pv", AssetKind.PV),
                             Asset("h2-battery", AssetKind.BATTERY))),
    Participant("farm", (Asset("f-meter", AssetKind.METER), Asset("f-pv", AssetKind.PV),
                         Asset("f-wind", AssetKind.WIND))),
    Participant("house-03", (Asset("h3-meter", AssetKind.METER), Asset("h3-pv", AssetKind.PV))),
    Participant("solar-park", (Asset("s-pv", AssetKind.PV),)),
)
# the points the drivers have reported so far: house-03's inverter not yet
POWER = {"h1-meter": "h1-meter.P", "h2-meter": "h2-meter.P", "h2-pv": "h2-pv.W", "h2-battery": "h2-battery.W",
         "f-meter": "f-meter.P", "f-pv": "f-pv.W", "f-wind": "f-wind.W", "h3-meter": "h3-meter.P", "s-pv": "s-pv.W"}


def test_grid_meter_plus_generators_and_never_the_battery() -> None:
    assert load_points_of(PEOPLE, POWER.get) == {
        "house-01": LoadPoints("h1-meter.P"),
        "house-02": LoadPoints("h2-meter.P", ("h2-pv.W",)),         # the battery's discharge is the response
        "farm": LoadPoints("f-meter.P", ("f-pv.W", "f-wind.W")),
        # house-03: its inverter's point is not known yet, so it waits (on its net meter its sun would be in
        # its baseline); solar-park: no grid meter
    }


def test_a_house_is_measured_once_its_inverter_reports() -> None:
    points = load_points_of(PEOPLE, {**POWER, "h3-pv": "h3-pv.W"}.get)
    assert points["house-03"] == LoadPoints("h3-meter.P", ("h3-pv.W",))
