"""Forecast errors: MAPE, and the seasonal-naive baseline every forecast must beat."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def seasonal_naive(history: Array, steps_per_day: int) -> Array:
    """Tomorrow = today: the last ``steps_per_day`` values of the history (same time yesterday)."""
    if history.size < steps_per_day:
        raise ValueError(f"seasonal naive needs a whole day ({steps_per_day} steps), got {history.size}")
    out: Array = np.asarray(history[-steps_per_day:], dtype=np.float64).copy()
    return out


def mape(forecast: Array, actual: Array, mask: NDArray[np.bool_] | None = None) -> float:
    """Mean absolute percentage error (%) over the steps in ``mask`` (all by default) where the actual value
    is positive; ``nan`` when no step counts."""
    f, a = np.asarray(forecast, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    if f.shape != a.shape:
        raise ValueError(f"forecast and actual differ in shape: {f.shape} vs {a.shape}")
    keep = np.isfinite(f) & np.isfinite(a) & (a > 0)
    if mask is not None:
        keep &= mask
    if not bool(keep.any()):
        return math.nan
    return float(np.mean(np.abs(f[keep] - a[keep]) / a[keep]) * 100.0)


@dataclass(frozen=True, slots=True)
class Skill:
    """A forecast's MAPE and the seasonal-naive baseline's over the same steps (%)."""

    mape: float
    naive_mape: float

    @property
    def ratio(self) -> float:
        """Forecast error / baseline error: below 1 the forecast is better than "same as yesterday"."""
        return self.mape / self.naive_mape if self.naive_mape > 0 else math.nan


def fill_gaps(values: Array) -> Array:
    """Missing steps (``nan``) linearly interpolated from their neighbours (held at the ends); all-missing
    stays all-missing."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    if ok.all() or not ok.any():
        return v.copy()
    x = np.arange(v.size)
    out: Array = np.interp(x, x[ok], v[ok])
    return out
