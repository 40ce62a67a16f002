"""Participant powers taken at one instant before they are added up (core.participants.PowerAlignment);
figures worked out by hand."""

from __future__ import annotations

import math

import pytest

from core.bands import Band
from core.grid import Reading
from core.participants import Asset, AssetKind, Participant, PowerAlignment, account, balances
from core.points import PointDef, Quality
from core.roles import Role

HOUSE = Participant("house-01", (Asset("m", AssetKind.METER), Asset("pv", AssetKind.PV)))


def readings(meter: tuple[float, float], pv: tuple[float, float], pv_quality: Quality = Quality.GOOD):  # type: ignore[no-untyped-def]
    """A lookup of the meter's and the PV's latest (time, W)."""
    latest = {("m", Role.POWER): Reading(PointDef("m.power", "p", "W", role="power"), meter[1], Quality.GOOD,
                                         meter[0], Band.NORMAL),
              ("pv", Role.POWER): Reading(PointDef("pv.W", "w", "W", role="power"), pv[1], pv_quality, pv[0],
                                          Band.NORMAL)}
    return lambda device, role: latest.get((device, role))


def test_the_pv_is_taken_at_the_meter_instant() -> None:
    # A cloud: the PV made 3,000 W at t = 9.5 and 2,000 W at t = 10.5; the meter read −2,400 W (export) at
    # t = 10.0. Latest values: −2,400 + 2,000 = −400 W "consumption". At t = 10.0 the PV made
    # 3,000 + (2,000 − 3,000) × 0.5 = 2,500 W: the house used −2,400 + 2,500 = 100 W.
    alignment = PowerAlignment()
    alignment.aligned(HOUSE, readings((9.0, -2900.0), (9.5, 3000.0)))
    find = readings((10.0, -2400.0), (10.5, 2000.0))
    assert account(HOUSE, find).consumption_w == -400.0
    assert account(HOUSE, find).consumption_implausible  # beyond 50 W + 2 % of 4,400 W = 138 W
    (row,), _ = balances([HOUSE], find, alignment)
    assert row.pv_w == 2500.0 and row.consumption_w == 100.0
    assert row.timing_w == 1000.0  # the PV changed by 1,000 W between the samples it was taken between
    assert not row.consumption_implausible


def test_within_tolerance_a_negative_consumption_is_shown_as_zero() -> None:
    # Meter −2,530 W and PV 2,500 W at the same instant: −30 W is measurement error (tolerance 50 W + 2 % of
    # 5,030 W = 150.6 W), shown as 0; −2,700 W against 2,500 W (−200 W) is beyond it and stays negative.
    (row,), _ = balances([HOUSE], readings((10.0, -2530.0), (10.0, 2500.0)), PowerAlignment())
    assert row.consumption_w == 0.0 and row.consumption_tolerance_w == pytest.approx(150.6)
    (row,), _ = balances([HOUSE], readings((10.0, -2700.0), (10.0, 2500.0)), PowerAlignment())
    assert row.consumption_w == -200.0 and row.consumption_implausible


def test_stale_readings_are_not_aligned_and_mark_their_part() -> None:
    alignment = PowerAlignment()
    alignment.aligned(HOUSE, readings((9.0, 500.0), (9.5, 3000.0)))
    (row,), total = balances([HOUSE], readings((10.0, 400.0), (10.5, 2000.0), Quality.STALE), alignment)
    assert row.pv_w == 2000.0 and row.consumption_w == 2400.0  # held as it is
    assert row.stale and row.stale_parts == frozenset({"pv"}) and total.stale_parts == frozenset({"pv"})


def test_samples_far_apart_are_not_joined_by_a_line() -> None:
    # The PV's previous sample is 4 s older (samples were missed): the nearer sample is taken, not a line.
    alignment = PowerAlignment()
    alignment.aligned(HOUSE, readings((6.0, 0.0), (6.5, 3000.0)))
    (row,), _ = balances([HOUSE], readings((10.0, -1000.0), (10.5, 2000.0)), alignment)
    assert row.pv_w == 2000.0 and math.isclose(row.consumption_w, 1000.0)
