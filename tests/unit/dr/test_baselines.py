"""Baselines on a hand-built history (hourly intervals so every figure is checked by hand)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from core.dr import BaselineUnavailable, DayLoad, accuracy, caiso_10_of_10, day_matching


def flat(d: date, kw: float, **kw_flags: bool) -> DayLoad:
    return DayLoad(day=d, kw=np.full(24, kw), **kw_flags)


EVENT_DAY = date(2026, 6, 17)  # a Wednesday
# The ten eligible weekdays before it, most recent first, with loads 1..10 kW; the eleventh (May 29) is 11 kW.
ELIGIBLE = [date(2026, 6, d) for d in (16, 15, 12, 10, 9, 5, 4, 3, 2, 1)]


def history() -> list[DayLoad]:
    days = [flat(d, float(i + 1)) for i, d in enumerate(ELIGIBLE)]
    days.append(flat(date(2026, 5, 29), 11.0))
    days.append(flat(date(2026, 6, 11), 999.0, event=True))    # an event day: never in a baseline
    days.append(flat(date(2026, 6, 8), 999.0, holiday=True))   # a holiday Monday: weekend-like
    days += [flat(d, 100.0) for d in (date(2026, 6, 13), date(2026, 6, 14), date(2026, 6, 6), date(2026, 6, 7))]
    days.append(flat(EVENT_DAY + timedelta(days=1), 555.0))    # after the event: never used
    return days


def event_day(morning_kw: float) -> DayLoad:
    kw = np.full(24, morning_kw)
    kw[17:19] = [4.05, 3.05]
    return DayLoad(day=EVENT_DAY, kw=kw)


def test_ten_most_recent_eligible_weekdays_averaged() -> None:
    b = caiso_10_of_10(history(), event_day(5.5), 17, 19, adjust=False)
    assert b.days == tuple(ELIGIBLE)          # no event day, holiday, weekend or later day
    assert b.kw == pytest.approx(np.full(24, 5.5))  # (1 + … + 10) / 10


def test_same_day_adjustment_scales_by_the_three_hours_ending_an_hour_before() -> None:
    # Hours 13, 14, 15 (not 16) of the event day at 6.05 kW against a 5.5 kW baseline: ratio 1.1.
    d = event_day(5.5)
    d.kw[13:16] = 6.05
    d.kw[16] = 50.0  # the hour just before the event is left out
    b = caiso_10_of_10(history(), d, 17, 19)
    assert b.ratio == pytest.approx(1.1)
    assert not b.capped
    assert b.kw[17] == pytest.approx(6.05)


def test_adjustment_is_capped_at_twenty_percent_both_ways() -> None:
    high = event_day(11.0)   # ratio 2.0 -> 1.2
    b = caiso_10_of_10(history(), high, 17, 19)
    assert (b.ratio, b.ratio_applied, b.capped) == (pytest.approx(2.0), pytest.approx(1.2), True)
    assert b.kw[18] == pytest.approx(6.6)
    low = event_day(1.1)     # ratio 0.2 -> 0.8
    assert caiso_10_of_10(history(), low, 17, 19).kw[18] == pytest.approx(4.4)


def test_weekend_event_uses_four_weekend_or_holiday_days() -> None:
    sat = DayLoad(day=date(2026, 6, 20), kw=np.full(24, 100.0))
    b = caiso_10_of_10(history(), sat, 17, 19, adjust=False)
    assert b.days == (date(2026, 6, 14), date(2026, 6, 13), date(2026, 6, 8), date(2026, 6, 7))
    assert b.kw[17] == pytest.approx((100 + 100 + 999 + 100) / 4)


def test_too_little_history_is_refused_with_what_was_found() -> None:
    few = [flat(d, 1.0) for d in ELIGIBLE[:4]]
    with pytest.raises(BaselineUnavailable, match=r"4 eligible weekday day\(s\).*at least 5"):
        caiso_10_of_10(few, event_day(1.0), 17, 19)
    old = [flat(EVENT_DAY - timedelta(days=46 + i), 1.0) for i in range(10)]  # all beyond 45 days
    with pytest.raises(BaselineUnavailable, match="0 eligible"):
        caiso_10_of_10(old, event_day(1.0), 17, 19)


def test_day_matching_picks_the_five_closest_mornings() -> None:
    # Mornings (hours 0-15) at 3.2 kW: closest are 3 (0.2), 4 (0.8), 2 (1.2), 5 (1.8), 1 (2.2) kW -> 3.0 kW.
    b = day_matching(history(), event_day(3.2), 17, 19)
    assert set(b.days) == {date(2026, 6, 12), date(2026, 6, 10), date(2026, 6, 15), date(2026, 6, 9),
                           date(2026, 6, 16)}
    assert b.kw[17] == pytest.approx(3.0)


def test_bad_windows_are_named() -> None:
    with pytest.raises(ValueError, match=r"\[20, 25\) are not within the day's 24"):
        caiso_10_of_10(history(), event_day(1.0), 20, 25)
    with pytest.raises(BaselineUnavailable, match="no morning"):
        day_matching(history(), event_day(1.0), 0, 2)


def test_accuracy_is_the_median_error_on_non_event_days() -> None:
    # Mon-Fri at 10 kW, then Mon 11 kW (ratio 1.1: adjusted baseline exact, error 0), then Tue 15 kW:
    # baseline (5 x 10 + 11) / 6 = 10.1667, ratio 1.475 capped to 1.2 -> 12.2 kW, error 2.8 / 15 = 0.18667.
    days = [flat(date(2026, 6, d), 10.0) for d in range(1, 6)]
    days += [flat(date(2026, 6, 8), 11.0), flat(date(2026, 6, 9), 15.0), flat(date(2026, 6, 10), 50.0, event=True)]
    acc = accuracy(days, caiso_10_of_10, 17, 19)
    assert acc.days == (date(2026, 6, 8), date(2026, 6, 9))
    assert acc.errors == pytest.approx((0.0, 2.8 / 15))
    assert acc.median_ape == pytest.approx(1.4 / 15)
    assert acc.method == "caiso-10-of-10"
