"""The market use case: one :class:`core.market.Book`, its write-ahead journal, its clock and its readers.

Every command (submit, cancel, modify, and the tick task's ticks) is decided by the book at once, on the
loop, and its events are handed to the journal writer; the command is acknowledged (its coroutine returns)
only after the journal has stored them, and only then do subscribers hear of them. The writer takes every
batch queued while the previous write ran and stores them in one transaction (group commit), in order.

On start the book is rebuilt by replaying the journal, and the stored derived order rows are compared with
the replay: any difference is reported (``mismatches``, logged as an error), never fixed silently. If a
journal write fails, the book is ahead of what is stored: the service stops taking commands
(:class:`MarketUnavailable`) until it is restarted, and the restart replays what was stored.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import enum
import hashlib
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from console.services.guard import permit, record
from core.access import Action, AuditWriter, PermissionDenied, User, require
from core.grid import GridSnapshot
from core.market import (
    Accepted,
    Book,
    Event,
    GridView,
    MarketRules,
    OrderSpec,
    OrderStatus,
    OrderView,
    PriceComponents,
    PricingConfig,
    ProductClosed,
    Rejected,
    RejectReason,
    Side,
    Traded,
    reference_price,
)
from core.market import Action as BookAction
from core.market.checkpoint import CheckpointError, dump_book, load_book
from core.market.ports import JournalBatch, JournalEntry, MarketJournal, SettlementPort
from core.market.state import Order
from core.points import PointKind

log = logging.getLogger(__name__)

REPLAY_PAGE = 10_000  # journal events read per page on start (and forgotten orders checked per query)


class MarketUnavailable(RuntimeError):
    """The market cannot take commands: not started, stopped, or its journal failed."""


@dataclass(frozen=True, slots=True)
class TradeView:
    """One trade with both parties, as readers see it."""

    seq: int
    ts: int
    product: int
    price: int
    quantity: int
    buyer: str
    seller: str
    buy_id: str
    sell_id: str
    aggressor: Side


@dataclass(frozen=True, slots=True)
class ProductDepth:
    """One delivery product at one instant: ``bids``/``asks`` are (price, Wh) levels, best first."""

    product: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]
    best_bid: int | None
    best_ask: int | None
    last_price: int | None
    volume_wh: int
    gate_closure_in_s: int  # seconds until gate closure (<= 0: closed)


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """Everything the market view shows at one instant (immutable; pull one per frame)."""

    ts: int
    seq: int  # journal position of the next event: changes whenever the book does
    products: tuple[ProductDepth, ...]
    recent_trades: tuple[TradeView, ...]  # newest last
    reference: PriceComponents | None
    grid: GridView | None
    mismatches: tuple[str, ...]  # replay vs stored derived state, found at start
    failure: str | None  # why the market stopped taking commands, if it did


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one command decided, once it is journaled: its events and the order's state after them."""

    events: tuple[Event, ...]
    order: OrderView | None
    trades: tuple[TradeView, ...]

    @property
    def rejected(self) -> Rejected | None:
        for ev in self.events:
            if isinstance(ev, Rejected):
                return ev
        return None


@dataclass(frozen=True, slots=True)
class MarketUpdate:
    """What subscribers receive after each journaled decision (and each new reference price)."""

    seq: int
    trades: tuple[TradeView, ...]
    books: tuple[ProductDepth, ...]  # the products whose book changed
    reference: PriceComponents | None


def grid_view(snap: GridSnapshot | None) -> GridView | None:
    """The market's integer view of the grid: frequency in mHz, supply − demand in W, voltages in µpu
    (by bus, else point id) of the usable voltage readings that have a nominal."""
    if snap is None:
        return None
    freq = None
    if snap.frequency is not None and snap.frequency.quality.usable and math.isfinite(snap.frequency.value):
        freq = round(snap.frequency.value * 1000)
    balance = snap.balance_w
    imbalance = None
    if math.isfinite(balance) and snap.demand is not None and snap.supply is not None \
            and snap.demand.quality.usable and snap.supply.quality.usable:
        imbalance = round(balance)
    volts: dict[str, int] = {}
    for r in snap.voltages:
        nominal = r.point.nominal
        if r.point.kind is PointKind.VOLTAGE and r.quality.usable and math.isfinite(r.value) \
                and math.isfinite(nominal) and nominal > 0:
            volts[r.point.bus or r.point.id] = round(r.value / nominal * 1_000_000)
    return GridView.of(freq, imbalance, volts)


def _demand_supply(snap: GridSnapshot | None) -> tuple[int | None, int | None]:
    if snap is None:
        return None, None

    def whole(r: object) -> int | None:
        value = getattr(r, "value", None)
        usable = getattr(getattr(r, "quality", None), "usable", False)
        return round(value) if usable and isinstance(value, float) and math.isfinite(value) else None

    return whole(snap.demand), whole(snap.supply)


class Subscription:
    """A bounded queue of :class:`MarketUpdate`; a reader too slow to keep up is dropped (``lagged``)."""

    def __init__(self, service: MarketService, maxsize: int) -> None:
        self._service = service
        self.queue: asyncio.Queue[MarketUpdate | None] = asyncio.Queue(maxsize)
        self.lagged = False

    def offer(self, update: MarketUpdate) -> None:
        try:
            self.queue.put_nowait(update)
        except asyncio.QueueFull:
            self.lagged = True
            self.close()

    def close(self) -> None:
        self._service._subscribers.discard(self)
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)

    async def next(self) -> MarketUpdate | None:
        """The next update, or None once the subscription is closed (or the reader lagged)."""
        if self.lagged and self.queue.empty():
            return None
        return await self.queue.get()


