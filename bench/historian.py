"""Historian benchmarks, each against a baseline in the same run.

1. Ingest: the console's path (HistorianWriter → SampleStore: batching thread,
   point-key mapping, idempotent insert; COPY on PostgreSQL) vs raw SQLAlchemy
   Core executemany of the same rows into the same schema, on SQLite and on
   PostgreSQL. Rows/s, medians of several runs, ratio.
2. Query: one day of 1 Hz data for 10 points, read back into 2,000 buckets
   (min/max/avg/last) per point, on PostgreSQL (the goal) and SQLite: one
   ``buckets_many`` call for all points vs one ``buckets`` call per point, one
   after another (the baseline), and a raw scan per point; medians over
   repeats, the ratio one call / per point.

    .venv/bin/python bench/historian.py                # PostgreSQL from ENERGYNET_PG_URL or the local default
    .venv/bin/python bench/historian.py --query-only   # skip the ingest part
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from bench.stats import machine  # noqa: E402
from console.store.bucket_queries import prepare, raw_buckets  # noqa: E402
from console.store.database import make_engine, upgrade  # noqa: E402
from console.store.retention import rollup  # noqa: E402
from console.store.samples import QUALITY_CODES, Row, SampleStore  # noqa: E402
from console.store.schema import samples  # noqa: E402
from console.store.spool import Spool  # noqa: E402
from console.store.writer import HistorianWriter  # noqa: E402
from core.points import Quality  # noqa: E402

PG_ADMIN = os.environ.get("ENERGYNET_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
N_INGEST = 200_000
POINTS = 10
RUNS = 3
T0_US = 1_790_000_000_000_000


def make_rows(n: int, offset: int = 0) -> list[Row]:
    return [(f"p{i % POINTS}", T0_US + (offset + i) * 100_000, 50.0 + (i % 100) / 1000, 0) for i in range(n)]


class Database:
    """A fresh database per measurement: SQLite file or a new PostgreSQL database."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.url = f"sqlite:///{tmp / f'{uuid.uuid4().hex}.sqlite'}"
        else:
            self.name = f"energynet_bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.name
        self.engine = make_engine(self.url)
        upgrade(self.engine)
        self.store = SampleStore(self.engine)
        for i in range(POINTS):
            self.store.point_id(f"p{i}")

    def drop(self) -> None:
        self.engine.dispose()
        if self.kind == "postgresql":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def ingest_ours(db: Database, rows: list[Row], tmp: Path) -> float:
    writer = HistorianWriter(db.store, Spool(tmp / f"{uuid.uuid4().hex}.spool"), batch_rows=5000, flush_s=0.05)
    writer.start()
    start = time.perf_counter()
    for i in range(0, len(rows), 1000):  # as the acquisition hands batches over
        writer.submit(rows[i:i + 1000])
    assert writer.wait_idle(300)
    took = time.perf_counter() - start
    writer.stop()
    assert db.store.count() == len(rows)
    return len(rows) / took


def ingest_raw(db: Database, rows: list[Row], tmp: Path) -> float:
    ids = {f"p{i}": db.store.point_id(f"p{i}") for i in range(POINTS)}
    start = time.perf_counter()
    for i in range(0, len(rows), 5000):
        with db.engine.begin() as conn:
            conn.execute(insert(samples), [{"point_id": ids[k], "ts_us": t, "value": v, "quality": q}
                                           for k, t, v, q in rows[i:i + 5000]])
    took = time.perf_counter() - start
    return len(rows) / took


def bench_ingest(kind: str, tmp: Path) -> dict[str, object]:
    rows = make_rows(N_INGEST)
    results: dict[str, list[float]] = {"console": [], "raw_core_executemany": []}
    for run in range(RUNS):
        order = (("console", ingest_ours), ("raw_core_executemany", ingest_raw))
        for name, fn in order if run % 2 == 0 else tuple(reversed(order)):
            db = Database(kind, tmp)
            try:
                results[name].append(fn(db, rows, tmp))
            finally:
                db.drop()
    med = {k: statistics.median(v) for k, v in results.items()}
    return {
        "rows_per_run": N_INGEST,
        "console_rows_per_s": round(med["console"]),
        "raw_core_executemany_rows_per_s": round(med["raw_core_executemany"]),
        "ratio": round(med["console"] / med["raw_core_executemany"], 2),
        "all_runs": {k: [round(x) for x in v] for k, v in results.items()},
    }


