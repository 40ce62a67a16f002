"""Report bench: N days of 1 s data for 50 points and their 10 s / 1 min / 1 h rollups, written into SQLite
(executemany on the DB-API connection: the fastest path for a month), then the full report (``all`` kinds)
rendered to PDF by the report service while the event loop's lag is measured.

    PYTHONPATH=. .venv/bin/python bench/report_pdf.py --days 30 --db /tmp/report_bench.sqlite

Points: the area frequency, 9 bus voltages, 10 houses × (meter power, meter import counter, PV power,
battery power). The goal (issue 17): one month into a PDF in ≤ 60 s with the loop lag p99 ≤ 50 ms.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sqlite3
import time
from functools import partial
from pathlib import Path

import numpy as np

from bench.stats import machine, percentile
from console.services.loop_monitor import LoopMonitor
from console.services.reports import ReportFormat, ReportKind, ReportService, ReportSite, VoltageBus
from console.store.database import make_engine, upgrade
from console.store.report_queries import SqlSampleReader
from console.store.samples import SampleStore
from core.participants import Asset, AssetKind, Participant
from core.roles import Role

T0 = 1_761_955_200.0  # 2025-11-01 00:00 UTC
HOUSES = 10
BUSES = 9


def _points() -> list[str]:
    keys = ["grid.frequency", *(f"bus{b:02d}.voltage" for b in range(1, BUSES + 1))]
    for h in range(1, HOUSES + 1):
        keys += [f"house-{h:02d}.power", f"house-{h:02d}.energy_import", f"house-{h:02d}-pv.inverter_three_phase.W",
                 f"house-{h:02d}-bat.battery.W"]
    return keys


def _values(key: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    day = (t % 86400) / 86400
    sun = np.clip(np.sin((day - 0.25) * 2 * math.pi), 0, None)
    if key == "grid.frequency":
        f = 50 + 0.02 * np.sin(t / 300) + rng.normal(0, 0.005, t.size)
        f[(t % 86400 >= 36000) & (t % 86400 < 36060)] -= 0.3  # one 60 s dip a day: an event, alert time
        return f
    if key.endswith(".voltage"):
        return 230 + 4 * np.sin(t / 3600) + rng.normal(0, 1, t.size)
    if key.endswith("inverter_three_phase.W"):
        # An inverter reports no negative production: zero at night, noise on top of the sun by day.
        return np.maximum(4000 * sun + rng.normal(0, 20, t.size), 0.0)
    if key.endswith("battery.W"):
        return np.where(sun > 0.5, 1500.0, -800.0)
    load = 600 + 400 * np.sin(day * 4 * math.pi) ** 2
    if key.endswith(".power"):
        return load - 4000 * sun + 1500 * (sun > 0.5) - 800 * (sun <= 0.5)
    return np.cumsum(np.maximum(load - 4000 * sun, 0)) / 3600  # import counter, Wh


def _rollups(v: np.ndarray, day_us: int, width_s: int) -> list[tuple[int, float, float, float, float, int]]:
    """What the historian's rollup (console.store.retention) stores for one day of 1 s samples: min, max,
    mean, last and count per epoch-aligned bucket (computed here in numpy: the SQL rollup over a month of
    raw rows without a time index would take longer than the bench)."""
    b = v.reshape(-1, width_s)
    starts = day_us + np.arange(b.shape[0], dtype=np.int64) * width_s * 1_000_000
    return list(zip(starts.tolist(), b.min(axis=1).tolist(), b.max(axis=1).tolist(), b.mean(axis=1).tolist(),
                    b[:, -1].tolist(), [width_s] * b.shape[0], strict=True))


def generate(db: Path, days: float) -> dict[str, float]:
    """``days`` whole days of 1 s samples of every point, with their 10 s, 1 min and 1 h rollups, written
    with the DB-API's executemany in one transaction per day (the fastest SQLite path)."""
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    store = SampleStore(engine)
    keys = _points()
    pids = {k: store.point_id(k) for k in keys}
    engine.dispose()
    rng = np.random.default_rng(1)
    t_start = time.perf_counter()
    rows = 0
    counters = dict.fromkeys(keys, 0.0)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-400000")
    for day in range(math.ceil(days)):
        t = T0 + day * 86400 + np.arange(86400, dtype=np.float64)
        ts_us = (t * 1_000_000).astype(np.int64).tolist()
        day_us = int(t[0] * 1_000_000)
        with con:
            for key in keys:
                v = _values(key, t, rng)
                if key.endswith("energy_import"):
                    v = v + counters[key]
                    counters[key] = float(v[-1])
                pid = pids[key]
                con.executemany("INSERT INTO samples (point_id, ts_us, value, quality) VALUES (?, ?, ?, 0)",
                                zip([pid] * t.size, ts_us, v.tolist(), strict=True))
                rows += t.size
                for table, width in (("samples_10s", 10), ("samples_1m", 60), ("samples_1h", 3600)):
                    con.executemany(f"INSERT INTO {table} (point_id, bucket_us, vmin, vmax, vavg, vlast, n) "
                                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                    ((pid, *r) for r in _rollups(v, day_us, width)))
    con.close()
    took = time.perf_counter() - t_start
    return {"rows": rows, "insert_s": round(took, 1), "rows_per_s": round(rows / took)}


