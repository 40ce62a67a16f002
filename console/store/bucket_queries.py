"""Bucketed history of several points, one SQL statement per source table (rollup tier or raw samples).

Shared by every trend of a view: asking for ten points costs one statement, not ten.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, Table, bindparam, text

from core.history import Bucket


def _session(conn: Connection, dialect: str) -> None:
    if dialect == "postgresql":
        # The sub-plans inflate cost estimates: JIT would add ~15 ms for nothing, and the default
        # work_mem sends the bucket sort to disk.
        conn.execute(text("SET LOCAL jit = off"))
        conn.execute(text("SET LOCAL work_mem = '32MB'"))


def rollup_buckets(conn: Connection, dialect: str, table: Table, pids: Sequence[int], t0_us: int, t1_us: int,
                   width: int, grid_t0: int) -> dict[int, list[Bucket]]:
    """Rollup rows of `pids` starting in [t0, t1) folded into buckets of `width` µs on a grid from `grid_t0`."""
    if not pids or t1_us <= t0_us:
        return {}
    if dialect == "postgresql":
        # "last" = vlast of the newest row: the largest [time, value] pair. Exact, as µs since the epoch stay
        # below 2**53 until the year 2255; a quarter faster than array_agg(... ORDER BY), no lookup per bucket.
        sql = text(f"""
            SELECT point_id, (bucket_us - :g) / :w AS b, min(vmin), max(vmax), sum(vavg * n) / sum(n),
                   (max(ARRAY[bucket_us::float8, vlast]))[2], sum(n)
            FROM {table.name}
            WHERE point_id IN :pids AND bucket_us >= :t0 AND bucket_us < :t1
            GROUP BY point_id, b ORDER BY point_id, b
        """)
    else:
        sql = text(f"""
            SELECT agg.point_id, agg.b, agg.vmin, agg.vmax, agg.vavg,
                   (SELECT r.vlast FROM {table.name} r WHERE r.point_id = agg.point_id AND r.bucket_us = agg.tmax),
                   agg.n
            FROM (
                SELECT point_id, (bucket_us - :g) / :w AS b, min(vmin) AS vmin, max(vmax) AS vmax,
                       sum(vavg * n) / sum(n) AS vavg, max(bucket_us) AS tmax, sum(n) AS n
                FROM {table.name}
                WHERE point_id IN :pids AND bucket_us >= :t0 AND bucket_us < :t1
                GROUP BY point_id, b
            ) agg
            ORDER BY agg.point_id, agg.b
        """)
    sql = sql.bindparams(bindparam("pids", expanding=True))
    _session(conn, dialect)
    out: dict[int, list[Bucket]] = defaultdict(list)
    params = {"g": grid_t0, "t0": t0_us, "t1": t1_us, "w": width, "pids": list(pids)}
    for pid, b, vmin, vmax, vavg, vlast, n in conn.execute(sql, params):
        out[pid].append(Bucket(grid_t0 + int(b) * width, vmin, vmax, vavg, vlast, int(n)))
    return out


def raw_buckets(conn: Connection, dialect: str, pids: Sequence[int], grid_t0: int, t0_us: int, t1_us: int,
                width: int, good: tuple[int, int]) -> dict[int, list[Bucket]]:
    """Good raw samples of `pids` in [t0, t1) in buckets of `width` µs on a grid starting at `grid_t0`."""
    if not pids or t1_us <= t0_us:
        return {}
    # "last" = the value at the newest time of the bucket: one primary-key lookup per bucket
    # (portable; a join made PostgreSQL hash every row of the point).
    sql = text("""
        SELECT agg.point_id, agg.b, agg.vmin, agg.vmax, agg.vavg,
               (SELECT s.value FROM samples s WHERE s.point_id = agg.point_id AND s.ts_us = agg.tmax) AS vlast,
               agg.n
        FROM (
            SELECT point_id, (ts_us - :g) / :w AS b, min(value) AS vmin, max(value) AS vmax, avg(value) AS vavg,
                   max(ts_us) AS tmax, count(*) AS n
            FROM samples
            WHERE point_id IN :pids AND ts_us >= :t0 AND ts_us < :t1 AND quality IN (:g0, :g1)
              AND value IS NOT NULL
            GROUP BY point_id, b
        ) agg
        ORDER BY agg.point_id, agg.b
    """).bindparams(bindparam("pids", expanding=True))
    params = {"g": grid_t0, "t0": t0_us, "t1": t1_us, "w": width, "pids": list(pids), "g0": good[0], "g1": good[1]}
    _session(conn, dialect)
    out: dict[int, list[Bucket]] = defaultdict(list)
    for pid, b, vmin, vmax, vavg, vlast, n in conn.execute(sql, params):
        out[pid].append(Bucket(grid_t0 + int(b) * width, vmin, vmax, vavg, vlast, int(n)))
    return out
