"""Write-ahead store of chain commands, their signed transactions and the event cursor (stdlib sqlite3).

A command is stored before anything is sent; its signed transaction (raw bytes, nonce, hash) is stored
before it is broadcast. After a crash or an outage the same bytes are broadcast again: a transaction with a
given nonce can be included once only, so nothing is ever executed twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from core.chain import ChainCommand, ChainEvent, ChainIdentity, ChainValue, TxRecord, TxState

SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    contract TEXT NOT NULL,
    function TEXT NOT NULL,
    args TEXT NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    nonce INTEGER,
    raw_tx BLOB,
    tx_hash TEXT,
    block INTEGER,
    gas_used INTEGER,
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    valid_until REAL,
    supersedes TEXT
);
CREATE INDEX IF NOT EXISTS commands_state ON commands(state);
-- The chain panel asks for the latest finished commands a few times a second; months of grid-status
-- publications must not turn that into a sort of the whole table.
CREATE INDEX IF NOT EXISTS commands_updated ON commands(updated);
CREATE TABLE IF NOT EXISTS events (
    block INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    tx_hash TEXT NOT NULL,
    contract TEXT NOT NULL,
    name TEXT NOT NULL,
    args TEXT NOT NULL,
    PRIMARY KEY (block, log_index)
);
CREATE TABLE IF NOT EXISTS cursor (chain_id INTEGER PRIMARY KEY, block INTEGER NOT NULL);
-- The chain these commands, nonces and events belong to (one row); see ChainIdentity.
CREATE TABLE IF NOT EXISTS identity (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    chain_id INTEGER NOT NULL,
    genesis TEXT NOT NULL,
    code TEXT NOT NULL,
    recorded REAL NOT NULL  -- commands confirmed before this (on a chain adopted here) belong to an older chain
);
"""
# Columns added after the first release: an outbox written before them gets them on open.
ADDED_COLUMNS = (("valid_until", "REAL"), ("supersedes", "TEXT"))

COLUMNS = "key, description, state, nonce, tx_hash, block, gas_used, error, updated, created, valid_until"
# A transaction that only uses up the nonce of a command that must not run any more (see Outbox.void).
VOID = "void"
_OPEN = (TxState.QUEUED.value, TxState.SIGNED.value, TxState.SENT.value)


