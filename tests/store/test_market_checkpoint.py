"""The restart checkpoint (migration 0011) on real SQLite and PostgreSQL: a start after closures resumes from
it and holds what a full replay holds; the closed products' orders are still answered from the store; a row
that disagrees is still reported when it is in the part replayed (and again at every later start); a database
without a checkpoint starts as before and then writes one."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import select, update

from console.services.market import MarketService
from console.store.market_journal import SqlMarketJournal
from console.store.schema import market_checkpoints, market_orders
from core.market import OrderSpec, OrderStatus, RejectReason, Side, replay
from tests.store.test_market_journal import Clock, service
from tests.store.test_market_service_compaction import GATE, LATER, NOW, N, closed, fill, without_checkpoint

pytestmark = pytest.mark.store


def checkpoint_at(db_url: str) -> int | None:
    journal = SqlMarketJournal(db_url)
    with journal.engine.connect() as conn:
        seqs = conn.execute(select(market_checkpoints.c.seq)).scalars().all()
    journal.close()
    assert len(seqs) <= 1  # one row kept
    return seqs[0] if seqs else None


async def first_run(db_url: str, clock: Clock) -> None:
    """fill() (83 events), then y1: s0 sells 100 at 119 into LATER, taking s3's l19 (Accepted, Traded: 85);
    P's gate closure: p2..p19 gate-closed + ProductClosed (104), checkpointed once its 21 rows are verified;
    then x1: s1 sells 100 at 118, taking s2's l18 (Accepted, Traded: 106)."""
    svc = service(db_url, clock)
    await svc.start()
    try:
        assert svc.resumed_from is None
        await fill(svc)
        out = await svc.submit(OrderSpec("y1", "s0", LATER, Side.SELL, 100, 119))
        assert [(t.buy_id, t.price, t.seq) for t in out.trades] == [("l19", 119, 84)]
        clock.t = GATE
        await closed(svc)
        assert len(svc.book.journal) == 104
        await svc.checkpoints_written()  # in the background once the closure is stored (after the start's one)
        assert checkpoint_at(db_url) == 104
        out = await svc.submit(OrderSpec("x1", "s1", LATER, Side.SELL, 100, 118))
        assert [(t.buy_id, t.price, t.seq) for t in out.trades] == [("l18", 118, 105)]
    finally:
        await svc.stop()
    assert checkpoint_at(db_url) == 104  # nothing closed after it: stop() writes none


async def state(svc: MarketService) -> tuple[object, ...]:
    bob = {p.participant: p for p in svc.positions()}["bob"]
    return (svc.book.snapshot(), len(svc.book.journal), svc.compacted_orders, svc.mismatches,
            svc.trades_in(LATER), svc.snapshot().products, [t.seq for t in svc.snapshot().recent_trades],
            (bob.trades, bob.bought_wh, bob.products), svc.participants(), svc.orders_of("s2"),
            await svc.trades_of("bob"), await svc.trades_of("s0"))


async def test_a_restart_after_closures_resumes_from_the_checkpoint_as_a_full_replay(db_url: str) -> None:
    clock = Clock(NOW)
    await first_run(db_url, clock)
    clock.t = GATE + 10
    again = service(db_url, clock)
    await again.start()
    try:
        assert again.resumed_from == 104 and again.mismatches == ()
        # Held: LATER's 20 buys (l18 and l19 filled) and the two sells (filled), the journal goes on at 106.
        assert len(again.book.journal) == 106 and list(again.book.products) == [LATER]
        assert sorted(again.book.orders) == sorted([f"l{i}" for i in range(N)] + ["x1", "y1"])
        assert [(v.status, v.remaining) for v in (again.order("l17"), again.order("l18"), again.order("l19"))] \
            == [(OrderStatus.RESTING, 100), (OrderStatus.FILLED, 0), (OrderStatus.FILLED, 0)]
        assert again.book.depth(LATER, 2) == ([(117, 100), (116, 100)], [])
        # LATER's trades: y1's before the checkpoint (from the store) and x1's after it (replayed).
        assert [(t.seq, t.price, t.seller) for t in again.trades_in(LATER)] == [(84, 119, "s0"), (105, 118, "s1")]
        later = again.snapshot().products[0]
        assert (later.volume_wh, later.last_price, later.best_bid) == (200, 118, 117)
        assert [t.price for t in again.snapshot().recent_trades] == [300, 301, 119, 118]
        assert [t.price for t in (await again.trades_of("bob"))] == [301, 300]
        # The closed product's orders: the store answers for them, the filter of forgotten ids came back.
        assert again.compacted_orders == N + 1
        p5 = await again.find_order("p5")
        assert p5 is not None and (p5.status, p5.cancelled) == (OrderStatus.GATE_CLOSED, 100)
        out = await again.cancel("p5", "s1")
        assert out.rejected is not None and out.rejected.reason is RejectReason.ORDER_CLOSED
        assert out.rejected.detail == "order 'p5' is gate-closed"
        out = await again.submit(OrderSpec("p5", "s1", LATER, Side.SELL, 100, 500))
        assert out.rejected is not None and out.rejected.reason is RejectReason.DUPLICATE_ORDER_ID
        assert [v.order_id for v in await again.order_history("s1")][:3] == ["p1", "p5", "p9"]
        bob = {p.participant: p for p in again.positions()}["bob"]
        assert (bob.trades, bob.bought_wh, bob.cost) == (2, 200, pytest.approx(30.0 + 30.1))
        resumed = await state(again)
        # The book equals the stored journal's full replay.
        journal = SqlMarketJournal(db_url)
        full_book = replay(again.rules, [e.event for e in journal.load()], compact=True)
        journal.close()
        assert again.book.snapshot() == full_book.snapshot() and len(full_book.journal) == 106
    finally:
        await again.stop()
    # And the service equals one started by a full replay of the same database (the checkpoint deleted).
    without_checkpoint(db_url)
    full = service(db_url, clock)
    await full.start()
    try:
        assert full.resumed_from is None
        assert (await state(full)) == resumed
    finally:
        await full.stop()