class MarketService:
    """The book, its journal, its tick task and its readers (one per application)."""

    def __init__(
        self,
        rules: MarketRules,
        journal: MarketJournal,
        grid: Callable[[], GridSnapshot | None] = lambda: None,
        *,
        pricing: PricingConfig | None = None,
        settlement: SettlementPort | None = None,
        tick_hz: float = 1.0,
        clock: Callable[[], float] = time.time,
        depth_levels: int = 10,
        recent: int = 50,
    ) -> None:
        if tick_hz < 1.0:
            raise ValueError(f"market tick_hz must be >= 1 (activations happen only in ticks), got {tick_hz}")
        self.rules = rules
        self.journal = journal
        self._grid = grid
        self.pricing = pricing
        self.settlement = settlement
        # Who knows each trade's settlement state when trades settle elsewhere (the signed-order settlement
        # service reads the journal itself): anything with ``state_of(trade) -> SettlementView``.
        self.settlement_states: object | None = None
        self.tick_s = 1.0 / tick_hz
        self.clock = clock
        self.depth_levels = depth_levels
        self.book = Book(rules)
        self.mismatches: tuple[str, ...] = ()
        self.failure: str | None = None
        self.reference: PriceComponents | None = None
        self.unsettled: deque[Traded] = deque()  # matched, waiting for the settlement port
        self._recent: deque[TradeView] = deque(maxlen=recent)
        # A participant's trade history is the store's (market_fills, :meth:`trades_of`); what is held here is
        # only the trades decided but not yet stored (the writer's queue and the group being written), in
        # journal order, so a history read while they are written still has them. Empty once the writer
        # is idle; bounded by the writer's lag, never by the run.
        self._unstored: deque[TradeView] = deque()
        self.trades_made = 0  # trades decided since start (benches and tests count them)
        # The ids of each participant's orders still in the book (oldest first); the book forgets the orders of
        # a closed product (compaction) and the store answers for them (order_history, find_order).
        self._orders_of: dict[str, list[str]] = {}
        self.compacted_orders = 0  # orders the book has forgotten since start (their products closed)
        # Their ids in a fixed-size Bloom filter: a new order's id (never forgotten) needs no store lookup.
        self._forgotten = IdFilter()
        self.replay_page = REPLAY_PAGE
        # Each participant's trades in compacted products, by product: [bought Wh, sold Wh, cost, earnings],
        # and (trades, gain vs reference) per participant (positions() adds the products still held).
        self._closed_positions: dict[str, dict[int, list[float]]] = {}
        self._closed_totals: dict[str, list[float]] = {}
        self._volume: dict[int, int] = {}
        self._subscribers: set[Subscription] = set()
        self._pending: list[tuple[JournalBatch, asyncio.Future[None]]] = []
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._snapshot: MarketSnapshot | None = None
        self._screens_init()
        self._suspended: dict[str, str] = {}  # participant → why it may not trade
        # The restart checkpoint (docs/decisions.md 2026-12-03): the journal position stored so far, the orders
        # forgotten since the last checkpoint (their rows not yet checked), the mismatches found in what is
        # closed (kept in the checkpoint: reported at every start), and the orders ever accepted.
        self._stored = 0
        self._unverified: list[OrderView] = []
        self._closed_problems: list[str] = []
        self._accepted = 0
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._checkpoint_again = False  # asked for while one was being written: written after it
        self.resumed_from: int | None = None  # the checkpoint's position the last start resumed from

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Replay the journal into the book, reconcile the stored derived state, start writer and ticks.

        The journal is read in pages and the book compacted at each product closure, so what is held is the
        open state (never the run's history); each forgotten order is compared with its stored row first.
        With a checkpoint (written once what it covers is closed and verified) the open state is read from it
        and only the journal after it is replayed; its mismatches are reported again."""
        self.book = Book(self.rules)
        problems: list[str] = []
        gaps: list[str] = []
        forgotten: list[OrderView] = []
        resumed = await self._resume()
        self.resumed_from = resumed
        accepted = self._accepted
        i = 0 if resumed is None else resumed
        last = i - 1
        closed_before = self.compacted_orders
        while True:
            page = await asyncio.to_thread(self.journal.load_after, last, self.replay_page)
            if not page:
                break
            for entry in page:
                if entry.seq != i and len(gaps) < 10:
                    gaps.append(f"journal position {entry.seq} where {i} was expected (events lost or out of order)")
                i += 1
                ev = entry.event
                self.book.apply(ev)
                self._index(entry.seq, ev)
                if type(ev) is Accepted:
                    accepted += 1
                elif type(ev) is ProductClosed:
                    forgotten += [o.view() for o in self._compact()]
            last = page[-1].seq
            if len(forgotten) >= self.replay_page:
                problems += await self._check_rows(forgotten)
                forgotten = []
        if resumed is not None and i == resumed:
            next_seq = getattr(self.journal, "next_seq", None)
            if callable(next_seq) and await asyncio.to_thread(next_seq) < resumed:
                gaps.append(f"the journal ends before the checkpoint's position {resumed} (events lost)")
        forgotten += [o.view() for o in self._compact()]
        problems += await self._check_rows(forgotten)
        self._accepted = accepted
        self._stored = len(self.book.journal)
        # What is closed is verified now: kept in the next checkpoint (and reported at every start from it);
        # the open orders and the count of rows are checked at every start.
        self._closed_problems += gaps + problems
        problems = await self._check_rows([o.view() for o in self.book.orders.values()])
        if await asyncio.to_thread(self.journal.count_orders) != accepted:  # rows of orders never accepted
            problems += [f"order {row.order_id}: stored row {row.status.value} but the journal never accepted it"
                         for row in await asyncio.to_thread(self.journal.orders_never_accepted)]
        problems = self._closed_problems + problems
        self.mismatches = tuple(problems)
        for p in problems:
            log.error("market journal mismatch (not corrected; investigate before trading on): %s", p)
        log.info("market: %d journal events replayed%s, %d orders held (%d of closed products compacted), "
                 "%d mismatches", len(self.book.journal) - (resumed or 0),
                 "" if resumed is None else f" after the checkpoint at {resumed}", len(self.book.orders),
                 self.compacted_orders, len(problems))
        if resumed is None or self.compacted_orders > closed_before or self._stored - resumed >= self.replay_page:
            self._checkpoint(force=True)
        self._wake = asyncio.Event()
        self._started = True
        self._tasks = [asyncio.create_task(self._write_loop(), name="market-journal"),
                       asyncio.create_task(self._tick_loop(), name="market-tick")]
        if self.settlement is not None:
            self._tasks.append(asyncio.create_task(self._settle_loop(), name="market-settle"))

    async def stop(self) -> None:
        """Stop ticking and taking commands; the writer stores what is queued (so every command already
        decided is acknowledged or refused, none left waiting); close the journal and the subscriptions."""
        if not self._started:
            return
        self._started = False
        writer, others = self._tasks[0], self._tasks[1:]
        for task in others:
            task.cancel()
        for task in others:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert self._wake is not None
        self._wake.set()
        await writer
        self._tasks = []
        await self.checkpoints_written()
        self._checkpoint()  # everything decided is stored: what was closed since the last one
        await self.checkpoints_written()
        for sub in list(self._subscribers):
            sub.close()
        await asyncio.to_thread(self.journal.close)

    # -- commands ------------------------------------------------------------------------------------------

    async def submit(self, spec: OrderSpec) -> Outcome:
        """Decide and journal one order (the entrypoint has checked who signed it)."""
        self.check_trading(spec.product)
        refused = self._refuse_suspended(spec.participant, spec.order_id, BookAction.SUBMIT)
        if refused is None:
            refused = await self._refuse_compacted(spec.order_id, spec.participant, BookAction.SUBMIT)
        if refused is not None:
            return refused
        events = self._decide(lambda now: self.book.submit(spec, now, self._grid_view()))
        return await self._commit(events, spec.order_id)

    async def cancel(self, order_id: str, participant: str) -> Outcome:
        refused = await self._refuse_compacted(order_id, participant, BookAction.CANCEL)
        if refused is not None:
            return refused
        events = self._decide(lambda now: self.book.cancel(order_id, participant, now))
        return await self._commit(events, order_id)

    async def modify(self, order_id: str, participant: str, price: int | None = None,
                     quantity: int | None = None) -> Outcome:
        view = self.book.order(order_id)
        if view is not None:
            self.check_trading(view.product)
        refused = self._refuse_suspended(participant, order_id, BookAction.MODIFY)
        if refused is None:
            refused = await self._refuse_compacted(order_id, participant, BookAction.MODIFY)
        if refused is not None:
            return refused
        events = self._decide(lambda now: self.book.modify(order_id, participant, now, price, quantity))
        return await self._commit(events, order_id)

    async def tick(self) -> Outcome:
        """One tick now (the tick task calls this; tests may too)."""
        snap = self._grid()
        events = self._decide(lambda now: self.book.tick(now, grid_view(snap)))
        if self.pricing is not None:
            demand, supply = _demand_supply(snap)
            price = reference_price(self.pricing, self.now(), demand, supply)
            if price != self.reference:
                self.reference = price
                self._snapshot = None
                self._publish(MarketUpdate(len(self.book.journal), (), (), price))
        return await self._commit(events, None)

    # -- suspensions (issue 18) -------------------------------------------------------------------------------

    async def submit_for(self, by: User, spec: OrderSpec) -> Outcome:
        """An order a console user enters on a participant's behalf (a participant without its own client
        phones it in): admins only (``market.order_for_others``); audited with the book's answer."""
        await permit(by, Action.ORDER_FOR_OTHERS, f"order {spec.order_id} of {spec.participant}", self.audit,
                     self.clock)
        outcome = await self.submit(spec)
        rejected = outcome.rejected
        await record(self.audit, by.name, Action.ORDER_FOR_OTHERS.value, f"order {spec.order_id} of "
                     f"{spec.participant}", f"refused: {rejected.detail}" if rejected else "ok: accepted",
                     new=f"{spec.side.value} {spec.quantity} Wh at {spec.price} on {spec.product}", clock=self.clock)
        return outcome

    def suspend_participant(self, participant: str, reason: str) -> None:
        """Refuse ``participant``'s new orders and modifications from now on (the participant
        administration calls this, checks the permission and audits; it also cancels the open orders)."""
        self._suspended[participant] = reason

    def reinstate_participant(self, participant: str) -> None:
        self._suspended.pop(participant, None)

    def suspended_reason(self, participant: str) -> str | None:
        return self._suspended.get(participant)

    def _refuse_suspended(self, participant: str, order_id: str, action: BookAction) -> Outcome | None:
        """A refusal before the book (nothing journaled, nothing changed) for a suspended participant; None
        when the order may go to the book. (A suspended market raises MarketSuspended: check_trading.)"""
        if participant in self._suspended:
            detail = f"participant {participant!r} is suspended: {self._suspended[participant]}"
        else:
            return None
        return Outcome((Rejected(self.now(), action, order_id, RejectReason.INVALID_PARTICIPANT, detail),), None, ())

    async def _refuse_compacted(self, order_id: str, participant: str, action: BookAction) -> Outcome | None:
        """The book's answer for an order it has forgotten (its product closed and was compacted), from the
        stored row, before the book (nothing journaled): a new order with its id is a duplicate, a cancel or
        modification is of a closed order (or of another's). None when the book decides (it holds the id, or
        never forgot an order, or the id was never stored)."""
        if not self.compacted_orders or order_id in self.book.orders or not self._forgotten.may_hold(order_id):
            return None
        row = await asyncio.to_thread(self.journal.stored_order, order_id)
        if row is None or order_id in self.book.orders:
            return None
        if action is BookAction.SUBMIT:
            reason, detail = RejectReason.DUPLICATE_ORDER_ID, f"order id {order_id!r} is empty or already used"
        elif row.participant != participant:
            reason, detail = RejectReason.NOT_OWNER, f"order {order_id!r} belongs to another participant"
        else:
            reason, detail = RejectReason.ORDER_CLOSED, f"order {order_id!r} is {row.status.value}"
        return Outcome((Rejected(self.now(), action, order_id, reason, detail),), None, ())

    def now(self) -> int:
        """The market's time: the clock in whole seconds, never before the book's last event."""
        now = int(self.clock())
        last = self.book.now
        return now if last is None or now >= last else last

    # -- reads ---------------------------------------------------------------------------------------------

    def order(self, order_id: str) -> OrderView | None:
        return self.book.order(order_id)

    def signed_order(self, order_id: str) -> OrderSpec | None:
        """The order as it was submitted (for an entrypoint that checks new terms against a signature)."""
        order = self.book.orders.get(order_id)
        return None if order is None else order.spec

    def orders_of(self, participant: str, open_only: bool = False) -> list[OrderView]:
        """The participant's orders the book holds, oldest first (every one in a product not yet closed and
        compacted unless ``open_only``; :meth:`order_history` has the closed products' too)."""
        views = [v for v in (self.book.order(i) for i in self._orders_of.get(participant, ())) if v is not None]
        return [v for v in views if v.status.is_open] if open_only else views

    async def order_history(self, participant: str) -> list[OrderView]:
        """Every order the participant ever had accepted, oldest first: the stored rows, with the book's state
        for the orders it holds (newer than the stored row while a decision is being stored)."""
        stored = await asyncio.to_thread(self.journal.stored_orders_of, participant)
        held = {v.order_id: v for v in self.orders_of(participant)}
        out = [held.pop(v.order_id, v) for v in stored]
        return out + list(held.values())

    async def find_order(self, order_id: str) -> OrderView | None:
        """An order's state: the book's if it holds it, else the stored row (a compacted order's final state)."""
        view = self.book.order(order_id)
        if view is not None or not self.compacted_orders:
            return view
        return await asyncio.to_thread(self.journal.stored_order, order_id)

    async def trades_of_order(self, order_id: str, participant: str) -> list[TradeView]:
        """The trades of ``participant``'s order, oldest first (from the store: every committed trade)."""
        rows = await asyncio.to_thread(self.journal.fills_of_order, order_id, participant)
        return [_trade_view(r) for r in rows]

    async def trades_of(self, participant: str, limit: int = 100) -> list[TradeView]:
        """The participant's last ``limit`` trades (as buyer or seller), newest first: the store's, read in a
        worker thread, merged with those decided but not yet stored.

        Merged, not waited for: the trades still unstored are copied (on the loop) BEFORE the store is read,
        and one leaves ``_unstored`` only after its group has been committed, so every trade decided before
        this call is in the copy or in what the read sees (or both while its commit races the read: the
        journal position ``seq`` dedupes). Waiting for the writer instead would make a history read as slow
        as the journal's fsync, and never return while a write stalls."""
        pending = [t for t in self._unstored if participant in (t.buyer, t.seller)]
        stored = await asyncio.to_thread(  # (the rows become TradeViews in the worker thread, not on the loop)
            lambda: [_trade_view(r) for r in self.journal.fills_of(participant, limit)])
        if not pending:
            return stored
        seen = {t.seq for t in stored}
        merged = stored + [t for t in pending if t.seq not in seen]
        merged.sort(key=lambda t: t.seq, reverse=True)
        return merged[:limit]

    def available(self, product: int | None = None) -> list[OrderView]:
        """Resting orders (what can be traded against now), by product, side and price priority."""
        out = [o.view() for o in self.book.orders.values() if o.status is OrderStatus.RESTING
               and (product is None or o.spec.product == product)]
        return sorted(out, key=lambda v: (v.product, v.side.value, (v.price or 0) * (1 if v.side is Side.SELL else -1)))

    def snapshot(self) -> MarketSnapshot:
        """The current :class:`MarketSnapshot` (cached until the book, the price or the clock's second changes)."""
        now = self.now()
        snap = self._snapshot
        if snap is not None and snap.ts == now and snap.seq == len(self.book.journal):
            return snap
        products = tuple(self._depth(p, now) for p in sorted(self.book.products)
                         if not self.book.products[p].closed)
        snap = MarketSnapshot(now, len(self.book.journal), products, tuple(self._recent), self.reference,
                              self.book.grid, self.mismatches, self.failure)
        self._snapshot = snap
        return snap

    def subscribe(self, maxsize: int = 256) -> Subscription:
        """Updates after every journaled decision; ``close()`` it when done."""
        sub = Subscription(self, maxsize)
        self._subscribers.add(sub)
        return sub

    # -- screens: the read side of the trading views, and trading suspension --------------------------------

    def _screens_init(self) -> None:
        self.audit: AuditWriter | None = None  # where suspend/resume are audited (bootstrap: the historian)
        self._halts: dict[int | None, Suspension] = {}  # None: the whole market
        self._halt_version = 0
        self._product_trades: dict[int, list[TradeView]] = {}  # of the products the book holds
        self._references: deque[PriceComponents] = deque(maxlen=8000)

    def revision(self) -> tuple[int, int, int]:
        """Changes whenever something a market screen shows changes (the book, the reference price, a
        suspension): a view compares it once per frame and redraws only then, so a burst of orders
        between two frames costs one redraw (the coalescing of the grid view)."""
        ref = self.reference
        return len(self.book.journal), ref.ts if ref is not None else -1, self._halt_version

    def reference_history(self) -> tuple[PriceComponents, ...]:
        """The reference prices published so far (oldest first; each new one is taken when this or
        :meth:`screen` is called, so a caller polling faster than the tick sees every one)."""
        ref = self.reference
        if ref is not None and (not self._references or self._references[-1] != ref):
            self._references.append(ref)
        return tuple(self._references)

    def upcoming(self, count: int = 8) -> tuple[ProductDepth, ...]:
        """The next ``count`` delivery products still open for trading (gate closure ahead, trading
        window open), earliest first, with or without orders in them."""
        now = self.now()
        rules = self.rules
        start = rules.product_at(now)
        out: list[ProductDepth] = []
        while len(out) < count and rules.opens_at(start) <= now:
            if rules.gate_closure(start) > now:
                out.append(self._depth(start, now))
            start += rules.period_s
        return tuple(out)

    def product_depth(self, product: int, levels: int = 1000) -> ProductDepth:
        """One product's book with up to ``levels`` price levels a side (the depth chart's and ladder's)."""
        bids, asks = self.book.depth(product, levels)
        base = self._depth(product, self.now())
        return ProductDepth(product, tuple(bids), tuple(asks), base.best_bid, base.best_ask, base.last_price,
                            base.volume_wh, base.gate_closure_in_s)

    def trades_in(self, product: int) -> list[TradeView]:
        """Every trade of ``product``, oldest first, while the book holds it (kept as each trade is journaled;
        a closed product's leave memory with its orders)."""
        return self._product_trades.get(product, [])

    def participants(self) -> list[str]:
        """Every participant that ever placed an order, sorted."""
        return sorted(self._orders_of)

    def settlement_of(self, trade: TradeView) -> SettlementView:
        """Where a trade's settlement stands. A settlement adapter that tracks trades answers through
        ``state_of(trade) -> SettlementView``; without one every trade is (and stays) matched."""
        state_of = getattr(self.settlement_states or self.settlement, "state_of", None)
        if callable(state_of):
            found = state_of(trade)
            if isinstance(found, SettlementView):
                return found
        return SettlementView(SettlementState.MATCHED, None, "")

    def screen(self, product: int | None, account: str | None, levels: int = 1000,
               strip: int = 8) -> MarketScreen:
        """Everything the trading tab shows at one instant: the strip of the next products, the selected
        product's deep book and trades, the reference price with its components, the acting account's
        open orders, the tape, and the suspension that applies."""
        snap = self.snapshot()
        upcoming = self.upcoming(strip)
        if product is None and upcoming:
            product = upcoming[0].product
        depth = self.product_depth(product, levels) if product is not None else None
        trades = tuple(self.trades_in(product)) if product is not None else ()
        orders = tuple(self.orders_of(account, open_only=True)) if account else ()
        return MarketScreen(snap.ts, self.revision(), upcoming, depth, trades, snap.recent_trades,
                            self.reference, snap.grid, orders, self.suspension(product), snap.failure)

    def positions(self) -> list[ParticipantPosition]:
        """Every participant's trading so far, by product: energy bought and sold, what it cost and
        earned, and the gain against the reference price at each trade's time (a buyer gains what it
        paid below it, a seller what it got above it; trades before the first reference price count 0)."""
        per_who: dict[str, dict[int, list[float]]] = {w: {p: list(r) for p, r in rows.items()}
                                                      for w, rows in self._closed_positions.items()}
        totals = {w: list(t) for w, t in self._closed_totals.items()}
        self._fold_positions(self._product_trades.values(), per_who, totals)
        out = []
        for who in sorted(per_who):
            per = per_who[who]
            products = tuple(ProductPosition(p, int(r[0]), int(r[1]), r[2], r[3]) for p, r in sorted(per.items()))
            out.append(ParticipantPosition(who, products, int(totals[who][0]), totals[who][1]))
        return out

    def _fold_positions(self, trade_lists: Iterable[list[TradeView]], per_who: dict[str, dict[int, list[float]]],
                        totals: dict[str, list[float]]) -> None:
        """Add the trades to the positions: per participant and product [bought, sold, cost, earnings], and per
        participant [trades, gain vs the reference price at each trade's time]."""
        refs = self.reference_history()
        ref_ts = [r.ts for r in refs]
        for trades in trade_lists:
            for t in trades:
                value = t.price * t.quantity / 1000
                i = bisect.bisect_right(ref_ts, t.ts) - 1
                ref = refs[i].price if i >= 0 else None
                for who in dict.fromkeys((t.buyer, t.seller)):
                    row = per_who.setdefault(who, {}).setdefault(t.product, [0, 0, 0.0, 0.0])
                    total = totals.setdefault(who, [0, 0.0])
                    total[0] += 1
                    if t.buyer == who:
                        row[0] += t.quantity
                        row[2] += value
                        if ref is not None:
                            total[1] += (ref - t.price) * t.quantity / 1000
                    if t.seller == who:
                        row[1] += t.quantity
                        row[3] += value
                        if ref is not None:
                            total[1] += (t.price - ref) * t.quantity / 1000

    # suspension: the operator halts trading (all products or one) with a reason; cancels stay allowed, so
    # participants can always take their orders out of a halted market.

    def suspension(self, product: int | None = None) -> Suspension | None:
        """The suspension that stops trading in ``product`` (the whole market's first), or None."""
        return self._halts.get(None) or (self._halts.get(product) if product is not None else None)

    def suspensions(self) -> tuple[Suspension, ...]:
        """Every suspension in force, the whole market's first, then by product."""
        return tuple(sorted(self._halts.values(), key=lambda s: -1 if s.product is None else s.product))

    def check_trading(self, product: int) -> None:
        """Raise :class:`MarketSuspended` when trading in ``product`` is suspended."""
        if self._halts:
            halt = self.suspension(product)
            if halt is not None:
                raise MarketSuspended(halt)

    async def suspend(self, reason: str, product: int | None = None, *, by: User) -> Suspension:
        """Suspend trading in ``product`` (None: every product); new orders and modifications are refused
        until :meth:`resume`. Needs ``market.suspend``; audited (refusals too)."""
        target = "market" if product is None else f"market.product {product}"
        reason = reason.strip()
        await self._market_require(by, target, f"suspend: {reason}")
        if not reason:
            raise ValueError("a suspension needs a reason (it is shown to every trader and in the audit log)")
        if product is not None and not self.rules.is_product(product):
            raise ValueError(f"{product} is not a delivery product (a multiple of {self.rules.period_s} s)")
        halt = Suspension(product, reason, by.name, self.now())
        self._halts[product] = halt
        self._halt_version += 1
        self._snapshot = None
        log.warning("trading suspended in %s by %s: %s", target, by.name, reason)
        await self._market_audit(by, "market.suspend", target, None, reason, "suspended")
        return halt

    async def resume(self, product: int | None = None, *, by: User) -> None:
        """Lift the suspension of ``product`` (None: the whole market's; a product's own stays)."""
        target = "market" if product is None else f"market.product {product}"
        await self._market_require(by, target, "resume")
        halt = self._halts.pop(product, None)
        self._halt_version += 1
        log.warning("trading resumed in %s by %s", target, by.name)
        await self._market_audit(by, "market.resume", target, halt.reason if halt else None, None,
                                 "resumed" if halt else "was not suspended")

    async def _market_require(self, by: User, target: str, new: str) -> None:
        try:
            require(by, Action.MARKET_SUSPEND)
        except PermissionDenied as exc:
            log.warning("refused: %s", exc)
            await self._market_audit(by, Action.MARKET_SUSPEND.value, target, None, new, f"refused: {exc}")
            raise

    async def _market_audit(self, by: User, action: str, target: str, old: str | None, new: str | None,
                            result: str) -> None:
        if self.audit is None:
            return
        try:
            await asyncio.to_thread(self.audit.record_audit, time.time(), by.name, action, target, old, new, result)
        except Exception:
            log.exception("could not write the audit entry for %s of %s", action, target)

    # -- internals -----------------------------------------------------------------------------------------

    def _grid_view(self) -> GridView | None:
        return grid_view(self._grid())

    def _decide(self, decision: Callable[[int], list[Event]]) -> list[Event]:
        if not self._started:
            raise MarketUnavailable("the market is not running")
        if self.failure is not None:
            raise MarketUnavailable(f"the market stopped taking orders: {self.failure}")
        return decision(self.now())

    async def _commit(self, events: list[Event], order_id: str | None) -> Outcome:
        first = len(self.book.journal) - len(events)
        entries = tuple(JournalEntry(first + i, ev) for i, ev in enumerate(events))
        traded = [e for e in entries if isinstance(e.event, Traded)]
        trades = tuple(t for t in (self._index(e.seq, e.event) for e in entries) if t is not None)
        self._unstored.extend(trades)  # (left when the writer has stored them: _flush)
        self.trades_made += len(trades)
        touched = dict.fromkeys(oid for ev in events for oid in _order_ids(ev))
        views = tuple(v for v in (self.book.order(i) for i in touched) if v is not None)
        # Every journaled event has now been handed to its command's entries (each command reads its events
        # before it awaits): the in-memory journal keeps none of them (the store has them once written).
        self.book.journal.discard_below(first + len(entries))
        closes = any(type(ev) is ProductClosed for ev in events)
        fills = tuple((t.seq, e.event, t.buyer, t.seller) for t, e in zip(trades, traded, strict=True)
                      if isinstance(e.event, Traded))
        if entries:
            self._snapshot = None
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._pending.append((JournalBatch(entries, views, fills), done))
            assert self._wake is not None
            self._wake.set()
            await done
            if self.settlement is not None:  # (without a port nobody drains it: it held every trade of the run)
                self.unsettled.extend(e.event for e in traded if isinstance(e.event, Traded))
            self._accepted += sum(1 for ev in events if type(ev) is Accepted)
            if closes:  # the closed products' final rows are stored: the store answers for them from now on
                self._unverified += [o.view() for o in self._compact()]
            self._checkpoint()
            if self._subscribers:  # the depth of the touched products is computed only for someone to read
                products = {ev.product for ev in events if isinstance(ev, Traded)}
                products |= {self.book.orders[i].spec.product for i in touched if i in self.book.orders}
                now = self.now()
                books = tuple(self._depth(p, now) for p in sorted(products) if p in self.book.products)
                self._publish(MarketUpdate(first + len(entries), trades, books, self.reference))
        order = None
        if order_id:  # (the view decided, if a gate closure has compacted the order while it was stored)
            order = self.book.order(order_id) or next((v for v in views if v.order_id == order_id), None)
        return Outcome(tuple(events), order, trades)

    async def _write_loop(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush()
            if not self._started and not self._pending:
                return  # stopped, and everything decided is stored (or refused)

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            await asyncio.to_thread(self.journal.append, [b for b, _ in batch])
        except Exception as exc:
            self.failure = f"journal write failed: {exc}"
            self._snapshot = None
            log.error("market: %s; no further orders are taken until the console is restarted", self.failure)
            for _, fut in batch + self._pending:
                if not fut.done():
                    fut.set_exception(MarketUnavailable(self.failure))
            self._pending = []
            # Every unstored trade was in these refused groups: never stored, never acknowledged, and a
            # restart's replay will not have them, so the history does not show them either.
            self._unstored.clear()
            return
        stored = max((b.entries[-1].seq for b, _ in batch if b.entries), default=-1)
        unstored = self._unstored
        while unstored and unstored[0].seq <= stored:
            unstored.popleft()
        self._stored = max(self._stored, stored + 1)
        for _, fut in batch:
            if not fut.done():
                fut.set_result(None)

    async def _tick_loop(self) -> None:
        while True:
            try:
                await self.tick()
            except MarketUnavailable:
                pass  # reported once by the writer
            except Exception:
                log.exception("market tick failed")
            await asyncio.sleep(self.tick_s)

    async def _settle_loop(self) -> None:
        assert self.settlement is not None
        while True:
            await asyncio.sleep(1.0)
            if not self.unsettled:
                continue
            batch = list(self.unsettled)
            try:
                await self.settlement.submit_batch(batch)
            except Exception as exc:
                log.warning("settlement of %d trades deferred: %s", len(batch), exc)
                continue
            for _ in batch:
                self.unsettled.popleft()

    # -- the restart checkpoint (docs/decisions.md 2026-12-03) ------------------------------------------------

    async def _resume(self) -> int | None:
        """Take the open state from the journal's checkpoint, if it has a readable one: the book, what the
        service keeps of the closed products, and the open products' trades from the store; the journal
        position to replay from (None: no checkpoint, replay everything)."""
        load = getattr(self.journal, "load_checkpoint", None)
        if not callable(load):
            return None
        try:
            found = await asyncio.to_thread(load)
            if found is None:
                return None
            seq, text, bits = found
            state = json.loads(text)
            book = load_book(self.rules, state["book"])
            if len(book.journal) != seq or len(bits) != len(self._forgotten.bits):
                raise CheckpointError(f"checkpoint at {seq} holds the state at {len(book.journal)}")
            rows = await asyncio.to_thread(self.journal.fills_in, list(book.products), seq)  # type: ignore[attr-defined]
            recent = await asyncio.to_thread(self.journal.recent_fills, self._recent.maxlen or 0, seq)  # type: ignore[attr-defined]
            participants = [str(w) for w in state["participants"]]
            compacted, accepted = int(state["compacted"]), int(state["accepted"])
            closed_problems = [str(p) for p in state["problems"]]
            positions = {str(w): {int(p): list(r) for p, r in rows_.items()}
                         for w, rows_ in state["positions"].items()}
            totals = {str(w): list(t) for w, t in state["totals"].items()}
            trades = [_trade_view(r) for r in rows]
            tape = [_trade_view(r) for r in recent]
        except Exception as exc:  # an unreadable checkpoint costs the time of a full replay, nothing else
            log.warning("market checkpoint not used (the whole journal is replayed): %s", exc)
            return None
        self.book = book
        self._forgotten.bits[:] = bits
        self.compacted_orders = compacted
        self._accepted = accepted
        self._closed_problems = closed_problems
        self._closed_positions = positions
        self._closed_totals = totals
        self._orders_of = {who: [] for who in participants}
        for order in book.orders.values():
            self._orders_of.setdefault(order.participant, []).append(order.order_id)
        for t in trades:
            self._product_trades.setdefault(t.product, []).append(t)
            self._volume[t.product] = self._volume.get(t.product, 0) + t.quantity
        self._recent.extend(tape)
        return int(seq)

    def _checkpoint(self, force: bool = False) -> None:
        """Write a checkpoint of the open state (in the background) when a product closed since the last one
        (``force``: in any case), once every event decided is stored and the closed products are compacted;
        the forgotten orders' rows are checked first and any mismatch is reported and kept in it."""
        if not (force or self._unverified):
            return
        if self._checkpoint_task is not None:  # (a closure while the one before is written: not lost, next)
            self._checkpoint_again = True
            return
        if self.failure is not None or self._stored != len(self.book.journal) \
                or not callable(getattr(self.journal, "save_checkpoint", None)):
            return
        try:
            book = dump_book(self.book)
        except CheckpointError:
            return  # a closed product is not compacted yet (its command resumes next): the next commit retries
        state = {"book": book, "compacted": self.compacted_orders, "accepted": self._accepted,
                 "participants": sorted(self._orders_of),
                 "positions": {w: {str(p): list(r) for p, r in rows.items()} for w, rows in
                               self._closed_positions.items()},
                 "totals": {w: list(t) for w, t in self._closed_totals.items()}}
        views, self._unverified = self._unverified, []
        self._checkpoint_task = asyncio.create_task(
            self._write_checkpoint(state, bytes(self._forgotten.bits), views), name="market-checkpoint")

    async def _write_checkpoint(self, state: dict[str, object], bits: bytes, views: list[OrderView]) -> None:
        checked = False
        try:
            found = await self._check_rows(views) if views else []
            checked = True
            for p in found:
                log.error("market journal mismatch (not corrected; investigate before trading on): %s", p)
            if found:
                self._closed_problems += found
                self.mismatches += tuple(found)
                self._snapshot = None
            state["problems"] = list(self._closed_problems)
            text = await asyncio.to_thread(json.dumps, state, separators=(",", ":"))
            position = int(state["book"]["position"])  # type: ignore[index]
            await asyncio.to_thread(self.journal.save_checkpoint, position, text, bits)  # type: ignore[attr-defined]
        except Exception:
            log.exception("market checkpoint not written (the next start replays from the one before)")
            if not checked:
                self._unverified = views + self._unverified
        finally:
            self._checkpoint_task = None
            if self._checkpoint_again:
                self._checkpoint_again = False
                self._checkpoint(force=True)

    async def checkpoints_written(self) -> None:
        """Wait until no checkpoint is being written (one asked for meanwhile included)."""
        while self._checkpoint_task is not None:
            await asyncio.shield(self._checkpoint_task)

    def _index(self, seq: int, ev: Event) -> TradeView | None:
        """Keep the per-participant indexes, the recent tape and the volumes up to date with one event."""
        if isinstance(ev, Accepted):
            self._orders_of.setdefault(ev.order.participant, []).append(ev.order.order_id)
        if not isinstance(ev, Traded):
            return None
        buyer = self.book.orders[ev.buy_id].participant
        seller = self.book.orders[ev.sell_id].participant
        t = TradeView(seq, ev.ts, ev.product, ev.price, ev.quantity, buyer, seller, ev.buy_id, ev.sell_id,
                      ev.aggressor)
        self._recent.append(t)
        self._product_trades.setdefault(ev.product, []).append(t)
        self._volume[ev.product] = self._volume.get(ev.product, 0) + ev.quantity
        return t

    async def _check_rows(self, views: list[OrderView]) -> list[str]:
        """The differences between these replayed orders and their stored rows, one line each (sorted by id)."""
        rows = {r.order_id: r for r in await asyncio.to_thread(self.journal.stored_orders_in,
                                                                [v.order_id for v in views])}
        problems = []
        for live in sorted(views, key=lambda v: v.order_id):
            row = rows.get(live.order_id)
            if row is None:
                problems.append(f"order {live.order_id}: in the journal but has no stored row")
            elif live != row:
                problems.append(_diff(live.order_id, row, live))
        return problems

    def _compact(self) -> list[Order]:
        """Let the book forget its closed products (their orders, trades by product, volumes) and drop their
        ids from the participants' indexes; the orders forgotten."""
        gone = self.book.compact()
        if not gone:
            return []
        products = {o.spec.product for o in gone}
        trades = [self._product_trades.pop(p, []) for p in sorted(products)]
        self._fold_positions(trades, self._closed_positions, self._closed_totals)
        for p in products:
            self._volume.pop(p, None)
        held = self.book.orders
        for who, ids in self._orders_of.items():
            if any(i not in held for i in ids):
                self._orders_of[who] = [i for i in ids if i in held]
        for order in gone:
            self._forgotten.add(order.order_id)
        self.compacted_orders += len(gone)
        self._snapshot = None
        return gone

    def _depth(self, product: int, now: int) -> ProductDepth:
        bids, asks = self.book.depth(product, self.depth_levels)
        return ProductDepth(product, tuple(bids), tuple(asks), self.book.best_bid(product),
                            self.book.best_ask(product), self.book.last_price(product),
                            self._volume.get(product, 0), self.rules.gate_closure(product) - now)

    def _publish(self, update: MarketUpdate) -> None:
        for sub in list(self._subscribers):
            sub.offer(update)


class IdFilter:
    """A Bloom filter of order ids in a fixed ``2**bits`` bits (1 MiB by default): ``may_hold`` is False for an
    id never added, True for every id added (and, rarely, for one that was not: the caller then asks the store).
    With 1 M ids the false-positive rate is ~1 %; it grows with the ids added, its memory does not."""

    __slots__ = ("_bits", "_mask")

    def __init__(self, bits: int = 23) -> None:
        self._bits = bytearray(1 << (bits - 3))
        self._mask = (1 << bits) - 1

    @property
    def bits(self) -> bytearray:
        """The filter's bytes (a checkpoint keeps them)."""
        return self._bits

    def _positions(self, order_id: str) -> tuple[int, int, int]:
        h = int.from_bytes(hashlib.blake2b(order_id.encode(), digest_size=16).digest(), "little")
        m = self._mask
        return h & m, (h >> 40) & m, (h >> 80) & m

    def add(self, order_id: str) -> None:
        bits = self._bits
        for p in self._positions(order_id):
            bits[p >> 3] |= 1 << (p & 7)

    def may_hold(self, order_id: str) -> bool:
        bits = self._bits
        return all(bits[p >> 3] & (1 << (p & 7)) for p in self._positions(order_id))


_SIDES = {s.value: s for s in Side}


def _trade_view(r: Sequence[Any]) -> TradeView:
    """A stored trade (a tuple of the journal's ``FILL_COLUMNS``, the ``TradeView`` fields in order) as
    readers see it."""
    return TradeView(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], _SIDES[r[9]])


