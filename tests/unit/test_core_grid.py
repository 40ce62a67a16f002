"""Bands, ROCOF, frequency events and the process image."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.bands import Band, FrequencyBands, VoltageBands
from core.frequency import FrequencyEventTracker, RocofEstimator
from core.grid import GridState
from core.points import PointDef, PointKind, Quality, Sample
from core.series import SeriesBuffer

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("hz", "band"),
    [(50.0, Band.NORMAL), (49.8, Band.NORMAL), (50.2, Band.NORMAL), (49.79, Band.ALERT),
     (50.21, Band.ALERT), (49.2, Band.ALERT), (49.19, Band.EMERGENCY), (50.81, Band.EMERGENCY),
     (math.nan, Band.UNKNOWN)],
)
def test_entsoe_frequency_bands(hz: float, band: Band) -> None:
    assert FrequencyBands().classify(hz) is band


def test_frequency_bands_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="emergency_low < normal_low"):
        FrequencyBands(normal_low_hz=49.1)


@pytest.mark.parametrize(
    ("volts", "band"),
    [(230.0, Band.NORMAL), (207.0, Band.NORMAL), (253.0, Band.NORMAL), (206.9, Band.ALERT),
     (253.1, Band.ALERT), (195.0, Band.EMERGENCY), (265.0, Band.EMERGENCY)],
)
def test_en50160_voltage_band(volts: float, band: Band) -> None:
    assert VoltageBands().classify(volts, 230.0) is band


def test_rocof_is_the_slope_over_the_window_despite_noise() -> None:
    rng = np.random.default_rng(1)
    est = RocofEstimator(0.5)
    for i in range(200):  # 20 Hz for 10 s, falling 0.2 Hz/s with 5 mHz noise
        t = i * 0.05
        est.add(1000 + t, 50.0 - 0.2 * t + rng.normal(0, 0.005))
    assert est.value == pytest.approx(-0.2, abs=0.05)


def test_rocof_needs_a_filled_window_and_ignores_out_of_order() -> None:
    est = RocofEstimator(0.5)
    est.add(0.0, 50.0)
    est.add(0.1, 50.0)
    assert math.isnan(est.value)
    for i in range(2, 12):
        est.add(i * 0.1, 50.0 + 0.1 * i * 0.1)
    est.add(0.95, 10.0)  # late, out of order: dropped
    assert est.value == pytest.approx(0.1, rel=1e-6)


def test_event_tracker_records_nadir_and_its_time_then_closes() -> None:
    tr = FrequencyEventTracker(start_dev_hz=0.1, end_dev_hz=0.05, hold_s=5)
    trace = [(0, 50.0), (1, 49.95), (2, 49.85), (3, 49.72), (4, 49.70), (5, 49.76), (6, 49.9)]
    trace += [(7 + i, 49.97) for i in range(8)]
    for t, f in trace:
        tr.add(float(t), f, -0.1)
    assert tr.active is None and tr.last is not None
    assert tr.last.start_ts == 2 and tr.last.nadir_hz == 49.70 and tr.last.nadir_ts == 4
    assert tr.last.end_ts is not None and tr.last.end_ts >= 12
    assert tr.last.max_abs_rocof == pytest.approx(0.1)


def _points() -> list[PointDef]:
    return [
        PointDef("f", "Frequency", "Hz", PointKind.FREQUENCY, 50.0),
        PointDef("d", "Demand", "W", PointKind.DEMAND),
        PointDef("s", "Supply", "W", PointKind.SUPPLY),
        PointDef("v1", "Bus 1", "V", PointKind.VOLTAGE, 230.0),
        PointDef("t", "Temp", "degC", PointKind.OTHER, low_limit=-10, high_limit=40),
    ]


def _s(point: str, value: float, ts: float, q: Quality = Quality.GOOD) -> Sample:
    return Sample(point, value, "", q, ts, ts)


def test_grid_state_snapshot_bands_balance_and_stale_keeps_last_value() -> None:
    gs = GridState(_points())
    gs.apply([_s("f", 49.7, 1), _s("d", 8e9, 1), _s("s", 7.9e9, 1), _s("v1", 270.0, 1), _s("t", 55, 1)])
    snap = gs.snapshot(2.0)
    assert snap.frequency is not None and snap.frequency.band is Band.ALERT
    assert snap.balance_w == pytest.approx(-1e8)
    assert snap.voltages[0].band is Band.EMERGENCY
    t = snap.reading("t")
    assert t is not None and t.band is Band.ALERT and t.abnormal
    gs.apply([_s("v1", math.nan, 3, Quality.STALE)])
    v1 = gs.snapshot(3.0).reading("v1")
    assert v1 is not None and v1.value == 270.0 and v1.quality is Quality.STALE


def test_grid_state_adopts_points_discovered_at_run_time_and_rejects_two_frequency_points() -> None:
    gs = GridState(_points())
    gs.apply([Sample("inv1.W", 1500.0, "W", Quality.GOOD, 1, 1)])
    assert gs.unknown_samples == 1
    reading = gs.snapshot(2).reading("inv1.W")
    assert reading is not None and reading.value == 1500.0 and reading.point.unit == "W"
    with pytest.raises(ValueError, match="only one frequency"):
        GridState([*_points(), PointDef("f2", "F2", "Hz", PointKind.FREQUENCY)])


def test_series_buffer_wraps_in_time_order_and_stores_nan_gaps() -> None:
    buf = SeriesBuffer(4)
    for i in range(6):
        buf.append(float(i), math.nan if i == 4 else float(i * 10))
    t, v = buf.arrays()
    assert t.tolist() == [2.0, 3.0, 4.0, 5.0]
    assert v[0] == 20 and math.isnan(v[2])
    assert buf.last_time() == 5.0 and len(buf) == 4


@pytest.mark.parametrize("n", [3, 4, 10, 17])
def test_series_since_matches_a_filter_of_all_data(n: int) -> None:
    buf = SeriesBuffer(8)
    for i in range(n):
        buf.append(float(i), float(i))
    t_all, _ = buf.arrays()
    for t0 in (-1.0, 0.0, n - 5.5, n - 1.0, n + 3.0):
        t, v = buf.arrays_since(t0)
        expected = t_all[max(int(np.searchsorted(t_all, t0)) - 1, 0):]
        assert t.tolist() == expected.tolist() and v.tolist() == expected.tolist()


# ---- report by exception: an unchanged value holds ----------------------------------

def test_rocof_of_a_held_value_is_zero_once_half_a_window_has_passed() -> None:
    est = RocofEstimator(0.5)
    est.add(100.0, 50.0)  # the only notification: the server reports by exception
    assert math.isnan(est.value)
    assert math.isnan(est.value_at(100.2))  # 0.2 s < half the 0.5 s window
    assert est.value_at(100.3) == 0.0  # exactly, not 1e-14
    assert est.value_at(160.0) == 0.0  # a minute later the value still holds


def test_rocof_holds_the_sample_before_the_window_at_its_start() -> None:
    est = RocofEstimator(0.5)
    est.add(0.0, 50.0)
    est.add(0.5, 50.1)
    # Window [0.25, 0.75]: 50.0 held from 0.25, 50.1 at 0.5 and held to 0.75.
    # Least squares through (0, 0), (0.25, 0.1), (0.5, 0.1) (s, Hz above 50):
    # mean x 0.25; sum dx*dy = 0.025; sum dx^2 = 0.125 -> 0.2 Hz/s.
    assert est.value_at(0.75) == pytest.approx(0.2, rel=1e-9)
    assert est.value_at(1.0) == 0.0  # the step has left the window


def _freq_state(quiet_after_s: float = 0.25) -> tuple[GridState, SeriesBuffer]:
    gs = GridState([PointDef("f", "F", "Hz", PointKind.FREQUENCY)], quiet_after_s=quiet_after_s)
    buf = SeriesBuffer(100)
    gs.on_rocof = buf.append
    return gs, buf


@pytest.mark.parametrize("server_clock_offset_s", [0.0, -10.0, 7.5])
def test_a_healthy_unchanged_frequency_gives_rocof_zero_not_no_data(server_clock_offset_s: float) -> None:
    gs, buf = _freq_state()
    src = 1000.0 + server_clock_offset_s  # the server's clock may be off the console's
    gs.apply([Sample("f", 50.0, "Hz", Quality.GOOD, src, 1000.05)])
    first = gs.snapshot(1000.05)
    assert math.isnan(first.rocof_hz_s) and first.rocof_quality is Quality.UNCERTAIN  # too early to say
    # 0.55 s later nothing has arrived: held for 0.55 - 0.25 (quiet) = 0.3 s >= half a window.
    snap = gs.snapshot(1000.6)
    assert snap.rocof_hz_s == 0.0 and snap.rocof_quality is Quality.GOOD
    assert snap.frequency is not None and snap.frequency.quality is Quality.GOOD
    assert len(buf) == 1  # the trend waits for a whole held window (quiet 0.25 + window 0.5 s)...
    gs.snapshot(1000.85)  # ...0.8 s after the arrival: held from src to src + 0.8 - 0.25 = src + 0.55
    t, v = buf.arrays()
    assert t[-1] == pytest.approx(src + 0.55) and v[-1] == 0.0  # the ROCOF trend moves on too


def test_late_batches_put_no_held_values_between_real_ones_in_the_rocof_trend() -> None:
    gs, buf = _freq_state()
    # A ramp of 0.2 Hz/s sampled at 16 Hz (times exact in binary), delivered in batches of 8 samples 0.5 s
    # apart (a busy loop): every real ROCOF over a full window is exactly 0.2; snapshots at 16 Hz between the
    # batches (quiet 0.25-0.5 s, less than quiet + window) must not add held, decaying values to the trend.
    for b in range(5):
        t0 = 1000.0 + b * 0.5
        gs.apply([Sample("f", 50.0 + 0.2 * (t0 + i * 0.0625 - 1000.0), "Hz", Quality.GOOD, t0 + i * 0.0625,
                         t0 + 0.5) for i in range(8)])
        for k in range(8):
            gs.snapshot(t0 + 0.5 + k * 0.0625)
    t, v = buf.arrays()
    full = v[t >= 1000.5]
    assert len(full) == 40 - 8 and full == pytest.approx(0.2, rel=1e-9)


def test_a_lost_source_makes_the_held_rocof_no_data() -> None:
    gs, buf = _freq_state()
    gs.apply([Sample("f", 50.0, "Hz", Quality.GOOD, 1000.0, 1000.0)])
    assert gs.snapshot(1001.0).rocof_hz_s == 0.0
    gs.apply([Sample("f", math.nan, "Hz", Quality.STALE, 1000.0, 1001.1)])  # what a driver sends on loss
    snap = gs.snapshot(1002.0)
    assert math.isnan(snap.rocof_hz_s) and snap.rocof_quality is Quality.STALE
    t, v = buf.arrays()
    assert math.isnan(v[-1]) and t[-1] == pytest.approx(1000.75)  # the gap starts where the held trace ended


def test_a_streaming_ramp_is_not_flattened_between_batches() -> None:
    gs, _ = _freq_state()
    for i in range(21):  # 20 Hz, rising 0.2 Hz/s; each batch arrives 20 ms after its source time
        t = 1000.0 + i * 0.05
        gs.apply([Sample("f", 50.0 + 0.2 * (t - 1000.0), "Hz", Quality.GOOD, t, t + 0.02)])
    # 0.1 s after the last arrival (within the 0.25 s quiet time) the ramp is still the ramp.
    assert gs.snapshot(1000.0 + 1.0 + 0.12).rocof_hz_s == pytest.approx(0.2, rel=1e-6)


def test_points_defined_at_run_time_carry_unit_and_role_but_never_replace_configured_ones() -> None:
    configured = PointDef("grid.frequency", "Frequency", "Hz", PointKind.FREQUENCY, nominal=50.0)
    state = GridState([configured])
    state.apply([Sample("m1.P_total", 1200.0, "W", Quality.GOOD, 1.0, 1.0)])  # reported before it was defined
    state.define([PointDef("m1.P_total", "m1: Total power", "W", role="power"),
                  PointDef("m1.energy", "m1: Energy", "Wh", role="energy_import", writable=False),
                  PointDef("grid.frequency", "a driver's idea of it", "mHz")])
    snap = state.snapshot(2.0)
    power = snap.reading("m1.P_total")
    assert power is not None and power.point.role == "power" and power.value == 1200.0
    assert state.points["m1.energy"].role == "energy_import" and snap.reading("m1.energy") is None
    assert state.points["grid.frequency"] is configured
    state.apply([Sample("m1.energy", 5.0, "Wh", Quality.GOOD, 3.0, 3.0)])
    assert state.unknown_samples == 1  # only the sample that came before its definition
