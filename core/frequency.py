"""Frequency analytics: ROCOF over a sliding window, nadir/zenith of events."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace


class RocofEstimator:
    """Rate of change of frequency as the least-squares slope over a window.

    A regression over the whole window (default 500 ms, as grid codes measure
    ROCOF) is far less noisy than a two-point difference.
    """

    def __init__(self, window_s: float = 0.5) -> None:
        if window_s <= 0:
            raise ValueError(f"ROCOF window must be positive, got {window_s} s")
        self.window_s = window_s
        self._points: deque[tuple[float, float]] = deque()

    def add(self, ts: float, hz: float) -> None:
        """Add one frequency measurement (source timestamp, Hz)."""
        if not math.isfinite(hz):
            return
        if self._points and ts <= self._points[-1][0]:
            if ts < self._points[-1][0] - self.window_s:
                self._points.clear()  # clock jumped back: start over
            else:
                return
        self._points.append((ts, hz))
        horizon = ts - self.window_s
        while self._points and self._points[0][0] < horizon:
            self._points.popleft()

    def reset(self) -> None:
        """Forget the history (after a data gap)."""
        self._points.clear()

    @property
    def value(self) -> float:
        """ROCOF in Hz/s, ``nan`` until the window holds enough data."""
        n = len(self._points)
        if n < 3:
            return math.nan
        t0 = self._points[0][0]
        span = self._points[-1][0] - t0
        if span < self.window_s * 0.5:
            return math.nan
        sx = sy = sxx = sxy = 0.0
        for ts, hz in self._points:
            x = ts - t0
            sx += x
            sy += hz
            sxx += x * x
            sxy += x * hz
        denom = n * sxx - sx * sx
        if denom <= 0:
            return math.nan
        return (n * sxy - sx * sy) / denom


@dataclass(frozen=True, slots=True)
class FrequencyEvent:
    """One excursion of frequency away from nominal."""

    start_ts: float
    nadir_hz: float
    nadir_ts: float
    zenith_hz: float
    zenith_ts: float
    max_abs_rocof: float = 0.0
    end_ts: float | None = None

    @property
    def active(self) -> bool:
        return self.end_ts is None


class FrequencyEventTracker:
    """Detects frequency events and records their nadir and zenith.

    An event starts when the deviation from nominal exceeds ``start_dev_hz``
    and ends once it has stayed within ``end_dev_hz`` for ``hold_s``.
    """

    def __init__(
        self,
        nominal_hz: float = 50.0,
        start_dev_hz: float = 0.1,
        end_dev_hz: float = 0.05,
        hold_s: float = 10.0,
    ) -> None:
        if not 0 < end_dev_hz <= start_dev_hz:
            raise ValueError("event thresholds need 0 < end_dev_hz <= start_dev_hz")
        self.nominal_hz = nominal_hz
        self.start_dev_hz = start_dev_hz
        self.end_dev_hz = end_dev_hz
        self.hold_s = hold_s
        self.active: FrequencyEvent | None = None
        self.last: FrequencyEvent | None = None
        self._calm_since: float | None = None

    def add(self, ts: float, hz: float, rocof: float = math.nan) -> None:
        """Feed one measurement."""
        if not math.isfinite(hz):
            return
        dev = abs(hz - self.nominal_hz)
        event = self.active
        if event is None:
            if dev > self.start_dev_hz:
                self.active = FrequencyEvent(ts, hz, ts, hz, ts, _abs(rocof))
                self._calm_since = None
            return
        if hz < event.nadir_hz:
            event = replace(event, nadir_hz=hz, nadir_ts=ts)
        if hz > event.zenith_hz:
            event = replace(event, zenith_hz=hz, zenith_ts=ts)
        if _abs(rocof) > event.max_abs_rocof:
            event = replace(event, max_abs_rocof=_abs(rocof))
        if dev <= self.end_dev_hz:
            if self._calm_since is None:
                self._calm_since = ts
            elif ts - self._calm_since >= self.hold_s:
                self.last = replace(event, end_ts=ts)
                self.active = None
                self._calm_since = None
                return
        else:
            self._calm_since = None
        self.active = event


def _abs(x: float) -> float:
    return abs(x) if math.isfinite(x) else 0.0