def _order_ids(ev: Event) -> Iterator[str]:
    if isinstance(ev, Accepted):
        yield ev.order.order_id
    elif isinstance(ev, Traded):
        yield ev.buy_id
        yield ev.sell_id
    else:
        oid = getattr(ev, "order_id", None)
        if isinstance(oid, str):
            yield oid


def _diff(order_id: str, row: OrderView, live: OrderView) -> str:
    diff = ", ".join(f"{f} stored {getattr(row, f)!r} replayed {getattr(live, f)!r}"
                     for f in live._fields if getattr(row, f) != getattr(live, f))
    return f"order {order_id}: {diff}"


# -- screens ----------------------------------------------------------------------------------------------


class SettlementState(enum.Enum):
    """A trade's way to being paid: matched in the book → settled on chain → delivered (metered) → paid;
    or disputed on the way."""

    MATCHED = "matched"
    SETTLED = "settled"
    DELIVERED = "delivered"
    PAID = "paid"
    DISPUTED = "disputed"
    FAILED = "failed"      # not settled on chain: the reason is in the detail, an operator retries


@dataclass(frozen=True, slots=True)
class SettlementView:
    """A trade's settlement state, its transaction (hash) once on chain, and a detail (why disputed)."""

    state: SettlementState
    tx: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class Suspension:
    """Trading halted by an operator: in one product, or everywhere (``product`` None)."""

    product: int | None
    reason: str
    by: str
    ts: int

    def describe(self, where: str | None = None) -> str:
        """``trading suspended in all products by ann: reason``; ``where`` names the product for a reader
        (the API says ``product 1796183100 (delivery 03:45Z)``, a screen its local period)."""
        if where is None:
            where = "all products" if self.product is None else (
                f"product {self.product} (delivery {time.strftime('%Y-%m-%d %H:%M', time.gmtime(self.product))}Z)")
        return f"trading suspended in {where} by {self.by}: {self.reason}"


