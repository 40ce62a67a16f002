"""Settlement of the market's matches on chain: signed orders kept, matches batched, their fate tracked.

The participant API stores every signed order (:meth:`SettlementService.remember`) before the book sees it,
so every fill can be settled. Each trade the market journals becomes a *match* (keyed by its journal
position ``seq``), stored as ``matched``; matches are batched (up to ``batch_size``, or after ``max_wait_s``)
into one ``OrderSettlement.settleBatch`` command through the gateway outbox, valid until the earliest
deadline of its matches (delivery start, and ``max_settle_delay_s`` after the match: what the contract
accepts). A match then follows the chain's events, never a guess:

    matched -> batched -> settled (OrderSettled) -> delivered (SettlementProposed) -> paid (SettlementFinalized)
                     \\-> failed (MatchFailed with its reason; the batch refused, reverted or expired)

After delivery the service proposes each trade's settlement from the seller's metered export and finalises
it once the dispute window has passed (both are MATCHER calls anyone may check on chain).

On start it rebuilds its state from the store and the market journal (fills journaled but never recorded
are recorded now: the journal is the source of truth for matches), re-queues batches the outbox never got,
follows the chain events from its cursor and compares: an event that contradicts the journal (another
quantity or price, an unknown match, an order cancelled on chain that the book still holds open) is a
:class:`Mismatch`: logged, kept in :attr:`SettlementService.mismatches` and sent to listeners; nothing is
corrected silently. Failed matches stay failed until an operator retries them (:meth:`retry`).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import time
from array import array
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from console.services.alarm_sources import SettlementListener, SettlementOutcome, SettlementReport
from console.services.market import SettlementState, SettlementView
from console.services.settlement_model import (  # re-exported: the service's vocabulary
    CONTRACT,
    FAILURES,
    MarketReader,
    MatchRecord,
    MatchState,
    Mismatch,
    NonceReused,
    SettlementChain,
    SettlementStore,
    SettlementUnavailable,
    SignedOrder,
    SignedOrders,
    order_tuple,
    trade_value,
)
from core.chain import ChainCommand, ChainEvent, TxState
from core.tasks import cancel_all_and_wait

log = logging.getLogger(__name__)

# A proposal or finalisation is news for this long; one that could not be sent by then (the chain was down)
# expires in the outbox and is issued afresh from the chain's state then.
PAYOUT_CALL_VALID_S = 600.0
# Dispute window ends read from the chain per step, at once: a delivery period's proposals land together (1 246
# in one soak), and reading them one after another held the step (no trade recorded, no batch sent) for over
# ten minutes on a loaded machine. The rest are read at the next steps.
FINAL_READS_PER_STEP = 100


# How often the signed orders and dispute windows of closed matches are dropped from memory (s).
PRUNE_EVERY_S = 10.0

# Finished (paid or failed) matches stay in memory only once stored, and only this many of the most recent (or
# read back): for matches() and the trade tape; any older one is read from the store (issue 11).
RECENT_FINISHED = 500

_OPEN_STATES = tuple(s for s in MatchState if s.open)

# The long waits of an open match (issue 11): settled until its delivery ends (up to ~50 min in the demo),
# delivered until its dispute window ends (60 min). A match in one of these is held only as its seq, state and
# trade id (and its seq under the time it is due); its record is read back from the store when it is due, when a
# chain event names it, or when asked for. The RECENT_WAITING latest settled or read keep their record (the tape's).
_WAITING = (MatchState.SETTLED, MatchState.DELIVERED)
RECENT_WAITING = 500

# A match's state as the trade tape shows it.
_TAPE_STATES = {MatchState.MATCHED: SettlementState.MATCHED, MatchState.BATCHED: SettlementState.MATCHED,
                MatchState.SETTLED: SettlementState.SETTLED, MatchState.PROPOSED: SettlementState.SETTLED,
                MatchState.DELIVERED: SettlementState.DELIVERED, MatchState.FINALIZING: SettlementState.DELIVERED,
                MatchState.PAID: SettlementState.PAID, MatchState.DISPUTED: SettlementState.DISPUTED,
                MatchState.FAILED: SettlementState.FAILED}

# The Settlement events that move one of our trades on (each names its tradeId).
_TRADE_EVENTS = ("TradeOpened", "SettlementProposed", "SettlementDisputed", "SettlementFinalized")

# A match's state as the alarms see it; any other state after one of these clears it.
_OUTCOMES = {MatchState.FAILED: SettlementOutcome.FAILED, MatchState.DISPUTED: SettlementOutcome.DISPUTED}


class SettlementService:
    """Batches the market's matches to OrderSettlement and follows each to paid or failed."""

    def __init__(self, store: SettlementStore, chain: SettlementChain, market: MarketReader, *,
                 batch_size: int = 20, max_wait_s: float = 0.2, max_settle_delay_s: int = 900,
                 period_s: int = 900, poll_s: float = 0.1, retry_after_s: float = 30.0,
                 clock: Callable[[], float] = time.time,
                 order_digest: Callable[[dict[str, Any]], str] | None = None) -> None:
        if not 1 <= batch_size <= 100:
            raise ValueError(f"settlement batch_size must be 1..100, got {batch_size}")
        self.store, self.chain, self.market = store, chain, market
        self.batch_size, self.max_wait_s, self.max_settle_delay_s = batch_size, max_wait_s, max_settle_delay_s
        self.poll_s, self.clock = poll_s, clock
        # The EIP-712 digest of a signed order's message, as the contract names orders in its events. An
        # offer's book id is that digest already; an execute's ("x:…", from its Idempotency-Key) is not.
        self.order_digest = order_digest
        self.period_s, self.retry_after_s = period_s, retry_after_s
        self.mismatches: list[Mismatch] = []
        self.listeners: list[Callable[[Mismatch], None]] = []
        self._reports: list[SettlementListener] = []  # the alarms' settlement hook (subscribe)
        self.latencies: deque[float] = deque(maxlen=10_000)  # match recorded -> settled on chain, s
        # Memory is bounded by the OPEN matches (issue 11): a paid or failed match leaves once it is stored.
        self._matches: dict[int, MatchRecord] = {}  # seq -> the open matches not waiting (see _waiting)
        self._by_state: dict[MatchState, dict[int, MatchRecord]] = {s: {} for s in _OPEN_STATES}
        # the waiting (settled, delivered) matches, compact: seq -> state, and their seqs by the time they are due:
        # delivery end (settled) and dispute window end (delivered; read from the chain once, _unread_final until
        # then: seq -> trade id); each with a heap of those times. A seq there that moved on is skipped when due.
        self._waiting: dict[int, MatchState] = {}
        self._due: dict[int, array[int]] = {}
        self._due_at: list[int] = []
        self._final: dict[int, array[int]] = {}
        self._final_at: list[int] = []
        self._unread_final: dict[int, int] = {}
        self._waiting_recent: OrderedDict[int, MatchRecord] = OrderedDict()  # records of the latest (RECENT_WAITING)
        self._loaded: dict[int, MatchRecord] = {}  # waiting records read back for the step in progress
        self._recent: OrderedDict[int, MatchRecord] = OrderedDict()  # finished, most recent last (RECENT_FINISHED)
        self._counts: dict[MatchState, int] = {}  # every stored match, per state (kept as the states change)
        self._last_seq = -1  # the highest match recorded: a trade after it is not recorded yet
        self._by_trade: dict[int, int] = {}  # trade id -> seq, of the open matches
        self._orders: dict[str, SignedOrder] = {}
        self._cursor: tuple[int, int] = (-1, -1)
        self._sub: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._pending_orders: list[tuple[SignedOrder, asyncio.Future[None]]] = []
        self._order_wake = asyncio.Event()
        # (signer, nonce) -> order id of the signed orders on their way to the store (the store answers for
        # the stored ones): at most the orders in flight.
        self._nonces: dict[tuple[str, str], str] = {}
        self._pruned_at = 0.0

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Rebuild from store and journal, re-queue lost batches, reconcile with the chain, then run."""
        await self._load()
        for seq in await asyncio.to_thread(self.store.unjournaled):
            self._report("unknown-match", seq, "a settlement record for a trade the market journal does not have")
        self._sub = self.market.subscribe(maxsize=100_000)
        await self._follow_events()
        self._requeue_lost_batches()
        await self._check_last_seq()
        self._tasks = [asyncio.create_task(self._run(), name="settlement"),
                       asyncio.create_task(self._order_writer(), name="settlement-orders")]
        log.info("settlement: %d match(es), %d open, cursor %s, %d mismatch(es)", sum(self._counts.values()),
                 len(self._matches) + len(self._waiting), self._cursor, len(self.mismatches))

    async def _load(self) -> None:
        """The store's open matches into memory (the finished ones only counted, read when asked for), the
        journaled trades never recorded recorded now, and the chain event cursor."""
        # only the open matches come back into memory, the waiting ones in compact form; the finished ones are
        # counted and read when asked for
        hot = [s for s in _OPEN_STATES if s not in _WAITING]
        for m in await asyncio.to_thread(self.store.matches, True, hot):
            self._put(m)
        for seq, state, trade_id, delivery_end in await asyncio.to_thread(self.store.keys_in, _WAITING):
            self._hold_waiting(seq, state, trade_id, delivery_end if state is MatchState.SETTLED else None, None)
        self._counts = await asyncio.to_thread(self.store.counts)
        last = await asyncio.to_thread(self.store.last_seq)
        self._last_seq = -1 if last is None else last
        missing = await asyncio.to_thread(self.store.journal_fills_after, self._last_seq)
        if missing:
            now = self.clock()
            fresh = [replace(m, recorded=now, updated=now) for m in missing]
            await self._record(fresh)
            log.info("settlement: %d journaled trade(s) recorded at start (the console stopped before it had)",
                     len(fresh))
        stored_cursor = await asyncio.to_thread(self.store.cursor)
        self._cursor = stored_cursor if stored_cursor is not None else (-1, -1)

    async def stop(self) -> None:
        await cancel_all_and_wait(self._tasks)
        self._tasks = []
        if self._sub is not None:
            self._sub.close()
        await asyncio.to_thread(self.store.close)

    # -- the API's signed orders -------------------------------------------------------------------------

    async def remember(self, order_id: str, message: dict[str, Any], signature: str) -> None:
        """Keep a verified signed order; returns once it is stored (group commit with concurrent ones)."""
        order = SignedOrder(order_id, str(message["participant"]), dict(message), signature)
        key = (order.participant.lower(), str(message["nonce"]))
        known = self._nonces.get(key)
        if known is None:
            known = await asyncio.to_thread(self.store.order_with_nonce, *key)
        if known is not None and known != order_id:
            raise NonceReused(f"nonce {message['nonce']} of {order.participant} already signed order {known}; "
                              "sign each order with a new nonce")
        self._nonces[key] = order_id
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending_orders.append((order, done))
        self._order_wake.set()
        await done

    async def forget(self, order_id: str) -> None:
        """The book refused the order (it is not in the book): its nonce is free again, nothing is kept."""
        order = self._orders.pop(order_id, None)
        if order is not None:
            self._nonces.pop((order.participant.lower(), str(order.message["nonce"])), None)
        else:
            self._nonces = {k: v for k, v in self._nonces.items() if v != order_id}
        await asyncio.to_thread(self.store.forget, order_id)

    async def _order_writer(self) -> None:
        while True:
            await self._order_wake.wait()
            self._order_wake.clear()
            batch, self._pending_orders = self._pending_orders, []
            if not batch:
                continue
            try:
                await asyncio.to_thread(self.store.remember, [o for o, _ in batch])
            except Exception as exc:
                log.error("settlement: %d signed order(s) not stored: %s", len(batch), exc)
                for o, fut in batch:
                    self._nonces.pop((o.participant.lower(), str(o.message["nonce"])), None)
                    if not fut.done():
                        fut.set_exception(SettlementUnavailable(f"signed orders cannot be stored: {exc}"))
                continue
            for o, fut in batch:
                # Stored: the store answers for its nonce from now on, and a batch or payout that needs the
                # signed order reads it back (most orders never trade; keeping each here grew without bound).
                if self._nonces.get(key := (o.participant.lower(), str(o.message["nonce"]))) == o.order_id:
                    del self._nonces[key]
                if not fut.done():
                    fut.set_result(None)

    # -- reads ---------------------------------------------------------------------------------------------

    def match(self, seq: int) -> MatchRecord | None:
        """A match by its journal position: an open or recently finished one from memory, an older finished one
        or a waiting one (settled or delivered) not among the latest read from the store (one primary-key row,
        on the caller's thread)."""
        return self._known(seq)

    def matches(self) -> list[MatchRecord]:
        """The open matches and the most recently finished (or read back) ones, at most RECENT_FINISHED of
        those, by seq. Every match of the run is in the store (settlement_matches); the waiting ones whose record
        is not held are read from it (one query per 500, on the caller's thread: for tests and tools)."""
        held = {**self._waiting_recent, **self._loaded}
        missing = [s for s in self._waiting if s not in held]
        waiting = [held[s] for s in self._waiting if s in held] + (self.store.matches_of(missing) if missing else [])
        return sorted([*self._matches.values(), *waiting, *self._recent.values()], key=lambda m: m.seq)

    def counts(self) -> dict[MatchState, int]:
        """How many matches of the store are in each state (the states present), kept as they change."""
        return {s: n for s, n in self._counts.items() if n}

    def _known(self, seq: int) -> MatchRecord | None:
        """The match ``seq`` from memory, else from the store (kept among the recent ones then)."""
        m = self._held(seq)
        if m is None and 0 <= seq <= self._last_seq:
            m = self.store.match(seq)
            if m is not None and not m.state.open:
                self._remember_finished(m)
            elif m is not None and seq in self._waiting:
                self._remember_waiting(m)
        return m

    def _held(self, seq: int) -> MatchRecord | None:
        """The record of match ``seq`` if memory has it (open, waiting and recent or read back, recently finished)."""
        return (self._matches.get(seq) or self._waiting_recent.get(seq) or self._loaded.get(seq)
                or self._recent.get(seq))

    def _open(self, seq: int) -> MatchRecord | None:
        """The open match ``seq`` (a waiting one read back from the store if its record is not held), else None."""
        m = self._matches.get(seq)
        if m is None and seq in self._waiting:
            m = self._waiting_recent.get(seq) or self._loaded.get(seq) or self.store.match(seq)
        return m

    def _remember_waiting(self, m: MatchRecord) -> None:
        self._waiting_recent[m.seq] = m
        self._waiting_recent.move_to_end(m.seq)
        while len(self._waiting_recent) > RECENT_WAITING:
            self._waiting_recent.popitem(last=False)

    def _hold_waiting(self, seq: int, state: MatchState, trade_id: int | None, due: int | None,
                      before: MatchState | None) -> None:
        """Hold the waiting match ``seq`` in compact form: its state, trade id and (settled) its seq under its
        delivery end ``due`` if that is new; a match newly delivered is due for its dispute window end read."""
        self._waiting[seq] = state
        if trade_id is not None:
            self._by_trade[trade_id] = seq
        if due is not None:
            _push(self._due, self._due_at, due, seq)
        if state is MatchState.DELIVERED and before is not MatchState.DELIVERED and trade_id is not None:
            self._unread_final[seq] = trade_id

    def _remember_finished(self, m: MatchRecord) -> None:
        self._recent[m.seq] = m
        self._recent.move_to_end(m.seq)
        while len(self._recent) > RECENT_FINISHED:
            self._recent.popitem(last=False)

    def _put(self, m: MatchRecord, before: MatchRecord | None = None) -> None:
        """Keep the stored ``m`` as the match's state in memory (``before`` its previous state, None if new):
        an open match in its state's index (a settled one in the delivery-end heap), a finished one only
        among the recent ones; the counts per state follow."""
        if before is not None:
            self._counts[before.state] = self._counts.get(before.state, 0) - 1
            if before.state.open:
                self._by_state[before.state].pop(m.seq, None)
        self._counts[m.state] = self._counts.get(m.state, 0) + 1
        self._last_seq = max(self._last_seq, m.seq)
        if m.state is not MatchState.DELIVERED:
            self._unread_final.pop(m.seq, None)
        if m.state in _WAITING:
            self._recent.pop(m.seq, None)
            self._matches.pop(m.seq, None)
            due = m.delivery_end if m.state is MatchState.SETTLED and (
                before is None or before.state is not MatchState.SETTLED
                or before.delivery_end != m.delivery_end) else None
            self._hold_waiting(m.seq, m.state, m.trade_id, due, None if before is None else before.state)
            # the record is kept when the match has just settled (the tape's latest trades) or is kept already: a
            # burst of proposals landing for a delivery period does not push the tape's rows out
            if m.seq in self._waiting_recent or (m.state is MatchState.SETTLED and (
                    before is None or before.state is not MatchState.SETTLED)):
                self._remember_waiting(m)
            return
        self._waiting.pop(m.seq, None)
        self._waiting_recent.pop(m.seq, None)
        if m.state.open:
            self._recent.pop(m.seq, None)
            self._matches[m.seq] = m
            self._by_state[m.state][m.seq] = m
            if m.trade_id is not None:
                self._by_trade[m.trade_id] = m.seq
            return
        self._matches.pop(m.seq, None)
        if m.trade_id is not None and self._by_trade.get(m.trade_id) == m.seq:
            del self._by_trade[m.trade_id]
        self._remember_finished(m)

    async def _record(self, fresh: Sequence[MatchRecord]) -> None:
        """Store new matches (journaled trades) and keep them, matched, in memory."""
        await asyncio.to_thread(self.store.record, fresh)
        for m in fresh:
            if m.seq not in self._matches:
                self._put(m)

    # -- operator ------------------------------------------------------------------------------------------

    async def retry(self, seqs: Sequence[int]) -> list[int]:
        """Batch these failed matches again (an operator's decision, e.g. after unpausing); the seqs taken.
        The contract still refuses any that settled, or a seq below the last settled one."""
        known = [self._known(s) for s in seqs]  # failed ones are finished: recent, or one stored row each
        chosen = [m for m in known if m is not None and m.state is MatchState.FAILED and m.trade_id is None]
        now = self.clock()
        again = [replace(m, state=MatchState.MATCHED, batch=None, error=None, updated=now) for m in chosen]
        await self._save(again)
        self._wake.set()
        return [m.seq for m in again]

    # -- the loop ------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("settlement step failed; trying again")
                await asyncio.sleep(1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()

    async def _step(self) -> None:
        await self._take_trades()
        await self._batch()
        await self._track_batches()
        await self._follow_events()
        await self._after_delivery()
        if self.clock() - self._pruned_at >= PRUNE_EVERY_S:
            self._prune()

    def _prune(self) -> None:
        """Keep in memory only what a match on its way to the chain still needs: the signed orders of the
        matches not yet settled (their batch carries the messages and signatures, the contract's events name
        their digests); the seqs filed under due times of matches that moved on are dropped once they are most
        of them. Once settled, a match's payout calls
        read its two orders back from the store when they are due (only their participants are needed); a
        match retried by the operator reads them back too."""
        self._pruned_at = self.clock()
        unsettled = (MatchState.MATCHED, MatchState.BATCHED)
        named = {i for state in unsettled for m in self._by_state[state].values() for i in (m.buy_id, m.sell_id)}
        self._orders = {k: o for k, o in self._orders.items() if k in named}
        for state, by_time in ((MatchState.SETTLED, self._due), (MatchState.DELIVERED, self._final)):
            if sum(map(len, by_time.values())) > 2 * self._counts.get(state, 0) + 64:  # mostly stale: rebuilt
                for t in list(by_time):
                    kept = array("q", (s for s in by_time[t] if self._waiting.get(s) is state))
                    if kept:
                        by_time[t] = kept
                    else:
                        del by_time[t]

    async def _take_trades(self) -> None:
        sub, fresh = self._sub, []
        now = self.clock()
        while sub is not None and not sub.queue.empty():
            update = sub.queue.get_nowait()
            if update is None:
                break
            fresh += [MatchRecord(t.seq, t.ts, t.product, t.price, t.quantity, t.buy_id, t.sell_id,
                                  recorded=now, updated=now) for t in update.trades if t.seq > self._last_seq]
        if sub is not None and sub.lagged:  # it dropped updates: read what the journal has instead
            self._sub = self.market.subscribe(maxsize=100_000)
            fresh = await asyncio.to_thread(self.store.journal_fills_after, self._last_seq)
            fresh = [replace(m, recorded=now, updated=now) for m in fresh]
            log.warning("settlement lagged behind the market; %d trade(s) read back from the journal", len(fresh))
        if fresh:
            await self._record(fresh)

    async def _batch(self) -> None:
        waiting = sorted(self._by_state[MatchState.MATCHED].values(), key=lambda m: m.seq)
        if not waiting:
            return
        if len(waiting) < self.batch_size and self.clock() - waiting[0].recorded < self.max_wait_s:
            return
        ids = {i for m in waiting for i in (m.buy_id, m.sell_id) if i not in self._orders}
        if ids:
            self._orders.update(await asyncio.to_thread(self.store.signed, sorted(ids)))
        now = self.clock()
        for start in range(0, len(waiting), self.batch_size):
            chunk = waiting[start:start + self.batch_size]
            unsigned = [m for m in chunk if m.buy_id not in self._orders or m.sell_id not in self._orders]
            if unsigned:
                await self._save([replace(m, state=MatchState.FAILED, updated=now,
                                          error="no signed order stored for "
                                          + ", ".join(i for i in (m.buy_id, m.sell_id) if i not in self._orders)
                                          + ": it did not come through the participant API; cannot settle on chain")
                                  for m in unsigned])
                chunk = [m for m in chunk if m not in unsigned]
            if not chunk:
                continue
            key = f"settle-{chunk[0].seq}-{chunk[-1].seq}-{sum(1 for _ in chunk)}-{int(now * 1000)}"
            batched = [replace(m, state=MatchState.BATCHED, batch=key, updated=now) for m in chunk]
            await self._save(batched)  # stored first: a restart re-queues a batch the outbox never got
            self.chain.submit(self._command(key, batched))

    def _command(self, key: str, chunk: Sequence[MatchRecord]) -> ChainCommand:
        args = []
        for m in chunk:
            b, s = self._orders[m.buy_id], self._orders[m.sell_id]
            args.append([m.seq, m.ts, m.quantity, m.price, order_tuple(b.message), order_tuple(s.message),
                         b.signature, s.signature])
        until = min(self.deadline(m) for m in chunk)
        return ChainCommand(key, CONTRACT, "settleBatch", (args,),
                            f"settle {len(chunk)} match(es) {chunk[0].seq}…{chunk[-1].seq}", valid_until=until)

    def deadline(self, m: MatchRecord) -> float:
        """Until when a match may still settle: its delivery start, and at most max_settle_delay after it was
        made (the contract refuses it after either: TooLate)."""
        return float(min(m.product, m.ts + self.max_settle_delay_s)) - 1.0

    def _requeue_lost_batches(self) -> None:
        by_batch: dict[str, list[MatchRecord]] = {}
        for m in self._by_state[MatchState.BATCHED].values():
            if m.batch is not None:
                by_batch.setdefault(m.batch, []).append(m)
        for key, chunk in by_batch.items():
            if self.chain.record(key) is None:
                chunk.sort(key=lambda m: m.seq)
                ids = {i for m in chunk for i in (m.buy_id, m.sell_id)} - set(self._orders)
                self._orders.update(self.store.signed(sorted(ids)))
                self.chain.submit(self._command(key, chunk))
                log.warning("settlement: batch %s was stored but never reached the outbox; queued now", key)

    async def _check_last_seq(self) -> None:
        """The contract's parameters against the market's rules, and its highest settled match against ours:
        higher means something settled that this console did not make."""
        try:
            on_chain = int(await self.chain.read(CONTRACT, "lastSeq"))
        except Exception as exc:  # the chain is down: the events tell later
            log.info("settlement: lastSeq not checked at start (%s)", exc)
            return
        rules = getattr(self.market, "rules", None)
        if rules is not None:
            period = int(await self.chain.read(CONTRACT, "period"))
            gate = int(await self.chain.read(CONTRACT, "gateClosure"))
            if (period, gate) != (rules.period_s, rules.gate_closure_s):
                self._report("parameters-differ", None, f"OrderSettlement has period {period} s and gate closure "
                             f"{gate} s, the market {rules.period_s} s and {rules.gate_closure_s} s: trades near "
                             "gate closure would fail on chain; align [market] or the contract (setParameters)")
        ours = await asyncio.to_thread(self.store.last_seq, True) or 0
        if on_chain > ours:
            self._report("chain-ahead", on_chain, f"the contract settled up to match {on_chain}, the journal's last "
                         f"settled match is {ours}: a match was settled that this console did not make")

    async def _track_batches(self) -> None:
        now, failed = self.clock(), []
        batched = self._by_state[MatchState.BATCHED]
        batches = {m.batch for m in batched.values() if m.batch}
        for key in batches:
            rec = self.chain.record(key)
            if rec is None or not rec.state.done or rec.state is TxState.CONFIRMED:
                continue  # confirmed: each match's fate comes with its event
            reason = f"batch {key} {rec.state.value}: {rec.error or 'no reason given'}"
            failed += [replace(m, state=MatchState.FAILED, error=reason, updated=now)
                       for m in batched.values() if m.batch == key]
            log.warning("settlement: %s (%d match(es) failed; an operator may retry them)", reason,
                        sum(1 for m in failed if m.batch == key))
        await self._save(failed)

    # -- chain events --------------------------------------------------------------------------------------

    async def _follow_events(self) -> None:
        while True:
            events = self.chain.events_after(*self._cursor, limit=1000)
            if not events:
                return
            await self._load_waiting(self._named(events))
            try:
                changed: dict[int, MatchRecord] = {}
                for ev in events:
                    m = self._apply(ev)
                    if m is not None:
                        changed[m.seq] = m
                await self._save(list(changed.values()))
            finally:
                self._loaded = {}
            last = events[-1]
            self._cursor = (last.block, last.log_index)
            await asyncio.to_thread(self.store.set_cursor, *self._cursor)

    def _named(self, events: Sequence[ChainEvent]) -> list[int]:
        """The waiting matches these events name (by seq, or by trade id) whose record memory does not hold."""
        named = []
        for ev in events:
            seq: object
            if ev.contract == CONTRACT and ev.name in ("OrderSettled", "MatchFailed"):
                seq = ev.arg("seq")
            elif ev.contract == "Settlement" and ev.name in _TRADE_EVENTS \
                    and isinstance(trade_id := ev.arg("tradeId"), int):
                seq = self._by_trade.get(trade_id)
            else:
                continue
            if isinstance(seq, int) and seq in self._waiting and seq not in self._waiting_recent:
                named.append(seq)
        return named

    async def _load_waiting(self, seqs: Sequence[int]) -> None:
        """Read the records of these waiting matches back from the store (one query per 500, in a thread)."""
        wanted = [s for s in seqs if s not in self._waiting_recent and s not in self._loaded]
        if wanted:
            self._loaded.update({m.seq: m for m in await asyncio.to_thread(self.store.matches_of, wanted)})

    def _chain_hash(self, order_id: str) -> str:
        """How the contract names a book order: its digest (an offer's id is it; an execute's is derived)."""
        if order_id.startswith("0x") or self.order_digest is None:
            return order_id.lower()
        signed = self._orders.get(order_id)
        if signed is None:  # after a restart, before a batch loaded it: rare, and one indexed row
            signed = self.store.signed([order_id]).get(order_id)
            if signed is None:
                return order_id.lower()
            self._orders[order_id] = signed
        return self.order_digest(signed.message).lower()

    def _apply(self, ev: ChainEvent) -> MatchRecord | None:
        now = self.clock()
        if ev.contract == CONTRACT and ev.name in ("OrderSettled", "MatchFailed"):
            seq = _int(ev.arg("seq"))
            # a finished match (failed, then settled after all; or an event read again after a restart) is read
            # back from the store
            m = self._known(seq)
            if m is None:
                self._report("unknown-match", seq, f"{ev.name} in block {ev.block} for a match the journal lacks")
                return None
            if _hex(ev.arg("buyHash")) != self._chain_hash(m.buy_id) or _hex(ev.arg("sellHash")) != self._chain_hash(
                    m.sell_id):
                self._report("orders-differ", seq, f"{ev.name} names orders {ev.arg('buyHash')}/"
                             f"{ev.arg('sellHash')}, the journal {m.buy_id}/{m.sell_id}")
                return None
            if ev.name == "MatchFailed":
                reason = _int(ev.arg("reason"))
                name = FAILURES[reason] if reason < len(FAILURES) else str(reason)
                if m.trade_id is not None:
                    self._report("failed-after-settled", seq, f"MatchFailed({name}) after it settled")
                    return None
                return replace(m, state=MatchState.FAILED, error=f"refused on chain: {name}", tx_hash=ev.tx_hash,
                               updated=now)
            quantity, price = _int(ev.arg("quantity")), _int(ev.arg("price"))
            if (quantity, price) != (m.quantity, m.price):
                self._report("terms-differ", seq, f"settled {quantity} Wh at {price}, journaled {m.quantity} Wh "
                             f"at {m.price}")
            if m.trade_id is not None and m.trade_id != _int(ev.arg("tradeId")):
                self._report("settled-twice", seq, f"trade {m.trade_id} and {ev.arg('tradeId')}")
                return None
            trade_id = _int(ev.arg("tradeId"))
            self._by_trade[trade_id] = seq
            if m.state in (MatchState.MATCHED, MatchState.BATCHED, MatchState.FAILED):
                self.latencies.append(now - m.recorded)
                if m.state is MatchState.FAILED:
                    self._report("settled-after-failed", seq, f"settled on chain although recorded failed: {m.error}")
                return replace(m, state=MatchState.SETTLED, trade_id=trade_id, value=_int(ev.arg("value")),
                               delivery_end=m.product + self.period_s, tx_hash=ev.tx_hash, error=None, updated=now)
            return None
        if ev.contract == CONTRACT and ev.name == "OrderCancelled":
            order_id = _hex(ev.arg("orderHash"))
            view = self.market.order(order_id)
            if view is not None and view.status.is_open:
                self._report("cancelled-on-chain", None, f"order {order_id} cancelled on chain by its maker but "
                             f"{view.status.value} in the book: its matches will fail")
            return None
        if ev.contract == "Settlement" and ev.name in _TRADE_EVENTS:
            trade_id = _int(ev.arg("tradeId"))
            seq2 = self._by_trade.get(trade_id)
            m = self._open(seq2) if seq2 is not None else None
            if m is None:
                return None  # a seed createOffer/executeTrade trade, not one of ours
            if ev.name == "TradeOpened":
                return replace(m, delivery_end=_int(ev.arg("deliveryEnd")), updated=now)
            if ev.name == "SettlementProposed":
                return replace(m, state=MatchState.DELIVERED, delivered_wh=_int(ev.arg("deliveredWh")), updated=now)
            if ev.name == "SettlementDisputed":
                return replace(m, state=MatchState.DISPUTED, updated=now,
                               error=f"disputed by {ev.arg('by')}: {ev.arg('reason')}")
            return replace(m, state=MatchState.PAID, delivered_wh=_int(ev.arg("deliveredWh")), updated=now)
        return None

    async def _after_delivery(self) -> None:
        """Propose settlement of trades whose delivery has ended, finalise those past their dispute window."""
        changes: list[MatchRecord] = []
        if self._due_at or self._final_at or self._unread_final:
            now_chain = await self.chain.chain_time()
            if now_chain is not None:
                changes = await self._payout_calls(now_chain)
        # A proposal or finalisation the chain refused goes back a step, with the reason, and is tried again
        # (new key) after `retry_after_s`: the trade's escrow is on chain and only these calls pay it out.
        retried: list[MatchRecord] = []
        for state in (MatchState.PROPOSED, MatchState.FINALIZING):
            for m in self._by_state[state].values():
                if m.batch is None:
                    continue
                rec = self.chain.record(m.batch)
                if rec is None or not rec.state.done or rec.state is TxState.CONFIRMED:
                    continue
                if self.clock() - rec.updated < self.retry_after_s:
                    continue
                back = MatchState.SETTLED if m.state is MatchState.PROPOSED else MatchState.DELIVERED
                log.warning("settlement: %s for match %d %s (%s); trying again", rec.description, m.seq,
                            rec.state.value, rec.error)
                retried.append(replace(m, state=back, error=f"{rec.description}: {rec.state.value}: {rec.error}",
                                       updated=self.clock()))
        try:
            await self._save(changes + retried)
        except Exception:  # not stored: the calls taken off the due times are due again at the next step
            self._due_again(changes)
            raise
        finally:
            self._loaded = {}

    def _due_again(self, changes: Sequence[MatchRecord]) -> None:
        """Put the matches of these payout calls back under their due times (their step did not complete): a
        proposal's under its delivery end, a finalisation's for its dispute window end to be read again."""
        for c in changes:
            if c.state is MatchState.PROPOSED and self._waiting.get(c.seq) is MatchState.SETTLED \
                    and c.delivery_end is not None:
                _push(self._due, self._due_at, c.delivery_end, c.seq)
            elif c.state is MatchState.FINALIZING and self._waiting.get(c.seq) is MatchState.DELIVERED \
                    and c.trade_id is not None:
                self._unread_final[c.seq] = c.trade_id

    async def _payout_calls(self, now_chain: int) -> list[MatchRecord]:
        """The proposals of the settled matches whose delivery ended by ``now_chain`` and the finalisations of the
        delivered ones past their dispute window (taken off their due times, their records read back from the
        store in one query): submitted, and the matches' new states."""
        due_at = _take_due(self._due, self._due_at, now_chain)
        final_at = _take_due(self._final, self._final_at, now_chain)
        try:
            unread = list(itertools.islice(self._unread_final.items(), FINAL_READS_PER_STEP))
            # the dispute window end, as the contract keeps it
            answers = await asyncio.gather(*(self.chain.read("Settlement", "proposals", t) for _, t in unread))
            for (seq, trade_id), answer in zip(unread, answers, strict=True):
                end = int(answer[1])
                if self._unread_final.get(seq) == trade_id:
                    del self._unread_final[seq]
                    if end <= now_chain:
                        final_at.append((end, seq))
                    else:
                        _push(self._final, self._final_at, end, seq)
            due_at = [(t, s) for t, s in due_at if self._waiting.get(s) is MatchState.SETTLED]
            final_at = [(t, s) for t, s in final_at if self._waiting.get(s) is MatchState.DELIVERED]
            await self._load_waiting([s for _, s in due_at + final_at])
            due, proposed, seen = [], [], set()
            for t, seq in due_at:
                m = self._waiting_recent.get(seq) or self._loaded.get(seq)
                if m is not None and m.state is MatchState.SETTLED and m.delivery_end == t and seq not in seen:
                    seen.add(seq)
                    due.append(m)
            for _, seq in final_at:
                m = self._waiting_recent.get(seq) or self._loaded.get(seq)
                if m is not None and m.state is MatchState.DELIVERED and seq not in seen:
                    seen.add(seq)
                    proposed.append(m)
            # the signed orders (their participants) of the calls made now only: read back from the store, not
            # held for every match waiting for its delivery to end
            await self._load_orders([i for m in due + proposed for i in (m.buy_id, m.sell_id)])
        except BaseException:
            self._loaded = {}
            for t, seq in due_at:
                _push(self._due, self._due_at, t, seq)
            for t, seq in final_at:
                _push(self._final, self._final_at, t, seq)
            raise
        changes = []
        for m in due:
            assert m.delivery_end is not None and m.trade_id is not None and m.value is not None
            key = f"propose-{m.trade_id}-{now_chain}"  # a new key per attempt: the outbox never resends a key
            self.chain.submit(ChainCommand(key, "Settlement", "proposeSettlement", self._terms(m),
                                           f"propose settlement of trade {m.trade_id} (match {m.seq})",
                                           valid_until=self.clock() + PAYOUT_CALL_VALID_S))
            changes.append(replace(m, state=MatchState.PROPOSED, batch=key, updated=self.clock()))
        for m in proposed:
            assert m.trade_id is not None
            key = f"finalize-{m.trade_id}-{now_chain}"
            self.chain.submit(ChainCommand(key, "Settlement", "finalize", self._terms(m),
                                           f"finalize trade {m.trade_id} (match {m.seq})",
                                           valid_until=self.clock() + PAYOUT_CALL_VALID_S))
            changes.append(replace(m, state=MatchState.FINALIZING, batch=key, updated=self.clock()))
        return changes

    async def _load_orders(self, ids: Sequence[str]) -> None:
        missing = sorted(set(ids) - set(self._orders))
        if missing:
            self._orders.update(await asyncio.to_thread(self.store.signed, missing))

    def _terms(self, m: MatchRecord) -> tuple[object, ...]:
        seller, buyer = self._orders[m.sell_id].participant, self._orders[m.buy_id].participant
        return (m.trade_id, seller, buyer, m.quantity, m.value, m.delivery_end)

    # -- helpers -------------------------------------------------------------------------------------------

    def state_of(self, trade: Any) -> SettlementView:
        """Where the market's trade (its journal ``seq``) stands on its way to paid, for the trade tape."""
        m = self._known(int(trade.seq))  # the tape's trades are recent: open or recently finished, in memory
        if m is None:
            return SettlementView(SettlementState.MATCHED, None, "")
        return SettlementView(_TAPE_STATES[m.state], m.tx_hash, m.error or "")

    def subscribe(self, listener: SettlementListener) -> None:
        """Report each match's fate to ``listener`` (the alarms: settlement failed / disputed), and every
        mismatch found against the chain as a failure (it is reported, never corrected)."""
        self._reports.append(listener)

    async def _save(self, changed: Sequence[MatchRecord]) -> None:
        if not changed:
            return
        # each match's state before this save (for the counts and the alarms), looked up before any is put:
        # putting one may push an older one out of the recent ones; a recorded match in neither is read back
        prior = {m.seq: self._held(m.seq) for m in changed}
        unknown = [s for s, p in prior.items() if p is None and s <= self._last_seq]
        if unknown:
            prior.update({m.seq: m for m in await asyncio.to_thread(self.store.matches_of, unknown)})
        await asyncio.to_thread(self.store.save, changed)
        for m in changed:
            before, prior[m.seq] = prior[m.seq], m
            self._put(m, before)
            outcome = _OUTCOMES.get(m.state)
            if outcome is None and before is not None and before.state in _OUTCOMES:
                outcome = SettlementOutcome.RESOLVED if before.state is MatchState.DISPUTED else \
                    SettlementOutcome.SETTLED
            if outcome is not None:
                self._notify(SettlementReport(f"match {m.seq}", outcome, m.error or ""))

    def _notify(self, report: SettlementReport) -> None:
        for cb in list(self._reports):
            try:
                cb(report)
            except Exception:
                log.exception("settlement report listener failed")

    def _report(self, kind: str, seq: int | None, detail: str) -> None:
        mm = Mismatch(kind, seq, detail)
        self.mismatches.append(mm)
        self._notify(SettlementReport(f"mismatch {kind}" + ("" if seq is None else f" match {seq}"),
                                      SettlementOutcome.FAILED, detail))
        log.error("settlement mismatch (not corrected; investigate): %s%s: %s", kind,
                  "" if seq is None else f" match {seq}", detail)
        for cb in list(self.listeners):
            try:
                cb(mm)
            except Exception:
                log.exception("settlement mismatch listener failed")


def _push(by_time: dict[int, array[int]], times: list[int], t: int, seq: int) -> None:
    """File ``seq`` under time ``t`` (a new time goes on the heap ``times``)."""
    seqs = by_time.get(t)
    if seqs is None:
        by_time[t] = seqs = array("q")
        heapq.heappush(times, t)
    seqs.append(seq)


def _take_due(by_time: dict[int, array[int]], times: list[int], now: int) -> list[tuple[int, int]]:
    """Take off every (time, seq) filed under a time up to ``now``, earliest first."""
    out: list[tuple[int, int]] = []
    while times and times[0] <= now:
        t = heapq.heappop(times)
        out += [(t, s) for s in by_time.pop(t, ())]
    return out


def _int(v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"chain event value {v!r} is not an integer")
    return v


def _hex(v: object) -> str:
    return str(v).lower()


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (nearest rank) of `values`; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


__all__ = [
    "CONTRACT",
    "FAILURES",
    "MarketReader",
    "MatchRecord",
    "MatchState",
    "Mismatch",
    "NonceReused",
    "SettlementChain",
    "SettlementService",
    "SettlementStore",
    "SettlementUnavailable",
    "SignedOrder",
    "SignedOrders",
    "order_tuple",
    "p95",
    "trade_value",
]
