"""Baseline accuracy on the World's backfilled days: how far each method's event-window energy is from what the
houses actually drew, on days without an event (a pretend event 17:00–20:00 every day).

The world is stepped exactly as ``energynet sim backfill`` steps it (same model, seed and community; ticks of
``--step`` seconds, 900 by default: one tick per 15-min settlement interval), and each meter's interval load is
its energy counters' difference (import − export) over the interval, i.e. the exact mean net kW, not a sample.
Every (house, day) with enough history before it and a positive window energy is one error; the figures are
medians over all of them (``core.dr.baselines.accuracy`` per house, pooled). The naive baseline measured in the
same run is "previous day": the most recent eligible day of the same type, unadjusted.

    PYTHONPATH=$PWD .venv/bin/python -m bench.dr_baseline --days 21

Prints JSON. Slow on purpose to be faithful: the world's power flow runs every tick (~0.2 s a tick on a loaded
2-core machine: 21 days × 96 ticks ≈ 7 min).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.stats import machine
from core.dr.baselines import Baseline, BaselineUnavailable, DayLoad, Method, accuracy, caiso_10_of_10, day_matching
from drivers.sim.world.backfill import BACKFILL_SUBSTEP_S
from drivers.sim.world.clock import WorldClock
from drivers.sim.world.model import World, WorldConfig

EVENT_HOURS = (17, 20)
END = datetime(2026, 6, 22, tzinfo=UTC)  # the world's default start (a Monday): a fixed date, not wall-clock


def previous_day(history: Sequence[DayLoad], day: DayLoad, first: int, last: int) -> Baseline:
    """The naive baseline: the most recent non-event day of the same type (weekday / weekend) before ``day``."""
    same = [h for h in history if h.day < day.day and not h.event and h.weekend_like == day.weekend_like]
    if not same:
        raise BaselineUnavailable(f"previous-day baseline for {day.day}: no earlier day of the same type")
    h = max(same, key=lambda d: d.day)
    return Baseline(kw=h.kw, unadjusted_kw=h.kw, days=(h.day,), ratio=1.0, ratio_applied=1.0, method="previous-day")


def unadjusted_10_of_10(history: Sequence[DayLoad], day: DayLoad, first: int, last: int) -> Baseline:
    return caiso_10_of_10(history, day, first, last, adjust=False)


METHODS: dict[str, Method] = {
    "caiso_10_of_10_adjusted": caiso_10_of_10,
    "caiso_10_of_10_unadjusted": unadjusted_10_of_10,
    "day_matching": day_matching,
    "previous_day": previous_day,
}


def world_days(days: int, step_s: float, seed: int) -> tuple[list[date], np.ndarray]:
    """(the days, net kW per house × day × interval) from a world started ``days`` before END."""
    per_day = round(86_400 / step_s)
    world = World(WorldConfig(seed=seed, clock=WorldClock(END - timedelta(days=days), step_s),
                              substep_s=BACKFILL_SUBSTEP_S))
    origin = world.snapshot  # the start instant: the counters' origin
    net_prev = origin.import_wh - origin.export_wh
    loads = np.empty((len(net_prev), days * per_day))
    for k in range(days * per_day):
        s = world.step()
        net = s.import_wh - s.export_wh
        loads[:, k] = (net - net_prev) / step_s * 3.6  # Wh over step_s seconds -> mean kW
        net_prev = net
    start = (END - timedelta(days=days)).date()
    return [start + timedelta(days=i) for i in range(days)], loads.reshape(len(net_prev), days, per_day)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=21)
    ap.add_argument("--step", type=float, default=900.0, help="world tick in seconds, up to 900 (divides an hour)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", help="an .npz of the stepped loads: read if it exists, else written (re-analysis "
                    "without re-stepping the world)")
    a = ap.parse_args()
    t0 = time.perf_counter()
    if a.cache and Path(a.cache).exists():
        cached = np.load(a.cache)
        days, loads = [date.fromisoformat(d) for d in cached["days"]], cached["loads"]
    else:
        days, loads = world_days(a.days, a.step, a.seed)
        if a.cache:
            np.savez(a.cache, days=np.array([d.isoformat() for d in days]), loads=loads)
    stepped_s = time.perf_counter() - t0
    per_hour = round(3600 / a.step)
    first, last = EVENT_HOURS[0] * per_hour, EVENT_HOURS[1] * per_hour
    out: dict[str, object] = {}
    for name, method in METHODS.items():
        errors: list[float] = []
        for house in loads:
            history = [DayLoad(d, house[i]) for i, d in enumerate(days)]
            try:
                errors += accuracy(history, method, first, last).errors
            except BaselineUnavailable:
                continue  # a house that exports through every window, or too little history
        out[name] = {"median_ape_pct": round(100 * statistics.median(errors), 2),
                     "p90_ape_pct": round(100 * float(np.percentile(errors, 90)), 2), "house_days": len(errors)}
    print(json.dumps({"bench": "dr_baseline", "world_seed": a.seed, "days": a.days, "from": days[0].isoformat(),
                      "to": days[-1].isoformat(), "step_s": a.step, "houses": int(loads.shape[0]),
                      "event_window": f"{EVENT_HOURS[0]:02d}:00-{EVENT_HOURS[1]:02d}:00 UTC",
                      "methods": out, "world_stepped_s": round(stepped_s, 1), "machine": machine()}, indent=2))


if __name__ == "__main__":
    main()
