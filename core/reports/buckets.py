"""KPIs from the historian's rollups (min, max, mean, last and count per clock-aligned bucket) instead of
every raw sample: a month of 1 s data is 2.6 million rows per point, its 1-minute rollup 43,200.

What each KPI keeps (docs/decisions.md, "Reports read rollups"):

- EN 50160 10-minute means and plot envelopes are exact: a 10-minute window is a union of 1-minute (or
  10 s) buckets, and the mean of a union is ``Σ mean·n / Σ n``.
- Energy is ``Σ mean × held duration`` per bucket; where a bucket's values change sign (a meter between
  import and export) the bucket is *ambiguous* for the signed parts and its raw samples are read
  (:func:`ranges`). Equal to the trapezoid rule for regular sampling up to half a sample at each data edge.
- Time in a frequency band: a 10 s bucket whose min and max lie in one band region is wholly in it;
  ambiguous buckets are read raw. Frequency events are found on the raw samples of the buckets that leave
  the event's end band, padded by the hold time (exact).
- Gaps: a missing bucket run no longer than ``max_gap_s`` holds the last value before it (sample and hold,
  as :func:`core.reports.series.held_seconds`); a longer one is no data. Exact to one bucket at each gap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from core.bands import FrequencyBands
from core.reports.series import Array, Envelope, Series, binned_envelope


@dataclass(frozen=True, slots=True)
class Buckets:
    """Rollup rows of one point, oldest first: each covers [start, end) (POSIX s; a bucket cut by the
    period's edge ends there) with the min, max, plain mean and last of its ``n`` samples."""

    start: Array
    end: Array
    vmin: Array
    vmax: Array
    vmean: Array
    vlast: Array
    n: Array

    def __len__(self) -> int:
        return int(self.start.size)

    @classmethod
    def empty(cls) -> Buckets:
        e = np.empty(0)
        return cls(e, e, e, e, e, e, e)

    @classmethod
    def of(cls, start: object, end: object, vmin: object, vmax: object, vmean: object, vlast: object,
           n: object) -> Buckets:
        a = [np.asarray(x, dtype=np.float64) for x in (start, end, vmin, vmax, vmean, vlast, n)]
        return cls(*a)

    @classmethod
    def concat(cls, parts: Sequence[Buckets]) -> Buckets:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        b = cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))
        order = np.argsort(b.start, kind="stable")
        return b.take(order)

    def take(self, index: Array | np.ndarray) -> Buckets:
        return Buckets(*(getattr(self, f)[index] for f in _FIELDS))

    @property
    def duration(self) -> Array:
        d: Array = self.end - self.start
        return d


_FIELDS = ("start", "end", "vmin", "vmax", "vmean", "vlast", "n")


@runtime_checkable
class BucketReader(Protocol):
    """Rollups and raw samples of the historian (blocking calls: run them in a worker thread)."""

    def read_buckets(self, point: str, t0: float, t1: float, width_s: float) -> Buckets:
        """Buckets of ``width_s`` of ``point`` over [t0, t1): the rollup rows where they exist, raw samples
        bucketed the same way where they do not (the newest part not rolled up yet, a period's partial
        edges)."""
        ...

    def read_series(self, point: str, t0: float, t1: float) -> Series:
        """Raw usable samples in [t0, t1) and the nearest one on either side."""
        ...


def bucketize(s: Series, t0: float, t1: float, width_s: float) -> Buckets:
    """What a rollup of ``width_s`` stores for the finite samples in [t0, t1): buckets aligned to the epoch,
    cut at the period's edges."""
    f = s.finite()
    keep = (f.ts >= t0) & (f.ts < t1)
    ts, v = f.ts[keep], f.values[keep]
    if ts.size == 0:
        return Buckets.empty()
    k = np.floor(ts / width_s).astype(np.int64)
    first = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    last = np.r_[first[1:] - 1, k.size - 1]
    n = np.diff(np.r_[first, k.size]).astype(np.float64)
    start = k[first] * width_s
    return Buckets(np.maximum(start, t0), np.minimum(start + width_s, t1),
                   np.minimum.reduceat(v, first), np.maximum.reduceat(v, first),
                   np.add.reduceat(v, first) / n, v[last], n)


def held(b: Buckets, max_gap_s: float) -> Buckets:
    """The buckets with each gap between two of them no longer than ``max_gap_s`` filled by a bucket holding
    the last value before it (values hold until the next sample, as the historian stores by exception with
    a heartbeat); longer gaps stay no data."""
    if len(b) < 2:
        return b
    gap = b.start[1:] - b.end[:-1]
    fill = np.flatnonzero((gap > 0) & (gap <= max_gap_s))
    if fill.size == 0:
        return b
    v = b.vlast[fill]
    extra = Buckets(b.end[fill], b.start[fill + 1], v, v, v, v, np.zeros(fill.size))
    return Buckets.concat([b, extra])


def clip(b: Buckets, t0: float, t1: float) -> Buckets:
    """The buckets overlapping [t0, t1), cut at its edges (read a little wider than the period, filled with
    :func:`held`, then clipped: a value held across the period's edge counts its part inside)."""
    keep = (b.end > t0) & (b.start < t1)
    c = b.take(np.flatnonzero(keep))
    return Buckets(np.maximum(c.start, t0), np.minimum(c.end, t1), c.vmin, c.vmax, c.vmean, c.vlast, c.n)


def mixed_sign(b: Buckets) -> Array:
    """Buckets whose values change sign: their positive and negative parts need the raw samples."""
    m: Array = ((b.vmin < 0) & (b.vmax > 0)).astype(np.float64)
    return m


