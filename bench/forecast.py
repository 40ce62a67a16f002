"""Forecast bench: day-ahead load and PV forecasts against the seasonal-naive baseline (same time
yesterday) on days of the simulated World.

Until ``energynet sim backfill`` writes the World's days into the historian, the days are generated
straight from the World's model (drivers/sim/world: the community's assets drawn from the seed, household
and business load shapes with the same Ornstein–Uhlenbeck noise, EVs, heat pumps, pvlib clear sky dimmed
by the same cloud process), at 1-minute steps averaged to 15 minutes — everything of ``World._compute``
that load and PV depend on, without the load flow (which they do not depend on).

    PYTHONPATH=. .venv/bin/python bench/forecast.py --days 21 --test-days 7

Prints one JSON object: MAPE of the forecasts and of the baseline for the community's total and averaged
over the participants, load over all steps, PV over daylight steps only (clear-sky irradiance ≥ 20 W/m²).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from core.forecast.errors import Skill, mape, seasonal_naive
from core.forecast.load import day_ahead_load
from core.forecast.pv import PvSite, clear_sky_poa, day_ahead_pv, daylight

STEP_S = 900
STEPS = 86400 // STEP_S


@dataclass(frozen=True, slots=True)
class WorldDays:
    """15-minute mean consumption and PV (W) per connection: arrays (connections, days × 96)."""

    start: float  # POSIX s of the first step (a UTC midnight)
    consumption_w: np.ndarray
    pv_w: np.ndarray
    names: tuple[str, ...]

    @property
    def days(self) -> int:
        return self.consumption_w.shape[1] // STEPS

    def weekday(self, day: int) -> int:
        return (datetime.fromtimestamp(self.start, tz=None).toordinal() + day - 1) % 7  # 0 = Monday (UTC date)

    def day(self, series: np.ndarray, day: int) -> np.ndarray:
        out: np.ndarray = series[..., day * STEPS:(day + 1) * STEPS]
        return out


def world_days(days: int, seed: int = 1, start: datetime | None = None, connections: int | None = None,
               step_s: float = 60.0) -> WorldDays:
    """``days`` whole days of the World's consumption and PV, from its model and seed (see the docstring),
    simulated in steps of ``step_s`` (the World's processes are exact Ornstein–Uhlenbeck steps at any step)."""
    from drivers.sim.world.clock import utc
    from drivers.sim.world.community import (
        CommunityConfig,
        Kind,
        business_shape,
        draw_assets,
        heat_demand,
        household_shape,
        outdoor_temperature_c,
    )
    from drivers.sim.world.frequency import ou_step
    from drivers.sim.world.model import EV_DEPARTURE_H, PV_PERFORMANCE_RATIO
    from drivers.sim.world.solar import ClearSky, Site, clear_sky_index

    start = start or utc(2026, 6, 22)
    if connections is None:
        from drivers.sim.world.network import Network

        connections = len(Network().connections)
    n = connections
    draw, noise_rng, weather_rng, _, _ = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))
    a = draw_assets(n, CommunityConfig(), draw)
    business = np.array([k is Kind.BUSINESS for k in a.kind])
    sky = ClearSky(Site())
    h = float(step_s)
    per_day = round(86400 / h)
    slow, fast, cloud = np.zeros(n), np.zeros(n), 0.3
    ev_done, ev_day = np.zeros(n), -1
    minutes = days * per_day
    cons = np.empty((n, minutes))
    pv = np.empty((n, minutes))
    ka, kb = math.exp(-h / 900.0), math.exp(-h / 20.0)
    for m in range(minutes):
        now = start + timedelta(seconds=m * h)
        if m:
            slow = slow * ka + 0.3 * math.sqrt(1 - ka * ka) * noise_rng.standard_normal(n)
            fast = fast * kb + 0.15 * math.sqrt(1 - kb * kb) * noise_rng.standard_normal(n)
            cloud = min(1.0, max(0.0, ou_step(cloud, 0.3, 0.2, 1800.0, h, float(weather_rng.standard_normal()))))
            weather_rng.standard_normal()  # the wind's draw: keeps the cloud sequence the World's
        local = now.astimezone(sky.timezone)
        hour = local.hour + local.minute / 60
        wd = local.weekday()
        shape = np.where(business, business_shape(hour, wd), household_shape(hour, wd >= 5))
        load = a.mean_load_w * shape * np.clip(1 + slow + fast, 0.1, None)
        dep = (local - timedelta(hours=EV_DEPARTURE_H)).toordinal()
        if dep != ev_day:
            ev_day, ev_done = dep, np.zeros(n)
        arrival = a.ev_arrival_h if wd < 5 else a.ev_arrival_h - 5
        plugged = (hour >= arrival) | (hour < EV_DEPARTURE_H)
        ev = np.where(plugged & (ev_done < a.ev_need_wh), a.ev_max_w, 0.0)
        ev_done = ev_done + ev * h / 3600
        hp = a.heat_pump_w * heat_demand(outdoor_temperature_c(local.timetuple().tm_yday, hour))
        cons[:, m] = load + ev + hp
        pv[:, m] = a.pv_kwp * sky.poa_w_m2(now) * clear_sky_index(cloud) * PV_PERFORMANCE_RATIO
    quarter = round(STEP_S / h)
    return WorldDays(start.timestamp(), cons.reshape(n, -1, quarter).mean(axis=2),
                     pv.reshape(n, -1, quarter).mean(axis=2), tuple(f"connection {i}" for i in range(n)))


