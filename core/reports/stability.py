"""Grid stability KPIs: time in each ENTSO-E frequency band, frequency events, EN 50160 voltage compliance."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.bands import FrequencyBands, VoltageBands
from core.frequency import FrequencyEvent, FrequencyEventTracker, RocofEstimator
from core.reports.series import Series, held_seconds

EN50160_WINDOW_S = 600.0  # EN 50160 evaluates 10-minute mean values
EN50160_SHARE = 0.95  # ... of which 95 % must lie within the band over the period (a week in the standard)
_EN50160_BAND = VoltageBands()


@dataclass(frozen=True, slots=True)
class BandTime:
    """Seconds the frequency spent in each band over a period; ``no_data_s`` is time no sample covered."""

    normal_s: float
    alert_s: float
    emergency_s: float
    no_data_s: float

    @property
    def covered_s(self) -> float:
        return self.normal_s + self.alert_s + self.emergency_s

    def share(self, seconds: float) -> float:
        """A band's seconds as a share (0–1) of the covered time (``nan`` with no data at all)."""
        return seconds / self.covered_s if self.covered_s > 0 else math.nan


def band_time(freq: Series, t0: float, t1: float, bands: FrequencyBands, max_gap_s: float) -> BandTime:
    """Time in the normal, alert and emergency bands over [t0, t1).

    Each sample holds until the next one (servers report by exception), at most ``max_gap_s``; the last
    sample before ``t0`` holds into the period. A band boundary value belongs to the calmer band, as in
    :meth:`FrequencyBands.classify`.
    """
    s = freq.finite()
    ts, hz = s.ts, s.values
    held = held_seconds(ts, t0, t1, max_gap_s)
    emergency = (hz < bands.emergency_low_hz) | (hz > bands.emergency_high_hz)
    alert = ~emergency & ((hz < bands.normal_low_hz) | (hz > bands.normal_high_hz))
    normal = ~emergency & ~alert
    e, a, n = float(held[emergency].sum()), float(held[alert].sum()), float(held[normal].sum())
    return BandTime(n, a, e, max(0.0, (t1 - t0) - (n + a + e)))


def frequency_events(freq: Series, nominal_hz: float = 50.0, start_dev_hz: float = 0.1, end_dev_hz: float = 0.05,
                     hold_s: float = 10.0, rocof_window_s: float = 0.5, max_gap_s: float = math.inf
                     ) -> list[FrequencyEvent]:
    """Frequency excursions with nadir, zenith and max |ROCOF|, found by the console's live tracker
    (:class:`core.frequency.FrequencyEventTracker`) replayed over the history. An event still open at the
    end of the data is returned with ``end_ts`` None. A gap longer than ``max_gap_s`` restarts the ROCOF
    window (a slope across a gap means nothing)."""
    s = freq.finite()
    tracker = FrequencyEventTracker(nominal_hz, start_dev_hz, end_dev_hz, hold_s)
    rocof = RocofEstimator(rocof_window_s)
    events: list[FrequencyEvent] = []
    last_ts = -math.inf
    for ts, hz in zip(s.ts.tolist(), s.values.tolist(), strict=True):
        if ts - last_ts > max_gap_s:
            rocof.reset()
        last_ts = ts
        rocof.add(ts, hz)
        before = tracker.last
        tracker.add(ts, hz, rocof.value)
        if tracker.last is not before and tracker.last is not None:
            events.append(tracker.last)
    if tracker.active is not None:
        events.append(tracker.active)
    return events


@dataclass(frozen=True, slots=True)
class VoltageCompliance:
    """EN 50160 on one bus: its 10-minute means over a period against nominal ±10 %."""

    bus: str
    nominal_v: float
    windows: int  # 10-minute windows of the period that hold at least one sample
    missing: int  # whole windows of the period without any sample (gaps: not counted either way)
    within: int  # windows whose mean lies within the band
    min_mean_v: float
    max_mean_v: float

    @property
    def share_within(self) -> float:
        return self.within / self.windows if self.windows else math.nan

    @property
    def compliant(self) -> bool:
        """At least 95 % of the period's 10-minute means within ±10 % of nominal (False without data)."""
        return self.windows > 0 and self.within >= EN50160_SHARE * self.windows


def en50160(bus: str, volts: Series, nominal_v: float, t0: float, t1: float,
            bands: VoltageBands = _EN50160_BAND) -> VoltageCompliance:
    """10-minute means of a bus voltage and the 95 % criterion over [t0, t1).

    Windows are aligned to the clock (multiples of 600 s since the epoch, i.e. :00, :10, … UTC). Only
    windows wholly inside the period are evaluated: a period that starts or ends mid-window drops that
    partial window. A window's mean is the plain mean of the samples stored in it; a window without any
    sample is a gap, counted in ``missing`` and in neither the numerator nor the denominator.
    """
    if not nominal_v > 0:
        raise ValueError(f"bus {bus!r}: EN 50160 needs a positive nominal voltage, got {nominal_v}")
    w = EN50160_WINDOW_S
    first, end = math.ceil(t0 / w) * w, math.floor(t1 / w) * w
    total = max(0, round((end - first) / w))
    s = volts.finite()
    keep = (s.ts >= first) & (s.ts < end)
    ts, v = s.ts[keep], s.values[keep]
    if total == 0 or ts.size == 0:
        return VoltageCompliance(bus, nominal_v, 0, total, 0, math.nan, math.nan)
    index = ((ts - first) // w).astype(np.int64)
    sums = np.bincount(index, weights=v, minlength=total)
    counts = np.bincount(index, minlength=total)
    has = counts > 0
    return en50160_of_means(bus, nominal_v, total, sums[has] / counts[has], bands)


def en50160_of_means(bus: str, nominal_v: float, windows: int, means: np.ndarray,
                     bands: VoltageBands = _EN50160_BAND) -> VoltageCompliance:
    """EN 50160 from the 10-minute means of the windows that hold samples, out of ``windows`` in the
    period (the rest are gaps)."""
    if not nominal_v > 0:
        raise ValueError(f"bus {bus!r}: EN 50160 needs a positive nominal voltage, got {nominal_v}")
    if means.size == 0:
        return VoltageCompliance(bus, nominal_v, 0, windows, 0, math.nan, math.nan)
    low, high = bands.limits(nominal_v)
    within = int(((means >= low) & (means <= high)).sum())
    return VoltageCompliance(bus, nominal_v, int(means.size), int(windows - means.size), within,
                             float(means.min()), float(means.max()))
