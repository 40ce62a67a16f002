"""Time series as the report computations take them, and how long each sample holds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Series:
    """Samples of one point, oldest first: ``ts`` POSIX seconds, ``values`` SI (``nan`` = no value)."""

    ts: Array
    values: Array

    def __post_init__(self) -> None:
        if self.ts.shape != self.values.shape or self.ts.ndim != 1:
            raise ValueError(f"series needs two 1-D arrays of one length, got {self.ts.shape} and {self.values.shape}")

    @classmethod
    def of(cls, ts: object, values: object) -> Series:
        return cls(np.asarray(ts, dtype=np.float64), np.asarray(values, dtype=np.float64))

    @classmethod
    def empty(cls) -> Series:
        return cls(np.empty(0), np.empty(0))

    def __len__(self) -> int:
        return int(self.ts.size)

    def finite(self) -> Series:
        """Only the samples that carry a value."""
        keep = np.isfinite(self.values)
        return self if bool(keep.all()) else Series(self.ts[keep], self.values[keep])


def held_seconds(ts: Array, t0: float, t1: float, max_gap_s: float) -> Array:
    """How long each sample holds inside [t0, t1) (sample and hold): from its time until the next sample,
    never longer than ``max_gap_s`` — beyond that the value is not known and the time counts as no data.
    (The historian re-stores an unchanged value every heartbeat, so a longer silence is a real gap.) A
    sample before ``t0`` holds into the period as far as it reaches."""
    if ts.size == 0:
        return np.empty(0)
    nxt = np.append(ts[1:], np.inf)
    end = np.minimum(nxt, ts + max_gap_s)
    held: Array = np.maximum(0.0, np.minimum(end, t1) - np.maximum(ts, t0))
    return held


def clipped_trapezoids(ts: Array, w: Array, t0: float, t1: float, max_gap_s: float) -> tuple[Array, Array]:
    """Trapezoid areas (value × s) of consecutive samples over [t0, t1), with their start times.

    An interval that crosses the period's edge counts only its part inside, the value interpolated linearly
    at the edge (so the reports of two adjacent periods add up to the report of both). Two samples further
    apart than ``max_gap_s`` are not bridged: that interval counts nothing.
    """
    if ts.size < 2:
        return np.empty(0), np.empty(0)
    ta, tb, wa, wb = ts[:-1], ts[1:], w[:-1], w[1:]
    dt = tb - ta
    a, b = np.clip(ta, t0, t1), np.clip(tb, t0, t1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(dt > 0, (wb - wa) / np.where(dt > 0, dt, 1.0), 0.0)
    va, vb = wa + slope * (a - ta), wa + slope * (b - ta)
    area = np.where(dt <= max_gap_s, (va + vb) * 0.5 * (b - a), 0.0)
    return area, a


@dataclass(frozen=True, slots=True)
class Envelope:
    """A series reduced to ``n`` equal buckets for a plot: bucket start, min, mean, max (``nan`` = empty)."""

    start: Array
    vmin: Array
    vmean: Array
    vmax: Array


def envelope(s: Series, t0: float, t1: float, n: int) -> Envelope:
    """min/mean/max of the finite samples in ``n`` equal buckets over [t0, t1) — what a plot of a month of
    1 s data can show without drawing 2.6 million points, peaks included."""
    f = s.finite()
    keep = (f.ts >= t0) & (f.ts < t1)
    v = f.values[keep]
    return binned_envelope(t0, t1, n, f.ts[keep], v, v, v)


def binned_envelope(t0: float, t1: float, n: int, at: Array, mean: Array, lo: Array, hi: Array,
                    weight: Array | None = None) -> Envelope:
    """The envelope of values placed at times ``at`` (all in [t0, t1)) in ``n`` equal buckets: each bucket's
    least ``lo``, greatest ``hi`` and mean of ``mean`` weighted by ``weight`` (None: each value once);
    ``nan`` in all three where a bucket has nothing."""
    if n <= 0 or t1 <= t0:
        raise ValueError(f"an envelope needs n > 0 buckets over t1 > t0, got n={n}, [{t0}, {t1})")
    width = (t1 - t0) / n
    idx = np.minimum(((at - t0) / width).astype(np.int64), n - 1)
    counts = np.bincount(idx, weights=weight, minlength=n)
    sums = np.bincount(idx, weights=mean if weight is None else mean * weight, minlength=n)
    vmin = np.full(n, np.inf)
    vmax = np.full(n, -np.inf)
    np.minimum.at(vmin, idx, lo)
    np.maximum.at(vmax, idx, hi)
    empty = counts == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        vmean = np.where(empty, np.nan, sums / np.maximum(counts, 1))
    vmin[empty] = np.nan
    vmax[empty] = np.nan
    return Envelope((t0 + width * np.arange(n)).astype(np.float64), vmin, vmean.astype(np.float64), vmax)
