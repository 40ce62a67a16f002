"""Measurement and verification of demand response from the historian (no Qt, blocking: run it in a
worker thread).

A participant's load for M&V is its gross load (core.dr.verification): what its grid meter imports (W,
+ import / − export) plus what its metered generators (PV, wind inverters: :class:`LoadPoints`) produced.
A battery discharging during an event is the reduction it is (the net meter shows it); PV producing during
an event is not (it would have produced anyway), and the afternoon's sunshine does not scale the baseline.
The verified reduction is what the oracle states on chain (GridBalance.recordDelivery).

The historian's buckets give the mean of each interval; a history
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
from core.dr.verification import gross_load_kw
from core.participants import AssetKind, Participant
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
class LoadPoints:
    """A participant's points in the historian for M&V: its grid meter's power (W, + import) and the power of
    each metered generator behind that meter (W, + production)."""

    grid: str
    generation: tuple[str, ...] = ()


def load_points_of(participants: Sequence[Participant], power_point: Callable[[str], str | None]
                   ) -> dict[str, LoadPoints]:
    """Each participant's M&V points: its grid meter's power point and its PV / wind inverters' (``power_point``:
    a device's ``Role.POWER`` point, None while its driver has not reported it). A participant whose grid meter
    or one of whose generators has no known point yet is left out until it has: on its net meter alone its
    sun would be in its baseline. Batteries are not generation here (their discharge is the response)."""
    out = {}
    for p in participants:
        grid = next((pid for a in p.assets if a.kind is AssetKind.METER and (pid := power_point(a.device))), None)
        gens = [power_point(a.device) for a in p.assets if a.kind in (AssetKind.PV, AssetKind.WIND)]
        if grid is not None and all(gens):
            out[p.name] = LoadPoints(grid, tuple(g for g in gens if g))
    return out


def as_load_points(points: str | LoadPoints) -> LoadPoints:
    return points if isinstance(points, LoadPoints) else LoadPoints(points)


def generation_day(historian: Historian, points: LoadPoints, day: date, tz: tzinfo,
                   intervals: int = INTERVALS_PER_DAY) -> Array | None:
    """The generators' summed mean kW per interval of a local day (NaN where one has no data); None without
    metered generation."""
    if not points.generation:
        return None
    return gross_load_kw(np.zeros(intervals),
                         [day_load(historian, g, day, tz, intervals).kw for g in points.generation])


def gross_day_load(historian: Historian, points: LoadPoints, day: date, tz: tzinfo,
                   intervals: int = INTERVALS_PER_DAY, event: bool = False, holiday: bool = False) -> DayLoad:
    """The participant's gross load per interval of a local day: grid meter + its generators (NaN where any
    of them has no data)."""
    net = day_load(historian, points.grid, day, tz, intervals, event=event, holiday=holiday)
    gen = generation_day(historian, points, day, tz, intervals)
    return net if gen is None else DayLoad(day=day, kw=net.kw + gen, event=event, holiday=holiday)


@dataclass(frozen=True, slots=True)
class ParticipantResult:
    participant: str
    point: str                   # the grid meter's power point
    baseline: Baseline | None    # of gross load
    performance: Performance | None
    problem: str | None          # why there is no verified figure (no baseline, missing readings)
    actual_kw: Array | None = None      # the event day's gross load per interval (NaN: no data yet)
    generation_kw: Array | None = None  # the event day's metered generation per interval; None: none metered

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


def measure_event(historian: Historian, event: DrEvent, meters: Mapping[str, str | LoadPoints], tz: tzinfo,
                  event_days: frozenset[date] = frozenset(), holidays: frozenset[date] = frozenset(),
                  method: Method = caiso_10_of_10, cap_kwh: Callable[[str], float | None] | None = None,
                  intervals: int = INTERVALS_PER_DAY) -> list[ParticipantResult]:
    """Baseline and verified reduction of each participant (name -> its grid meter's power point, or its
    :class:`LoadPoints` when it has metered generation), on gross load."""
    day, first, last = event_intervals(event, tz, intervals)
    results = []
    for name, given in meters.items():
        points = as_load_points(given)
        history: list[DayLoad] = []
        for back in range(1, LOOKBACK_DAYS + 1):
            d = day - timedelta(days=back)
            load = gross_day_load(historian, points, d, tz, intervals, event=d in event_days, holiday=d in holidays)
            if np.all(np.isfinite(load.kw)):
                history.append(load)
        net = day_load(historian, points.grid, day, tz, intervals, event=True, holiday=day in holidays)
        gen = generation_day(historian, points, day, tz, intervals)
        actual = net if gen is None else DayLoad(day=day, kw=net.kw + gen, event=True, holiday=day in holidays)
        try:
            baseline = method(history, actual, first, last)
            performance = measure(baseline, actual.kw, first, last, cap_kwh(name) if cap_kwh else None)
        except BaselineUnavailable as exc:
            results.append(ParticipantResult(name, points.grid, None, None, str(exc), actual.kw, gen))
            continue
        except ValueError as exc:
            results.append(ParticipantResult(name, points.grid, baseline, None, str(exc), actual.kw, gen))
            continue
        results.append(ParticipantResult(name, points.grid, baseline, performance, None, actual.kw, gen))
    return results


def achieved_kw(results: Sequence[ParticipantResult]) -> Array:
    """The reduction all participants together achieved per event interval (kW), for the progress curve."""
    rows = [r.performance.reduction_kw for r in results if r.performance is not None]
    return np.sum(rows, axis=0) if rows else np.zeros(0)
