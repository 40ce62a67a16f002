"""Fixed-capacity time series buffers that feed the live trends."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class SeriesBuffer:
    """Ring buffer of (time, value) pairs, oldest first when read.

    Bad or stale samples are stored as ``nan`` values so a trend draws a gap
    instead of a line through data that was never measured.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError("series capacity must be at least 2")
        self.capacity = capacity
        self._t = np.full(capacity, np.nan)
        self._v = np.full(capacity, np.nan)
        self._next = 0
        self._count = 0
        self.version = 0  # bumps on every append, so views redraw only on change

    def __len__(self) -> int:
        return self._count

    def append(self, ts: float, value: float) -> None:
        """Add one point; the oldest is dropped when full."""
        self._t[self._next] = ts
        self._v[self._next] = value if math.isfinite(value) else np.nan
        self._next = (self._next + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)
        self.version += 1

    def arrays(self) -> tuple[FloatArray, FloatArray]:
        """Copies of (times, values) in time order."""
        if self._count < self.capacity:
            return self._t[: self._count].copy(), self._v[: self._count].copy()
        return np.roll(self._t, -self._next), np.roll(self._v, -self._next)

    def arrays_since(self, t0: float) -> tuple[FloatArray, FloatArray]:
        """(times, values) with time >= ``t0`` plus the one point before it
        (so a line enters the window from its left edge), without copying
        the whole buffer: live trends ask only for their visible window."""
        if self._count < self.capacity:
            segments = [(self._t[: self._count], self._v[: self._count])]
        else:
            segments = [(self._t[self._next:], self._v[self._next:]), (self._t[: self._next], self._v[: self._next])]
        ts: list[FloatArray] = []
        vs: list[FloatArray] = []
        for t, v in reversed(segments):  # newest segment first
            idx = int(np.searchsorted(t, t0))
            start = max(idx - 1, 0)
            ts.insert(0, t[start:])
            vs.insert(0, v[start:])
            if idx > 0:  # this segment already holds the point before t0
                break
        return np.concatenate(ts), np.concatenate(vs)

    def first_time(self) -> float:
        """Time of the oldest point held (``nan`` when empty)."""
        if self._count == 0:
            return math.nan
        return float(self._t[0] if self._count < self.capacity else self._t[self._next])

    def last_time(self) -> float:
        """Time of the newest point (``nan`` when empty)."""
        if self._count == 0:
            return math.nan
        return float(self._t[(self._next - 1) % self.capacity])
