"""The market service holds what is open: a closed product's orders leave the book once their final rows are
stored, the store answers for them (lookups, history, cancels, duplicate ids), the journal's positions go on,
and a restart replays into the open state only (real SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from console.services.market import MarketService
from console.store.market_journal import SqlMarketJournal
from core.market import OrderSpec, OrderStatus, RejectReason, Side
from tests.store.test_market_journal import Clock, service

pytestmark = pytest.mark.store

P = 1_800_000_000  # a delivery period start; gate closure at P - 300
LATER = P + 900
NOW = P - 3600
GATE = P - 300
N = 20


async def closed(svc: MarketService) -> None:
    """Tick at gate closure; the tick task may have decided the closure first: wait for its commit (bounded)."""
    await svc.tick()
    for _ in range(6000):  # (bounded at 60 s: a loaded CI machine is slow)
        if P not in svc.book.products:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("product P was not compacted")


async def fill(svc: MarketService) -> None:
    """N sells in P (p0..p19 by s0..s3, 100 Wh at 300 + i), bob's buy pb of 200 Wh at 301 (takes p0 at 300 and
    p1 at 301, filled), then N buys in LATER (l0..l19 by s0..s3, 100 Wh at 100 + i, resting).
    Events: 2 N + 3 + 2 N = 83."""
    for i in range(N):
        await svc.submit(OrderSpec(f"p{i}", f"s{i % 4}", P, Side.SELL, 100, 300 + i))
    out = await svc.submit(OrderSpec("pb", "bob", P, Side.BUY, 200, 301))
    assert [(t.sell_id, t.price) for t in out.trades] == [("p0", 300), ("p1", 301)]
    for i in range(N):
        await svc.submit(OrderSpec(f"l{i}", f"s{i % 4}", LATER, Side.BUY, 100, 100 + i))
    assert len(svc.book.journal) == 83


async def test_a_closed_product_leaves_the_book_and_the_store_answers_for_it(db_url: str) -> None:
    clock = Clock(NOW)
    svc = service(db_url, clock)
    await svc.start()
    try:
        await fill(svc)
        later_depth = svc.book.depth(LATER, 100)
        clock.t = GATE
        await closed(svc)
        # p2..p19 were open: 18 GateClosed and a ProductClosed → 102 events; the journal keeps counting.
        assert len(svc.book.journal) == 102 == svc.journal.next_seq()  # type: ignore[attr-defined]
        assert list(svc.book.journal) == []  # nothing held: every event was handed to its command and stored
        assert sorted(svc.book.orders) == sorted(f"l{i}" for i in range(N))
        assert list(svc.book.products) == [LATER]
        assert svc.compacted_orders == N + 1
        assert svc.book.depth(LATER, 100) == later_depth
        assert svc.trades_in(P) == [] and svc.order("p5") is None
        assert [d.product for d in svc.snapshot().products] == [LATER]
        # The store answers for the forgotten orders.
        p5 = await svc.find_order("p5")
        assert p5 is not None and (p5.status, p5.submitted, p5.cancelled, p5.remaining) == \
            (OrderStatus.GATE_CLOSED, 100, 100, 0)
        p0 = await svc.find_order("p0")
        assert p0 is not None and (p0.status, p0.filled) == (OrderStatus.FILLED, 100)
        history = await svc.order_history("s0")
        assert [v.order_id for v in history] == ["p0", "p4", "p8", "p12", "p16", "l0", "l4", "l8", "l12", "l16"]
        assert [v.status for v in history[:2]] == [OrderStatus.FILLED, OrderStatus.GATE_CLOSED]
        assert [v.order_id for v in svc.orders_of("s0")] == ["l0", "l4", "l8", "l12", "l16"]
        assert [(t.price, t.quantity) for t in await svc.trades_of_order("pb", "bob")] == [(300, 100), (301, 100)]
        # A cancel of a forgotten order, a duplicate id: refused from the stored row, nothing journaled.
        out = await svc.cancel("p5", "s1")
        assert out.rejected is not None and out.rejected.reason is RejectReason.ORDER_CLOSED
        assert out.rejected.detail == "order 'p5' is gate-closed"
        out = await svc.cancel("p5", "s0")
        assert out.rejected is not None and out.rejected.reason is RejectReason.NOT_OWNER
        out = await svc.submit(OrderSpec("p5", "s1", LATER, Side.SELL, 100, 500))
        assert out.rejected is not None and out.rejected.reason is RejectReason.DUPLICATE_ORDER_ID
        assert len(svc.book.journal) == 102
        # Trades and positions of the closed product stay: bob bought 100 at 300 and 100 at 301.
        assert [t.price for t in await svc.trades_of("bob")] == [301, 300]
        bob = {p.participant: p for p in svc.positions()}["bob"]
        assert (bob.trades, bob.bought_wh, bob.cost) == (2, 200, pytest.approx(30.0 + 30.1))
        assert [(q.product, q.bought_wh) for q in bob.products] == [(P, 200)]
        # The journal goes on from 102: s1 sells into l19 (s3, 119): Accepted + Traded at 102, 103.
        out = await svc.submit(OrderSpec("x1", "s1", LATER, Side.SELL, 100, 119))
        assert [t.seq for t in out.trades] == [103] and len(svc.book.journal) == 104
        snap = svc.book.snapshot()
    finally:
        await svc.stop()

    again = service(db_url, clock)
    await again.start()
    try:
        assert again.mismatches == ()
        assert len(again.book.journal) == 104 and list(again.book.journal) == []
        assert again.book.snapshot() == snap  # the open state, as the first held it
        assert again.compacted_orders == N + 1 and list(again.book.products) == [LATER]
        bob = {p.participant: p for p in again.positions()}["bob"]
        assert (bob.trades, bob.bought_wh) == (2, 200)
        assert [t.price for t in await again.trades_of("bob")] == [301, 300]
        out = await again.cancel("p5", "s1")
        assert out.rejected is not None and out.rejected.reason is RejectReason.ORDER_CLOSED
    finally:
        await again.stop()


def without_checkpoint(db_url: str) -> None:
    """Delete the restart checkpoint: the database as a console before migration 0011 left it (a start replays
    the whole journal and checks every forgotten order's row, as these tests check)."""
    from sqlalchemy import delete

    from console.store.schema import market_checkpoints

    journal = SqlMarketJournal(db_url)
    with journal.engine.begin() as conn:
        assert conn.execute(delete(market_checkpoints)).rowcount == 1
    journal.close()


async def test_a_restart_reports_a_forgotten_order_whose_row_disagrees(db_url: str) -> None:
    from sqlalchemy import update

    from console.store.schema import market_orders

    clock = Clock(NOW)
    svc = service(db_url, clock)
    await svc.start()
    try:
        await fill(svc)
        clock.t = GATE
        await closed(svc)
    finally:
        await svc.stop()
    journal = SqlMarketJournal(db_url)
    with journal.engine.begin() as conn:
        conn.execute(update(market_orders).where(market_orders.c.order_id == "p7").values(status="resting"))
    journal.close()
    without_checkpoint(db_url)  # (with it, p7's row was verified at the closure: tests/store/test_market_checkpoint)
    again = service(db_url, clock)
    await again.start()
    try:
        assert again.mismatches == ("order p7: status stored <OrderStatus.RESTING: 'resting'> replayed "
                                    "<OrderStatus.GATE_CLOSED: 'gate-closed'>",)
        assert "p7" not in again.book.orders
    finally:
        await again.stop()


async def test_a_restart_reads_the_journal_in_pages_and_reports_a_row_never_accepted(db_url: str) -> None:
    from sqlalchemy import insert

    from console.store.schema import market_orders

    clock = Clock(NOW)
    svc = service(db_url, clock)
    await svc.start()
    try:
        await fill(svc)
        clock.t = GATE
        await closed(svc)
        snap = svc.book.snapshot()
    finally:
        await svc.stop()
    journal = SqlMarketJournal(db_url)
    with journal.engine.begin() as conn:
        conn.execute(insert(market_orders).values(
            order_id="ghost", participant="s0", product=LATER, side="buy", price=100, status="resting",
            submitted=100, filled=0, cancelled=0, remaining=100, accepted_seq=999, updated_seq=999))
    journal.close()
    without_checkpoint(db_url)
    again = service(db_url, clock)
    again.replay_page = 7  # 102 events: 15 pages (14 of 7, one of 4); forgotten orders checked every >= 7
    await again.start()
    try:
        assert again.mismatches == ("order ghost: stored row resting but the journal never accepted it",)
        assert len(again.book.journal) == 102 and again.book.snapshot() == snap
        assert again.compacted_orders == N + 1
    finally:
        await again.stop()


def test_the_filter_of_forgotten_ids_holds_every_id_added() -> None:
    from console.services.market import IdFilter

    f = IdFilter()
    for i in range(1000):
        f.add(f"o{i}")
    assert all(f.may_hold(f"o{i}") for i in range(1000))
    # 3 000 bits set of 2**23: a false positive has odds ~(3000 / 8.4 M)**3 ≈ 5e-11 per id; none of 1 000 here.
    assert sum(f.may_hold(f"n{i}") for i in range(1000)) == 0
    tiny = IdFilter(bits=3)  # 8 bits: after a few ids nearly every id "may" be held (the store then answers)
    for i in range(20):
        tiny.add(f"o{i}")
    assert all(tiny.may_hold(f"o{i}") for i in range(20)) and tiny.may_hold("never-added")
