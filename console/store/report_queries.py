"""Rollup buckets and raw samples of one point as numpy arrays, for the reports.

Reports read the rollups (10 s, 1 min, 1 h; :mod:`core.reports.buckets` says what each KPI keeps) and
raw samples only where a rollup row cannot tell (a bucket that changes band or sign) or does not exist yet.

A module of its own (not in samples.py) so that report reads can evolve without touching the writer's
repository. One indexed range scan on the primary key (point_id, ts_us); only usable values (good,
uncertain) are read. The rows go straight from the DB-API cursor into numpy, chunk by chunk: a month of
1 s data is 2.6 million rows per point, and SQLAlchemy's Row objects would cost more than the query.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
from sqlalchemy import Connection, Engine, select

from console.store.samples import QUALITY_CODES
from console.store.schema import points, samples_1h, samples_1m, samples_10s
from core.points import Quality
from core.reports.buckets import Buckets, bucketize
from core.reports.series import Series

_USABLE = (QUALITY_CODES[Quality.GOOD], QUALITY_CODES[Quality.UNCERTAIN])
_TIERS = {10.0: samples_10s, 60.0: samples_1m, 3600.0: samples_1h}
_CHUNK = 20_000  # rows per fetch: bounds the Python tuples held at once and how long one call holds the GIL


def read_series(engine: Engine, key: str, t0: float, t1: float) -> Series:
    """Usable samples of point ``key`` in [t0, t1) (POSIX s), oldest first, with the nearest usable sample
    before ``t0`` and the first at or after ``t1`` when there are any (a value holds into the period, and
    energy is interpolated at its edges); empty for an unknown point."""
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    usable = f"point_id = {mark} AND quality IN ({_USABLE[0]}, {_USABLE[1]}) AND value IS NOT NULL"
    before = f"SELECT ts_us, value FROM samples WHERE {usable} AND ts_us < {mark} ORDER BY ts_us DESC LIMIT 1"
    inside = f"SELECT ts_us, value FROM samples WHERE {usable} AND ts_us >= {mark} AND ts_us < {mark} ORDER BY ts_us"
    after = f"SELECT ts_us, value FROM samples WHERE {usable} AND ts_us >= {mark} ORDER BY ts_us LIMIT 1"
    a, b = round(t0 * 1e6), round(t1 * 1e6)
    with engine.connect() as conn:
        pid = conn.execute(select(points.c.id).where(points.c.key == key)).scalar()
        if pid is None:
            return Series.empty()
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            parts = []
            for sql, params in ((before, (pid, a)), (inside, (pid, a, b)), (after, (pid, b))):
                cur.execute(sql, params)
                while rows := cur.fetchmany(_CHUNK):
                    # fromiter over the flattened rows: ~2x faster than np.array of a list of tuples
                    flat = np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=2 * len(rows))
                    parts.append(flat.reshape(-1, 2))
        finally:
            cur.close()
    if not parts:
        return Series.empty()
    both = np.concatenate(parts)
    return Series(both[:, 0] / 1e6, np.ascontiguousarray(both[:, 1]))


def _rows(conn: Connection, sql: str, params: tuple[int, ...], width: int) -> np.ndarray:
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    parts = []
    try:
        cur.execute(sql, params)
        while rows := cur.fetchmany(_CHUNK):
            flat = np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=width * len(rows))
            parts.append(flat.reshape(-1, width))
    finally:
        cur.close()
    return np.concatenate(parts) if parts else np.empty((0, width))


def read_buckets(engine: Engine, key: str, t0: float, t1: float, width_s: float) -> Buckets:
    """Buckets of ``width_s`` (10, 60 or 3600 s) of point ``key`` over [t0, t1): the rollup rows as far as
    the rollup has reached, raw samples bucketed the same way after that and in the period's partial
    buckets at either edge; empty for an unknown point."""
    table = _TIERS.get(float(width_s))
    if table is None:
        raise ValueError(f"no rollup of {width_s:g} s; use one of {', '.join(f'{w:g}' for w in _TIERS)}")
    w = round(width_s * 1e6)
    t0_us, t1_us = round(t0 * 1e6), round(t1 * 1e6)
    a, z = -(-t0_us // w) * w, t1_us // w * w
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    usable = f"point_id = {mark} AND quality IN ({_USABLE[0]}, {_USABLE[1]}) AND value IS NOT NULL"
    raw_sql = f"SELECT ts_us, value FROM samples WHERE {usable} AND ts_us >= {mark} AND ts_us < {mark} ORDER BY ts_us"
    with engine.connect() as conn:
        pid = conn.execute(select(points.c.id).where(points.c.key == key)).scalar()
        if pid is None:
            return Buckets.empty()
        done = conn.execute(select(table.c.bucket_us).where(table.c.point_id == pid)
                            .order_by(table.c.bucket_us.desc()).limit(1)).scalar()
        split = a if done is None or z <= a else min(max(done + w, a), z)
        rows = _rows(conn, f"SELECT bucket_us, vmin, vmax, vavg, vlast, n FROM {table.name} WHERE point_id = {mark} "
                     f"AND bucket_us >= {mark} AND bucket_us < {mark} ORDER BY bucket_us", (pid, a, split), 6) \
            if split > a else np.empty((0, 6))
        edges = [(t0_us, min(a, t1_us)), (max(split, t0_us), t1_us)]
        raws = [_rows(conn, raw_sql, (pid, lo, hi), 2) for lo, hi in edges if hi > lo]
    start = rows[:, 0] / 1e6
    rolled = Buckets(start, start + width_s, rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5])
    parts = [bucketize(Series(r[:, 0] / 1e6, np.ascontiguousarray(r[:, 1])), t0, t1, width_s) for r in raws]
    return Buckets.concat([rolled, *parts])


class SqlSampleReader:
    """:class:`core.ports.SampleReader` on a historian database (its own engine; :meth:`close` it)."""

    def __init__(self, url: str) -> None:
        from console.store.database import make_engine

        self.engine = make_engine(url)

    def read_series(self, point: str, t0: float, t1: float) -> Series:
        return read_series(self.engine, point, t0, t1)

    def read_buckets(self, point: str, t0: float, t1: float, width_s: float) -> Buckets:
        return read_buckets(self.engine, point, t0, t1, width_s)

    def close(self) -> None:
        self.engine.dispose()
