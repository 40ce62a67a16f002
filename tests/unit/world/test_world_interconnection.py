"""The interconnected system's frequency: calm, and a 3 GW reference incident as worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.sim.world.frequency import Interconnection, InterconnectionConfig

pytestmark = pytest.mark.unit

H = 0.01


def run(ic: Interconnection, seconds: float, trip_at: float | None = None) -> np.ndarray:
    out = []
    for k in range(round(seconds / H)):
        t = (k + 1) * H
        if trip_at is not None and abs(t - trip_at) < H / 2:
            ic.trip(t, 3e9)
        ic.step(t, H)
        out.append(ic.frequency_hz)
    return np.array(out)


def test_the_reference_incident_falls_at_the_swing_rate_and_agc_restores_50_hz() -> None:
    ic = Interconnection(InterconnectionConfig(trip_mean_interval_s=0, imbalance_pu=0.0), np.random.default_rng(1))
    f = run(ic, 1.0, trip_at=0.5)
    # by hand: ROCOF = −ΔP / (2 H S) · f0 = −3 GW / (2 · 5 s · 300 GW) · 50 Hz = −0.05 Hz/s
    first = round(0.5 / H) - 1  # the sub-step that ends at the trip
    assert (f[first] - f[first - 1]) / H == pytest.approx(-0.05, rel=0.01)
    assert (f[-1] - f[-2]) / H > -0.05, "then governors and load damping slow the fall"
    f = run(ic, 600.0)
    # quasi-steady without AGC: −ΔP / (1/R + D) = −0.01 pu / 3.2 · 50 Hz = −156 mHz; the nadir overshoots it
    assert -0.30 < f.min() - 50 < -0.156
    assert abs(f[-1] - 50) < 0.005, "after ten minutes secondary control has brought it back"


def test_a_calm_hour_stays_within_a_few_tens_of_millihertz() -> None:
    ic = Interconnection(InterconnectionConfig(trip_mean_interval_s=0), np.random.default_rng(3))
    f = run(ic, 600.0)
    assert 0.003 < f.std() < 0.025
    assert np.abs(f - 50).max() < 0.06
