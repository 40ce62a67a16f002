"""Measurement and verification of demand response from the historian (no Qt, blocking: run it in a
worker thread).

A participant's load for M&V is what its grid meter imports (W, + import / − export): that is what the
chain's GridBalance verifies against the baseline, and it counts a battery discharging or PV exporting
during an event as the reduction it is. The historian's buckets give the mean of each interval; a history
day with an interval without data is not eligible for a baseline (CAISO excludes days with incomplete
data), an event interval without data refuses verification (core.dr.measure).

Local days start at local midnight and have ``intervals`` equal intervals over 24 h; on the two
daylight-saving days a year the last hour belongs to the neighbouring day (noted, not corrected: no
event is placed there in practice).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

import numpy as np

from core.dr import Baseline, BaselineUnavailable, DayLoad, DrEvent, Performance, caiso_10_of_10, measure
from core.dr.baselines import LOOKBACK_DAYS, Array, Method
from core.ports import Historian

INTERVALS_PER_DAY = 96  # 15-minute settlement intervals


def day_start(day: date, tz: tzinfo) -> float:
    return datetime.combine(day, time(0), tz).timestamp()


def day_load(historian: Historian, point: str, day: date, tz: tzinfo, intervals: int = INTERVALS_PER_DAY,
             event: bool = False, holiday: bool = False) -> DayLoad:
    """Mean kW of ``point`` (stored in W) per interval of a local day; NaN where there was no data."""
    t0 = day_start(day, tz)
    step = 86400.0 / intervals
    kw = np.full(intervals, np.nan)
    for b in historian.history(point, t0, t0 + 86400.0, intervals):
        i = round((b.start_us / 1e6 - t0) / step)
        if 0 <= i < intervals and b.n > 0 and math.isfinite(b.vavg):
            kw[i] = b.vavg / 1000.0
    return DayLoad(day=day, kw=kw, event=event, holiday=holiday)


@dataclass(frozen=True, slots=True)
class ParticipantResult:
    participant: str
    point: str
    baseline: Baseline | None
    performance: Performance | None
    problem: str | None          # why there is no verified figure (no baseline, missing readings)

    @property
    def verified_wh(self) -> int:
        return self.performance.verified_wh if self.performance else 0


def event_intervals(event: DrEvent, tz: tzinfo, intervals: int = INTERVALS_PER_DAY) -> tuple[date, int, int]:
    """The local day of the event and its interval range; the event must lie on whole intervals of one day."""
    start = datetime.fromtimestamp(event.start, tz)
    day = start.date()
    t0 = day_start(day, tz)
    step = 86400.0 / intervals
    first, last = (event.start - t0) / step, (event.end - t0) / step
    if first != int(first) or last != int(last) or last > intervals:
        raise ValueError(f"event {event.event_id}: {start:%Y-%m-%d %H:%M} for {event.duration_s / 60:g} min is "
                         f"not on whole {step / 60:g}-minute intervals of one day")
    return day, int(first), int(last)


def measure_event(historian: Historian, event: DrEvent, meters: Mapping[str, str], tz: tzinfo,
                  event_days: frozenset[date] = frozenset(), holidays: frozenset[date] = frozenset(),
                  method: Method = caiso_10_of_10, cap_kwh: Callable[[str], float | None] | None = None,
                  intervals: int = INTERVALS_PER_DAY) -> list[ParticipantResult]:
    """Baseline and verified reduction of each participant (name -> its grid meter's power point)."""
    day, first, last = event_intervals(event, tz, intervals)
    results = []
    for name, point in meters.items():
        history: list[DayLoad] = []
        for back in range(1, LOOKBACK_DAYS + 1):
            d = day - timedelta(days=back)
            load = day_load(historian, point, d, tz, intervals, event=d in event_days, holiday=d in holidays)
            if np.all(np.isfinite(load.kw)):
                history.append(load)
        actual = day_load(historian, point, day, tz, intervals, event=True, holiday=day in holidays)
        try:
            baseline = method(history, actual, first, last)
            performance = measure(baseline, actual.kw, first, last, cap_kwh(name) if cap_kwh else None)
        except BaselineUnavailable as exc:
            results.append(ParticipantResult(name, point, None, None, str(exc)))
            continue
        except ValueError as exc:
            results.append(ParticipantResult(name, point, baseline, None, str(exc)))
            continue
        results.append(ParticipantResult(name, point, baseline, performance, None))
    return results


def achieved_kw(results: Sequence[ParticipantResult]) -> Array:
    """The reduction all participants together achieved per event interval (kW), for the progress curve."""
    rows = [r.performance.reduction_kw for r in results if r.performance is not None]
    return np.sum(rows, axis=0) if rows else np.zeros(0)