class MarketSuspended(MarketUnavailable):
    """An order or modification in a suspended market (the API answers 503 with the reason)."""

    def __init__(self, halt: Suspension) -> None:
        self.halt = halt
        super().__init__(halt.describe())


@dataclass(frozen=True, slots=True)
class MarketScreen:
    """What the trading tab shows at one instant (see :meth:`MarketService.screen`)."""

    ts: int
    revision: tuple[int, int, int]
    upcoming: tuple[ProductDepth, ...]
    depth: ProductDepth | None  # the selected product's deep book
    trades: tuple[TradeView, ...]  # the selected product's trades, oldest first
    tape: tuple[TradeView, ...]  # every product's recent trades, newest last
    reference: PriceComponents | None
    grid: GridView | None
    open_orders: tuple[OrderView, ...]  # the acting account's
    suspension: Suspension | None  # what stops trading in the selected product
    failure: str | None


@dataclass(frozen=True, slots=True)
class ProductPosition:
    """One participant's trades in one product: Wh bought and sold, money (base units) paid and received."""

    product: int
    bought_wh: int
    sold_wh: int
    cost: float
    earnings: float

    @property
    def net_wh(self) -> int:
        """Bought minus sold: positive, the participant takes energy in that period."""
        return self.bought_wh - self.sold_wh


@dataclass(frozen=True, slots=True)
class ParticipantPosition:
    """One participant's trading (see :meth:`MarketService.positions`)."""

    participant: str
    products: tuple[ProductPosition, ...]
    trades: int
    gain_vs_reference: float

    @property
    def bought_wh(self) -> int:
        return sum(p.bought_wh for p in self.products)

    @property
    def sold_wh(self) -> int:
        return sum(p.sold_wh for p in self.products)

    @property
    def cost(self) -> float:
        return sum(p.cost for p in self.products)

    @property
    def earnings(self) -> float:
        return sum(p.earnings for p in self.products)
