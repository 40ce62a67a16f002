"""The buffered writer: nothing lost when the database goes away, nothing twice."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from console.store.database import make_engine, upgrade
from console.store.samples import Row, SampleStore
from console.store.spool import Spool
from console.store.writer import HistorianWriter

pytestmark = [pytest.mark.store, pytest.mark.timeout(180)]

T0_US = 1_790_000_000_000_000


def rows(n: int, start: int = 0, points: int = 5) -> list[Row]:
    return [(f"p{i % points}", T0_US + (start + i) * 1000, float(i), 0) for i in range(n)]


def test_postgres_backend_killed_mid_ingest_spools_and_replays_exactly_once(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("pg_terminate_backend is a PostgreSQL test")
    import psycopg

    engine = make_engine(db_url)
    upgrade(engine)
    store = SampleStore(engine)
    writer = HistorianWriter(store, Spool(tmp_path / "spool.log"), batch_rows=2000, flush_s=0.05, retry_s=0.3)
    writer.start()
    total = 300_000
    data = rows(total)
    dbname = db_url.rsplit("/", 1)[1]
    kills = 0

    def producer() -> None:
        for i in range(0, total, 3000):
            writer.submit(data[i:i + 3000])
            time.sleep(0.01)

    t = threading.Thread(target=producer)
    t.start()
    admin = os.environ["ENERGYNET_PG_URL"]
    with psycopg.connect(admin, autocommit=True) as conn:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and (writer.stats().spooled == 0 or kills < 3):
            cur = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,))
            kills += sum(1 for (ok,) in cur.fetchall() if ok)
            time.sleep(0.03)
    t.join()
    assert writer.wait_idle(60)
    writer.stop()
    stats = writer.stats()
    assert kills >= 1
    assert stats.spooled > 0, "no write was interrupted; the kill loop missed every transaction"
    assert stats.replayed >= stats.spooled
    assert not stats.spool_pending and stats.db_ok
    assert store.count() == total  # every sample, exactly once
    for i in range(5):
        assert store.count(f"p{i}") == total // 5


def test_locked_sqlite_database_spools_then_replays_in_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    engine = make_engine(url, sqlite_busy_timeout_s=0.1)
    upgrade(engine)
    store = SampleStore(engine)
    store.register([])
    for i in range(5):
        store.point_id(f"p{i}")
    writer = HistorianWriter(store, Spool(tmp_path / "spool.log"), batch_rows=1000, flush_s=0.05, retry_s=0.2)
    writer.start()
    blocker = sqlite3.connect(tmp_path / "h.sqlite", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the database
    writer.submit(rows(5000))
    deadline = time.monotonic() + 10
    while writer.stats().spooled < 5000 and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = writer.stats()
    assert stats.spooled == 5000 and not stats.db_ok and "locked" in (stats.last_error or "")
    writer.submit(rows(2000, start=5000))  # later rows queue behind the spool
    time.sleep(0.3)
    blocker.execute("ROLLBACK")
    blocker.close()
    assert writer.wait_idle(30)
    writer.stop()
    assert store.count() == 7000
    assert writer.stats().replayed == 7000 and writer.stats().db_ok


def test_corrupt_spool_record_is_reported_and_good_ones_kept(tmp_path: Path) -> None:
    spool_path = tmp_path / "spool.log"
    spool = Spool(spool_path)
    spool.append(rows(10))
    spool.append(rows(10, start=10))
    spool.append(rows(10, start=20))
    raw = spool_path.read_bytes().split(b"\n")
    raw[1] = raw[1].replace(b"p1", b"pX", 1)  # damage the middle record
    spool_path.write_bytes(b"\n".join(raw) + b'0000abcd [["p0",1,1.0,0]]')  # and a torn last write
    reported = []
    spool = Spool(spool_path, on_corruption=reported.append)
    engine = make_engine(f"sqlite:///{tmp_path / 'h.sqlite'}")
    upgrade(engine)
    store = SampleStore(engine)
    writer = HistorianWriter(store, spool, flush_s=0.05)
    writer.start()
    assert writer.wait_idle(20)
    writer.stop()
    assert store.count() == 20  # records 1 and 3
    assert [c.line for c in reported] == [2, 4]
    assert "checksum mismatch" in str(reported[0]) and str(spool_path) in str(reported[0])
    assert "byte" in str(reported[0]) and "records around it are kept" in str(reported[0])
    assert "torn write" in str(reported[1])
    assert not spool_path.exists() and writer.stats().corrupt_records == 2


def test_memory_is_bounded_by_spilling_to_the_spool(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    engine = make_engine(url, sqlite_busy_timeout_s=0.05)
    upgrade(engine)
    store = SampleStore(engine)
    writer = HistorianWriter(store, Spool(tmp_path / "s.log"), batch_rows=500, flush_s=0.05, max_queued=2000,
                             retry_s=0.1)
    blocker = sqlite3.connect(tmp_path / "h.sqlite", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    writer.start()
    for i in range(20):
        writer.submit(rows(1000, start=i * 1000))
    time.sleep(1.0)
    assert writer.stats().queued <= 2000 + 1000
    blocker.execute("ROLLBACK")
    blocker.close()
    assert writer.wait_idle(30)
    writer.stop()
    assert store.count() == 20_000
