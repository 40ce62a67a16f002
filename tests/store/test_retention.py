"""Rollups of closed minutes/hours and retention, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from console.store.database import make_engine, upgrade
from console.store.retention import DAY_US, HOUR_US, MINUTE_US, RetentionPolicy, enforce, rollup
from console.store.samples import SampleStore
from console.store.schema import samples_1h, samples_1m, samples_10s

pytestmark = [pytest.mark.store, pytest.mark.timeout(120)]

T0 = 1_790_000_000 // 3600 * 3600 * 1_000_000  # an hour boundary, in µs


def test_rollups_cover_closed_buckets_once_and_retention_trims(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    store = SampleStore(engine)
    # 2 hours of 1 Hz data for one point: value = minute index; one bad sample excluded.
    rows = [("v", T0 + s * 1_000_000, float(s // 60), 0) for s in range(7200)]
    rows[30] = ("v", rows[30][1], 999.0, 2)
    store.insert(rows)
    now = T0 + 2 * HOUR_US + 30 * MINUTE_US  # the third hour is not closed
    added_m, added_h = rollup(engine, now)
    assert (added_m, added_h) == (120, 2)
    assert rollup(engine, now) == (0, 0)  # idempotent
    with engine.connect() as conn:
        first = conn.execute(select(samples_1m).order_by(samples_1m.c.bucket_us).limit(1)).one()
        hours = conn.execute(select(samples_1h).order_by(samples_1h.c.bucket_us)).all()
    assert first.bucket_us == T0 and first.n == 59 and first.vmax == 0.0 and first.vlast == 0.0
    assert [h.n for h in hours] == [3599, 3600]
    assert hours[1].vmin == 60.0 and hours[1].vmax == 119.0 and hours[1].vlast == 119.0

    deleted = enforce(engine, T0 + 3 * DAY_US, RetentionPolicy(raw_days=2.5, minute_days=2.9, hour_days=10))
    assert deleted == {"samples": 7200, "samples_10s": 0, "samples_1m": 120, "samples_1h": 0}
    assert store.count() == 0


def test_history_past_raw_retention_comes_from_rollups(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    store = SampleStore(engine)
    store.insert([("v", T0 + s * 1_000_000, float(s // 60), 0) for s in range(7200)])
    rollup(engine, T0 + 2 * HOUR_US)
    # Raw data of the first hour is past its retention; the minute rollups remain.
    enforce(engine, T0 + HOUR_US + 3 * DAY_US, RetentionPolicy(raw_days=3, minute_days=30, hour_days=365))
    assert store.count("v") == 3600
    buckets = store.buckets("v", T0, T0 + 2 * HOUR_US, 120)  # one per minute
    assert len(buckets) == 120
    assert [b.start_us for b in buckets] == [T0 + i * MINUTE_US for i in range(120)]
    assert [b.vmin for b in buckets] == [float(i) for i in range(120)]
    assert [b.vlast for b in buckets] == [float(i) for i in range(120)]
    assert sum(b.n for b in buckets) == 7200
    coarse = store.buckets("v", T0, T0 + 2 * HOUR_US, 2)  # one per hour, from 1 h rollups + raw
    assert [(b.vmin, b.vmax, b.n) for b in coarse] == [(0.0, 59.0, 3600), (60.0, 119.0, 3600)]


def test_a_day_in_pixel_buckets_reads_the_10s_rollups_and_raw_after_them(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    store = SampleStore(engine)
    day = 86_400
    store.insert([("v", T0 + s * 1_000_000, float(s % 600), 0) for s in range(day)])
    rollup(engine, T0 + (day - 100) * 1_000_000)  # maintenance ran 100 s before the end
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(samples_10s)).scalar() == (day - 100) // 10
    buckets = store.buckets("v", T0, T0 + day * 1_000_000, 2000)
    assert len(buckets) == 2000
    assert sum(b.n for b in buckets) == day  # rollups up to 100 s before the end, raw after: nothing twice
    assert min(b.vmin for b in buckets) == 0.0 and max(b.vmax for b in buckets) == 599.0
    assert buckets[-1].vlast == float((day - 1) % 600)
