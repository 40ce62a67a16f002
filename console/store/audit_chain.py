"""The audit log as a hash chain: each entry carries SHA-256(previous entry's hash + its own content).

Writing reads the chain head and appends in one transaction with writers serialised (PostgreSQL:
``SELECT … FOR UPDATE`` on the head row; SQLite: the head row is updated first, which takes the
database's single write lock before anything is read). :func:`verify` walks the entries in id order and
names the first broken link: an entry whose content no longer matches its hash (edited), an entry whose
predecessor is gone (deleted), or one whose predecessor is a later entry (reordered). What this does not
protect against is in docs/security.md: whoever can write the database can rewrite the whole chain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from console.store.schema import audit_chain_head, audit_log

GENESIS = "0" * 64  # the "previous hash" of the first entry
HEAD_ID = 1
RESULT_MAX = 200  # the column's width: the stored (and hashed) result is cut to it


def canonical(ts_us: int, user: str, action: str, target: str, old: str | None, new: str | None,
              result: str) -> bytes:
    """The entry's content as hashed: JSON with sorted keys, no spaces, UTF-8. The row id is left out on
    purpose, so rows moved to other ids read as "order changed", not as edits."""
    doc = {"ts_us": ts_us, "user": user, "action": action, "target": target, "old": old, "new": new,
           "result": result}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + content).hexdigest()


def _row_hash(prev_hash: str, row: Any) -> str:
    return link_hash(prev_hash, canonical(row.ts_us, row.user, row.action, row.target, row.old, row.new,
                                          row.result))


def _lock_head(conn: Connection) -> tuple[int, str]:
    """The head (count, hash), locked for this transaction; created at the genesis when missing."""
    if conn.dialect.name == "sqlite":
        # A write first: it takes SQLite's write lock (waiting on the busy timeout), so no other writer
        # can append between our read of the head and our insert.
        conn.execute(update(audit_chain_head).where(audit_chain_head.c.id == HEAD_ID)
                     .values(n=audit_chain_head.c.n))
        row = conn.execute(select(audit_chain_head.c.n, audit_chain_head.c.hash)
                           .where(audit_chain_head.c.id == HEAD_ID)).first()
    else:
        row = conn.execute(select(audit_chain_head.c.n, audit_chain_head.c.hash)
                           .where(audit_chain_head.c.id == HEAD_ID).with_for_update()).first()
    if row is None:  # the migration creates it; a database made from metadata alone may not have it
        conn.execute(insert(audit_chain_head).values(id=HEAD_ID, n=0, hash=GENESIS))
        return 0, GENESIS
    return int(row.n), str(row.hash)


def append(engine: Engine, ts: float, user: str, action: str, target: str, old: str | None, new: str | None,
           result: str) -> str:
    """Write one audit entry chained to the previous one; returns its hash."""
    ts_us = round(ts * 1_000_000)
    result = result[:RESULT_MAX]
    with engine.begin() as conn:
        n, prev = _lock_head(conn)
        digest = link_hash(prev, canonical(ts_us, user, action, target, old, new, result))
        conn.execute(insert(audit_log).values(ts_us=ts_us, user=user, action=action, target=target, old=old,
                                              new=new, result=result, prev_hash=prev, hash=digest))
        conn.execute(update(audit_chain_head).where(audit_chain_head.c.id == HEAD_ID)
                     .values(n=n + 1, hash=digest))
    return digest


def backfill(conn: Connection) -> int:
    """Chain entries written before the chain existed (the 0006 migration); returns how many."""
    prev = GENESIS
    c = audit_log.c  # the columns as of 0006 by name: later columns may not exist yet when this runs
    rows = conn.execute(select(c.id, c.ts_us, c.user, c.action, c.target, c.old, c.new, c.result)
                        .order_by(c.id)).all()
    for row in rows:
        digest = _row_hash(prev, row)
        conn.execute(update(audit_log).where(audit_log.c.id == row.id).values(prev_hash=prev, hash=digest))
        prev = digest
    conn.execute(insert(audit_chain_head).values(id=HEAD_ID, n=len(rows), hash=prev))
    return len(rows)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of :func:`verify`: ``ok`` with the count, or the first broken link."""

    ok: bool
    count: int  # entries checked
    row_id: int | None = None  # the entry where the chain breaks
    ts: float | None = None  # its time (POSIX s)
    problem: str = ""  # what is wrong, in words

    def message(self) -> str:
        if self.ok:
            return f"audit log OK: {self.count} entries, hash chain intact"
        where = "at the end of the log" if self.row_id is None else f"at row {self.row_id}"
        when = "" if self.ts is None else \
            f" ({datetime.fromtimestamp(self.ts, UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC)"
        return f"audit log broken {where}{when}: {self.problem}"


def verify(engine: Engine) -> ChainReport:
    """Check every link; stops at the first broken one."""
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
        head = conn.execute(select(audit_chain_head).where(audit_chain_head.c.id == HEAD_ID)).first()
    position = {row.hash: i for i, row in enumerate(rows) if row.hash}
    expected = GENESIS
    for i, row in enumerate(rows):
        ts = row.ts_us / 1_000_000
        if not row.hash or not row.prev_hash:
            return ChainReport(False, i, row.id, ts, "row has no hash: it was written around the chain")
        if _row_hash(row.prev_hash, row) != row.hash:
            return ChainReport(False, i, row.id, ts, "content changed: the row no longer matches its hash")
        if row.prev_hash != expected:
            later = position.get(row.prev_hash)
            if later is not None and later > i:
                return ChainReport(False, i, row.id, ts, f"order changed: it follows row {rows[later].id}, "
                                   f"which comes after it")
            before = f"row {rows[i - 1].id}" if i else "the start of the log"
            return ChainReport(False, i, row.id, ts, f"row missing: the entry it follows is not in the log "
                               f"(between {before} and row {row.id})")
        expected = row.hash
    if head is None:
        if rows:
            return ChainReport(False, len(rows), None, None, "the chain head row is missing")
        return ChainReport(True, 0)
    if head.hash != expected or head.n != len(rows):
        return ChainReport(False, len(rows), None, None,
                           f"row missing: the chain head records {head.n} entries, the log has {len(rows)}")
    return ChainReport(True, len(rows))