def signed_energy_wh(b: Buckets, sign: int, skip: Array | None = None) -> float:
    """Energy (Wh) of power buckets (W): ``sign`` 0 the signed power, +1 the positive part, −1 the negative
    part as a positive number. ``skip`` (1.0 where set) leaves buckets out (those integrated raw)."""
    e = b.vmean * b.duration
    if sign > 0:
        e = np.where(b.vmin >= 0, e, np.where(b.vmax <= 0, 0.0, np.maximum(e, 0.0)))
    elif sign < 0:
        e = np.where(b.vmax <= 0, -e, np.where(b.vmin >= 0, 0.0, np.maximum(-e, 0.0)))
    if skip is not None:
        e = np.where(skip > 0, 0.0, e)
    return float(e.sum()) / 3600.0


def energy_by_hour_wh(b: Buckets, skip: Array | None = None) -> Array:
    """Energy (Wh) of the positive power per hour of the day (UTC), each bucket in the hour it starts."""
    e = np.where(b.vmin >= 0, b.vmean, np.maximum(b.vmean, 0.0)) * b.duration / 3600.0
    if skip is not None:
        e = np.where(skip > 0, 0.0, e)
    if e.size == 0:
        return np.zeros(24)
    hours = ((b.start // 3600) % 24).astype(np.int64)
    out: Array = np.bincount(hours, weights=e, minlength=24).astype(np.float64)
    return out


def counter_advance_wh(b: Buckets) -> float | None:
    """What an energy counter advanced over the buckets: its forward steps from the first value (the first
    bucket's min, for a counter that only counts up) to the last; None without two samples."""
    real = b.n > 0
    if int(b.n[real].sum()) < 2:
        return None
    last = b.vlast[real]
    first = b.vmin[real][0]
    return float(max(0.0, last[0] - first) + np.maximum(np.diff(last), 0.0).sum())


def ten_minute_means(b: Buckets, t0: float, t1: float, window_s: float = 600.0
                     ) -> tuple[int, Array]:
    """The windows of ``window_s`` (clock-aligned, wholly inside [t0, t1)) and the plain sample mean of each
    that holds samples: ``Σ mean·n / Σ n`` over the buckets starting in it (exact for buckets that nest in
    the window). Returns (number of windows in the period, the means of the windows with data)."""
    first, end = math.ceil(t0 / window_s) * window_s, math.floor(t1 / window_s) * window_s
    total = max(0, round((end - first) / window_s))
    real = (b.n > 0) & (b.start >= first) & (b.start < end)
    if total == 0 or not bool(real.any()):
        return total, np.empty(0)
    idx = ((b.start[real] - first) // window_s).astype(np.int64)
    sums = np.bincount(idx, weights=b.vmean[real] * b.n[real], minlength=total)
    counts = np.bincount(idx, weights=b.n[real], minlength=total)
    has = counts > 0
    means: Array = sums[has] / counts[has]
    return total, means


def envelope_of(b: Buckets, t0: float, t1: float, n: int) -> Envelope:
    """min / mean / max in ``n`` equal plot buckets from rollup buckets (each counts where it starts; the
    mean weighted by sample count, so equal to the raw samples' envelope when buckets nest)."""
    real = (b.n > 0) & (b.start >= t0) & (b.start < t1)
    return binned_envelope(t0, t1, n, b.start[real], b.vmean[real], b.vmin[real], b.vmax[real], weight=b.n[real])


def band_region(hz: Array, bands: FrequencyBands) -> Array:
    """−2 emergency low, −1 alert low, 0 normal, 1 alert high, 2 emergency high (boundaries to the calmer
    band, as :meth:`FrequencyBands.classify`)."""
    r: Array = np.select([hz < bands.emergency_low_hz, hz < bands.normal_low_hz, hz > bands.emergency_high_hz,
                          hz > bands.normal_high_hz], [-2.0, -1.0, 2.0, 1.0], 0.0)
    return r


def band_ambiguous(b: Buckets, bands: FrequencyBands) -> Array:
    """Buckets whose samples may lie in more than one band: min and max in different regions."""
    a: Array = (band_region(b.vmin, bands) != band_region(b.vmax, bands)).astype(np.float64)
    return a


def band_seconds(b: Buckets, bands: FrequencyBands, skip: Array) -> tuple[float, float, float]:
    """(normal, alert, emergency) seconds of the unambiguous buckets (``skip`` the ambiguous ones)."""
    keep = skip <= 0
    region = np.abs(band_region(b.vmin[keep], bands))
    d = b.duration[keep]
    return float(d[region == 0].sum()), float(d[region == 1].sum()), float(d[region == 2].sum())


def beyond(b: Buckets, nominal: float, dev: float) -> Array:
    """Buckets where some sample deviates more than ``dev`` from ``nominal``."""
    m: Array = (np.maximum(np.abs(b.vmin - nominal), np.abs(b.vmax - nominal)) > dev).astype(np.float64)
    return m


def ranges(b: Buckets, mask: Array, pad_s: float = 0.0) -> list[tuple[float, float]]:
    """The time ranges of the masked buckets, widened by ``pad_s`` on each side, overlapping ones merged."""
    sel = mask > 0
    if not bool(sel.any()):
        return []
    a, z = b.start[sel] - pad_s, b.end[sel] + pad_s
    out: list[tuple[float, float]] = []
    for lo, hi in zip(a.tolist(), z.tolist(), strict=True):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out
