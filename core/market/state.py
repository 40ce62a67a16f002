"""The book's state and the fold that builds it from events.

:class:`BookState` holds orders, price levels and indexes, and one ``apply``
method per event type. It never decides anything: :class:`core.market.book.Book`
decides and emits events, and each event is applied by the same methods live
and on replay, so the state is a function of the journal by construction. The
hot ``apply_*`` methods are split in two: the lookup of the orders the event
names, and the object-level step (``_accept``, ``_fill``, ``_rest``,
``_cancel``) that the live path, which already holds the objects, calls directly.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, overload

from sortedcontainers import SortedList  # type: ignore[import-untyped]

from core.market.conditions import GridView
from core.market.events import (
    Accepted,
    Activated,
    Cancelled,
    Event,
    Expired,
    GateClosed,
    GridObserved,
    Modified,
    ProductClosed,
    Rejected,
    Rested,
    Suspended,
    Traded,
)
from core.market.orders import GridGate, OrderSpec, OrderStatus, OrderView, Side
from core.market.products import MarketRules
from core.market.records import materialise

EMPTY_KEY = 2**62  # above any price key (prices are at most MarketRules.max_price)
NEVER = 2**62  # after any time (epoch s)

# Module-level names for the statuses set on the hot path (a global read, not a class attribute lookup).
_PENDING = OrderStatus.PENDING
_WORKING = OrderStatus.WORKING
_RESTING = OrderStatus.RESTING
_FILLED = OrderStatus.FILLED
_CANCELLED = OrderStatus.CANCELLED


class Order:
    """An order's mutable state inside the book (read it through :class:`OrderView`)."""

    # No ``filled`` slot: it is ``submitted - cancelled - remaining`` (the invariant of OrderView), so a
    # trade changes one counter per order instead of two.
    __slots__ = ("cancelled", "order_id", "participant", "price", "remaining", "spec", "status", "submitted")

    def __init__(self, spec: OrderSpec, status: OrderStatus) -> None:
        self.spec = spec
        self.order_id = spec.order_id
        self.participant = spec.participant
        self.price = spec.price
        self.remaining = spec.quantity
        self.submitted = spec.quantity
        self.cancelled = 0
        self.status = status

    @property
    def filled(self) -> int:
        return self.submitted - self.cancelled - self.remaining

    def view(self) -> OrderView:
        s = self.spec
        return OrderView(
            s.order_id, s.participant, s.product, s.side, self.price, self.status,
            self.submitted, self.submitted - self.cancelled - self.remaining, self.cancelled, self.remaining,
        )  # fmt: skip


class BookSide:
    """One side of one product: price levels in priority order.

    Levels are keyed so that the best level has the smallest key: the price
    for asks, minus the price for bids. A level is a dict (insertion order is
    time priority; deletion of any order is O(1)).
    """

    __slots__ = ("best", "keys", "levels", "sign")

    def __init__(self, side: Side) -> None:
        self.sign = 1 if side is Side.SELL else -1
        self.keys: Any = SortedList()  # of int keys
        self.levels: dict[int, dict[str, Order]] = {}
        # The best key, cached (read on every match step); EMPTY_KEY when the side is empty,
        # which is above every limit, so a matching loop needs no emptiness test.
        self.best = EMPTY_KEY

    def add(self, order: Order, price: int) -> None:
        key = price * self.sign
        level = self.levels.get(key)
        if level is None:
            level = self.levels[key] = {}
            self.keys.add(key)
            if key < self.best:
                self.best = key
        level[order.order_id] = order

    def remove(self, order: Order, price: int) -> None:
        key = price * self.sign
        level = self.levels[key]
        del level[order.order_id]
        if not level:
            self.drop_level(key)

    def drop_level(self, key: int) -> None:
        """Forget the level at ``key`` (it has just become empty)."""
        del self.levels[key]
        keys = self.keys
        keys.remove(key)
        if key == self.best:
            self.best = keys[0] if keys else EMPTY_KEY

    def best_price(self) -> int | None:
        return None if self.best == EMPTY_KEY else self.best * self.sign

    def depth(self, max_levels: int) -> list[tuple[int, int]]:
        """(price, total open Wh) of the best ``max_levels`` levels."""
        out: list[tuple[int, int]] = []
        for key in self.keys.islice(0, max_levels):
            out.append((key * self.sign, sum(o.remaining for o in self.levels[key].values())))
        return out

    def layout(self) -> tuple[tuple[int, tuple[tuple[str, int], ...]], ...]:
        """Every level with its orders in priority order (for state comparison)."""
        return tuple(
            (key * self.sign, tuple((o.order_id, o.remaining) for o in self.levels[key].values())) for key in self.keys
        )