QUERY_REPEATS = 9


def bench_query(kind: str, tmp: Path) -> dict[str, object]:
    """One day of 1 Hz data for 10 points into 2,000 buckets per point: one call for all points vs one call
    per point (sequential), and a scan of the raw rows per point; the three alternate within each repeat."""
    db = Database(kind, tmp)
    try:
        day = 86_400
        for p in range(POINTS):
            rows = [(f"p{p}", T0_US + s * 1_000_000, 50.0 + (s % 600) / 6000, 0) for s in range(day)]
            for i in range(0, day, 50_000):
                db.store.insert(rows[i:i + 50_000])
        t1 = T0_US + day * 1_000_000
        rollup(db.engine, t1 - 60_000_000)  # maintenance ran a minute before the end of the day
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        pids = {f"p{p}": db.store.point_id(f"p{p}") for p in range(POINTS)}
        width = -(-(t1 - T0_US) // 2000)

        def console_many(keys: list[str]) -> None:
            for b in db.store.buckets_many(keys, T0_US, t1, 2000).values():
                assert len(b) == 2000 and sum(x.n for x in b) == day

        def console_each(keys: list[str]) -> None:
            for k in keys:
                b = db.store.buckets(k, T0_US, t1, 2000)
                assert len(b) == 2000 and sum(x.n for x in b) == day

        def raw_only(keys: list[str]) -> None:
            good = (QUALITY_CODES[Quality.GOOD], QUALITY_CODES[Quality.UNCERTAIN])
            for k in keys:
                with db.engine.begin() as conn:
                    prepare(conn, kind)
                    (b,) = raw_buckets(conn, [pids[k]], T0_US, T0_US, t1, width, good).values()
                assert len(b) == 2000 and sum(x.n for x in b) == day

        methods = (("console_one_call_for_all_points", console_many),
                   ("console_one_call_per_point", console_each), ("raw_scan_baseline", raw_only))
        one: dict[str, list[float]] = {name: [] for name, _ in methods}
        ten: dict[str, list[float]] = {name: [] for name, _ in methods}
        console_many(list(pids))  # warm the caches once
        for rep in range(QUERY_REPEATS):
            for name, fn in methods[rep % 3:] + methods[:rep % 3]:
                start = time.perf_counter()
                fn(["p3"])
                one[name].append(time.perf_counter() - start)
                start = time.perf_counter()
                fn(list(pids))
                ten[name].append(time.perf_counter() - start)
        out: dict[str, object] = {"rows": POINTS * day, "repeats": QUERY_REPEATS}
        for name, _ in methods:
            out[name] = {
                "one_point_ms": {"median": _ms(statistics.median(one[name])), "max": _ms(max(one[name]))},
                "ten_points_ms": {"median": _ms(statistics.median(ten[name])), "max": _ms(max(ten[name]))},
            }
        many, each = statistics.median(ten[methods[0][0]]), statistics.median(ten[methods[1][0]])
        out["ten_points_one_call_vs_per_point"] = round(many / each, 2)  # < 1: the one call is faster
        return out
    finally:
        db.drop()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def main() -> None:
    query_only = "--query-only" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        out: dict[str, object] = {"benchmark": "historian"}
        if not query_only:
            out["ingest_sqlite"] = bench_ingest("sqlite", tmp)
            out["ingest_postgresql"] = bench_ingest("postgresql", tmp)
        out["query_postgresql_one_day_1hz_10_points"] = bench_query("postgresql", tmp)
        out["query_sqlite_one_day_1hz_10_points"] = bench_query("sqlite", tmp)
        out["goal"] = {"ingest_ratio_min": 0.35, "sqlite_rows_per_s_min": 20_000, "query_ms_max": 200,
                       "query_goal_on": "postgresql, ten points, one call"}
        out["machine"] = machine()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
