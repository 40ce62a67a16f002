"""Production and grid endpoints of the participant API: HTTP → :class:`ProductionService` reads.

A participant reads its own devices' data (the caller is the participant whose API token is sent, as for
``/trades/history``); the grid's status and stability are the community's and public. Periods are UTC
(a time without an offset is taken as UTC).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from console.api.problems import ApiProblem, only_own, responses
from console.api.routes import Reader
from console.services.report_production import ProductionService, UnknownParticipant

router = APIRouter(prefix="/api/v1")

MAX_HISTORY_S = 31 * 86400
MAX_ANALYTICS_S = 366 * 86400
MAX_FORECAST_BACK_S = 3660 * 86400
MAX_FORECAST_AHEAD_S = 7 * 86400


def _service(request: Request) -> ProductionService:
    s: ProductionService | None = getattr(request.app.state, "production", None)
    if s is None:
        raise ApiProblem(404, None, "production-not-configured",
                         "this console serves no production data (its historian is off)")
    return s


def _ts(d: datetime) -> float:
    return (d if d.tzinfo is not None else d.replace(tzinfo=UTC)).timestamp()


def _period(start: datetime, end: datetime, longest_s: float) -> tuple[float, float]:
    t0, t1 = _ts(start), _ts(end)
    if not t1 > t0:
        raise ApiProblem(422, "query.end", "period-empty", "end must be after start")
    if t1 - t0 > longest_s:
        raise ApiProblem(422, "query.end", "period-too-long",
                         f"a period may be at most {longest_s / 86400:g} days; ask for several")
    return t0, t1


def _fin(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


class AssetPowerOut(BaseModel):
    device: str
    kind: str = Field(description="meter, pv, wind, battery, …")
    power_w: float | None = Field(description="latest power, W (meter + import, battery + charging); null when "
                                              "the device sent nothing in the last 5 minutes")
    ts: float | None = Field(description="POSIX seconds of its 10-second bucket")


class CurrentOut(BaseModel):
    participant: str
    assets: list[AssetPowerOut]


class HistoryStepOut(BaseModel):
    ts: float
    pv_w: float | None
    wind_w: float | None
    battery_w: float | None
    grid_w: float | None = Field(description="+ import, − export")
    consumption_w: float | None


class HistoryOut(BaseModel):
    participant: str
    step_s: float
    steps: list[HistoryStepOut]


class AnalyticsOut(BaseModel):
    participant: str
    start: float
    end: float
    pv_kwh: float | None
    wind_kwh: float | None
    consumption_kwh: float | None
    import_kwh: float | None
    export_kwh: float | None
    battery_in_kwh: float | None
    battery_out_kwh: float | None
    self_consumption_pct: float | None
    self_sufficiency_pct: float | None
    battery_round_trip_pct: float | None
    saved: float | None
    currency: str
    co2_avoided_kg: float | None


class ForecastIn(BaseModel):
    day: date | None = Field(default=None, description="UTC day to forecast; tomorrow when absent")


class ForecastSeriesOut(BaseModel):
    kind: str = Field(description="load or pv")
    forecast_w: list[float]
    naive_w: list[float] = Field(description="seasonal-naive baseline: the same time the day before")
    mape_pct: float | None = Field(description="forecast error on the days before (PV: daylight steps only)")
    naive_mape_pct: float | None
    eval_days: int


class ForecastOut(BaseModel):
    participant: str
    day_start: float
    step_s: float
    series: list[ForecastSeriesOut]


class GridStatusOut(BaseModel):
    ts: float | None
    frequency_hz: float | None
    band: str | None = Field(description="normal, alert or emergency (ENTSO-E bands)")
    voltages_pct: dict[str, float] = Field(description="bus → voltage in % of nominal")


class BusOut(BaseModel):
    bus: str
    windows: int
    within_pct: float | None
    compliant: bool


class StabilityOut(BaseModel):
    start: float
    end: float
    normal_h: float | None
    alert_h: float | None
    emergency_h: float | None
    no_data_h: float | None
    events: int
    worst_nadir_hz: float | None
    buses: list[BusOut]


def _who(service: ProductionService, name: str) -> None:
    try:
        service.participant(name)
    except UnknownParticipant as exc:
        raise ApiProblem(404, None, "no-production-data", str(exc)) from exc


@router.get("/production/current", response_model=CurrentOut, responses=responses(401, 403, 404, 429))
async def current(me: Reader, request: Request) -> CurrentOut:
    """The latest power of each of the caller's devices."""
    s = _service(request)
    _who(s, me.id)
    assets = await s.current(me.id)
    return CurrentOut(participant=me.id, assets=[AssetPowerOut(device=a.device, kind=a.kind, power_w=_fin(a.power_w),
                                                               ts=a.ts) for a in assets])


