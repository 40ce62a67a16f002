"""Each world device's rated_power_w in the console configuration comes from the world: a meter its
connection's fuse, PV its kWp, wind its turbine, a battery its inverter (figures from the seed-1 world)."""

from __future__ import annotations

import tomllib

import pytest

from drivers.sim.world.community import connection_rating_w
from drivers.sim.world.console_config import default_console_config

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def rated() -> dict[str, float]:
    doc = tomllib.loads(default_console_config())
    return {d["name"]: d["rated_power_w"] for d in doc["modbus"]}


def test_ratings_of_known_devices(rated: dict[str, float]) -> None:
    # business 1-9: a 36.7 kWp roof; it draws at most 7 × its 4.0 kW mean = 28.1 kW, so the feed-in sizes its
    # connection: 3 × 50 A × 230 V = 34.5 kW is too small, 3 × 63 A × 230 V = 43,470 W
    assert rated["business-1-9-pv"] == 36_700
    assert rated["business-1-9"] == 43_470
    # prosumer 2-6: 95.4 kWp and a 30 kW turbine feed 125.4 kW: 3 × 160 A (110.4 kW) is too small, 3 × 200 A
    assert rated["prosumer-2-6-pv"] == 95_400
    assert rated["prosumer-2-6-wind"] == 30_000
    assert rated["prosumer-2-6"] == 138_000
    # household 4-15: 5.1 kWp, a 10 kWh battery on a 5 kW inverter; 5.1 + 5 kW in, 4.1 + 5 kW out: the 3 × 35 A fuse
    assert rated["household-4-15-pv"] == 5_100
    assert rated["household-4-15-battery"] == 5_000
    assert rated["household-4-15"] == 24_150
    # the background's 103 connections: their PV summed, as the face's one inverter shows it ("SimInverter 338.5k")
    assert rated["background-pv"] == 338_500
    assert all(r > 0 for r in rated.values()) and 25_000 not in rated.values()


def test_the_smallest_standard_fuse_that_carries_the_flow() -> None:
    assert connection_rating_w(24_150, 0) == (24_150, 35)  # 3 × 35 A × 230 V exactly
    assert connection_rating_w(0, 24_151) == (34_500, 50)
    assert connection_rating_w(125_400, 30_000) == (138_000, 200)
    with pytest.raises(ValueError, match="larger than a low-voltage connection"):
        connection_rating_w(500_000, 0)
