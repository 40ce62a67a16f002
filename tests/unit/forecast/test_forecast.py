"""Forecasts on days of the World's model (bench/forecast.py: its assets, load shapes, noise and clouds,
seeded): each beats the seasonal-naive baseline by the issue's margin; MAPE and the baseline by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.forecast import STEPS, world_days
from core.forecast.errors import Skill, fill_gaps, mape, seasonal_naive
from core.forecast.load import DayType, day_ahead_load
from core.forecast.pv import PvSite, clear_sky_poa, day_ahead_pv, daylight

pytestmark = pytest.mark.unit


def test_mape_and_the_baseline_by_hand() -> None:
    # |110 − 100| / 100 = 10 %, |90 − 100| / 100 = 10 %, the zero actual does not count
    assert mape(np.array([110.0, 90.0, 5.0]), np.array([100.0, 100.0, 0.0])) == pytest.approx(10.0)
    assert math.isnan(mape(np.array([1.0]), np.array([0.0])))
    assert mape(np.array([2.0, 50.0]), np.array([1.0, 100.0]), np.array([False, True])) == pytest.approx(50.0)
    assert seasonal_naive(np.arange(10.0), 4).tolist() == [6.0, 7.0, 8.0, 9.0]
    assert fill_gaps(np.array([1.0, np.nan, 3.0, np.nan])).tolist() == [1.0, 2.0, 3.0, 3.0]
    assert Skill(4.0, 8.0).ratio == 0.5
    assert [DayType.of(d) for d in (0, 4, 5, 6)] == [DayType.WORKDAY, DayType.WORKDAY, DayType.SATURDAY,
                                                     DayType.SUNDAY]


def test_a_load_that_repeats_every_workday_is_forecast_exactly() -> None:
    shape = 500 + 400 * np.sin(np.arange(STEPS) / STEPS * 2 * np.pi) ** 2
    weekend = np.full(STEPS, 300.0)
    days = [weekend if wd >= 5 else shape for wd in (3, 4, 5, 6, 0, 1)]  # Thursday … Tuesday
    f = day_ahead_load(days, [3, 4, 5, 6, 0, 1], 2)  # a Wednesday: from the workdays only
    assert np.abs(f - shape).max() < 1.0  # while "same as yesterday" would be right only by luck


def test_on_the_worlds_days_both_forecasts_beat_the_seasonal_naive_baseline() -> None:
    w = world_days(10, connections=30, step_s=300)  # 22 June 2026 (a Monday) onwards
    site = PvSite()
    priors = [clear_sky_poa(site, w.start + d * 86400 + 900 * np.arange(STEPS, dtype=np.float64), 900)
              for d in range(w.days)]
    load, pv = w.consumption_w.sum(axis=0), w.pv_w.sum(axis=0)
    lf, ln, pf, pn = [], [], [], []
    for d in range(6, 10):  # Sunday to Wednesday
        past_l, past_p = [w.day(load, k) for k in range(d)], [w.day(pv, k) for k in range(d)]
        actual_l, actual_p = w.day(load, d), w.day(pv, d)
        lf.append(mape(day_ahead_load(past_l, [w.weekday(k) for k in range(d)], w.weekday(d)), actual_l))
        ln.append(mape(past_l[-1], actual_l))
        light = daylight(priors[d])
        pf.append(mape(day_ahead_pv(past_p, priors[:d], priors[d]), actual_p, light))
        pn.append(mape(past_p[-1], actual_p, light))
    assert np.mean(lf) <= 0.8 * np.mean(ln), (lf, ln)
    assert np.mean(pf) <= 0.8 * np.mean(pn), (pf, pn)
