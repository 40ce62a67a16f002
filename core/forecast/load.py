"""Day-ahead load: Holt-Winters exponential smoothing (statsmodels) with daily seasonality.

A household's Monday does not look like its Sunday, so a single daily season would smear the weekend
into every weekday. The model is fitted on the history of the target's *day type* only (working days,
Saturdays, Sundays), days concatenated in order: the daily season then is that day type's shape and the
level follows the recent ones. Before there are two days of that type: weekend days together, then the one
day of its kind, then all days.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Sequence

import numpy as np

from core.forecast.errors import Array, seasonal_naive


class DayType(enum.Enum):
    WORKDAY = "workday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @classmethod
    def of(cls, weekday: int) -> DayType:
        """0 = Monday."""
        return cls.SUNDAY if weekday == 6 else cls.SATURDAY if weekday == 5 else cls.WORKDAY


def holt_winters(history: Array, steps_per_day: int, horizon: int) -> Array:
    """Additive Holt-Winters (level + daily season, no trend: a day's load has none worth extrapolating),
    parameters by maximum likelihood; the forecast clipped at zero. Needs two whole days."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing  # type: ignore[import-untyped]

    y = np.asarray(history, dtype=np.float64)
    if y.size < 2 * steps_per_day:
        raise ValueError(f"Holt-Winters needs two days of history ({2 * steps_per_day} steps), got {y.size}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on flat series; the fit is still usable
        fit = ExponentialSmoothing(y, trend=None, seasonal="add", seasonal_periods=steps_per_day,
                                   initialization_method="heuristic").fit()
    out: Array = np.maximum(np.asarray(fit.forecast(horizon), dtype=np.float64), 0.0)
    return out


def day_ahead_load(days: Sequence[Array], weekdays: Sequence[int], target_weekday: int) -> Array:
    """Tomorrow's load (one value per step) from whole past ``days`` (oldest first, equal length) and the
    weekday (0 = Monday) of each and of the target day."""
    if len(days) != len(weekdays) or not days:
        raise ValueError(f"need one weekday per day, got {len(days)} days and {len(weekdays)} weekdays")
    steps = days[0].size
    want = DayType.of(target_weekday)
    types = [DayType.of(w) for w in weekdays]
    same = [d for d, t in zip(days, types, strict=True) if t is want]
    if len(same) >= 2:
        return holt_winters(np.concatenate(same), steps, steps)
    weekend = want is not DayType.WORKDAY
    group = [d for d, t in zip(days, types, strict=True) if (t is not DayType.WORKDAY) == weekend]
    if len(group) >= 2:  # Saturdays and Sundays together before there are two of each
        return holt_winters(np.concatenate(group), steps, steps)
    if group:  # the one day of its kind so far
        return seasonal_naive(group[-1], steps)
    if len(days) >= 2:
        return holt_winters(np.concatenate(list(days)), steps, steps)
    return seasonal_naive(days[-1], steps)
