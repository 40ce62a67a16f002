"""Historian store on SQLite and PostgreSQL: migrations, bulk ingest, buckets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlalchemy import inspect, select, text

from console.store.database import current_revision, head_revision, make_engine, upgrade
from console.store.samples import SampleStore, to_row
from console.store.schema import points
from core.points import PointDef, PointKind, Quality

pytestmark = [pytest.mark.store, pytest.mark.timeout(300)]

T0 = 1_790_000_000.0


def test_migrations_from_empty_to_head(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    assert upgrade(engine) == head_revision() == "0011"
    tables = set(inspect(engine).get_table_names())
    assert {"points", "samples", "samples_10s", "samples_1m", "samples_1h", "events", "participants", "devices",
            "users", "audit_log", "orders", "trades", "participant_register", "alembic_version"} <= tables
    assert upgrade(engine) == "0011"  # idempotent


def test_migration_from_previous_revision_keeps_data(db_url: str) -> None:
    engine = make_engine(db_url)
    assert upgrade(engine, "0001") == "0001"
    store = SampleStore(engine)
    store.register([PointDef("f", "Frequency", "Hz", PointKind.FREQUENCY)])
    store.insert([to_row("f", 50.01, Quality.GOOD, T0)])
    assert upgrade(engine) == "0011"
    assert store.count("f") == 1
    with engine.connect() as conn:
        assert conn.execute(select(points.c.key)).scalars().all() == ["f"]
        assert conn.execute(text("SELECT count(*) FROM samples_1m")).scalar() == 0


def test_million_samples_ingest_and_bucketed_read_back(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    store = SampleStore(engine)
    n_points, per_point = 4, 250_000  # 1,000,000 samples at 10 Hz
    store.register([PointDef(f"p{i}", f"P{i}", "V") for i in range(n_points)])
    t = T0 + np.arange(per_point) * 0.1
    for i in range(n_points):
        values = 230 + i + np.sin(np.arange(per_point) / 1000)
        rows = [(f"p{i}", round(ts * 1e6), float(v), 0) for ts, v in zip(t, values, strict=True)]
        for start in range(0, per_point, 50_000):
            store.insert(rows[start:start + 50_000])
    assert store.count() == 1_000_000

    t0_us, t1_us = round(T0 * 1e6), round((T0 + per_point * 0.1) * 1e6)
    buckets = store.buckets("p2", t0_us, t1_us, 2000)
    assert len(buckets) == 2000  # one row per pixel column
    assert sum(b.n for b in buckets) == per_point
    assert min(b.vmin for b in buckets) == pytest.approx(232 - 1, abs=1e-3)
    assert max(b.vmax for b in buckets) == pytest.approx(232 + 1, abs=1e-3)
    first = buckets[0]
    assert first.start_us == t0_us
    assert first.vlast == pytest.approx(232 + math.sin((first.n - 1) / 1000))

    # Inserting the same rows again changes nothing: idempotent on point + time.
    store.insert([(f"p{0}", t0_us, 999.0, 0)])
    assert store.count("p0") == per_point
    latest = store.latest("p3")
    assert latest is not None and latest[0] == round(t[-1] * 1e6) and latest[2] is Quality.GOOD


def test_bad_values_are_stored_but_left_out_of_buckets(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    store = SampleStore(engine)
    store.insert([to_row("x", 1.0, Quality.GOOD, T0), to_row("x", math.nan, Quality.STALE, T0 + 1),
                  to_row("x", 9.0, Quality.BAD, T0 + 2), to_row("x", 3.0, Quality.GOOD, T0 + 3)])
    assert store.count("x") == 4
    (bucket,) = store.buckets("x", round(T0 * 1e6), round((T0 + 10) * 1e6), 1)
    assert (bucket.vmin, bucket.vmax, bucket.n, bucket.vlast) == (1.0, 3.0, 2, 3.0)
    exported = list(store.export("x", round(T0 * 1e6), round((T0 + 10) * 1e6), chunk=3))
    assert [q for _, _, q in exported] == [Quality.GOOD, Quality.STALE, Quality.BAD, Quality.GOOD]
    assert exported[1][1] is None


def test_register_completes_a_point_first_stored_without_its_definition(db_url: str) -> None:
    """A sample that reached the writer before its point was announced leaves a bare row; the
    announcement then fills in name, unit and kind, and a changed unit is stored too."""
    engine = make_engine(db_url)
    upgrade(engine)
    store = SampleStore(engine)
    store.insert([to_row("m1.power", 1200.0, Quality.GOOD, T0)])
    store.register([PointDef("m1.power", "m1: Total active power", "W")])
    store.register([PointDef("m1.energy", "m1: Energy", "Wh")])
    store.register([PointDef("m1.energy", "m1: Energy", "kWh")])

    with engine.connect() as conn:
        rows = {k: (n, u, kd) for k, n, u, kd in conn.execute(
            select(points.c.key, points.c.name, points.c.unit, points.c.kind))}
    assert rows == {"m1.power": ("m1: Total active power", "W", "other"), "m1.energy": ("m1: Energy", "kWh", "other")}
    assert store.count("m1.power") == 1  # the sample stays with its point
