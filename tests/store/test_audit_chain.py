"""The audit hash chain on real SQLite and PostgreSQL: intact, edited, deleted, reordered."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, text, update

from console.store import audit_chain
from console.store.database import make_engine, upgrade
from console.store.schema import audit_log

T0 = 1_764_630_000.0  # 2025-12-01 23:00:00 UTC


@pytest.fixture
def engine(db_url: str) -> Engine:
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def _write_five(engine: Engine) -> list[int]:
    for i in range(5):
        audit_chain.append(engine, T0 + 60 * i, "ada", "command", f"inv-{i}", None, f"limit {10 * i} %",
                           "confirmed: ok")
    with engine.connect() as conn:
        return [r.id for r in conn.execute(select(audit_log.c.id).order_by(audit_log.c.id))]


def test_first_entry_hash_is_sha256_of_genesis_and_its_canonical_json(engine: Engine) -> None:
    digest = audit_chain.append(engine, T0, "ada", "login", "console", None, None, "ok")
    content = ('{"action":"login","new":null,"old":null,"result":"ok","target":"console",'
               '"ts_us":1764630000000000,"user":"ada"}')
    assert digest == hashlib.sha256(("0" * 64 + content).encode()).hexdigest()
    assert audit_chain.verify(engine).message() == "audit log OK: 1 entries, hash chain intact"


def test_intact_chain_is_ok(engine: Engine) -> None:
    _write_five(engine)
    report = audit_chain.verify(engine)
    assert (report.ok, report.count) == (True, 5)


def test_edited_row_is_found(engine: Engine) -> None:
    ids = _write_five(engine)
    with engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == ids[2]).values(new="limit 100 %"))
    assert audit_chain.verify(engine).message() == (
        f"audit log broken at row {ids[2]} (2025-12-01 23:02:00 UTC): content changed: the row no longer "
        "matches its hash")


def test_deleted_row_is_found(engine: Engine) -> None:
    ids = _write_five(engine)
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id == ids[1]))
    assert audit_chain.verify(engine).message() == (
        f"audit log broken at row {ids[2]} (2025-12-01 23:02:00 UTC): row missing: the entry it follows is not "
        f"in the log (between row {ids[0]} and row {ids[2]})")


def test_deleted_last_row_is_found_by_the_head(engine: Engine) -> None:
    ids = _write_five(engine)
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id == ids[4]))
    assert audit_chain.verify(engine).message() == (
        "audit log broken at the end of the log: row missing: the chain head records 5 entries, the log has 4")


def test_swapped_rows_are_found(engine: Engine) -> None:
    ids = _write_five(engine)
    cols = ["ts_us", "user", "action", "target", "old", "new", "result", "prev_hash", "hash"]
    with engine.begin() as conn:
        a, b = (conn.execute(select(*[audit_log.c[c] for c in cols]).where(audit_log.c.id == i)).one()
                for i in (ids[1], ids[2]))
        conn.execute(update(audit_log).where(audit_log.c.id == ids[1]).values(dict(zip(cols, b, strict=True))))
        conn.execute(update(audit_log).where(audit_log.c.id == ids[2]).values(dict(zip(cols, a, strict=True))))
    assert audit_chain.verify(engine).message() == (
        f"audit log broken at row {ids[1]} (2025-12-01 23:02:00 UTC): order changed: it follows row {ids[2]}, "
        "which comes after it")


def test_entries_before_the_chain_are_chained_by_the_migration(db_url: str) -> None:
    eng = make_engine(db_url)
    upgrade(eng, "0005")
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO audit_log (ts_us, \"user\", action, target, old, new, result) "
                          "VALUES (1764630000000000, 'ada', 'write', 'inv.limit', '50', '40', 'confirmed: ok')"))
    upgrade(eng)
    audit_chain.append(eng, T0 + 1, "ada", "command", "inv", None, "x", "confirmed: ok")
    report = audit_chain.verify(eng)
    eng.dispose()
    assert (report.ok, report.count) == (True, 2)


def test_cli_audit_verify_exits_1_on_a_broken_link(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    eng = make_engine(url)
    upgrade(eng)
    ids = _write_five(eng)
    cmd = [sys.executable, "-m", "console", "audit", "verify", "--url", url]
    ok = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert (ok.returncode, ok.stdout.strip()) == (0, "audit log OK: 5 entries, hash chain intact")
    with eng.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == ids[3]).values(result="confirmed: fine"))
    eng.dispose()
    bad = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert bad.stdout.strip() == (f"audit log broken at row {ids[3]} (2025-12-01 23:03:00 UTC): content changed: "
                                  "the row no longer matches its hash")


def test_concurrent_writers_keep_one_chain(engine: Engine) -> None:
    """Four threads appending at once: every entry links to the one before it (writers are serialised)."""
    from concurrent.futures import ThreadPoolExecutor

    def write(worker: int) -> None:
        for i in range(25):
            audit_chain.append(engine, T0 + i, f"user-{worker}", "command", "inv", None, str(i), "confirmed: ok")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    report = audit_chain.verify(engine)
    assert (report.ok, report.count) == (True, 100), report.message()
