"""Report KPIs on known datasets; every expected figure is worked out by hand in the test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.bands import FrequencyBands
from core.participants import Asset, AssetKind, Participant
from core.reports.economics import EmissionFactor, Tariff, carbon_avoided_kg, efficiency, savings
from core.reports.energy import counter_wh, energy_by_hour, integrate_wh, participant_energy, total_energy
from core.reports.series import Series
from core.reports.stability import band_time, en50160, frequency_events
from core.roles import Role

T0 = 1_764_547_200.0  # 2025-12-01 00:00 UTC: a multiple of 600 s and of 3600 s


def test_six_minutes_below_49_8_in_an_hour_is_ten_percent_alert() -> None:
    ts = T0 + np.arange(3600.0)
    hz = np.full(3600, 50.0)
    hz[600:960] = 49.7  # 360 s = 6 min below 49.8 Hz (alert, above 49.2)
    hz[2000:2030] = 49.1  # 30 s below 49.2 Hz: emergency
    bt = band_time(Series(ts, hz), T0, T0 + 3600, FrequencyBands(), max_gap_s=5)
    assert bt.alert_s == 360
    assert bt.share(bt.alert_s) == pytest.approx(0.10)
    assert bt.emergency_s == 30
    assert bt.normal_s == 3600 - 360 - 30
    assert bt.no_data_s == 0


def test_a_gap_beyond_the_max_gap_is_no_data_not_the_last_value() -> None:
    # Samples every second for 10 min, then nothing for 50 min: with a 120 s max gap the last sample
    # holds 120 s, the remaining 3600 - 600 - 120 = 2880 s are no data.
    ts = T0 + np.arange(600.0)
    bt = band_time(Series(ts, np.full(600, 50.0)), T0, T0 + 3600, FrequencyBands(), max_gap_s=120)
    assert bt.normal_s == 599 + 120
    assert bt.no_data_s == 3600 - 719


def test_frequency_event_nadir_and_rocof() -> None:
    # 50 Hz, then a fall of 0.1 Hz/s for 3 s to 49.7 Hz (10 samples/s), 20 s there, a rise of 0.1 Hz/s
    # back to 50 Hz. Within 0.05 Hz of nominal from 49.95 Hz, i.e. 33 + 2.5 = 35.5 s; held 10 s → ends 45.5 s.
    t = np.round(np.arange(0, 80, 0.1), 1)
    hz = np.full(t.size, 50.0)
    fall = (t >= 10) & (t < 13)
    hz[fall] = 50.0 - 0.1 * (t[fall] - 10)
    hz[(t >= 13) & (t < 33)] = 49.7
    rise = (t >= 33) & (t < 36)
    hz[rise] = 49.7 + 0.1 * (t[rise] - 33)
    ev = frequency_events(Series(T0 + t, hz), hold_s=10)
    assert len(ev) == 1
    e = ev[0]
    assert e.nadir_hz == pytest.approx(49.7)
    assert e.nadir_ts == pytest.approx(T0 + 13.0, abs=0.11)
    assert e.max_abs_rocof == pytest.approx(0.1, rel=0.05)  # the slope of the fall
    assert e.end_ts == pytest.approx(T0 + 45.5, abs=0.11)


def test_bus_with_6_of_144_ten_minute_means_outside_is_compliant() -> None:
    # One day = 144 windows of 600 s, one sample per minute (10 per window) at 230 V. Six windows at
    # 258 V (+12.2 %): 138 / 144 = 95.83 % ≥ 95 % → compliant. A seventh bad window: 137/144 = 95.14 %,
    # still compliant; at 8 bad, 136/144 = 94.4 % → not.
    ts = T0 + np.arange(0, 86400, 60.0)
    for bad, ok in ((6, True), (8, False)):
        v = np.full(ts.size, 230.0)
        for k in range(bad):
            v[k * 100: k * 100 + 10] = 258.0  # window 10k (samples 100k .. 100k+9)
        c = en50160("bus 1", Series(ts, v), 230.0, T0, T0 + 86400)
        assert (c.windows, c.missing, c.within) == (144, 0, 144 - bad)
        assert c.compliant is ok


def test_en50160_drops_partial_windows_and_gaps() -> None:
    # Period 00:05–01:05: only the windows 00:10 … 00:50 lie wholly inside (5 windows). Data stops at 00:30:
    # windows 00:10 and 00:20 have samples, 00:30, 00:40, 00:50 are gaps. One brief spike inside a window
    # is averaged: 9 samples of 230 V and one of 300 V → mean 237 V, within ±10 %.
    ts = T0 + np.arange(0, 1800, 60.0)
    v = np.full(ts.size, 230.0)
    v[12] = 300.0
    c = en50160("b", Series(ts, v), 230.0, T0 + 300, T0 + 3900)
    assert (c.windows, c.missing, c.within) == (2, 3, 2)
    assert c.max_mean_v == pytest.approx((9 * 230 + 300) / 10)


def test_trapezoid_energy_and_gaps() -> None:
    # PV 2 kW for 3 h sampled every 10 s: 6 kWh. A ramp 0 → 1 kW over one hour: 0.5 kWh.
    ts = T0 + np.arange(0, 3 * 3600 + 1, 10.0)
    assert integrate_wh(Series(ts, np.full(ts.size, 2000.0)), T0, T0 + 3 * 3600 + 1, 60) == pytest.approx(6000)
    ramp = T0 + np.array([0.0, 3600.0])
    assert integrate_wh(Series(ramp, np.array([0.0, 1000.0])), T0, T0 + 3601, 4000) == pytest.approx(500)
    # The same two samples further apart than the max gap are not bridged.
    assert integrate_wh(Series(ramp, np.array([0.0, 1000.0])), T0, T0 + 3601, 600) == 0.0
    # Hours of the day: 2 kW from 10:00 to 13:00 → 2 kWh in hours 10, 11 and 12.
    by_hour = energy_by_hour(Series(ts + 10 * 3600, np.full(ts.size, 2000.0)), T0, T0 + 86400, 60)
    assert by_hour[10] == pytest.approx(2000) and by_hour[12] == pytest.approx(2000)
    assert by_hour.sum() == pytest.approx(6000)


def test_counter_wins_over_power_and_resets_count_forward_only() -> None:
    assert counter_wh(Series.of([T0, T0 + 1800, T0 + 3600], [1000.0, 1500.0, 2500.0]), T0, T0 + 3601) == 1500
    # A meter swap resets the counter to 0: 1000→1400 (+400), 0→300 (+300, the drop is not negative energy).
    assert counter_wh(Series.of([0, 1, 2, 3], [1000.0, 1400.0, 0.0, 300.0]), 0, 4) == 700
    house = Participant("house", (Asset("m", AssetKind.METER),))
    power = Series.of([T0, T0 + 3600], [1000.0, 1000.0])  # 1 kWh by power
    counters = {Role.ENERGY_IMPORT: Series.of([T0, T0 + 3600], [0.0, 1200.0]),
                Role.ENERGY_EXPORT: Series.of([T0, T0 + 3600], [50.0, 50.0]), Role.POWER: power}
    e = participant_energy(house, lambda d, r: counters.get(r), T0, T0 + 3601, 4000)
    assert (e.imported_wh, e.exported_wh, e.counters_used) == (1200, 0, True)
    only_power = participant_energy(house, lambda d, r: power if r is Role.POWER else None, T0, T0 + 3601, 4000)
    assert (only_power.imported_wh, only_power.counters_used) == (1000, False)


def _house(pv_w: float, meter_w: float, battery_w: float = math.nan,
           hours: float = 3.0) -> dict[tuple[str, Role], Series]:
    ts = T0 + 10 * 3600 + np.arange(0, hours * 3600 + 1, 60.0)
    out = {("pv", Role.POWER): Series(ts, np.full(ts.size, pv_w)),
           ("meter", Role.POWER): Series(ts, np.full(ts.size, meter_w))}
    if math.isfinite(battery_w):
        out[("batt", Role.POWER)] = Series(ts, np.full(ts.size, battery_w))
    return out


HOUSE = Participant("house", (Asset("meter", AssetKind.METER), Asset("pv", AssetKind.PV),
                              Asset("batt", AssetKind.BATTERY)))


def test_pv_2kw_for_3h_all_used_at_home_saves_1_80() -> None:
    # PV 2 kW for 3 h, load 2 kW, the meter reads 0: 6 kWh made and used at home, nothing bought.
    # Without the PV, 6 kWh × 0.30 = 1.80 bought. Carbon avoided: 6 kWh × 400 g = 2.4 kg.
    data = _house(2000, 0)
    e = participant_energy(HOUSE, lambda d, r: data.get((d, r)), T0, T0 + 86400, 120)
    assert e.pv_wh == pytest.approx(6000)
    assert e.consumption_wh == pytest.approx(6000)
    s = savings(e, Tariff(0.30, 0.10))
    assert s.saved == pytest.approx(1.80)
    hours = energy_by_hour(data[("pv", Role.POWER)], T0, T0 + 86400, 120)
    assert carbon_avoided_kg(list(hours), EmissionFactor(400)) == pytest.approx(2.4)
    # Hourly profile: 100 g in hour 10, 200 g in hour 11, 300 g in hour 12 → 2×0.1 + 2×0.2 + 2×0.3 = 1.2 kg.
    profile = tuple(100.0 * (h - 9) if 10 <= h <= 12 else 999.0 for h in range(24))
    assert carbon_avoided_kg(list(hours), EmissionFactor(0, profile)) == pytest.approx(1.2)
    eff = efficiency(e)
    assert (eff.self_consumption, eff.self_sufficiency) == (pytest.approx(1.0), pytest.approx(1.0))


def test_export_import_battery_shares() -> None:
    # PV 3 kW, meter −1 kW (exports 1 kW), battery charges 0.5 kW, for 2 h:
    # PV 6 kWh, export 2 kWh, charged 1 kWh, consumption = 0 − 2 + 6 − 1 = 3 kWh.
    # Self-consumption 1 − 2/6 = 2/3; self-sufficiency 1 − 0/3 = 1.
    # Savings at 0.30 / 0.10: without 3 × 0.30 = 0.90; with 0 − 2 × 0.10 = −0.20 → saved 1.10.
    data = _house(3000, -1000, 500, hours=2)
    e = participant_energy(HOUSE, lambda d, r: data.get((d, r)), T0, T0 + 86400, 120)
    assert (e.exported_wh, e.charged_wh, e.consumption_wh) == (pytest.approx(2000), pytest.approx(1000),
                                                              pytest.approx(3000))
    assert efficiency(e).self_consumption == pytest.approx(2 / 3)
    assert savings(e, Tariff(0.30, 0.10)).saved == pytest.approx(1.10)
    # Battery round trip: 1 kWh in, then 0.9 kWh out → 90 %.
    later = {("batt", Role.POWER): Series.of([T0, T0 + 3600, T0 + 3601, T0 + 7201], [1000, 1000, -900, -900])}
    b = participant_energy(HOUSE, lambda d, r: later.get((d, r)), T0, T0 + 86400, 4000)
    assert efficiency(b).battery_round_trip == pytest.approx(0.9, abs=0.001)  # the 1 s sign change: ±0.05 Wh
    both = total_energy([e, e])
    assert both.pv_wh == pytest.approx(12000) and both.consumption_wh == pytest.approx(6000)


def test_bad_settings_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="24 values"):
        EmissionFactor(400, (1.0, 2.0))
    with pytest.raises(ValueError, match="negative"):
        Tariff(-0.1, 0.0)
    with pytest.raises(ValueError, match="positive nominal"):
        en50160("b", Series.empty(), 0.0, T0, T0 + 600)


def test_adjacent_periods_add_up_and_a_value_holds_into_the_period() -> None:
    # 1 kW sampled every 60 s from 00:00 to 02:00 (inclusive). The hour 00:30–01:30 gets exactly 1 kWh
    # even though its edges fall on samples; a split at 00:30:30 (between samples) still adds up to 2 kWh.
    ts = T0 + np.arange(0, 7201, 60.0)
    p = Series(ts, np.full(ts.size, 1000.0))
    assert integrate_wh(p, T0 + 1800, T0 + 5400, 120) == pytest.approx(1000)
    split = T0 + 1830
    assert integrate_wh(p, T0, split, 120) + integrate_wh(p, split, T0 + 7200, 120) == pytest.approx(2000)
    # Frequency: one sample of 49.7 Hz 30 s before the period, then 50 Hz from 00:00:30 on; with a 120 s
    # max gap the 49.7 Hz value holds the first 30 s of the period (alert), 50 Hz the rest.
    f = Series.of([T0 - 30, T0 + 30, T0 + 90], [49.7, 50.0, 50.0])
    bt = band_time(f, T0, T0 + 120, FrequencyBands(), max_gap_s=120)
    assert (bt.alert_s, bt.normal_s, bt.no_data_s) == (30, 90, 0)
