"""Day-ahead load and PV forecasts per participant and for all of them, from the historian's rollups.

Reads each participant's points by role (as the reports do: meter, PV, wind, battery), turns them into
15-minute mean power, forecasts a day with :mod:`core.forecast` and measures every forecast and the
seasonal-naive baseline (same time yesterday) on the days before it: each of the last ``eval_days`` days
forecast from the days before *it* — the error a user can expect, not a fit to the past.

Load = meter (+ import) + PV + wind − battery (+ charging): what the participant used. PV errors count
daylight steps only (clear-sky irradiance on the modules ≥ 20 W/m²): at night both are zero.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from console.services.reports import ReportSite
from core.forecast.errors import Array, Skill, fill_gaps, mape, seasonal_naive
from core.forecast.load import day_ahead_load
from core.forecast.pv import PvSite, clear_sky_poa, day_ahead_pv, daylight
from core.participants import TOTAL, AssetKind
from core.reports.buckets import BucketReader, Buckets, held
from core.roles import Role

STEP_S = 900.0
STEPS = 96


@dataclass(frozen=True, slots=True)
class ForecastSeries:
    """One day-ahead forecast: ``forecast`` and the ``naive`` baseline (W per 15-minute step), the day's
    ``actual`` where it is already measured (``nan`` ahead), and the skill of both on the days before."""

    participant: str
    kind: str  # "load" or "pv"
    forecast: tuple[float, ...]
    naive: tuple[float, ...]
    actual: tuple[float, ...]
    skill: Skill
    eval_days: int  # days the skill was measured on


@dataclass(frozen=True, slots=True)
class ForecastSet:
    day_start: float  # POSIX s of the forecast day's UTC midnight
    step_s: float
    series: tuple[ForecastSeries, ...]

    def of(self, participant: str, kind: str) -> ForecastSeries | None:
        return next((s for s in self.series if s.participant == participant and s.kind == kind), None)


def quarter_means(b: Buckets, t0: float, days: int) -> Array:
    """15-minute mean power over ``days`` days from ``t0``: each bucket's mean weighted by its held duration,
    counted in the step where it starts (``nan`` for a step without data)."""
    n = days * STEPS
    keep = (b.start >= t0) & (b.start < t0 + n * STEP_S)
    idx = ((b.start[keep] - t0) // STEP_S).astype(np.int64)
    w = b.duration[keep]
    sums = np.bincount(idx, weights=b.vmean[keep] * w, minlength=n)
    dur = np.bincount(idx, weights=w, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: Array = np.where(dur > 0, sums / np.maximum(dur, 1e-9), np.nan)
    return out


def _day_start(ts: float) -> float:
    return math.floor(ts / 86400) * 86400


def _weekday(day_start: float) -> int:
    return datetime.fromtimestamp(day_start, UTC).weekday()


class ForecastService:
    """Forecasts on the historian (blocking :meth:`compute`; :meth:`forecast` runs it in a worker thread)."""

    def __init__(self, reader: BucketReader, site: ReportSite, pv_site: PvSite | None = None,
                 history_days: int = 14, eval_days: int = 7, clock: Callable[[], float] = time.time) -> None:
        if history_days < 2:
            raise ValueError(f"forecasts need at least 2 days of history, got history_days={history_days}")
        self.reader, self.site, self.pv_site = reader, site, pv_site or PvSite()
        self.history_days, self.eval_days, self._clock = history_days, eval_days, clock

    async def forecast(self, day_start: float | None = None) -> ForecastSet:
        return await asyncio.to_thread(self.compute, day_start)

    def tomorrow(self) -> float:
        return _day_start(self._clock()) + 86400

    def compute(self, day_start: float | None = None) -> ForecastSet:
        """The forecasts of the day starting at ``day_start`` (a UTC midnight; tomorrow by default)."""
        d0 = _day_start(self.tomorrow() if day_start is None else day_start)
        days = self.history_days + self.eval_days
        t0 = d0 - days * 86400
        loads, pvs = self._profiles(t0, days + 1)
        priors = [clear_sky_poa(self.pv_site, t0 + k * 86400 + STEP_S * np.arange(STEPS, dtype=np.float64), STEP_S)
                  for k in range(days + 1)]
        weekdays = [_weekday(t0 + k * 86400) for k in range(days + 1)]
        out: list[ForecastSeries] = []
        for kind, profiles in (("load", loads), ("pv", pvs)):
            for name, series in profiles.items():
                s = self._series(name, kind, series, priors, weekdays, days)
                if s is not None:
                    out.append(s)
        return ForecastSet(d0, STEP_S, tuple(out))

    def _profiles(self, t0: float, days: int) -> tuple[dict[str, Array], dict[str, Array]]:
        roles = dict(self.site.roles)
        t1 = t0 + days * 86400

        def power(device: str) -> Array | None:
            for pid in roles.get((device, Role.POWER), ()):
                b = held(self.reader.read_buckets(pid, t0, t1, 60.0), self.site.max_gap_s)
                if len(b):
                    return quarter_means(b, t0, days)
            return None

        loads: dict[str, Array] = {}
        pvs: dict[str, Array] = {}
        for p in self.site.participants:
            meter: Array | None = None
            gen = np.zeros(days * STEPS)
            pv: Array | None = None
            battery = np.zeros(days * STEPS)
            for a in p.assets:
                w = power(a.device)
                if w is None:
                    continue
                if a.kind is AssetKind.METER:
                    meter = w if meter is None else meter + w
                elif a.kind is AssetKind.BATTERY:
                    battery = battery + np.nan_to_num(w)
                else:
                    gen = gen + np.nan_to_num(w)
                    if a.kind is AssetKind.PV:
                        pv = w if pv is None else pv + w
            if meter is not None:
                loads[p.name] = meter + gen - battery
            if pv is not None:
                pvs[p.name] = pv
        for d in (loads, pvs):
            if len(d) > 1:
                d[TOTAL] = np.sum([fill_gaps(v) for v in d.values()], axis=0)
        return loads, pvs

    def _series(self, name: str, kind: str, series: Array, priors: Sequence[Array], weekdays: Sequence[int],
                days: int) -> ForecastSeries | None:
        y = fill_gaps(series)
        if not np.isfinite(y[: days * STEPS]).any():
            return None
        split = [y[k * STEPS:(k + 1) * STEPS] for k in range(days + 1)]

        def predict(d: int) -> tuple[Array, Array]:
            past = split[max(0, d - self.history_days):d]
            naive = seasonal_naive(past[-1], STEPS)
            if kind == "load":
                return day_ahead_load(past, weekdays[max(0, d - self.history_days):d], weekdays[d]), naive
            return day_ahead_pv(past, priors[max(0, d - self.history_days):d], priors[d]), naive

        errs: list[tuple[float, float]] = []
        for d in range(days - self.eval_days, days):
            if d < 2 or not np.isfinite(series[d * STEPS:(d + 1) * STEPS]).any():
                continue
            f, n = predict(d)
            light = daylight(priors[d]) if kind == "pv" else None
            errs.append((mape(f, split[d], light), mape(n, split[d], light)))
        f, n = predict(days)
        e = np.array(errs) if errs else np.full((1, 2), np.nan)
        skill = Skill(float(np.nanmean(e[:, 0])) if np.isfinite(e[:, 0]).any() else math.nan,
                      float(np.nanmean(e[:, 1])) if np.isfinite(e[:, 1]).any() else math.nan)
        return ForecastSeries(name, kind, tuple(f.tolist()), tuple(n.tolist()),
                              tuple(series[days * STEPS:].tolist()), skill, len(errs))
