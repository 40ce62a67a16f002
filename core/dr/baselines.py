"""Customer baselines: what a participant would have drawn had there been no event.

Two methods, both on a day's interval loads (mean kW per interval; any resolution, e.g. 96 × 15 min). For a
participant with metered generation behind its meter these are its gross loads (net meter + generator output,
core.dr.verification.gross_load_kw), so that the adjustment's ratio is of what it draws, not of the sun:

- **CAISO 10-in-10** (CAISO's default for proxy demand resource): the per-interval mean of the 10 most
  recent eligible weekdays within 45 days (weekend / holiday events: 4 most recent eligible weekend or
  holiday days, "4-in-4"); fewer than 5 (weekend: 4) eligible days — no baseline. Eligible = not an event
  day, not a holiday for a weekday event. A **same-day adjustment** scales it by actual / baseline over
  the 3 hours that end 1 hour before the event (the hour before is left out because participants may
  pre-cool or ramp), capped at ±20 %.
- **Day matching**: of the 10 most recent eligible days, the 5 whose morning (midnight up to 1 hour
  before the event) is closest to the event day's morning (root-mean-square), averaged; no adjustment.

:func:`accuracy` replays a method on non-event days (a pretend event at the same hours) and reports the
median absolute percentage error of the event-window energy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

LOOKBACK_DAYS = 45
ADJUST_HOURS = 3          # the adjustment window's length…
ADJUST_GAP_HOURS = 1      # …ending this long before the event
ADJUST_CAP = 0.20


class BaselineUnavailable(ValueError):
    """Not enough eligible history for the method; the message says what was found and what is needed."""


@dataclass(frozen=True, slots=True)
class DayLoad:
    day: date
    kw: Array                 # mean kW per interval, midnight to midnight (local time)
    event: bool = False       # a demand-response event day: never part of a baseline
    holiday: bool = False

    @property
    def weekend_like(self) -> bool:
        return self.holiday or self.day.weekday() >= 5


@dataclass(frozen=True, slots=True)
class Baseline:
    kw: Array                 # the baseline for the whole day (adjusted where the method adjusts)
    unadjusted_kw: Array
    days: tuple[date, ...]    # the history days it averages, most recent first
    ratio: float              # actual / baseline in the adjustment window (1.0 when not adjusted)
    ratio_applied: float      # after the cap
    method: str

    @property
    def capped(self) -> bool:
        return self.ratio != self.ratio_applied


def _per_hour(n: int) -> int:
    if n % 24:
        raise ValueError(f"a day's intervals must divide into hours: got {n} intervals")
    return n // 24


def _eligible(history: Sequence[DayLoad], day: DayLoad, n: int) -> list[DayLoad]:
    """Same day type, before ``day``, within the lookback, not an event day; most recent first."""
    found = []
    for h in sorted(history, key=lambda d: d.day, reverse=True):
        age = (day.day - h.day).days
        if age <= 0 or age > LOOKBACK_DAYS or h.event or h.weekend_like != day.weekend_like:
            continue
        if len(h.kw) != n:
            raise ValueError(f"history day {h.day} has {len(h.kw)} intervals, the event day {n}")
        found.append(h)
    return found


def _check_window(n: int, first: int, last: int) -> None:
    if not 0 <= first < last <= n:
        raise ValueError(f"event intervals [{first}, {last}) are not within the day's {n} intervals")


def caiso_10_of_10(history: Sequence[DayLoad], day: DayLoad, first: int, last: int,
                   adjust: bool = True) -> Baseline:
    """The CAISO 10-in-10 baseline for the event in intervals ``[first, last)`` of ``day``.

    ``day.kw`` holds the event day's actual loads; only the intervals before the event are read (for the
    adjustment)."""
    n = len(day.kw)
    _check_window(n, first, last)
    wanted, minimum = (4, 4) if day.weekend_like else (10, 5)
    days = _eligible(history, day, n)[:wanted]
    if len(days) < minimum:
        kind = "weekend/holiday" if day.weekend_like else "weekday"
        raise BaselineUnavailable(
            f"10-in-10 baseline for {day.day}: {len(days)} eligible {kind} day(s) in the last "
            f"{LOOKBACK_DAYS} days, at least {minimum} needed")
    base = np.mean([d.kw for d in days], axis=0)
    ratio = applied = 1.0
    if adjust:
        ph = _per_hour(n)
        w0, w1 = max(0, first - (ADJUST_HOURS + ADJUST_GAP_HOURS) * ph), max(0, first - ADJUST_GAP_HOURS * ph)
        denominator = float(base[w0:w1].sum())
        if w1 > w0 and denominator > 0:
            ratio = float(day.kw[w0:w1].sum()) / denominator
            applied = min(max(ratio, 1.0 - ADJUST_CAP), 1.0 + ADJUST_CAP)
    return Baseline(kw=base * applied, unadjusted_kw=base, days=tuple(d.day for d in days),
                    ratio=ratio, ratio_applied=applied, method="caiso-10-of-10")


def day_matching(history: Sequence[DayLoad], day: DayLoad, first: int, last: int,
                 pool: int = 10, pick: int = 5) -> Baseline:
    """The ``pick`` of the ``pool`` most recent eligible days whose morning best matches the event day's."""
    n = len(day.kw)
    _check_window(n, first, last)
    morning = first - ADJUST_GAP_HOURS * _per_hour(n)
    if morning <= 0:
        raise BaselineUnavailable(
            f"day-matching baseline for {day.day}: the event starts within {ADJUST_GAP_HOURS} h of "
            "midnight, so there is no morning to match")
    days = _eligible(history, day, n)[:pool]
    if len(days) < pick:
        raise BaselineUnavailable(
            f"day-matching baseline for {day.day}: {len(days)} eligible day(s) in the last "
            f"{LOOKBACK_DAYS} days, at least {pick} needed")
    target = day.kw[:morning]

    def distance(d: DayLoad) -> float:
        return math.sqrt(float(np.mean((d.kw[:morning] - target) ** 2)))

    # sorted() is stable and the pool is most-recent-first, so among equal distances the recent day wins.
    chosen = sorted(days, key=distance)[:pick]
    base = np.mean([d.kw for d in chosen], axis=0)
    return Baseline(kw=base, unadjusted_kw=base, days=tuple(d.day for d in chosen), ratio=1.0,
                    ratio_applied=1.0, method="day-matching")


