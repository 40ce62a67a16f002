"""The market's write-ahead journal on SQLAlchemy Core (SQLite or PostgreSQL).

``append`` writes a group of decisions in ONE transaction: their events (``market_events``, the source of
truth, keyed by the journal position so nothing can be stored twice), the derived state of every order they
touched (``market_orders``, upserted) and their trades (``market_fills``). ``load`` returns the events in
order for the replay; ``stored_orders`` returns the derived rows so the service can check them against it.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, insert, select, union_all, update
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError

from console.store.database import MigratedOnFirstUse
from console.store.schema import market_checkpoints, market_events, market_fills, market_orders
from core.market.codec import decode, encode
from core.market.events import Accepted, Event
from core.market.orders import OrderStatus, OrderView, Side
from core.market.ports import JournalBatch, JournalConflict, JournalEntry

log = logging.getLogger(__name__)

# The columns of a trade-history row (fills_of), in the order of the market's TradeView fields.
FILL_COLUMNS = ("seq", "ts", "product", "price", "quantity", "buyer", "seller", "buy_id", "sell_id", "aggressor")


def _fill_columns() -> list[Any]:
    """The ``market_fills`` columns every trade read selects, in :data:`FILL_COLUMNS` order."""
    return [market_fills.c[k] for k in FILL_COLUMNS]


def _keys(event: Event) -> tuple[str | None, str | None, int | None]:
    """(order id, participant, product) of an event, for the indexed columns."""
    if isinstance(event, Accepted):
        return event.order.order_id, event.order.participant, event.order.product
    order_id = getattr(event, "order_id", None)
    product = getattr(event, "product", None)
    return order_id, None, product


class SqlMarketJournal:
    """:class:`core.market.ports.MarketJournal` on a database URL (migrated to head on first use, so that
    building it does no I/O)."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self._db = MigratedOnFirstUse(url, engine, on_create=_durable)

    @property
    def engine(self) -> Engine:
        return self._db.engine

    def load(self) -> list[JournalEntry]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(market_events.c.seq, market_events.c.kind, market_events.c.payload).order_by(market_events.c.seq)
            ).all()
        return [JournalEntry(seq, decode(kind, json.loads(payload))) for seq, kind, payload in rows]

    def load_after(self, seq: int, limit: int) -> list[JournalEntry]:
        """Up to ``limit`` stored events after position ``seq``, in order (a replay reads the journal in such
        pages, never whole)."""
        c = market_events.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.seq, c.kind, c.payload).where(c.seq > seq).order_by(c.seq).limit(limit)).all()
        return [JournalEntry(seq, decode(kind, json.loads(payload))) for seq, kind, payload in rows]

    def next_seq(self) -> int:
        with self.engine.connect() as conn:
            last = conn.execute(select(market_events.c.seq).order_by(market_events.c.seq.desc()).limit(1)).scalar()
        return 0 if last is None else int(last) + 1

    def append(self, batches: Sequence[JournalBatch]) -> None:
        events: list[dict[str, Any]] = []
        fills: list[dict[str, Any]] = []
        orders: dict[str, tuple[OrderView, int, int | None]] = {}  # id -> (view, updated seq, accepted seq)
        for batch in batches:
            last_seq = batch.entries[-1].seq if batch.entries else -1
            for seq, event in batch.entries:
                kind, payload = encode(event)
                order_id, participant, product = _keys(event)
                events.append({"seq": seq, "ts": event.ts, "kind": kind, "order_id": order_id,
                               "participant": participant, "product": product,
                               "payload": json.dumps(payload, separators=(",", ":"))})
                if isinstance(event, Accepted):
                    orders[event.order.order_id] = (event_view(event), seq, seq)
            for view in batch.orders:
                prev = orders.get(view.order_id)
                orders[view.order_id] = (view, last_seq, prev[2] if prev else None)
            for seq, trade, buyer, seller in batch.fills:
                fills.append({"seq": seq, "ts": trade.ts, "product": trade.product, "price": trade.price,
                              "quantity": trade.quantity, "buy_id": trade.buy_id, "sell_id": trade.sell_id,
                              "buyer": buyer, "seller": seller, "aggressor": trade.aggressor.value})
        if not events:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(market_events), events)
                if fills:
                    conn.execute(insert(market_fills), fills)
                # One executemany per statement for the whole group (not one statement per order).
                new_rows = [{**_order_row(view, updated), "accepted_seq": accepted}
                            for view, updated, accepted in orders.values() if accepted is not None]
                changed = [{**_order_row(view, updated), "key": view.order_id}
                           for view, updated, accepted in orders.values() if accepted is None]
                if new_rows:
                    conn.execute(insert(market_orders), new_rows)
                if changed:
                    conn.execute(_UPDATE_ORDER, changed)
        except IntegrityError as exc:
            raise JournalConflict(
                f"market journal {self.url}: events {events[0]['seq']}…{events[-1]['seq']} would overwrite stored "
                f"positions (another console writing the same journal?): {exc.orig}"
            ) from exc

    def stored_orders(self) -> list[OrderView]:
        with self.engine.connect() as conn:
            rows = conn.execute(_ORDER_VIEW.order_by(market_orders.c.order_id)).all()
        return [_view(r) for r in rows]

    def stored_order(self, order_id: str) -> OrderView | None:
        """One order's stored row (the market asks for the orders its book has forgotten)."""
        with self.engine.connect() as conn:
            row = conn.execute(_ORDER_VIEW.where(market_orders.c.order_id == order_id)).first()
        return None if row is None else _view(row)

    def stored_orders_in(self, order_ids: Sequence[str]) -> list[OrderView]:
        """The stored rows of these orders (by primary key; ids without a row are left out)."""
        out: list[OrderView] = []
        with self.engine.connect() as conn:
            for i in range(0, len(order_ids), 500):
                chunk = list(order_ids[i:i + 500])
                out += [_view(r) for r in conn.execute(_ORDER_VIEW.where(market_orders.c.order_id.in_(chunk)))]
        return out

    def count_orders(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(market_orders)).scalar_one())

    def orders_never_accepted(self) -> list[OrderView]:
        """Stored rows of orders no stored ``Accepted`` event names (a store that disagrees with its journal)."""
        accepted = select(market_events.c.order_id).where(market_events.c.kind == "Accepted")
        with self.engine.connect() as conn:
            rows = conn.execute(_ORDER_VIEW.where(market_orders.c.order_id.not_in(accepted))
                                .order_by(market_orders.c.order_id)).all()
        return [_view(r) for r in rows]

    def stored_orders_of(self, participant: str) -> list[OrderView]:
        """The participant's stored order rows, oldest (first accepted) first."""
        c = market_orders.c
        with self.engine.connect() as conn:
            rows = conn.execute(_ORDER_VIEW.where(c.participant == participant).order_by(c.accepted_seq)).all()
        return [_view(r) for r in rows]

    def fills_of_order(self, order_id: str, participant: str) -> list[tuple[Any, ...]]:
        """The trades of one order of ``participant``, oldest first (through the buyer and seller indexes), as
        tuples of :data:`FILL_COLUMNS`."""
        c = market_fills.c
        mine = ((c.buyer == participant) & (c.buy_id == order_id)) | ((c.seller == participant)
                                                                      & (c.sell_id == order_id))
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(*_fill_columns()).where(mine).order_by(c.seq))]

    def fills_of(self, participant: str, limit: int = 100) -> list[tuple[Any, ...]]:
        """The participant's last ``limit`` trades, newest first (the API's trade history), as tuples of
        :data:`FILL_COLUMNS` (the market's ``TradeView`` fields, in its order).

        One statement, two index range scans read backwards (``ix_market_fills_buyer`` and
        ``ix_market_fills_seller``, both (participant, seq)), each stopped after ``limit`` rows, and merged
        (PostgreSQL: a Merge Append; SQLite: a UNION ALL merge): at most 2 × ``limit`` rows are read whatever
        the participant's whole history is (a single ``buyer = p OR seller = p`` reads and sorts every trade
        of the participant). A trade with itself is the buyer branch's only."""
        c = market_fills.c
        cols = _fill_columns()
        bought = select(*cols).where(c.buyer == participant).order_by(c.seq.desc()).limit(limit)
        sold = select(*cols).where((c.seller == participant) & (c.buyer != participant)) \
            .order_by(c.seq.desc()).limit(limit)
        both = union_all(bought.subquery().select(), sold.subquery().select()).subquery()
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(both).order_by(both.c.seq.desc()).limit(limit))]

    # -- the restart checkpoint (migration 0011, docs/decisions.md 2026-12-03) ------------------------------

    def fills_in(self, products: Sequence[int], before: int) -> list[tuple[Any, ...]]:
        """Every trade of these products at journal positions below ``before``, oldest first (by the product
        index: what a restart from a checkpoint reads for the products still open), as tuples of
        :data:`FILL_COLUMNS`."""
        c = market_fills.c
        out: list[tuple[Any, ...]] = []
        with self.engine.connect() as conn:
            for product in sorted(products):
                out += [tuple(r) for r in conn.execute(select(*_fill_columns()).where((c.product == product)
                                                                                      & (c.seq < before))
                                                       .order_by(c.seq))]
        return sorted(out, key=lambda r: int(r[0]))

    def recent_fills(self, limit: int, before: int) -> list[tuple[Any, ...]]:
        """The last ``limit`` trades at journal positions below ``before``, oldest first, as tuples of
        :data:`FILL_COLUMNS`."""
        c = market_fills.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(*_fill_columns()).where(c.seq < before).order_by(c.seq.desc())
                                .limit(limit)).all()
        return [tuple(r) for r in reversed(rows)]

    def load_checkpoint(self) -> tuple[int, str, bytes] | None:
        """The newest checkpoint: (journal position, state JSON, forgotten-id filter), or None."""
        c = market_checkpoints.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.seq, c.state, c.forgotten).order_by(c.seq.desc()).limit(1)).first()
        return None if row is None else (int(row[0]), str(row[1]), zlib.decompress(bytes(row[2])))

    def save_checkpoint(self, seq: int, state: str, forgotten: bytes) -> None:
        """Keep this checkpoint in place of the older ones (one transaction: a start sees the old or the new)."""
        with self.engine.begin() as conn:
            conn.execute(delete(market_checkpoints))
            conn.execute(insert(market_checkpoints).values(seq=seq, written=time.time(), state=state,
                                                           forgotten=zlib.compress(forgotten, 1)))

    def close(self) -> None:
        self._db.dispose()