def site() -> ReportSite:
    parts = []
    roles: list[tuple[tuple[str, Role], tuple[str, ...]]] = []
    for h in range(1, HOUSES + 1):
        house = f"house-{h:02d}"
        parts.append(Participant(house, (Asset(house, AssetKind.METER), Asset(f"{house}-pv", AssetKind.PV),
                                         Asset(f"{house}-bat", AssetKind.BATTERY))))
        roles += [((house, Role.POWER), (f"{house}.power",)),
                  ((f"{house}-pv", Role.POWER), (f"{house}-pv.inverter_three_phase.W",)),
                  ((f"{house}-bat", Role.POWER), (f"{house}-bat.battery.W",))]
    buses = tuple(VoltageBus(f"Bus {b}", f"bus{b:02d}.voltage", 230.0) for b in range(1, BUSES + 1))
    return ReportSite("Bench community", "grid.frequency", buses, tuple(parts), tuple(roles), max_gap_s=120)


async def report(db: Path, days: float, out: Path) -> dict[str, float]:
    url = f"sqlite:///{db}"
    service = ReportService(SqlSampleReader(url), site(), reader_factory=partial(SqlSampleReader, url))
    monitor = LoopMonitor(tick_s=0.01, keep=1_000_000)
    await monitor.start()
    await asyncio.sleep(2.0)  # baseline: the loop with nothing else to do
    baseline = list(monitor.lags)
    monitor.lags.clear()
    t = time.perf_counter()
    try:
        await service.run(tuple(ReportKind), T0, T0 + days * 86400, ReportFormat.PDF, out)
    finally:
        service.close()
    took = time.perf_counter() - t
    await monitor.stop()
    lags = list(monitor.lags)
    return {"report_s": round(took, 1), "pdf_bytes": out.stat().st_size,
            "lag_p99_ms": round(percentile(lags, 99) * 1000, 1), "lag_max_ms": round(max(lags) * 1000, 1),
            "baseline_lag_p99_ms": round(percentile(baseline, 99) * 1000, 1), "lag_samples": len(lags)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--days", type=float, default=30.0)
    p.add_argument("--db", type=Path, default=Path("/tmp/report_bench.sqlite"))
    p.add_argument("--out", type=Path, default=Path("/tmp/report_bench.pdf"))
    p.add_argument("--reuse", action="store_true", help="use the database as it is (generated before)")
    p.add_argument("--generate-only", action="store_true", help="build the database, do not run the report")
    a = p.parse_args()
    result: dict[str, object] = {"bench": "report_pdf", "days": a.days, "points": len(_points()), **machine()}
    if not a.reuse:
        a.db.unlink(missing_ok=True)
        result.update(generate(a.db, a.days))
    if a.generate_only:
        print(json.dumps(result))
        return
    result.update(asyncio.run(report(a.db, a.days, a.out)))
    result["db_bytes"] = a.db.stat().st_size
    print(json.dumps(result))


if __name__ == "__main__":
    main()