async def test_a_row_that_disagrees_in_the_replayed_part_is_reported_and_kept(db_url: str) -> None:
    """The console dies after LATER's closure is stored and before its checkpoint is written (emulated: the
    checkpoint at 104 is put back); l5's row was changed meanwhile: the start replaying the closure reports
    it, and so does every start after, from the checkpoint that start wrote."""
    clock = Clock(NOW)
    await first_run(db_url, clock)
    journal = SqlMarketJournal(db_url)
    with journal.engine.connect() as conn:
        saved = conn.execute(select(market_checkpoints)).mappings().one()
    svc = service(db_url, clock)
    await svc.start()
    try:
        clock.t = LATER - 300  # LATER's gate closure: l0..l17 gate-closed, ProductClosed: 106 + 19 = 125
        await svc.tick()
        for _ in range(6000):  # (bounded at 60 s: a loaded CI machine is slow)
            if LATER not in svc.book.products:
                break
            await asyncio.sleep(0.01)
        assert len(svc.book.journal) == 125
    finally:
        await svc.stop()
    assert checkpoint_at(db_url) == 125
    with journal.engine.begin() as conn:
        conn.execute(market_checkpoints.delete())
        conn.execute(market_checkpoints.insert().values(**saved))
        conn.execute(update(market_orders).where(market_orders.c.order_id == "l5").values(remaining=60))
    journal.close()
    expected = ("order l5: remaining stored 60 replayed 0",)
    again = service(db_url, clock)
    await again.start()
    try:
        assert again.resumed_from == 104 and again.mismatches == expected
        assert again.compacted_orders == N + 1 + N + 2 and not again.book.orders  # P: 21; LATER: 20 + x1, y1
    finally:
        await again.stop()
    assert checkpoint_at(db_url) == 125  # written by that start: what it closed is verified
    third = service(db_url, clock)
    await third.start()
    try:
        assert third.resumed_from == 125 and third.mismatches == expected
    finally:
        await third.stop()


async def test_a_changed_row_of_an_order_still_open_is_reported_at_every_start(db_url: str) -> None:
    clock = Clock(NOW)
    await first_run(db_url, clock)
    journal = SqlMarketJournal(db_url)
    with journal.engine.begin() as conn:
        conn.execute(update(market_orders).where(market_orders.c.order_id == "l3").values(status="filled"))
    journal.close()
    for _ in range(2):
        again = service(db_url, clock)
        await again.start()
        try:
            assert again.resumed_from == 104
            assert again.mismatches == ("order l3: status stored <OrderStatus.FILLED: 'filled'> replayed "
                                        "<OrderStatus.RESTING: 'resting'>",)
        finally:
            await again.stop()


async def test_a_database_without_checkpoint_replays_everything_then_writes_one(db_url: str) -> None:
    clock = Clock(NOW)
    await first_run(db_url, clock)
    without_checkpoint(db_url)
    again = service(db_url, clock)
    again.replay_page = 7  # the whole journal in pages, as before the checkpoint
    await again.start()
    try:
        assert again.resumed_from is None and again.mismatches == ()
        assert len(again.book.journal) == 106 and again.compacted_orders == N + 1
    finally:
        await again.stop()
    assert checkpoint_at(db_url) == 106
    third = service(db_url, clock)
    await third.start()
    try:
        assert third.resumed_from == 106 and len(third.book.journal) == 106
    finally:
        await third.stop()


async def test_an_unreadable_checkpoint_costs_a_full_replay_only(db_url: str) -> None:
    clock = Clock(NOW)
    await first_run(db_url, clock)
    journal = SqlMarketJournal(db_url)
    with journal.engine.begin() as conn:
        conn.execute(update(market_checkpoints).values(state='{"book": {"version": 99}}'))
    journal.close()
    again = service(db_url, clock)
    await again.start()
    try:
        assert again.resumed_from is None and again.mismatches == ()
        assert len(again.book.journal) == 106
        assert sorted(again.book.orders) == sorted([f"l{i}" for i in range(N)] + ["x1", "y1"])
    finally:
        await again.stop()


async def test_a_closure_while_the_checkpoint_before_is_written_is_checkpointed_right_after_it(db_url: str) -> None:
    """The start's checkpoint (position 0) is held up in the store; fill() (83 events) and P's gate closure
    (p2..p19 gate-closed + ProductClosed: 102) meanwhile: once the first is written, the closure's follows
    (not left to the next closure or the stop)."""
    clock = Clock(NOW)
    svc = service(db_url, clock)
    held = threading.Event()
    save = svc.journal.save_checkpoint  # type: ignore[attr-defined]

    def held_up(*args: object) -> None:
        held.wait(60)
        save(*args)

    svc.journal.save_checkpoint = held_up  # type: ignore[attr-defined]
    await svc.start()
    try:
        await fill(svc)
        clock.t = GATE
        await closed(svc)
        assert len(svc.book.journal) == 102 and checkpoint_at(db_url) is None
        held.set()
        await svc.checkpoints_written()
        assert checkpoint_at(db_url) == 102
    finally:
        held.set()
        await svc.stop()
