"""Alarm flood detection per operator position (ISA-18.2: more than 10 alarms in 10 minutes).

Live detection uses a sliding window: the position is in flood while more
than ``limit`` annunciated alarms activated in the last ``window_s``. The
first alarm of the window that tipped it over is the flood's *first out*:
the likely initiating cause the operator should look at first.
(The KPI "% of time in flood" uses fixed 10-minute periods instead, as ISA-18.2
defines it; see :mod:`core.alarms.kpis`.)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

FLOOD_WINDOW_S = 600.0
FLOOD_LIMIT = 10  # a flood is MORE than this many alarms in the window


@dataclass(frozen=True, slots=True)
class FloodStatus:
    """One operator position's alarm load now."""

    position: str
    count: int  # annunciated activations in the last window
    in_flood: bool
    since: float | None  # when the present flood began
    first_out: str | None  # the alarm that opened the window of the present flood


class FloodMonitor:
    """Counts annunciated activations per position over a sliding window."""

    def __init__(self, window_s: float = FLOOD_WINDOW_S, limit: int = FLOOD_LIMIT) -> None:
        if window_s <= 0 or limit < 1:
            raise ValueError(f"flood window must be above 0 s and limit at least 1, got {window_s}, {limit}")
        self.window_s = window_s
        self.limit = limit
        self._recent: dict[str, deque[tuple[float, str]]] = {}
        self._since: dict[str, float] = {}
        self._first_out: dict[str, str] = {}

    def record(self, position: str, ts: float, alarm: str) -> None:
        """An annunciated alarm activated at ``ts``."""
        recent = self._recent.setdefault(position, deque())
        recent.append((ts, alarm))
        self._prune(position, ts)
        if len(recent) > self.limit and position not in self._since:
            self._since[position] = ts
            self._first_out[position] = recent[0][1]

    def status(self, position: str, now: float) -> FloodStatus:
        """The position's load at ``now`` (ends a flood whose window has drained)."""
        self._prune(position, now)
        count = len(self._recent.get(position, ()))
        return FloodStatus(position, count, position in self._since, self._since.get(position),
                           self._first_out.get(position))

    def positions(self) -> list[str]:
        return sorted(self._recent)

    def _prune(self, position: str, now: float) -> None:
        recent = self._recent.get(position)
        if recent is None:
            return
        horizon = now - self.window_s
        while recent and recent[0][0] <= horizon:
            recent.popleft()
        if len(recent) <= self.limit and position in self._since:
            del self._since[position]
            del self._first_out[position]