@router.get("/production/history", response_model=HistoryOut, responses=responses(401, 403, 404, 422, 429))
async def history(me: Reader, request: Request, start: datetime, end: datetime,
                  step_s: Annotated[int, Query(ge=60, le=86400)] = 900,
                  participant: Annotated[str | None, Query(description="whose history: your own id, or omit; "
                                                            "another participant's is 403")] = None) -> HistoryOut:
    """The caller's mean power per step over [start, end) (at most 31 days, steps of 60 s or more)."""
    only_own(me.id, participant)
    s = _service(request)
    t0, t1 = _period(start, end, MAX_HISTORY_S)
    if (t1 - t0) / step_s > 10_000:
        raise ApiProblem(422, "query.step_s", "too-many-steps", "at most 10,000 steps: ask for a longer step_s")
    _who(s, me.id)
    steps = await s.history(me.id, t0, t1, float(step_s))
    return HistoryOut(participant=me.id, step_s=step_s, steps=[HistoryStepOut(
        ts=x.ts, pv_w=x.pv_w, wind_w=x.wind_w, battery_w=x.battery_w, grid_w=x.grid_w,
        consumption_w=x.consumption_w) for x in steps])


@router.get("/production/analytics", response_model=AnalyticsOut, responses=responses(401, 403, 404, 422, 429))
async def analytics(me: Reader, request: Request, start: datetime, end: datetime) -> AnalyticsOut:
    """The caller's energy, savings, efficiency and carbon avoided over [start, end) (at most 366 days)."""
    s = _service(request)
    t0, t1 = _period(start, end, MAX_ANALYTICS_S)
    _who(s, me.id)
    a = await s.analytics(me.id, t0, t1)
    e = a.energy

    def kwh(wh: float) -> float | None:
        return _fin(wh / 1000)

    def pct(x: float) -> float | None:
        return _fin(100 * x)

    return AnalyticsOut(participant=me.id, start=t0, end=t1, pv_kwh=kwh(e.pv_wh), wind_kwh=kwh(e.wind_wh),
                        consumption_kwh=kwh(e.consumption_wh), import_kwh=kwh(e.imported_wh),
                        export_kwh=kwh(e.exported_wh), battery_in_kwh=kwh(e.charged_wh),
                        battery_out_kwh=kwh(e.discharged_wh), self_consumption_pct=pct(a.efficiency.self_consumption),
                        self_sufficiency_pct=pct(a.efficiency.self_sufficiency),
                        battery_round_trip_pct=pct(a.efficiency.battery_round_trip), saved=_fin(a.savings.saved),
                        currency=a.savings.currency, co2_avoided_kg=_fin(a.carbon_avoided_kg))


@router.post("/production/forecast", response_model=ForecastOut,
             responses=responses(400, 401, 403, 404, 413, 422, 429))
async def forecast(me: Reader, request: Request, body: ForecastIn) -> ForecastOut:
    """Day-ahead forecasts of the caller's load and PV (15-minute steps) with their error and the
    seasonal-naive baseline's, measured on the days before."""
    s = _service(request)
    _who(s, me.id)
    day = None if body.day is None else datetime(body.day.year, body.day.month, body.day.day, tzinfo=UTC).timestamp()
    now = s.now()
    if day is not None and not now - MAX_FORECAST_BACK_S <= day <= now + MAX_FORECAST_AHEAD_S:
        raise ApiProblem(422, "day", "day-out-of-range", "forecast a day from 10 years back to 7 days ahead")
    f = await s.forecast(me.id, day)
    return ForecastOut(participant=me.id, day_start=f.day_start, step_s=f.step_s, series=[ForecastSeriesOut(
        kind=x.kind, forecast_w=[v if math.isfinite(v) else 0.0 for v in x.forecast],
        naive_w=[v if math.isfinite(v) else 0.0 for v in x.naive], mape_pct=_fin(x.skill.mape),
        naive_mape_pct=_fin(x.skill.naive_mape), eval_days=x.eval_days) for x in f.series])


@router.get("/grid/status", response_model=GridStatusOut, responses=responses(404))
async def grid_status(request: Request) -> GridStatusOut:
    """The grid's frequency, its band and the bus voltages now (public)."""
    g = await _service(request).grid()
    return GridStatusOut(ts=g.ts, frequency_hz=_fin(g.frequency_hz), band=g.band,
                         voltages_pct={b: v for b, v in g.voltages_pct if math.isfinite(v)})


@router.get("/grid/stability", response_model=StabilityOut, responses=responses(404, 422))
async def grid_stability(request: Request, start: datetime, end: datetime) -> StabilityOut:
    """Time in each frequency band, frequency events and EN 50160 per bus over [start, end) (public, at most
    366 days)."""
    s = _service(request)
    t0, t1 = _period(start, end, MAX_ANALYTICS_S)
    k = await s.stability(t0, t1)
    bt = k.bands

    def h(x: float | None) -> float | None:
        return _fin(x / 3600) if x is not None else None

    nadirs = [e.nadir_hz for e in k.events if math.isfinite(e.nadir_hz)]
    return StabilityOut(start=t0, end=t1, normal_h=h(bt.normal_s if bt else None),
                        alert_h=h(bt.alert_s if bt else None), emergency_h=h(bt.emergency_s if bt else None),
                        no_data_h=h(bt.no_data_s if bt else None),
                        events=len(k.events), worst_nadir_hz=min(nadirs) if nadirs else None,
                        buses=[BusOut(bus=c.bus, windows=c.windows, within_pct=_fin(100 * c.share_within),
                                      compliant=c.compliant) for c in k.buses])
