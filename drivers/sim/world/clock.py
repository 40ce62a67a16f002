"""The world's one clock: simulated time in whole ticks from a fixed start.

Simulated time advances only in ticks of ``tick_s``, so a run is a function of
the seed, the configuration and the commands given at which tick, never of
how fast the machine or the wall clock was. How many ticks run per wall second
is the runner's business (``speed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


def _default_start() -> datetime:
    return datetime(2026, 6, 22, 0, 0, tzinfo=UTC)  # a Monday near midsummer


@dataclass(slots=True)
class WorldClock:
    """Simulated time: ``ticks`` × ``tick_s`` seconds after ``start`` (an aware datetime)."""

    start: datetime = field(default_factory=_default_start)
    tick_s: float = 1.0
    ticks: int = 0

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError(f"world clock: start must carry a time zone, got naive {self.start.isoformat()}")
        if not 0.01 <= self.tick_s <= 900:  # above 60 s only for history (sim backfill)
            raise ValueError(f"world clock: tick_s must be within 0.01–900 s, got {self.tick_s}")

    @property
    def t_s(self) -> float:
        """Seconds of simulated time since ``start``."""
        return self.ticks * self.tick_s

    @property
    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t_s)

    def advance(self) -> None:
        self.ticks += 1


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A UTC instant, for configuring a world's start."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
