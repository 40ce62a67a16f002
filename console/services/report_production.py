"""What the participant API's production and grid endpoints answer, from the historian (no HTTP here).

A participant's data are its own devices' points (by role, as the reports read them); the grid's status
and stability are the community's, public. Every read is blocking and runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from console.services.forecast import ForecastService, ForecastSet
from console.services.reports import ReportSite, StabilityKpis, energy_totals, stability_kpis
from core.grid import GridSnapshot
from core.participants import AssetKind, Participant
from core.reports.buckets import BucketReader
from core.reports.economics import Efficiency, Savings, carbon_avoided_kg, efficiency, savings
from core.reports.energy import EnergyTotals
from core.roles import Role


class UnknownParticipant(Exception):
    """The participant owns no device the console knows."""


@dataclass(frozen=True, slots=True)
class AssetPower:
    device: str
    kind: str
    power_w: float | None  # None: no sample in the last minutes
    ts: float | None


@dataclass(frozen=True, slots=True)
class HistoryStep:
    ts: float
    pv_w: float | None
    wind_w: float | None
    battery_w: float | None  # + charging
    grid_w: float | None  # + import
    consumption_w: float | None


@dataclass(frozen=True, slots=True)
class Analytics:
    energy: EnergyTotals
    savings: Savings
    efficiency: Efficiency
    carbon_avoided_kg: float


@dataclass(frozen=True, slots=True)
class GridStatus:
    ts: float | None
    frequency_hz: float | None
    band: str | None  # normal / alert / emergency
    voltages_pct: tuple[tuple[str, float], ...]  # (bus, % of nominal)


CURRENT_WINDOW_S = 300.0  # a device silent longer than this has no current value


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


class ProductionService:
    def __init__(self, reader: BucketReader, site: ReportSite, forecasts: ForecastService | None = None,
                 live: Callable[[], GridSnapshot] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.reader, self.site, self._clock, self._live = reader, site, clock, live
        self.forecasts = forecasts or ForecastService(reader, site, clock=clock)
        self._roles = dict(site.roles)

    def now(self) -> float:
        return self._clock()

    def participant(self, name: str) -> Participant:
        p = next((p for p in self.site.participants if p.name == name), None)
        if p is None:
            raise UnknownParticipant(f"participant {name!r} owns no device this console reads")
        return p

    def _one(self, name: str) -> ReportSite:
        return replace(self.site, participants=(self.participant(name),))

    def _power(self, device: str, t0: float, t1: float, width: float) -> tuple[np.ndarray, np.ndarray] | None:
        for pid in self._roles.get((device, Role.POWER), ()):
            b = self.reader.read_buckets(pid, t0, t1, width)
            if len(b):
                return b.start, b.vlast if width <= 10 else b.vmean
        return None

    # ---- blocking reads ------------------------------------------------------------------------------------

    def current_now(self, name: str) -> tuple[AssetPower, ...]:
        now = self._clock()
        out = []
        for a in self.participant(name).assets:
            got = self._power(a.device, now - CURRENT_WINDOW_S, now + 1, 10.0)
            if got is None:
                out.append(AssetPower(a.device, a.kind.value, None, None))
            else:
                out.append(AssetPower(a.device, a.kind.value, _num(float(got[1][-1])), float(got[0][-1])))
        return tuple(out)

    def history_of(self, name: str, t0: float, t1: float, step_s: float) -> tuple[HistoryStep, ...]:
        p = self.participant(name)
        n = max(1, math.ceil((t1 - t0) / step_s))
        sums: dict[AssetKind, np.ndarray] = {}
        for a in p.assets:
            got = self._power(a.device, t0, t1, 60.0)
            if got is None:
                continue
            ts, w = got
            idx = np.minimum(((ts - t0) // step_s).astype(np.int64), n - 1)
            cnt = np.bincount(idx, minlength=n)
            mean = np.where(cnt > 0, np.bincount(idx, weights=w, minlength=n) / np.maximum(cnt, 1), np.nan)
            sums[a.kind] = np.nansum([sums.get(a.kind, np.full(n, np.nan)), mean], axis=0) \
                if a.kind in sums else mean
        steps = []
        def v(kind: AssetKind, i: int) -> float | None:
            return _num(float(sums[kind][i])) if kind in sums else None

        for i in range(n):
            pv, wind = v(AssetKind.PV, i), v(AssetKind.WIND, i)
            bat, grid = v(AssetKind.BATTERY, i), v(AssetKind.METER, i)
            cons = None if grid is None else grid + (pv or 0.0) + (wind or 0.0) - (bat or 0.0)
            steps.append(HistoryStep(t0 + i * step_s, pv, wind, bat, grid, cons))
        return tuple(steps)

    def analytics_of(self, name: str, t0: float, t1: float) -> Analytics:
        site = self._one(name)
        rows, hourly = energy_totals(site, self.reader, t0, t1)
        e = rows[0]
        return Analytics(e, savings(e, site.tariff), efficiency(e), carbon_avoided_kg(hourly.tolist(), site.emission))

    def forecast_of(self, name: str, day_start: float | None) -> ForecastSet:
        one = ForecastService(self.reader, self._one(name), self.forecasts.pv_site, self.forecasts.history_days,
                              self.forecasts.eval_days, self._clock)
        return one.compute(day_start)

    def grid_now(self) -> GridStatus:
        b = self.site.frequency_bands
        if self._live is not None:
            snap = self._live()
            f = snap.frequency.value if snap.frequency is not None else None
            volts = tuple((bus.bus, 100 * r.value / bus.nominal_v) for bus in self.site.buses
                          if (r := snap.reading(bus.point)) is not None and math.isfinite(r.value))
            return GridStatus(snap.ts, _num(f) if f is not None else None, _band(f, b), volts)
        now = self._clock()
        f = ts = None
        if self.site.frequency_point:
            fb = self.reader.read_buckets(self.site.frequency_point, now - CURRENT_WINDOW_S, now + 1, 10.0)
            if len(fb):
                f, ts = _num(float(fb.vlast[-1])), float(fb.start[-1])
        volts_l = []
        for bus in self.site.buses:
            vb = self.reader.read_buckets(bus.point, now - CURRENT_WINDOW_S, now + 1, 10.0)
            if len(vb) and math.isfinite(vb.vlast[-1]):
                volts_l.append((bus.bus, 100 * float(vb.vlast[-1]) / bus.nominal_v))
        return GridStatus(ts, f, _band(f, b), tuple(volts_l))

    def stability_of(self, t0: float, t1: float) -> StabilityKpis:
        return stability_kpis(self.site, self.reader, t0, t1)

    # ---- async (worker thread) ------------------------------------------------------------------------------

    async def current(self, name: str) -> tuple[AssetPower, ...]:
        return await asyncio.to_thread(self.current_now, name)

    async def history(self, name: str, t0: float, t1: float, step_s: float) -> tuple[HistoryStep, ...]:
        return await asyncio.to_thread(self.history_of, name, t0, t1, step_s)

    async def analytics(self, name: str, t0: float, t1: float) -> Analytics:
        return await asyncio.to_thread(self.analytics_of, name, t0, t1)

    async def forecast(self, name: str, day_start: float | None) -> ForecastSet:
        return await asyncio.to_thread(self.forecast_of, name, day_start)

    async def grid(self) -> GridStatus:
        return await asyncio.to_thread(self.grid_now)

    async def stability(self, t0: float, t1: float) -> StabilityKpis:
        return await asyncio.to_thread(self.stability_of, t0, t1)


def _band(f: float | None, b: object) -> str | None:
    from core.bands import FrequencyBands

    if f is None or not isinstance(b, FrequencyBands):
        return None
    if f < b.emergency_low_hz or f > b.emergency_high_hz:
        return "emergency"
    if f < b.normal_low_hz or f > b.normal_high_hz:
        return "alert"
    return "normal"