Method = Callable[[Sequence[DayLoad], DayLoad, int, int], Baseline]


@dataclass(frozen=True, slots=True)
class Accuracy:
    method: str
    median_ape: float          # median absolute % error of the event-window energy (0.05 = 5 %)
    days: tuple[date, ...]     # the non-event days it was tested on
    errors: tuple[float, ...]  # one per day, same order


def accuracy(history: Sequence[DayLoad], method: Method, first: int, last: int) -> Accuracy:
    """Replay ``method`` on every non-event day that has enough history before it, as if an event had
    run in ``[first, last)`` that day, and compare the baseline's energy there with the actual energy."""
    errors: list[float] = []
    tested: list[date] = []
    name = ""
    for d in sorted(history, key=lambda h: h.day):
        if d.event:
            continue
        earlier = [h for h in history if h.day < d.day]
        try:
            b = method(earlier, d, first, last)
        except BaselineUnavailable:
            continue
        name = b.method
        actual = float(d.kw[first:last].sum())
        if actual <= 0:
            continue
        errors.append(abs(float(b.kw[first:last].sum()) - actual) / actual)
        tested.append(d.day)
    if not errors:
        raise BaselineUnavailable("no non-event day has enough history before it to test the baseline on")
    return Accuracy(method=name, median_ape=float(np.median(errors)), days=tuple(tested), errors=tuple(errors))
