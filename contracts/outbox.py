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
from collections.abc import Iterable
from pathlib import Path

from core.chain import ChainCommand, ChainEvent, TxRecord, TxState

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
    updated REAL NOT NULL
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
"""

COLUMNS = "key, description, state, nonce, tx_hash, block, gas_used, error, updated"


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
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- commands -----------------------------------------------------------------

    def add(self, cmd: ChainCommand) -> bool:
        """Store `cmd` as queued; False when its key is already known (then nothing is added)."""
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO commands (key, contract, function, args, description, state, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (cmd.key, cmd.contract, cmd.function, json.dumps(list(cmd.args)), cmd.description,
                 TxState.QUEUED.value, now, now))
            return cur.rowcount == 1

    def queued(self, limit: int = 500) -> list[ChainCommand]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, contract, function, args, description FROM commands WHERE state = ? ORDER BY seq"
                " LIMIT ?", (TxState.QUEUED.value, limit)).fetchall()
        return [ChainCommand(k, c, f, tuple(json.loads(a)), d) for k, c, f, a, d in rows]

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
        """(key, tx hash) of the most recently confirmed commands."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, tx_hash FROM commands WHERE +state = ? ORDER BY updated DESC LIMIT ?",
                (TxState.CONFIRMED.value, limit)).fetchall()
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

    def events(self, limit: int = 100) -> list[ChainEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT block, log_index, tx_hash, contract, name, args FROM events"
                " ORDER BY block DESC, log_index DESC LIMIT ?", (limit,)).fetchall()
        return [ChainEvent(b, i, h, c, n, tuple(tuple(a) for a in json.loads(args))) for b, i, h, c, n, args in rows]


def _record(row: tuple[object, ...]) -> TxRecord:
    key, desc, state, nonce, h, block, gas, err, updated = row
    return TxRecord(str(key), str(desc), TxState(state), _int(nonce), None if h is None else str(h), _int(block),
                    _int(gas), None if err is None else str(err), float(updated))  # type: ignore[arg-type]


def _int(v: object) -> int | None:
    return None if v is None else int(v)  # type: ignore[call-overload]
