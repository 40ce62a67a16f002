"""KPIs from rollup buckets: known data, figures by hand; and the same figures as from the raw samples."""

from __future__ import annotations

import numpy as np
import pytest

from core.bands import FrequencyBands
from core.reports.buckets import (
    Buckets,
    band_ambiguous,
    band_seconds,
    beyond,
    bucketize,
    clip,
    counter_advance_wh,
    envelope_of,
    held,
    mixed_sign,
    ranges,
    signed_energy_wh,
    ten_minute_means,
)
from core.reports.energy import integrate_wh
from core.reports.series import Series, envelope

pytestmark = pytest.mark.unit

T0 = 1_764_547_200.0  # a UTC midnight


def test_bucketize_is_what_the_rollup_stores() -> None:
    s = Series.of(T0 + np.array([0.0, 30.0, 59.0, 60.0, 130.0]), [1.0, 3.0, 2.0, 10.0, 4.0])
    b = bucketize(s, T0, T0 + 180, 60.0)
    assert (b.start - T0).tolist() == [0.0, 60.0, 120.0] and (b.end - T0).tolist() == [60.0, 120.0, 180.0]
    assert b.vmin.tolist() == [1.0, 10.0, 4.0] and b.vmax.tolist() == [3.0, 10.0, 4.0]
    assert b.vmean.tolist() == [2.0, 10.0, 4.0] and b.vlast.tolist() == [2.0, 10.0, 4.0]
    assert b.n.tolist() == [3.0, 1.0, 1.0]


def test_a_short_gap_holds_the_last_value_a_long_one_is_no_data() -> None:
    # minutes 0, 1 (1 kW); nothing in minute 2; minute 3 (1 kW); nothing for 5 minutes; minute 9
    ts = T0 + 60 * np.array([0.0, 1.0, 3.0, 9.0])
    b = held(bucketize(Series.of(ts, [1000.0] * 4), T0, T0 + 600, 60.0), max_gap_s=120)
    # held: minutes 0, 1, 2 (filled), 3, 9 → 5 minutes of 1 kW = 83.33 Wh; minutes 4–8 (300 s gap) no data
    assert signed_energy_wh(b, +1) == pytest.approx(5 * 60 * 1000 / 3600)
    assert signed_energy_wh(clip(b, T0 + 30, T0 + 90), 0) == pytest.approx(60 * 1000 / 3600)


def test_the_sign_split_of_a_mixed_bucket_needs_its_raw_samples() -> None:
    # 1 s samples: +600 W for 30 s then −600 W for 30 s in one minute, and a whole minute at +600 W (to 120 s)
    ts = T0 + np.arange(121.0)
    w = np.where(ts - T0 < 30, 600.0, np.where(ts - T0 < 60, -600.0, 600.0))
    s = Series(ts, w)
    b = bucketize(s, T0, T0 + 120, 60.0)
    mix = mixed_sign(b)
    assert mix.tolist() == [1.0, 0.0]
    assert ranges(b, mix) == [(T0, T0 + 60)]
    imported = signed_energy_wh(b, +1, mix) + integrate_wh(s, T0, T0 + 60, 120, +1)
    exported = signed_energy_wh(b, -1, mix) + integrate_wh(s, T0, T0 + 60, 120, -1)
    # by hand: minute 1 raw, import 29 s × 600 W + the two half steps 29→30 s and 59→60 s (300 W·s each) =
    # 18,000 W·s = 5 Wh, export likewise 5 Wh; minute 2 from its bucket, 60 s × 600 W = 10 Wh
    assert imported == pytest.approx(15.0) and exported == pytest.approx(5.0)
    assert imported == pytest.approx(integrate_wh(s, T0, T0 + 120, 120, +1))  # as the raw samples say
    assert exported == pytest.approx(integrate_wh(s, T0, T0 + 120, 120, -1))


def test_counter_advance_and_ten_minute_means() -> None:
    ts = T0 + 60 * np.arange(20.0)
    counter = bucketize(Series.of(ts, 1000.0 + 10 * np.arange(20.0)), T0, T0 + 1200, 60.0)
    assert counter_advance_wh(counter) == pytest.approx(190.0)  # 1000 → 1190 Wh
    volts = bucketize(Series.of(ts, np.r_[np.full(10, 230.0), np.full(10, 250.0)]), T0, T0 + 1200, 60.0)
    windows, means = ten_minute_means(volts, T0, T0 + 1200)
    assert windows == 2 and means.tolist() == [230.0, 250.0]


def test_band_buckets_that_are_sure_and_those_read_raw() -> None:
    bands = FrequencyBands()  # normal 49.8–50.2 Hz
    ts = T0 + np.arange(30.0)
    hz = np.where((ts - T0 >= 12) & (ts - T0 < 15), 49.7, 50.0)  # 3 s at 49.7 Hz inside the second bucket
    b = bucketize(Series(ts, hz), T0, T0 + 30, 10.0)
    unsure = band_ambiguous(b, bands)
    assert unsure.tolist() == [0.0, 1.0, 0.0]
    assert band_seconds(b, bands, unsure) == (20.0, 0.0, 0.0)
    assert beyond(b, 50.0, 0.05).tolist() == [0.0, 1.0, 0.0]


def test_plot_envelopes_from_samples_and_from_rollup_buckets() -> None:
    # Samples over [0, 6) in 3 buckets of 2 s: {1, 3}, only a nan (no value), {10}.
    e = envelope(Series(np.array([0.0, 1.0, 2.0, 5.0]), np.array([1.0, 3.0, np.nan, 10.0])), 0.0, 6.0, 3)
    assert e.start.tolist() == [0.0, 2.0, 4.0]
    assert np.array_equal(e.vmin, [1.0, np.nan, 10.0], equal_nan=True)
    assert np.array_equal(e.vmean, [2.0, np.nan, 10.0], equal_nan=True)
    assert np.array_equal(e.vmax, [3.0, np.nan, 10.0], equal_nan=True)
    # Rollup rows starting at 0, 1, 4 s with 1, 3, 3 samples, in 2 buckets of 3 s: the first bucket's mean is
    # weighted by the sample counts, (10 × 1 + 20 × 3) / 4 = 17.5; a row without samples counts for nothing.
    rows = Buckets(start=np.array([0.0, 1.0, 2.0, 4.0]), end=np.array([1.0, 2.0, 3.0, 5.0]),
                   vmin=np.array([9.0, 15.0, -99.0, 25.0]), vmax=np.array([11.0, 25.0, 99.0, 35.0]),
                   vmean=np.array([10.0, 20.0, 0.0, 30.0]), vlast=np.array([10.0, 20.0, 0.0, 30.0]),
                   n=np.array([1.0, 3.0, 0.0, 3.0]))
    b = envelope_of(rows, 0.0, 6.0, 2)
    assert b.start.tolist() == [0.0, 3.0]
    assert b.vmin.tolist() == [9.0, 25.0] and b.vmean.tolist() == [17.5, 30.0] and b.vmax.tolist() == [25.0, 35.0]
    with pytest.raises(ValueError, match="n > 0 buckets"):
        envelope_of(rows, 0.0, 6.0, 0)
