"""The continuous double auction: decisions that emit events.

``Book.submit``, ``cancel``, ``modify`` and ``tick`` check their request
against the rules and the current state, and return the events they decided
(also appended to ``book.journal``). Each event is applied as soon as it is
decided, by the same state steps :func:`replay` uses (``apply_*``, or on the
matching path the object-level step an ``apply_*`` calls once it has looked
the orders up: ``_accept``, ``_fill``, ``_rest``, ``_cancel``), so
``replay(rules, book.journal).snapshot() == book.snapshot()``.

The matching path is written for speed (``bench/matching.py``, docs/market.md
"Performance"): it journals compact records that become the same events when
the journal is read (core/market/records.py), a plain limit order is checked
in one expression, and module-level names stand for enum members.
``decide_submit`` and ``decide_cancel`` decide and journal without handing the
events back (``submit`` and ``cancel`` are them plus the journal's new tail).

Matching: price-time priority per product; a trade is at the resting order's
price. Time is integer epoch seconds and must not go backwards.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from core.market.conditions import GridCondition, GridView, PriceCondition, PriceMetric
from core.market.events import (
    Accepted,
    Action,
    Activated,
    ActivationReason,
    CancelReason,
    Event,
    Expired,
    GateClosed,
    GridObserved,
    Modified,
    ProductClosed,
    Rejected,
    RejectReason,
    Suspended,
)
from core.market.orders import GridGate, OrderKind, OrderSpec, OrderStatus, OrderView, Side, TimeInForce
from core.market.products import MarketRules, SelfTradePolicy
from core.market.records import (
    ACCEPTED,
    ACTION_CODE,
    CANCEL_CODE,
    CANCELLED,
    CLOSED_ORDER,
    ENDED_FOK,
    ENDED_IOC,
    RESTED,
    TIME,
    TRADED_BUY,
    TRADED_SELL,
)
from core.market.state import NEVER, BookSide, BookState, Order, Product

# Events built here are built with tuple.__new__ (the NamedTuple's own __new__ is a Python-level
# function that does the same, at about twice the cost); the result is the same NamedTuple instance.
_new = tuple.__new__
_BUY = Side.BUY
_LIMIT = OrderKind.LIMIT
_GTC = TimeInForce.GTC
_GTD = TimeInForce.GTD
_NO_GATE = GridGate.NONE
_FOK = TimeInForce.FOK
_OPEN_STATUSES = frozenset(s for s in OrderStatus if s.is_open)
_WORKING = OrderStatus.WORKING
_RESTING = OrderStatus.RESTING
_FILLED = OrderStatus.FILLED
_CANCELLED_STATUS = OrderStatus.CANCELLED
# Codes (core/market/records.py) in the records the matching path writes.
_BY_PARTICIPANT = CANCEL_CODE[CancelReason.BY_PARTICIPANT]
_SELF_TRADE = CANCEL_CODE[CancelReason.SELF_TRADE]
_FOK_NOT_FILLABLE = CANCEL_CODE[CancelReason.FOK_NOT_FILLABLE]
_IOC_REMAINDER = CANCEL_CODE[CancelReason.IOC_REMAINDER]
_NO_LIQUIDITY = CANCEL_CODE[CancelReason.NO_LIQUIDITY]
_CANCEL = ACTION_CODE[Action.CANCEL]
_new_object = object.__new__
_OK_MAX = 65_536  # valid quantities / prices a book remembers (each set stays a few MB at most)


class ClockError(ValueError):
    """A call's ``now`` is earlier than the last event's time (the caller's clock must be monotonic)."""


def helps_grid(side: Side, grid: GridView | None) -> bool:
    """True if an order of this side reduces the community's imbalance now: a buy while
    supply exceeds demand (imbalance > 0), a sell while demand exceeds supply (< 0)."""
    if grid is None or grid.imbalance_w is None:
        return False
    return grid.imbalance_w > 0 if side is Side.BUY else grid.imbalance_w < 0


class Book(BookState):
    """All products' books, their journal and the matching rules."""

    # The fast paths of submit and cancel (plain limit orders, cancels of resting or closed orders) decide
    # what the general path decides, with fewer checks and calls; a test subclass turns them off to compare.
    _fast = True

    # -- requests ------------------------------------------------------------------------------------------

    def __init__(self, rules: MarketRules) -> None:
        super().__init__(rules)
        # Hot-path copies of the rules (read on every submission).
        self._lot = rules.lot
        self._tick = rules.tick
        self._period = rules.period_s
        self._horizon = rules.open_horizon_s
        self._gate = rules.gate_closure_s
        self._max_qty = rules.max_quantity
        self._max_price = rules.max_price
        self._cancel_incoming = rules.self_trade is SelfTradePolicy.CANCEL_INCOMING
        # Quantities and prices found valid (positive, on the lot / tick, within the maximum): the fast path
        # tests an int against these (one set test instead of three comparisons), and checks and adds a new one.
        self._ok_quantities: set[int] = set()
        self._ok_prices: set[int] = set()

    def _valid_quantity(self, q: int) -> bool:
        """Whether the int ``q`` is a valid quantity (remembered if so, up to _OK_MAX of them)."""
        if 0 < q <= self._max_qty and not q % self._lot:
            if len(self._ok_quantities) < _OK_MAX:
                self._ok_quantities.add(q)
            return True
        return False

    def _valid_price(self, price: int) -> bool:
        """Whether the int ``price`` is a valid limit price (remembered if so, up to _OK_MAX of them)."""
        if 0 < price <= self._max_price and not price % self._tick:
            if len(self._ok_prices) < _OK_MAX:
                self._ok_prices.add(price)
            return True
        return False

    def submit(self, spec: OrderSpec, now: int, grid: GridView | None = None) -> list[Event]:
        """Check, accept and (if active now) match one order; the events decided. ``grid``, if given, is
        observed first."""
        start = len(self.journal)
        self.decide_submit(spec, now, grid)
        return self.journal[start:]

    def cancel(self, order_id: str, participant: str, now: int) -> list[Event]:
        """Cancel an open order of ``participant`` (its whole open quantity); the events decided."""
        start = len(self.journal)
        self.decide_cancel(order_id, participant, now)
        return self.journal[start:]

    def modify(
        self, order_id: str, participant: str, now: int, price: int | None = None, quantity: int | None = None
    ) -> list[Event]:
        """Change the limit price and/or the open quantity (the new remaining Wh, not the original size).

        A reduction of quantity at the same price keeps time priority; a new price
        or a larger quantity loses it: the order works again as if just arrived
        (it may trade at once if its new price crosses).
        """
        start = len(self.journal)
        self._modify(order_id, participant, now, price, quantity)
        return self.journal[start:]

    def tick(self, now: int, grid: GridView | None = None) -> list[Event]:
        """Advance time: gate closures, expiries, grid-gated suspensions, then activations.

        Waiting orders are examined in the order they started waiting; each
        activation matches at once, so a later order's price condition sees
        the trades of an earlier one in the same tick.
        """
        start = len(self.journal)
        self._advance_time(now, grid)
        return self.journal[start:]

    # -- requests, without handing the events back -----------------------------------------------------------

    def decide_submit(self, spec: OrderSpec, now: int, grid: GridView | None = None) -> None:
        """:meth:`submit`, journaled but not handed back (read ``journal`` for the events): the matching
        path then builds no event objects until the journal is read (core/market/records.py)."""
        if now >= self._due_at or (grid is not None and grid != self.grid):
            # First what the time or the grid decides (gate closures, expiries, the grid observed); the
            # general path's own _begin then has nothing left to do.
            self._begin(now, grid, self._pending)
        order_id, participant, start, side, q, price, kind, tif, valid_from, valid_until, cond, gate = spec
        product = self.products.get(start)
        orders = self.orders
        if (  # the one validity check of the fast path: a plain valid limit order (GTC, IOC or FOK) ...
            product is not None
            # ... in a product that is open: it accepted an order before (so it had opened: time only goes
            # forward) and is not closed, and its gate closure is not due (nothing is due, see above)
            and not product.closed
            and self.now <= now  # type: ignore[operator]  # set: the product accepted an order (else ClockError)
            and order_id
            and participant
            and order_id not in orders
            # a quantity and a price seen valid before (a set test), or checked now (see _valid_quantity)
            and type(q) is int
            and (q in self._ok_quantities or self._valid_quantity(q))
            and type(price) is int
            and (price in self._ok_prices or self._valid_price(price))
            and kind is _LIMIT
            and tif is not _GTD
            and valid_from is None
            and valid_until is None
            and cond is None
            and gate is _NO_GATE
            and self._fast
        ):
            # The Order, built without a call of its __init__ (same fields, see Order.__init__).
            order = _new_object(Order)
            order.spec = spec
            order.order_id = order_id
            order.participant = participant
            order.price = price
            order.submitted = q  # remaining, cancelled and status below, once it is known how it ends
            orders[order_id] = order
            # (product.accepted gets the order only if it rests: one closed before this call returns can never
            # be open again, and gate closure reads only the open ones, see Product.accepted)
            self.now = now
            pending = self._pending
            if now != self._record_ts:  # the records' time (core/market/records.py), once per new second
                pending.append(TIME)
                pending.append(now)
                self._record_ts = now
            if side is _BUY:
                buying = True
                opposite, own = product.asks, product.bids
                limit_key = price
            else:
                buying = False
                opposite, own = product.bids, product.asks
                limit_key = -price
            if opposite.best > limit_key:  # does not cross: it rests, or an immediate order ends at once
                if tif is _GTC:
                    pending.append(order_id)  # the record of a new order that rests at once: its id alone
                    product.accepted.append(order)
                    level = own.levels.get(-limit_key)  # the order's key on its own side
                    if level is None:
                        own.add(order, price)
                    else:
                        level[order_id] = order
                    order.remaining = q
                    order.cancelled = 0
                    order.status = _RESTING
                else:
                    pending.append(ENDED_FOK if tif is _FOK else ENDED_IOC)
                    pending.append(order_id)
                    order.remaining = 0
                    order.cancelled = q
                    order.status = _CANCELLED_STATUS
                return
            pending.append(ACCEPTED)
            pending.append(order_id)
            if tif is _FOK and self._fillable(participant, q, opposite, limit_key) < q:
                pending += (CANCELLED, order_id, _FOK_NOT_FILLABLE, q)
                order.remaining = 0
                order.cancelled = q
                order.status = _CANCELLED_STATUS
                return
            # The match loop of _match, inlined (most orders that cross come this way): each trade is
            # applied as BookState._fill applies it on replay.
            order.status = _WORKING
            levels = opposite.levels
            gated = self.gated_resting
            mine = q
            while True:
                key = opposite.best
                if key > limit_key:
                    break  # also when the side is empty (EMPTY_KEY)
                level = levels[key]
                resting = next(iter(level.values()))
                if resting.participant == participant:
                    if self._cancel_incoming:  # self-trade prevention: the incoming order is cancelled
                        pending += (CANCELLED, order_id, _SELF_TRADE, mine)
                        order.remaining = 0
                        order.cancelled = mine
                        order.status = _CANCELLED_STATUS
                        return
                    pending += (CANCELLED, resting.order_id, _SELF_TRADE, resting.remaining)
                    self._cancel(resting, now)  # what apply_cancelled does with it
                    continue
                theirs = resting.remaining
                rid = resting.order_id
                if mine < theirs:
                    theirs -= mine
                    if buying:
                        pending += (TRADED_BUY, start, key, mine, order_id, rid, 0, theirs)
                        product.last_price = key
                    else:
                        pending += (TRADED_SELL, start, -key, mine, rid, order_id, theirs, 0)
                        product.last_price = -key
                    resting.remaining = theirs
                    mine = 0
                    break
                mine -= theirs
                if buying:
                    pending += (TRADED_BUY, start, key, theirs, order_id, rid, mine, 0)
                    product.last_price = key
                else:
                    pending += (TRADED_SELL, start, -key, theirs, rid, order_id, 0, mine)
                    product.last_price = -key
                resting.remaining = 0
                del level[rid]
                if not level:
                    opposite.drop_level(key)
                if gated:
                    gated.pop(rid, None)
                resting.status = _FILLED
                if not mine:
                    break
            if not mine:
                order.remaining = 0
                order.cancelled = 0
                order.status = _FILLED
            elif tif is _GTC:
                pending.append(RESTED)
                pending.append(order_id)
                own.add(order, price)
                product.accepted.append(order)
                order.remaining = mine
                order.cancelled = 0
                order.status = _RESTING
            else:  # an IOC order's remainder
                pending += (CANCELLED, order_id, _IOC_REMAINDER, mine)
                order.remaining = 0
                order.cancelled = mine
                order.status = _CANCELLED_STATUS
            return
        self._submit(spec, now, grid)

    def decide_cancel(self, order_id: str, participant: str, now: int) -> None:
        """:meth:`cancel`, journaled but not handed back (read ``journal`` for the events)."""
        if now >= self._due_at:
            self._begin(now, None, self._pending)  # what is due first (the general path's _begin is then a no-op)
        order = self.orders.get(order_id)
        if order is not None and order.participant == participant and self.now <= now and self._fast:  # type: ignore[operator]
            # the fast paths: an order of its owner, nothing due (self.now is set: the order was accepted)
            status = order.status
            if status is _RESTING:  # what _cancel does, inlined
                q = order.remaining
                pending = self._pending
                if now != self._record_ts:
                    pending.append(TIME)
                    pending.append(now)
                    self._record_ts = now
                pending.append(CANCELLED)
                pending.append(order_id)
                pending.append(_BY_PARTICIPANT)
                pending.append(q)
                spec = order.spec
                product = self.products[spec.product]
                side = product.bids if spec.side is _BUY else product.asks
                key = order.price * side.sign  # type: ignore[operator]  # a resting order has a price
                level = side.levels[key]
                del level[order_id]
                if not level:
                    side.drop_level(key)
                if self.gated_resting:
                    self.gated_resting.pop(order_id, None)
                order.cancelled += q
                order.remaining = 0
                order.status = _CANCELLED_STATUS
                self.now = now
                return
            # Refused: what _owned_open decides for a closed order (the common closed states by identity: a
            # set membership test would hash the enum member by a Python-level __hash__).
            if status is _FILLED or status is _CANCELLED_STATUS:
                pending = self._pending
                if now != self._record_ts:
                    pending.append(TIME)
                    pending.append(now)
                    self._record_ts = now
                pending.append(CLOSED_ORDER)
                pending.append(_CANCEL)
                pending.append(order_id)
                self.now = now
                return
        out = self._pending
        self._begin(now, None, out)
        self._time(now, out)
        order = self._owned_open(order_id, participant, now, Action.CANCEL, out)
        if order is not None:
            out += (CANCELLED, order_id, _BY_PARTICIPANT, order.remaining)
            self._cancel(order, now)

    def _submit(self, spec: OrderSpec, now: int, grid: GridView | None) -> None:
        """The general path of :meth:`submit`: every check in order, every kind of order."""
        out = self._pending
        self._begin(now, grid, out)
        self._time(now, out)
        problem = self._check_new(spec, now)
        if problem is not None:
            self._emit(Rejected(now, Action.SUBMIT, spec.order_id, problem[0], problem[1]), out)
            return
        if spec.condition is not None or (spec.valid_from is not None and spec.valid_from > now):
            active = False
        elif spec.grid is GridGate.MATCH_IF_HELPS:
            active = helps_grid(spec.side, self.grid)  # if not, it waits (pending) until a tick finds it helps
        else:
            active = True
        ev = _new(Accepted, (now, spec, active))
        out.append(ev)
        order, product = self._accept(ev)
        if active:
            self._work(order, product, now, out)

    def _modify(self, order_id: str, participant: str, now: int, price: int | None, quantity: int | None) -> None:
        out = self._pending
        self._begin(now, None, out)
        self._time(now, out)
        order = self._owned_open(order_id, participant, now, Action.MODIFY, out)
        if order is None:
            return
        new_price = order.price if price is None else price
        new_qty = order.remaining if quantity is None else quantity
        problem: tuple[RejectReason, str] | None = None
        if order.spec.kind is OrderKind.MARKET_WITH_LIMIT or order.spec.tif in (TimeInForce.IOC, TimeInForce.FOK):
            problem = (RejectReason.NOT_MODIFIABLE, "an immediate order cannot be modified")
        elif new_price == order.price and new_qty == order.remaining:
            problem = (RejectReason.NOT_MODIFIABLE, "neither price nor quantity changes")
        else:
            problem = self._check_quantity(new_qty) or self._check_price(new_price, required=True)
        if problem is not None:
            self._emit(Rejected(now, Action.MODIFY, order_id, problem[0], problem[1]), out)
            return
        keeps = new_price == order.price and new_qty <= order.remaining
        self._emit(Modified(now, order_id, new_price, new_qty, keeps), out)
        if order.status is OrderStatus.WORKING:
            self._work(order, self.products[order.spec.product], now, out)

    def _advance_time(self, now: int, grid: GridView | None) -> None:
        out = self._pending
        self._begin(now, grid, out)
        self._time(now, out)
        for order in list(self.waiting.values()):
            if order.status is OrderStatus.PENDING:
                reason = self._due(order, now)
                if reason is None:
                    continue
                self._emit(Activated(now, order.order_id, reason), out)
                if order.spec.grid is GridGate.MATCH_IF_HELPS and not helps_grid(order.spec.side, self.grid):
                    self._emit(Suspended(now, order.order_id), out)
                    continue
            elif order.status is OrderStatus.SUSPENDED:
                if not helps_grid(order.spec.side, self.grid):
                    continue
                self._emit(Activated(now, order.order_id, ActivationReason.GRID_HELPS), out)
            else:  # pragma: no cover - waiting holds only pending and suspended orders
                continue
            self._work(order, self.products[order.spec.product], now, out)

    # -- reading -------------------------------------------------------------------------------------------

    def order(self, order_id: str) -> OrderView | None:
        order = self.orders.get(order_id)
        return None if order is None else order.view()

    def best_bid(self, product: int) -> int | None:
        p = self.products.get(product)
        return None if p is None else p.bids.best_price()

    def best_ask(self, product: int) -> int | None:
        p = self.products.get(product)
        return None if p is None else p.asks.best_price()

    def last_price(self, product: int) -> int | None:
        p = self.products.get(product)
        return None if p is None else p.last_price

    def depth(self, product: int, levels: int = 10) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids, asks) as (price, open Wh) best first."""
        p = self.products.get(product)
        return ([], []) if p is None else (p.bids.depth(levels), p.asks.depth(levels))

    def open_orders(self, participant: str) -> list[OrderView]:
        return [o.view() for o in self.orders.values() if o.participant == participant and o.status.is_open]

    # -- the steps -----------------------------------------------------------------------------------------

    def _time(self, now: int, out: list[Any]) -> None:
        """Write the records' time (a TIME record, core/market/records.py) unless it is ``now`` already:
        every request that may write records calls this (or does it inline) before its first record."""
        if now != self._record_ts:
            out += (TIME, now)
            self._record_ts = now

    def _emit(self, ev: Event, out: list[Any]) -> None:
        self._apply[type(ev)](ev)
        out.append(ev)

    def _begin(self, now: int, grid: GridView | None, out: list[Any]) -> None:
        last = self.now
        if last is not None and now < last:
            raise ClockError(f"market time went backwards: {now} after an event at {last}")
        if grid is not None and grid != self.grid:
            self._emit(GridObserved(now, grid), out)
            for order in list(self.gated_resting.values()):
                if not helps_grid(order.spec.side, grid):
                    self._emit(Suspended(now, order.order_id), out)
        if now >= self._due_at:
            self._advance(now, out)

    def _advance(self, now: int, out: list[Any]) -> None:
        """Gate closures and expiries due at ``now``, so that no closed or expired order can match
        (called only when one is due: the callers test the heads of both heaps)."""
        gates = self.gate_closures
        expiries = self.expiries
        while gates and gates[0][0] <= now:
            _, start = heapq.heappop(gates)
            product = self.products.get(start)
            if product is None or product.closed:
                continue  # already closed (a stale index entry after replay), or compacted
            for order in product.open_orders():
                self._emit(GateClosed(now, order.order_id, order.remaining), out)
            self._emit(ProductClosed(now, start), out)
        while expiries and expiries[0][0] <= now:
            _, _, order_id = heapq.heappop(expiries)
            expiring = self.orders.get(order_id)
            if expiring is not None and expiring.status.is_open:  # (None: compacted with its closed product)
                self._emit(Expired(now, order_id, expiring.remaining), out)
        self._due_at = min(gates[0][0] if gates else NEVER, expiries[0][0] if expiries else NEVER)

    def _due(self, order: Order, now: int) -> ActivationReason | None:
        spec = order.spec
        if spec.valid_from is not None and spec.valid_from > now:
            return None
        cond = spec.condition
        if cond is None:
            return ActivationReason.SCHEDULED
        if isinstance(cond, GridCondition):
            return ActivationReason.CONDITION if cond.holds(self.grid) else None
        return ActivationReason.CONDITION if cond.holds_for(self._market_price(spec.product, cond)) else None

    def _market_price(self, product: int, cond: PriceCondition) -> int | None:
        if cond.metric is PriceMetric.LAST_PRICE:
            return self.last_price(product)
        return self.best_bid(product) if cond.metric is PriceMetric.BEST_BID else self.best_ask(product)

    def _work(self, order: Order, product: Product, now: int, out: list[Any]) -> None:
        """Match an active order against the opposite side, then rest or cancel what is left."""
        spec = order.spec
        buying = spec.side is _BUY
        opposite = product.asks if buying else product.bids
        limit = order.price
        if limit is None:  # market-with-limit without its own limit: the best opposite price ± protection
            best = opposite.best_price()
            if best is None:
                self._cancel_working(order, _NO_LIQUIDITY, now, out)
                return
            protection = self.rules.market_protection
            limit = best + protection if buying else max(0, best - protection)
        limit_key = limit * opposite.sign
        tif = spec.tif
        if tif is _FOK and self._fillable(order.participant, order.remaining, opposite, limit_key) < order.remaining:
            self._cancel_working(order, _FOK_NOT_FILLABLE, now, out)
            return
        # (the opposite best within the limit is tested first: most arriving orders do not cross)
        if opposite.best <= limit_key and self._match(order, product, opposite, limit_key, now, out):
            return  # cancelled by self-trade prevention
        if not order.remaining:
            return
        if (tif is _GTC or tif is _GTD) and spec.kind is _LIMIT:
            out += (RESTED, order.order_id)
            self._rest(order, product, now)
            return
        self._cancel_working(order, _IOC_REMAINDER, now, out)

    def _cancel_working(self, order: Order, reason: int, now: int, out: list[Any]) -> None:
        """Cancel the remainder of an order that is working (not resting, not waiting)."""
        out += (CANCELLED, order.order_id, reason, order.remaining)
        self._cancel(order, now)

    def _match(
        self, order: Order, product: Product, opposite: BookSide, limit_key: int, now: int, out: list[Any]
    ) -> bool:
        """Trade against the best levels while they are within the limit; True if the
        incoming order was cancelled by self-trade prevention.

        Each trade is applied here as :meth:`BookState._fill` applies it on replay (inlined: this loop
        runs once per trade)."""
        levels = opposite.levels
        buying = order.spec.side is _BUY
        participant = order.participant
        oid = order.order_id
        start = product.start
        cancel_incoming = self._cancel_incoming
        gated = self.gated_resting
        mine = order.remaining
        while mine:
            key = opposite.best
            if key > limit_key:
                break  # also when the side is empty (EMPTY_KEY)
            level = levels[key]
            resting = next(iter(level.values()))
            if resting.participant == participant:
                if cancel_incoming:
                    self._cancel_working(order, _SELF_TRADE, now, out)
                    return True
                out += (CANCELLED, resting.order_id, _SELF_TRADE, resting.remaining)
                self._cancel(resting, now)  # what apply_cancelled does with it
                continue
            theirs = resting.remaining
            if mine < theirs:
                q = mine
                theirs -= q
                mine = 0
            else:
                q = theirs
                mine -= q
                theirs = 0
            rid = resting.order_id
            if buying:
                out += (TRADED_BUY, start, key, q, oid, rid, mine, theirs)
                product.last_price = key
            else:
                out += (TRADED_SELL, start, -key, q, rid, oid, theirs, mine)
                product.last_price = -key
            resting.remaining = theirs
            if not theirs:
                del level[rid]
                if not level:
                    opposite.drop_level(key)
                if gated:
                    gated.pop(rid, None)
                resting.status = _FILLED
            order.remaining = mine
        if not mine:
            order.status = _FILLED
        return False  # (self.now is ``now`` already: every caller applied an event at ``now`` first)

    def _fillable(self, participant: str, need: int, opposite: BookSide, limit_key: int) -> int:
        """How much of ``need`` (an order of ``participant`` with this limit) the book would fill now,
        self-trade prevention included."""
        total = 0
        cancel_incoming = self._cancel_incoming
        for key in opposite.keys:
            if key > limit_key:
                break
            for resting in opposite.levels[key].values():
                if resting.participant == participant:
                    if cancel_incoming:
                        return total
                    continue
                total += resting.remaining
                if total >= need:
                    return total
        return total

    # -- checks --------------------------------------------------------------------------------------------

    def _owned_open(self, order_id: str, participant: str, now: int, action: Action, out: list[Any]) -> Order | None:
        order = self.orders.get(order_id)
        if order is not None and order.participant == participant and order.status in _OPEN_STATUSES:
            return order
        problem: tuple[RejectReason, str]
        if order is None:
            problem = (RejectReason.UNKNOWN_ORDER, f"no order {order_id!r} in the book")
        elif order.participant != participant:
            problem = (RejectReason.NOT_OWNER, f"order {order_id!r} belongs to another participant")
        else:  # the text is formatted when the journal is read
            out += (CLOSED_ORDER, ACTION_CODE[action], order_id)
            self.now = now  # what apply_rejected does
            return None
        self._emit(_new(Rejected, (now, action, order_id, problem[0], problem[1])), out)
        return None

    def _check_quantity(self, quantity: object) -> tuple[RejectReason, str] | None:
        r = self.rules
        if type(quantity) is not int or quantity <= 0 or quantity > r.max_quantity or quantity % r.lot:
            return (
                RejectReason.INVALID_QUANTITY,
                f"quantity {quantity!r} Wh must be a positive multiple of the lot ({r.lot} Wh), "
                f"at most {r.max_quantity}",
            )
        return None

    def _check_price(self, price: object, required: bool) -> tuple[RejectReason, str] | None:
        r = self.rules
        if price is None:
            return (RejectReason.INVALID_PRICE, "a limit price is required") if required else None
        if type(price) is not int or price <= 0 or price > r.max_price or price % r.tick:
            return (
                RejectReason.INVALID_PRICE,
                f"price {price!r} must be a positive multiple of the tick ({r.tick}), at most {r.max_price}",
            )
        return None

    def _check_new(self, spec: OrderSpec, now: int) -> tuple[RejectReason, str] | None:
        """None if ``spec`` may be accepted now, else the first rule it breaks (in the order below).

        Every rule, one by one: a plain valid limit order in an open product, the common case, is taken by
        the fast path of :meth:`decide_submit` before it gets here (its one validity check), so what comes
        here is a product's first order, an order of another kind, or one that breaks a rule."""
        r = self.rules
        if not spec.order_id or spec.order_id in self.orders:
            return RejectReason.DUPLICATE_ORDER_ID, f"order id {spec.order_id!r} is empty or already used"
        if not spec.participant:
            return RejectReason.INVALID_PARTICIPANT, "participant is empty"
        product = spec.product
        if type(product) is not int or product % self._period:
            return RejectReason.UNKNOWN_PRODUCT, f"product {product!r} is not the start of a {r.period_s} s period"
        if now < product - self._horizon:
            return RejectReason.PRODUCT_NOT_OPEN, f"product {product} opens at {r.opens_at(product)}"
        if now >= product - self._gate:
            return RejectReason.PRODUCT_CLOSED, f"product {product} closed at {r.gate_closure(product)}"
        q = spec.quantity
        if type(q) is not int or q <= 0 or q > self._max_qty or q % self._lot:
            return self._check_quantity(q)
        price = spec.price
        if price is None:
            if spec.kind is OrderKind.LIMIT:
                return self._check_price(price, required=True)
        elif type(price) is not int or price <= 0 or price > self._max_price or price % self._tick:
            return self._check_price(price, required=True)
        if spec.kind is OrderKind.MARKET_WITH_LIMIT and spec.tif not in (TimeInForce.IOC, TimeInForce.FOK):
            return RejectReason.INVALID_TIME_IN_FORCE, "a market-with-limit order is immediate: use IOC or FOK"
        if spec.valid_until is None and spec.valid_from is None and spec.grid is GridGate.NONE:
            return None if spec.tif is not TimeInForce.GTD else self._check_validity(spec, now)
        return self._check_validity(spec, now)

    def _check_validity(self, spec: OrderSpec, now: int) -> tuple[RejectReason, str] | None:
        if spec.tif is TimeInForce.GTD and spec.valid_until is None:
            return RejectReason.INVALID_VALIDITY, "a good-till-date order needs valid_until"
        if spec.valid_until is not None:
            if spec.valid_until <= now:
                return RejectReason.EXPIRED, f"valid_until {spec.valid_until} is not after now ({now})"
            if spec.valid_from is not None and spec.valid_from >= spec.valid_until:
                return RejectReason.INVALID_VALIDITY, f"valid_from {spec.valid_from} is not before valid_until"
        if spec.valid_from is not None and spec.valid_from >= self.rules.gate_closure(spec.product):
            return RejectReason.INVALID_VALIDITY, f"valid_from {spec.valid_from} is at or after gate closure"
        if spec.grid is not GridGate.NONE:
            if self.grid is None or self.grid.imbalance_w is None:
                return RejectReason.GRID_STATE_UNKNOWN, "a grid-balanced order needs a known community imbalance"
            if spec.grid is GridGate.ADMIT_IF_HELPS and not helps_grid(spec.side, self.grid):
                return (
                    RejectReason.GRID_NOT_HELPED,
                    f"a {spec.side.value} does not reduce the imbalance of {self.grid.imbalance_w} W",
                )
        return None


def replay(rules: MarketRules, journal: Iterable[Event], *, compact: bool = False) -> Book:
    """Rebuild a book from its journal (no decision is taken again; every event is applied). With
    ``compact``, each product's orders and the events read so far leave memory once the product closes
    (:meth:`BookState.compact`), so only the open state is held: the book then equals a live book compacted
    at the same journal position, and ``len(book.journal)`` is still the number of events replayed."""
    book = Book(rules)
    if not compact:
        book.apply_all(journal)
        return book
    for event in journal:
        book.apply(event)
        if type(event) is ProductClosed:
            book.compact()
    book.compact()
    return book