class Product:
    """One delivery product's book."""

    __slots__ = ("accepted", "asks", "bids", "closed", "last_price", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.bids = BookSide(Side.BUY)
        self.asks = BookSide(Side.SELL)
        self.last_price: int | None = None
        self.closed = False
        # Every order accepted in the product that may be open, in acceptance order, until it closes (a
        # list, not a dict of the open ones: an append per order instead of an insert and a delete; gate
        # closure picks the open ones once). Replay appends every order; the book's fast path only those
        # that rest, since an order closed in the call that accepted it is never open again: both give
        # the same open_orders().
        self.accepted: list[Order] = []

    def open_orders(self) -> list[Order]:
        """The product's open orders (resting, pending or suspended) in acceptance order."""
        return [o for o in self.accepted if o.status.is_open]


class CompactedError(LookupError):
    """A journal position below the in-memory window (its event was compacted: read the stored journal)."""


class JournalWindow:
    """The in-memory tail of the journal, addressed by global journal position (sequence number).

    ``len()`` is the next position (every event ever journaled, compacted or not); ``window[seq]`` and
    ``window[seq:]`` read held events by position; a position below ``base`` was compacted
    (:meth:`BookState.compact`) and raises :class:`CompactedError`. Iteration and equality see the held
    events only (a window that never compacted is the whole journal, equal to the list of its events).
    """

    __slots__ = ("base", "events")

    def __init__(self, events: list[Event]) -> None:
        self.base = 0
        self.events = events  # the held events, positions base, base + 1, ...

    def __len__(self) -> int:
        return self.base + len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JournalWindow):
            return self.base == other.base and self.events == other.events
        if isinstance(other, list):
            return self.base == 0 and self.events == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable

    @overload
    def __getitem__(self, seq: int) -> Event: ...
    @overload
    def __getitem__(self, seq: slice) -> list[Event]: ...

    def __getitem__(self, seq: int | slice) -> Event | list[Event]:
        base = self.base
        if type(seq) is slice:
            start, stop, step = seq.start, seq.stop, seq.step
            if step is not None or (start is not None and start < 0) or (stop is not None and stop < 0):
                raise ValueError("a journal window slices forward from a position: window[seq:] or window[a:b]")
            start = 0 if start is None else start
            if start < base:
                raise CompactedError(f"journal positions {start}…{base - 1} were compacted (held from {base})")
            return self.events[start - base: None if stop is None else max(stop - base, 0)]
        assert isinstance(seq, int)
        if seq < 0:
            seq += len(self)
        if seq < base:
            raise CompactedError(f"journal position {seq} was compacted (held from {base})")
        return self.events[seq - base]

    def discard_below(self, seq: int) -> int:
        """Drop the held events below position ``seq`` (at most up to the next position); how many."""
        n = min(seq, len(self)) - self.base
        if n <= 0:
            return 0
        del self.events[:n]
        self.base += n
        return n


class BookSnapshot(NamedTuple):
    """Everything that determines the book's future decisions, as comparable values."""

    now: int | None
    grid: GridView | None
    orders: tuple[OrderView, ...]
    products: tuple[tuple[int, bool, int | None, tuple[object, ...], tuple[object, ...]], ...]
    waiting: tuple[str, ...]
    gated_resting: tuple[str, ...]


