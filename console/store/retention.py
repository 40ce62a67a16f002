"""Rollups (1 min, 1 h) of closed periods and retention of old rows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, Table, delete, func, select, text

from console.store.schema import samples, samples_1h, samples_1m, samples_10s

TEN_S_US = 10_000_000
MINUTE_US = 60_000_000
HOUR_US = 3_600_000_000
DAY_US = 86_400_000_000


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each resolution is kept (days); rollups outlive raw data."""

    raw_days: float = 30.0
    minute_days: float = 365.0
    hour_days: float = 3650.0
    ten_second_days: float = 90.0


# Rollup tiers, finest first: (table, bucket width).
TIERS = ((samples_10s, TEN_S_US), (samples_1m, MINUTE_US), (samples_1h, HOUR_US))


def rollup(engine: Engine, now_us: int) -> tuple[int, int]:
    """Aggregate every closed 10 s, minute and hour bucket not aggregated yet.

    Idempotent: already-present buckets are skipped. Returns rows added
    (minute, hour).
    """
    _rollup(engine, samples_10s, TEN_S_US, now_us)
    return (_rollup(engine, samples_1m, MINUTE_US, now_us), _rollup(engine, samples_1h, HOUR_US, now_us))


def _rollup(engine: Engine, table: Table, width: int, now_us: int) -> int:
    end = now_us // width * width  # only closed buckets
    with engine.begin() as conn:
        done = conn.execute(select(func.max(table.c.bucket_us))).scalar()
        start = (done + width) if done is not None else conn.execute(select(func.min(samples.c.ts_us))).scalar()
        if start is None or start >= end:
            return 0
        start = start // width * width
        # Same join-back as the pixel buckets for "last"; only good/uncertain values.
        result = conn.execute(text(f"""
            INSERT INTO {table.name} (point_id, bucket_us, vmin, vmax, vavg, vlast, n)
            SELECT agg.point_id, agg.bucket_us, agg.vmin, agg.vmax, agg.vavg, s.value, agg.n
            FROM (
                SELECT point_id, (ts_us / :w) * :w AS bucket_us, min(value) AS vmin, max(value) AS vmax,
                       avg(value) AS vavg, max(ts_us) AS tmax, count(*) AS n
                FROM samples
                WHERE ts_us >= :start AND ts_us < :end AND quality IN (0, 1) AND value IS NOT NULL
                GROUP BY point_id, (ts_us / :w) * :w
            ) agg
            JOIN samples s ON s.point_id = agg.point_id AND s.ts_us = agg.tmax
            ON CONFLICT DO NOTHING
        """), {"w": width, "start": start, "end": end})
        return int(result.rowcount or 0)


def enforce(engine: Engine, now_us: int, policy: RetentionPolicy) -> dict[str, int]:
    """Delete rows older than the policy allows; returns rows deleted per table."""
    deleted = {}
    with engine.begin() as conn:
        for table, column, days in ((samples, samples.c.ts_us, policy.raw_days),
                                    (samples_10s, samples_10s.c.bucket_us, policy.ten_second_days),
                                    (samples_1m, samples_1m.c.bucket_us, policy.minute_days),
                                    (samples_1h, samples_1h.c.bucket_us, policy.hour_days)):
            cutoff = now_us - int(days * DAY_US)
            deleted[table.name] = int(conn.execute(delete(table).where(column < cutoff)).rowcount or 0)
    return deleted
