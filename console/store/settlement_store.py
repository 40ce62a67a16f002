"""Signed orders, match settlement states and the settlement tracker's event cursor (SQLAlchemy Core on the
market journal's database, SQLite or PostgreSQL; tables from migration 0007, defined in console/store/schema.py).

The market's own fills (``market_fills``, written with the journal) are read here too: on start the service
records every journaled trade it has not recorded yet.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Engine,
    Table,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from console.services.settlement import MatchRecord, MatchState, SignedOrder
from console.store.database import MigratedOnFirstUse
from console.store.schema import market_fills, settlement_cursor, settlement_matches, settlement_orders

_FIELDS = [c.name for c in settlement_matches.columns]


class SqlSettlementStore:
    """:class:`console.services.settlement.SettlementStore` on a database URL (migrated on first use)."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self._db = MigratedOnFirstUse(url, engine)

    @property
    def engine(self) -> Engine:
        return self._db.engine

    def _insert(self, table: Table) -> Any:
        """INSERT … ON CONFLICT DO NOTHING in this database's dialect."""
        ins = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        return ins(table).on_conflict_do_nothing()

    def remember(self, orders: Sequence[SignedOrder]) -> None:
        if not orders:
            return
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(self._insert(settlement_orders), [
                {"order_id": o.order_id, "participant": o.participant.lower(), "signature": o.signature,
                 "nonce": str(o.message["nonce"]), "stored": now,
                 "message": json.dumps(o.message, separators=(",", ":"))} for o in orders])

    def forget(self, order_id: str) -> None:
        """Delete a stored order no match refers to (one the book refused)."""
        m, c = settlement_matches.c, settlement_orders.c
        with self.engine.begin() as conn:
            used = conn.execute(select(m.seq).where((m.buy_id == order_id) | (m.sell_id == order_id)).limit(1)).first()
            if used is None:
                conn.execute(delete(settlement_orders).where(c.order_id == order_id))

    def signed(self, order_ids: Sequence[str]) -> dict[str, SignedOrder]:
        out: dict[str, SignedOrder] = {}
        c = settlement_orders.c
        with self.engine.connect() as conn:
            for start in range(0, len(order_ids), 500):
                rows = conn.execute(select(c.order_id, c.participant, c.message, c.signature)
                                    .where(c.order_id.in_(list(order_ids[start:start + 500])))).all()
                for order_id, _, text, signature in rows:
                    message = json.loads(text)  # the signer as signed (checksummed); the column is for lookups
                    out[order_id] = SignedOrder(order_id, str(message["participant"]), message, signature)
        return out

    def order_with_nonce(self, participant: str, nonce: str) -> str | None:
        c = settlement_orders.c
        with self.engine.connect() as conn:
            found = conn.execute(select(c.order_id).where(c.participant == participant.lower(), c.nonce == nonce)
                                 .limit(1)).scalar()
        return None if found is None else str(found)

    def record(self, matches: Sequence[MatchRecord]) -> int:
        """Insert new matches (a seq stored before is left as it is); how many were new."""
        if not matches:
            return 0
        c = settlement_matches.c
        with self.engine.begin() as conn:
            known = set(conn.execute(select(c.seq).where(c.seq.in_([m.seq for m in matches]))).scalars())
            new = [_row(m) for m in matches if m.seq not in known]
            if new:
                conn.execute(self._insert(settlement_matches), new)
        return len(new)

    def save(self, matches: Sequence[MatchRecord]) -> None:
        if not matches:
            return
        c = settlement_matches.c
        with self.engine.begin() as conn:
            for m in matches:
                row = _row(m)
                done = conn.execute(update(settlement_matches).where(c.seq == m.seq).values(**row)).rowcount
                if not done:
                    conn.execute(self._insert(settlement_matches), [row])

    def matches(self, open_only: bool = False, states: Sequence[MatchState] | None = None) -> list[MatchRecord]:
        """The stored matches by seq: all, the open ones, or (``states``) those in these states."""
        c = settlement_matches.c
        q = select(settlement_matches).order_by(c.seq)
        if open_only:
            q = q.where(c.state.notin_([MatchState.PAID.value, MatchState.FAILED.value]))
        if states is not None:
            q = q.where(c.state.in_([s.value for s in states]))
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [_record(dict(r)) for r in rows]

    def matches_of(self, seqs: Sequence[int]) -> list[MatchRecord]:
        """The stored matches among ``seqs`` (primary-key lookups, 500 a query), by seq."""
        c, out = settlement_matches.c, []
        wanted = sorted(set(seqs))
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(select(settlement_matches).where(c.seq.in_(wanted[start:start + 500]))
                                    .order_by(c.seq)).mappings().all()
                out += [_record(dict(r)) for r in rows]
        return out

    def keys_in(self, states: Sequence[MatchState]) -> list[tuple[int, MatchState, int | None, int | None]]:
        """(seq, state, trade id, delivery end) of the matches in ``states``, by seq: what the service holds of
        a match waiting for its delivery or dispute window to end (over the state index)."""
        c = settlement_matches.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.seq, c.state, c.trade_id, c.delivery_end)
                                .where(c.state.in_([s.value for s in states])).order_by(c.seq)).all()
        return [(int(r[0]), MatchState(r[1]), None if r[2] is None else int(r[2]), None if r[3] is None else int(r[3]))
                for r in rows]

    def match(self, seq: int) -> MatchRecord | None:
        """One stored match by its journal position (the primary key)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(settlement_matches).where(settlement_matches.c.seq == seq)).mappings().first()
        return None if row is None else _record(dict(row))

    def counts(self) -> dict[MatchState, int]:
        """How many stored matches are in each state (one grouped count over the state index)."""
        c = settlement_matches.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.state, func.count()).group_by(c.state)).all()
        return {MatchState(state): int(n) for state, n in rows}

    def last_seq(self, settled_only: bool = False) -> int | None:
        """The highest stored match (of those settled on chain, with a trade id, if ``settled_only``)."""
        c = settlement_matches.c
        q = select(func.max(c.seq))
        if settled_only:
            q = q.where(c.trade_id.is_not(None))
        with self.engine.connect() as conn:
            found = conn.execute(q).scalar()
        return None if found is None else int(found)

    def unjournaled(self) -> list[int]:
        """The stored matches whose trade the market journal (``market_fills``) does not have."""
        c, f = settlement_matches.c, market_fills.c
        with self.engine.connect() as conn:
            return [int(s) for s in conn.execute(select(c.seq).where(c.seq.notin_(select(f.seq))).order_by(c.seq))
                    .scalars()]

    def journal_fills_after(self, seq: int) -> list[MatchRecord]:
        c = market_fills.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.seq, c.ts, c.product, c.price, c.quantity, c.buy_id, c.sell_id)
                                .where(c.seq > seq).order_by(c.seq)).all()
        return [MatchRecord(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), str(r[5]), str(r[6]))
                for r in rows]

    def cursor(self) -> tuple[int, int] | None:
        c = settlement_cursor.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.block, c.log_index).where(c.id == 1)).first()
        return None if row is None else (int(row[0]), int(row[1]))

    def set_cursor(self, block: int, log_index: int) -> None:
        c = settlement_cursor.c
        with self.engine.begin() as conn:
            if not conn.execute(update(settlement_cursor).where(c.id == 1)
                                .values(block=block, log_index=log_index)).rowcount:
                conn.execute(settlement_cursor.insert().values(id=1, block=block, log_index=log_index))

    def close(self) -> None:
        self._db.dispose()


def _row(m: MatchRecord) -> dict[str, Any]:
    row = {f: getattr(m, f) for f in _FIELDS}
    row["state"] = m.state.value
    return row


def _record(r: dict[str, Any]) -> MatchRecord:
    r["state"] = MatchState(r["state"])
    return MatchRecord(**r)
