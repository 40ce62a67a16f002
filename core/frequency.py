"""Frequency analytics: ROCOF over a sliding window, nadir/zenith of events."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace


class RocofEstimator:
    """Rate of change of frequency as the least-squares slope over a window.

    A regression over the whole window (default 500 ms, as grid codes measure
    ROCOF) is far less noisy than a two-point difference.

    Servers report by exception: an unchanged frequency sends nothing, and the
    value still holds. The signal is therefore read as sample-and-hold: the
    sample before the window holds at the window's start, and :meth:`value_at`
    holds the newest sample up to the time asked for, so a healthy, steady
    50.000 Hz gives a ROCOF of exactly 0 rather than "no data".
    """

    def __init__(self, window_s: float = 0.5) -> None:
        if window_s <= 0:
            raise ValueError(f"ROCOF window must be positive, got {window_s} s")
        self.window_s = window_s
        # In time order; the first entry may lie before the window (it holds at the window's start).
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
        while len(self._points) > 1 and self._points[1][0] <= horizon:
            self._points.popleft()

    def reset(self) -> None:
        """Forget the history (after a data gap or a bad value)."""
        self._points.clear()

    @property
    def last_ts(self) -> float:
        """Source time of the newest sample, ``nan`` when there is none."""
        return self._points[-1][0] if self._points else math.nan

    @property
    def value(self) -> float:
        """ROCOF in Hz/s at the newest sample, ``nan`` until the window holds enough data."""
        return self.value_at(self.last_ts) if self._points else math.nan

    def value_at(self, ts: float) -> float:
        """ROCOF in Hz/s over the window ending at ``ts``, the newest value held up to ``ts``.

        ``nan`` until the data spans at least half a window. A ``ts`` before
        the newest sample is taken as the newest sample's time.
        """
        if not self._points or not math.isfinite(ts):
            return math.nan
        last_ts, last_hz = self._points[-1]
        end = max(ts, last_ts)
        horizon = end - self.window_s
        held: list[tuple[float, float]] = []
        for t, hz in self._points:
            if t <= horizon:
                held = [(horizon, hz)]  # the value that held when the window opened
            else:
                held.append((t, hz))
        if end > last_ts:
            held.append((end, last_hz))
        n = len(held)
        if n < 2:
            return math.nan
        t0, hz0 = held[0]
        if held[-1][0] - t0 < self.window_s * 0.5:
            return math.nan
        sx = sy = sxx = sxy = 0.0
        for t, hz in held:
            x = t - t0
            y = hz - hz0  # relative to the first value: a steady frequency gives exactly 0, not 1e-14
            sx += x
            sy += y
            sxx += x * x
            sxy += x * y
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