@dataclass(frozen=True, slots=True)
class Backtest:
    load_total: Skill
    pv_total: Skill
    load_participants: Skill  # MAPE averaged over the participants
    pv_participants: Skill  # over the participants with PV
    participants: int
    pv_participants_n: int
    test_days: int


def backtest(w: WorldDays, test_days: int, site: PvSite | None = None, participants: int | None = None) -> Backtest:
    """Forecast each of the last ``test_days`` days from all days before it; MAPE of forecast and baseline."""
    site = site or PvSite()
    first = w.days - test_days
    if first < 2:
        raise ValueError(f"need at least two days of history before the {test_days} test days, have {w.days}")
    idx = range(w.consumption_w.shape[0] if participants is None else participants)
    with_pv = [i for i in idx if w.pv_w[i].max() > 0]
    priors = [clear_sky_poa(site, w.start + d * 86400 + STEP_S * np.arange(STEPS), STEP_S) for d in range(w.days)]
    total_load, total_pv = w.consumption_w[list(idx)].sum(axis=0), w.pv_w[list(idx)].sum(axis=0)
    errs: dict[str, list[tuple[float, float]]] = {"lt": [], "pt": [], "lp": [], "pp": []}

    def score(series: np.ndarray, d: int, kind: str) -> tuple[float, float]:
        past = [w.day(series, k) for k in range(d)]
        actual = w.day(series, d)
        naive = seasonal_naive(np.concatenate(past[-1:]), STEPS)
        if kind == "load":
            f = day_ahead_load(past[-21:], [w.weekday(k) for k in range(d)][-21:], w.weekday(d))
            return mape(f, actual), mape(naive, actual)
        f = day_ahead_pv(past, priors[:d], priors[d])
        light = daylight(priors[d])
        return mape(f, actual, light), mape(naive, actual, light)

    for d in range(first, w.days):
        errs["lt"].append(score(total_load, d, "load"))
        errs["pt"].append(score(total_pv, d, "pv"))
        errs["lp"] += [score(w.consumption_w[i], d, "load") for i in idx]
        errs["pp"] += [score(w.pv_w[i], d, "pv") for i in with_pv]

    def skill(k: str) -> Skill:
        a = np.array(errs[k])
        return Skill(float(np.nanmean(a[:, 0])), float(np.nanmean(a[:, 1])))

    return Backtest(skill("lt"), skill("pt"), skill("lp"), skill("pp"), len(idx), len(with_pv), test_days)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--days", type=int, default=21)
    p.add_argument("--test-days", type=int, default=7)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--connections", type=int, default=None, help="the first N connections (all by default)")
    p.add_argument("--step-s", type=float, default=60.0, help="simulation step (the World ticks 1 s; 60 s here)")
    a = p.parse_args()
    t = time.perf_counter()
    w = world_days(a.days, a.seed, connections=a.connections, step_s=a.step_s)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    b = backtest(w, a.test_days)
    fit_s = time.perf_counter() - t
    out: dict[str, object] = {"bench": "forecast", "days": a.days, "test_days": a.test_days, "seed": a.seed,
                              "step_s": a.step_s,
                              "participants": b.participants, "pv_participant_count": b.pv_participants_n,
                              "generate_s": round(gen_s, 1), "backtest_s": round(fit_s, 1)}
    for name, s in (("load_total", b.load_total), ("pv_total", b.pv_total),
                    ("load_participants", b.load_participants), ("pv_participants", b.pv_participants)):
        out[name] = {"mape_pct": round(s.mape, 2), "naive_mape_pct": round(s.naive_mape, 2), "ratio": round(s.ratio, 3)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
