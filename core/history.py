"""Historian values and the deadband filter (Qt- and database-free)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from core.points import Sample


class Bucket(NamedTuple):
    """Aggregate of the good values of one point in one time bucket.

    A named tuple rather than a frozen dataclass: a history query builds tens of
    thousands of them, and a tuple is built three to four times faster.
    """

    start_us: int
    vmin: float
    vmax: float
    vavg: float
    vlast: float
    n: int


@dataclass(frozen=True, slots=True)
class HistorianStats:
    """What the historian's writer has done, for the status bar."""

    queued: int
    written: int
    spooled: int
    replayed: int
    spool_pending: bool
    db_ok: bool
    last_error: str | None = None
    corrupt_records: int = 0


class DeadbandFilter:
    """Drops samples that change a point by less than its deadband.

    A sample is kept when it is the point's first, when the quality changed,
    when the value moved by at least the deadband from the last kept value, or
    when ``heartbeat_s`` passed since the last kept one (so a flat line is
    still stored now and then and "no change" is told apart from "no data").
    """

    def __init__(self, deadbands: Mapping[str, float], heartbeat_s: float = 60.0) -> None:
        self.deadbands = {k: v for k, v in deadbands.items() if v > 0}
        self.heartbeat_s = heartbeat_s
        self._last: dict[str, Sample] = {}
        self.dropped = 0

    def __call__(self, samples: Iterable[Sample]) -> Iterator[Sample]:
        if not self.deadbands:
            yield from samples
            return
        for s in samples:
            band = self.deadbands.get(s.point)
            if band is None:
                yield s
                continue
            last = self._last.get(s.point)
            if (last is None or last.quality is not s.quality or s.source_ts - last.source_ts >= self.heartbeat_s
                    or not (math.isfinite(s.value) and math.isfinite(last.value))
                    or abs(s.value - last.value) >= band):
                self._last[s.point] = s
                yield s
            else:
                self.dropped += 1