def _durable(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        # Acknowledged means durable: every commit is fsynced (WAL + synchronous=FULL; the historian's
        # NORMAL may lose the last commits on power loss). Group commit pays the fsync once per group.
        sa_event.listen(engine, "connect", _full_sync)


def _full_sync(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


_UPDATE_ORDER = update(market_orders).where(market_orders.c.order_id == bindparam("key")).values(
    {c: bindparam(c) for c in ("participant", "product", "side", "price", "status", "submitted", "filled",
                               "cancelled", "remaining", "updated_seq")})


_ORDER_VIEW = select(*(market_orders.c[k] for k in ("order_id", "participant", "product", "side", "price", "status",
                                                     "submitted", "filled", "cancelled", "remaining")))


def _view(r: Any) -> OrderView:
    return OrderView(r[0], r[1], int(r[2]), Side(r[3]), None if r[4] is None else int(r[4]), OrderStatus(r[5]),
                     int(r[6]), int(r[7]), int(r[8]), int(r[9]))


def event_view(ev: Accepted) -> OrderView:
    """An order's row as accepted (before it works): nothing filled yet."""
    s = ev.order
    status = OrderStatus.WORKING if ev.active else OrderStatus.PENDING
    return OrderView(s.order_id, s.participant, s.product, s.side, s.price, status, s.quantity, 0, 0, s.quantity)


def _order_row(v: OrderView, updated_seq: int) -> dict[str, Any]:
    return {"order_id": v.order_id, "participant": v.participant, "product": v.product, "side": v.side.value,
            "price": v.price, "status": v.status.value, "submitted": v.submitted, "filled": v.filled,
            "cancelled": v.cancelled, "remaining": v.remaining, "updated_seq": updated_seq}