class BookState:
    """Orders, products and indexes, changed only by ``apply_*`` (one per event type)."""

    def __init__(self, rules: MarketRules) -> None:
        self.rules = rules
        self.now: int | None = None
        self.grid: GridView | None = None
        self.orders: dict[str, Order] = {}
        self.products: dict[int, Product] = {}
        # Orders waiting to work (PENDING, SUSPENDED) in the order they started waiting.
        self.waiting: dict[str, Order] = {}
        # Resting grid-gated (match-if-helps) orders, re-checked whenever the grid changes.
        self.gated_resting: dict[str, Order] = {}
        # Time indexes, consumed lazily by the book (entries may be stale; the book checks).
        self.expiries: list[tuple[int, int, str]] = []
        self.gate_closures: list[tuple[int, int]] = []
        # The earliest time in either index (NEVER if both are empty): a request before it has nothing to
        # close or expire first (the book keeps it up to date when it consumes the indexes).
        self._due_at = NEVER
        # The journal: events, then the records the book appended since it was last read (see
        # core/market/records.py; ``journal`` turns them into events).
        self._events: list[Event] = []
        self._window = JournalWindow(self._events)
        self._pending: list[Any] = []
        # Products closed since the last compact() (their orders may leave memory then), and the count of
        # expiry entries ever pushed (the tie-break of equal expiry times: acceptance order).
        self._closed: list[int] = []
        self._expiry_n = 0
        # The time of the last TIME record in ``_pending`` (None: none since the journal was last read).
        self._record_ts: int | None = None
        self._apply: dict[type, Callable[[Any], None]] = {
            Accepted: self.apply_accepted,
            Rejected: self.apply_rejected,
            Activated: self.apply_activated,
            Suspended: self.apply_suspended,
            Traded: self.apply_traded,
            Rested: self.apply_rested,
            Cancelled: self.apply_cancelled,
            Modified: self.apply_modified,
            Expired: self.apply_expired,
            GateClosed: self.apply_gate_closed,
            ProductClosed: self.apply_product_closed,
            GridObserved: self.apply_grid_observed,
        }

    @property
    def journal(self) -> JournalWindow:
        """The events in order, by journal position (the records appended since the last read are turned
        into events now): every event of the run until :meth:`compact` drops a prefix."""
        if self._pending:
            materialise(self._pending, self._events, self.orders)
            self._record_ts = None  # the next record starts with a TIME record again
        return self._window

    def compact(self, keep_from: int | None = None) -> list[Order]:
        """Forget what no future decision needs, and return the orders forgotten.

        The orders (and book) of every product closed since the last call leave memory: a closed product
        has no open order, and no request can reach it again (it is past gate closure). The in-memory
        journal drops its events below position ``keep_from`` (None: every event so far; each reader must
        have read what it needs below it); positions stay global (``len(journal)`` does not change).
        Cancels and duplicate ids of forgotten orders are for the caller to answer from its store."""
        window = self.journal  # pending records read the orders about to go
        gone: list[Order] = []
        if self._closed:
            closed = set(self._closed)
            self._closed = []
            for start in closed:
                self.products.pop(start, None)
            keep: dict[str, Order] = {}
            for oid, order in self.orders.items():
                if order.spec.product in closed:
                    gone.append(order)
                else:
                    keep[oid] = order
            self.orders = keep  # a new dict: a dict does not shrink when keys are deleted
        window.discard_below(len(window) if keep_from is None else keep_from)
        return gone

    # -- the fold ------------------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Apply one journaled event (the replay path; the live path calls the same methods)."""
        self._apply[type(event)](event)
        (self._pending or self._events).append(event)

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply_accepted(self, ev: Accepted) -> None:
        self._accept(ev)

    def _accept(self, ev: Accepted) -> tuple[Order, Product]:
        """Apply ``ev`` and return the new order and its product (the live path works on them at once)."""
        spec = ev.order
        active = ev.active
        order = Order(spec, _WORKING if active else _PENDING)
        oid = spec.order_id
        self.orders[oid] = order
        start = spec.product
        product = self.products.get(start)
        if product is None:
            product = self.products[start] = Product(start)
            closes = self.rules.gate_closure(start)
            heapq.heappush(self.gate_closures, (closes, start))
            if closes < self._due_at:
                self._due_at = closes
        product.accepted.append(order)
        if spec.valid_until is not None:  # ties by acceptance order
            self._expiry_n += 1
            heapq.heappush(self.expiries, (spec.valid_until, self._expiry_n, oid))
            if spec.valid_until < self._due_at:
                self._due_at = spec.valid_until
        if not active:
            self.waiting[oid] = order
        self.now = ev.ts
        return order, product

    def apply_rejected(self, ev: Rejected) -> None:
        self.now = ev.ts

    def apply_activated(self, ev: Activated) -> None:
        order = self.waiting.pop(ev.order_id)
        order.status = OrderStatus.WORKING
        self.now = ev.ts

    def apply_suspended(self, ev: Suspended) -> None:
        order = self.orders[ev.order_id]
        if order.status is OrderStatus.RESTING:
            self._unrest(order)
        order.status = OrderStatus.SUSPENDED
        self.waiting[ev.order_id] = order
        self.now = ev.ts

    def apply_traded(self, ev: Traded) -> None:
        buy = self.orders[ev.buy_id]
        sell = self.orders[ev.sell_id]
        resting, aggressor = (sell, buy) if ev.aggressor is Side.BUY else (buy, sell)
        self._fill(resting, aggressor, self.products[ev.product], ev)

    def _fill(self, resting: Order, aggressor: Order, product: Product, ev: Traded) -> None:
        """Apply a trade between the two orders it names (the live path already holds them)."""
        q = ev.quantity
        remaining = resting.remaining = resting.remaining - q
        if not remaining:
            oid = resting.order_id
            side = product.bids if resting.spec.side is Side.BUY else product.asks
            side.remove(resting, resting.price)  # type: ignore[arg-type]  # a resting order has a price
            if self.gated_resting:
                self.gated_resting.pop(oid, None)
            resting.status = _FILLED
        remaining = aggressor.remaining = aggressor.remaining - q
        if not remaining:
            aggressor.status = _FILLED
        product.last_price = ev.price
        self.now = ev.ts

    def apply_rested(self, ev: Rested) -> None:
        order = self.orders[ev.order_id]
        self._rest(order, self.products[order.spec.product], ev.ts)

    def _rest(self, order: Order, product: Product, ts: int) -> None:
        """Apply a ``Rested`` event of ``order`` at ``ts``."""
        spec = order.spec
        side = product.bids if spec.side is Side.BUY else product.asks
        side.add(order, order.price)  # type: ignore[arg-type]  # a resting order always has a price
        order.status = _RESTING
        if spec.grid is GridGate.MATCH_IF_HELPS:
            self.gated_resting[order.order_id] = order
        self.now = ts

    def apply_cancelled(self, ev: Cancelled) -> None:
        self._cancel(self.orders[ev.order_id], ev.ts)

    def _cancel(self, order: Order, ts: int) -> None:
        """Apply a ``Cancelled`` event of ``order`` at ``ts``."""
        self._close(order, _CANCELLED)
        self.now = ts

    def apply_expired(self, ev: Expired) -> None:
        self._close(self.orders[ev.order_id], OrderStatus.EXPIRED)
        self.now = ev.ts

    def apply_gate_closed(self, ev: GateClosed) -> None:
        self._close(self.orders[ev.order_id], OrderStatus.GATE_CLOSED)
        self.now = ev.ts

    def apply_modified(self, ev: Modified) -> None:
        order = self.orders[ev.order_id]
        delta = ev.quantity - order.remaining
        if delta > 0:
            order.submitted += delta
        else:
            order.cancelled -= delta
        if order.status is OrderStatus.RESTING and not ev.keeps_priority:
            # A new price or more quantity: out of its level, to work again as if new. (A reduction
            # keeps its place: the order object stays where it is in the level's dict.)
            self._unrest(order)
            order.status = OrderStatus.WORKING
        order.remaining = ev.quantity
        order.price = ev.price
        self.now = ev.ts

    def apply_product_closed(self, ev: ProductClosed) -> None:
        product = self.products[ev.product]
        product.closed = True
        product.accepted = []  # every order of it is closed now
        self._closed.append(ev.product)
        self.now = ev.ts

    def apply_grid_observed(self, ev: GridObserved) -> None:
        self.grid = ev.grid
        self.now = ev.ts

    # -- helpers of the fold -------------------------------------------------------------------------------

    def _unrest(self, order: Order) -> None:
        product = self.products[order.spec.product]
        side = product.bids if order.spec.side is Side.BUY else product.asks
        side.remove(order, order.price)  # type: ignore[arg-type]
        if self.gated_resting:
            self.gated_resting.pop(order.order_id, None)

    def _close(self, order: Order, status: OrderStatus) -> None:
        oid = order.order_id
        if order.status is _RESTING:
            self._unrest(order)
        elif self.waiting:
            self.waiting.pop(oid, None)
        order.cancelled += order.remaining
        order.remaining = 0
        order.status = status

    # -- reading -------------------------------------------------------------------------------------------

    def snapshot(self) -> BookSnapshot:
        """The complete state as values: two books with equal snapshots decide alike from here on."""
        return BookSnapshot(
            now=self.now,
            grid=self.grid,
            orders=tuple(self.orders[k].view() for k in sorted(self.orders)),
            products=tuple(
                (p.start, p.closed, p.last_price, p.bids.layout(), p.asks.layout())
                for p in (self.products[k] for k in sorted(self.products))
            ),
            waiting=tuple(self.waiting),
            gated_resting=tuple(self.gated_resting),
        )
