"""Grid simulator physics: trips give plausible ROCOF and nadir, droop then AGC."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from drivers.sim.grid.model import GeneratorTrip, GridModel, GridSimConfig, GridSimState

pytestmark = pytest.mark.unit

DT = 0.05


def run(config: GridSimConfig, seconds: float) -> list[GridSimState]:
    model = GridModel(config)
    return [model.step(DT) for _ in range(round(seconds / DT))]


def calm(**kw: object) -> GridSimConfig:
    """No noise, a 300 MW trip (3 % of a 10 GW base) at t = 10 s."""
    return replace(GridSimConfig(noise=False, trips=(GeneratorTrip(10.0, 300.0),)), **kw)  # type: ignore[arg-type]


def at(traj: list[GridSimState], t: float) -> GridSimState:
    return traj[round(t / DT) - 1]


def test_initial_rocof_follows_the_swing_equation() -> None:
    c = calm()
    traj = run(c, 12)
    expected = -(300 / c.base_mw) / (2 * c.inertia_h_s) * c.f0_hz  # -0.15 Hz/s
    first = next(s for s in traj if s.t_s > 10.0)
    assert first.rocof_hz_s == pytest.approx(expected, rel=0.15)


def test_nadir_is_physically_plausible_and_below_the_droop_offset() -> None:
    c = calm(agc_tc_s=0.0)
    traj = run(c, 120)
    nadir = min(traj, key=lambda s: s.frequency_hz)
    quasi_steady = c.f0_hz - (300 / c.base_mw) / (1 / c.droop_pu + c.damping_pu) * c.f0_hz  # 49.929 Hz
    assert 49.0 < nadir.frequency_hz < quasi_steady - 0.02
    assert 11.0 < nadir.t_s < 20.0  # seconds after the trip, as governors take over
    # Primary control alone settles at the droop offset, not at 50 Hz.
    assert at(traj, 120).frequency_hz == pytest.approx(quasi_steady, abs=0.005)


def test_agc_restores_nominal_frequency() -> None:
    traj = run(calm(), 400)
    assert at(traj, 40).frequency_hz < 49.97  # still offset after primary response
    assert at(traj, 400).frequency_hz == pytest.approx(50.0, abs=0.02)
    assert all(s.frequency_hz > 49.0 for s in traj)


def test_more_inertia_means_slower_rocof_and_higher_nadir() -> None:
    low = run(calm(inertia_h_s=3.0), 40)
    high = run(calm(inertia_h_s=8.0), 40)
    assert min(s.rocof_hz_s for s in high) > min(s.rocof_hz_s for s in low)
    assert min(s.frequency_hz for s in high) > min(s.frequency_hz for s in low)


def test_supply_minus_demand_is_the_imbalance_during_the_event() -> None:
    traj = run(calm(), 11)
    s = traj[-1]
    c = calm()
    assert s.supply_w - s.demand_w == pytest.approx(2 * c.inertia_h_s * s.rocof_hz_s / c.f0_hz * c.base_mw * 1e6,
                                                     rel=1e-6)
    assert s.supply_w < s.demand_w


def test_noisy_operation_stays_in_bands_and_is_reproducible() -> None:
    config = GridSimConfig(seed=7)
    a = run(config, 300)
    b = run(config, 300)
    assert [s.frequency_hz for s in a] == [s.frequency_hz for s in b]
    assert all(49.9 < s.frequency_hz < 50.1 for s in a)
    nominal = config.feeders[0].nominal_v
    assert all(abs(v / nominal - 1) < 0.10 for s in a for v in s.bus_voltages_v)
    assert all(s.pv_w > 0 for s in a)  # noon


def test_tripped_unit_returns_and_periodic_trips_repeat() -> None:
    config = replace(GridSimConfig(noise=False), trip_period_s=100.0, first_periodic_trip_s=10.0,
                     periodic_trip_mw=200.0, restore_after_s=30.0)
    model = GridModel(config)
    for _ in range(round(235 / DT)):  # third trip at 210 s returns only at 240 s
        model.step(DT)
    assert [t for t, _ in model.trip_log] == pytest.approx([10.0, 110.0, 210.0], abs=DT)
    assert model.lost == pytest.approx(200 / config.base_mw)  # the first two are back; the third not yet
    assert math.isfinite(model.state.frequency_hz)


def test_a_trip_must_lose_something() -> None:
    with pytest.raises(ValueError, match="positive"):
        GridModel().trip(0)