class Outbox:
    """Thread-safe: the gateway writes from the event loop, a UI may read from elsewhere."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(commands)")}
        for name, kind in ADDED_COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE commands ADD COLUMN {name} {kind}")
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- commands -----------------------------------------------------------------

    def add(self, cmd: ChainCommand, now: float | None = None) -> bool:
        """Store `cmd` as queued; False when its key is already known (then nothing is added). Queued commands
        of the same `supersedes` group become superseded: only the newest of a group is ever sent."""
        now = time.time() if now is None else now
        with self._lock, self._db:
            self._db.execute("BEGIN")
            cur = self._db.execute(
                "INSERT OR IGNORE INTO commands (key, contract, function, args, description, state, created, updated,"
                " valid_until, supersedes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (cmd.key, cmd.contract, cmd.function, json.dumps(list(cmd.args)), cmd.description,
                 TxState.QUEUED.value, now, now, cmd.valid_until, cmd.supersedes))
            if cur.rowcount == 1 and cmd.supersedes is not None:
                self._db.execute(
                    "UPDATE commands SET state = ?, error = ?, updated = ? WHERE supersedes = ? AND state = ?"
                    " AND key != ?",
                    (TxState.SUPERSEDED.value, f"superseded by {cmd.key} before it was sent", now, cmd.supersedes,
                     TxState.QUEUED.value, cmd.key))
            return cur.rowcount == 1

    def queued(self, limit: int = 500) -> list[ChainCommand]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, contract, function, args, description, valid_until, supersedes FROM commands"
                " WHERE state = ? ORDER BY seq LIMIT ?", (TxState.QUEUED.value, limit)).fetchall()
        return [ChainCommand(k, c, f, tuple(json.loads(a)), d, v, g) for k, c, f, a, d, v, g in rows]

    def expire_queued(self, now: float) -> list[str]:
        """Queued commands whose validity has ended become expired (with the time in `error`); their keys."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            rows = self._db.execute("SELECT key, valid_until FROM commands WHERE state = ? AND valid_until < ?",
                                    (TxState.QUEUED.value, now)).fetchall()
            self._db.executemany(
                "UPDATE commands SET state = ?, error = ?, updated = ? WHERE key = ?",
                [(TxState.EXPIRED.value, expiry_reason(until), now, k) for k, until in rows])
        return [str(k) for k, _ in rows]

    def invalid_in_flight(self, now: float) -> list[tuple[str, int, TxState, str]]:
        """Signed or sent commands that must not reach the chain any more: (key, nonce, new state, reason).
        Expired ones, and in a `supersedes` group every one with a newer command that is still to be sent
        or already on chain."""
        with self._lock:
            expired = self._db.execute(
                "SELECT key, nonce, valid_until FROM commands WHERE state IN (?, ?) AND valid_until < ?",
                (TxState.SIGNED.value, TxState.SENT.value, now)).fetchall()
            superseded = self._db.execute(
                "SELECT c.key, c.nonce, (SELECT n.key FROM commands n WHERE n.supersedes = c.supersedes"
                "  AND n.seq > c.seq AND n.state IN (?, ?, ?, ?) ORDER BY n.seq DESC LIMIT 1) AS newer"
                " FROM commands c WHERE c.state IN (?, ?) AND c.supersedes IS NOT NULL AND newer IS NOT NULL",
                (*_OPEN, TxState.CONFIRMED.value, TxState.SIGNED.value, TxState.SENT.value)).fetchall()
        out = {str(k): (str(k), int(n), TxState.EXPIRED, expiry_reason(u)) for k, n, u in expired}
        for k, n, newer in superseded:
            out.setdefault(str(k), (str(k), int(n), TxState.SUPERSEDED, f"superseded by {newer}; not sent again"))
        return sorted(out.values(), key=lambda t: t[1])

    def void(self, key: str, state: TxState, reason: str, nonce: int, raw: bytes, tx_hash: str) -> None:
        """`key` must not run: it ends in `state` and a no-op transaction takes its nonce (signed: raw, hash),
        so the transactions signed after it stay valid and nothing is signed twice."""
        now = time.time()
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute("UPDATE commands SET state = ?, error = ?, block = NULL, gas_used = NULL, updated = ?"
                             " WHERE key = ?", (state.value, reason, now, key))
            self._db.execute(
                "INSERT OR REPLACE INTO commands (key, contract, function, args, description, state, nonce, raw_tx,"
                " tx_hash, created, updated) VALUES (?, ?, ?, '[]', ?, ?, ?, ?, ?, ?, ?)",
                (f"void-{nonce}", VOID, VOID, f"nonce {nonce} used up in place of {key}", TxState.SIGNED.value,
                 nonce, raw, tx_hash, now, now))

    def open_commands(self) -> list[TxRecord]:
        """Commands not finished (queued, signed or sent), oldest first, without the nonce fillers: what an
        operator decides about when the chain is a different one."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM commands WHERE state IN (?, ?, ?) AND contract != ? ORDER BY seq",
                (*_OPEN, VOID)).fetchall()
        return [_record(r) for r in rows]

    def requeue(self, keys: list[str]) -> int:
        """Back to queued with no nonce or signature: to be signed afresh for another chain. Open ones only."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            return sum(self._db.execute(
                "UPDATE commands SET state = ?, nonce = NULL, raw_tx = NULL, tx_hash = NULL, block = NULL,"
                " gas_used = NULL, error = NULL, updated = ? WHERE key = ? AND state IN (?, ?, ?)",
                (TxState.QUEUED.value, time.time(), k, *_OPEN)).rowcount for k in keys)

    def discard(self, keys: list[str], reason: str) -> int:
        """Open commands in `keys` end as discarded with `reason`; how many did."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            return sum(self._db.execute(
                "UPDATE commands SET state = ?, error = ?, updated = ? WHERE key = ? AND state IN (?, ?, ?)",
                (TxState.DISCARDED.value, reason, time.time(), k, *_OPEN)).rowcount for k in keys)

    def discard_voids(self, reason: str) -> None:
        with self._lock:
            self._db.execute("UPDATE commands SET state = ?, error = ?, updated = ? WHERE contract = ?"
                             " AND state IN (?, ?, ?)", (TxState.DISCARDED.value, reason, time.time(), VOID, *_OPEN))

    def mark_signed(self, signed: Iterable[tuple[str, int, bytes, str]]) -> None:
        """Store (key, nonce, raw transaction, hash) for each command, in one transaction."""
        now = time.time()
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE commands SET state = ?, nonce = ?, raw_tx = ?, tx_hash = ?, updated = ? WHERE key = ?",
                [(TxState.SIGNED.value, n, raw, h, now, k) for k, n, raw, h in signed])

    def set_state(self, key: str, state: TxState, *, error: str | None = None, block: int | None = None,
                  gas_used: int | None = None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE commands SET state = ?, error = COALESCE(?, error), block = COALESCE(?, block),"
                " gas_used = COALESCE(?, gas_used), updated = ? WHERE key = ?",
                (state.value, error, block, gas_used, time.time(), key))

    def set_states(self, changes: list[tuple[str, TxState]],
                   details: dict[str, tuple[int, int]] | None = None) -> None:
        """Several state changes in one transaction; `details` gives (block, gas used) by key."""
        if not changes:
            return
        now, details = time.time(), details or {}
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE commands SET state = ?, block = COALESCE(?, block), gas_used = COALESCE(?, gas_used),"
                " updated = ? WHERE key = ?",
                [(st.value, *details.get(k, (None, None)), now, k) for k, st in changes])

    def in_flight(self) -> list[tuple[str, int, bytes, str, TxState]]:
        """Signed or sent commands: (key, nonce, raw, hash, state), by nonce."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, nonce, raw_tx, tx_hash, state FROM commands WHERE state IN (?, ?) ORDER BY nonce",
                (TxState.SIGNED.value, TxState.SENT.value)).fetchall()
        return [(k, n, bytes(r), h, TxState(s)) for k, n, r, h, s in rows]

    def recent_confirmed(self, limit: int = 500) -> list[tuple[str, str]]:
        """(key, tx hash) of the most recently confirmed commands on the recorded chain: those confirmed on a
        chain before it are history, never "lost blocks" of this one."""
        with self._lock:
            row = self._db.execute("SELECT recorded FROM identity WHERE id = 1").fetchone()
            rows = self._db.execute(
                "SELECT key, tx_hash FROM commands WHERE +state = ? AND updated >= ? ORDER BY updated DESC LIMIT ?",
                (TxState.CONFIRMED.value, row[0] if row else 0.0, limit)).fetchall()
        return [(str(k), str(h)) for k, h in rows]

    def unconfirm(self, keys: list[str]) -> None:
        """Back to signed: their blocks are gone from the chain; the stored bytes will be broadcast again."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany("UPDATE commands SET state = ?, block = NULL, gas_used = NULL, updated = ?"
                                 " WHERE key = ?", [(TxState.SIGNED.value, time.time(), k) for k in keys])

    def rewind_events(self, chain_id: int, head: int) -> int:
        """Forget events of blocks above `head` (a chain that lost blocks) and move the cursor back to it."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            gone = self._db.execute("DELETE FROM events WHERE block > ?", (head,)).rowcount
            self._db.execute("UPDATE cursor SET block = ? WHERE chain_id = ? AND block > ?", (head, chain_id, head))
        return gone

    def forget_events(self) -> None:
        """A different chain: the journaled events and the cursor were the old chain's."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM events")
            self._db.execute("DELETE FROM cursor")

    # ---- identity --------------------------------------------------------------------

    def identity(self) -> ChainIdentity | None:
        with self._lock:
            row = self._db.execute("SELECT chain_id, genesis, code FROM identity WHERE id = 1").fetchone()
        if row is None:
            return None
        chain_id, genesis, code = row
        return ChainIdentity(int(chain_id), str(genesis), tuple((str(n), str(h)) for n, h in json.loads(code)))

    def record_identity(self, ident: ChainIdentity, *, replaces: bool) -> None:
        """Record the chain; `replaces` another one: what was confirmed until now was confirmed there."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO identity VALUES (1, ?, ?, ?, ?)",
                             (ident.chain_id, ident.genesis, json.dumps([list(c) for c in ident.code]),
                              time.time() if replaces else 0.0))

    def max_nonce(self) -> int | None:
        with self._lock:
            (n,) = self._db.execute("SELECT MAX(nonce) FROM commands").fetchone()
        return None if n is None else int(n)

    def record(self, key: str) -> TxRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {COLUMNS} FROM commands WHERE key = ?", (key,)).fetchone()
        return _record(row) if row else None

    def records(self, *, done: bool, limit: int = 50) -> list[TxRecord]:
        states = [s.value for s in TxState if s.done == done]
        marks = ",".join("?" * len(states))
        with self._lock:
            rows = self._db.execute(
                # Finished commands are most of the table: walk the `updated` index newest first and stop at
                # `limit` ("+state" keeps SQLite off the state index); unfinished ones are few: use it.
                f"SELECT {COLUMNS} FROM commands WHERE {'+' if done else ''}state IN ({marks})"
                " ORDER BY updated DESC LIMIT ?",
                (*states, limit)).fetchall()
        return [_record(r) for r in rows]

    def counts(self) -> dict[TxState, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM commands GROUP BY state").fetchall()
        return {TxState(s): n for s, n in rows}

    # ---- events ---------------------------------------------------------------------

    def cursor(self, chain_id: int) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT block FROM cursor WHERE chain_id = ?", (chain_id,)).fetchone()
        return None if row is None else int(row[0])

    def store_events(self, chain_id: int, events: list[ChainEvent], up_to_block: int) -> int:
        """Keep `events` and move the cursor to `up_to_block` in one transaction (a restart neither misses
        nor repeats an event). Returns how many events were new."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)",
                [(e.block, e.log_index, e.tx_hash, e.contract, e.name, json.dumps(e.args)) for e in events])
            new = self._db.total_changes - before
            self._db.execute("INSERT INTO cursor VALUES (?, ?) ON CONFLICT(chain_id) DO UPDATE SET block = ?",
                             (chain_id, up_to_block, up_to_block))
        return new

    def events_named(self, names: Sequence[str], limit: int = 5000) -> list[ChainEvent]:
        """The newest ``limit`` journaled events with one of these names, oldest first (a service's history,
        not drowned by the grid statuses)."""
        if not names:
            return []
        marks = ",".join("?" * len(names))
        with self._lock:
            rows = self._db.execute(
                "SELECT block, log_index, tx_hash, contract, name, args FROM events"
                f" WHERE name IN ({marks}) ORDER BY block DESC, log_index DESC LIMIT ?",
                (*names, limit)).fetchall()
        return [ChainEvent(b, i, h, c, n, tuple((str(k), _from_json(v)) for k, v in json.loads(args)))
                for b, i, h, c, n, args in reversed(rows)]

    def events(self, limit: int = 100) -> list[ChainEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT block, log_index, tx_hash, contract, name, args FROM events"
                " ORDER BY block DESC, log_index DESC LIMIT ?", (limit,)).fetchall()
        return [ChainEvent(b, i, h, c, n, tuple((str(k), _from_json(v)) for k, v in json.loads(args)))
                for b, i, h, c, n, args in rows]

    def events_after(self, block: int, log_index: int, limit: int = 1000) -> list[ChainEvent]:
        """Journaled events after position (block, log_index), oldest first: for followers with a cursor."""
        with self._lock:
            rows = self._db.execute(
                "SELECT block, log_index, tx_hash, contract, name, args FROM events"
                " WHERE block > ? OR (block = ? AND log_index > ?) ORDER BY block, log_index LIMIT ?",
                (block, block, log_index, limit)).fetchall()
        return [ChainEvent(b, i, h, c, n, tuple((str(k), _from_json(v)) for k, v in json.loads(args)))
                for b, i, h, c, n, args in rows]


def _from_json(v: object) -> ChainValue:
    """An event argument read back from its JSON column: JSON keeps ints exact (any size) and bools; its
    arrays come back as lists and are made tuples again."""
    if isinstance(v, bool | int | str):
        return v
    if isinstance(v, list):
        return tuple(_from_json(x) for x in v)
    raise ValueError(f"stored event argument {v!r} is not a chain value; the outbox database is damaged")


def expiry_reason(valid_until: float | None) -> str:
    when = "?" if valid_until is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(valid_until))
    return f"valid until {when}; not sent after that"


def _record(row: tuple[object, ...]) -> TxRecord:
    key, desc, state, nonce, h, block, gas, err, updated, created, valid_until = row
    return TxRecord(str(key), str(desc), TxState(state), _int(nonce), None if h is None else str(h), _int(block),
                    _int(gas), None if err is None else str(err), _float(updated), _float(created),
                    None if valid_until is None else _float(valid_until))


def _int(v: object) -> int | None:
    if v is None or isinstance(v, int):
        return v
    raise ValueError(f"outbox column holds {v!r} where an integer belongs; the outbox database is damaged")


def _float(v: object) -> float:
    if isinstance(v, int | float):
        return float(v)
    raise ValueError(f"outbox column holds {v!r} where a time belongs; the outbox database is damaged")
