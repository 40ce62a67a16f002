"""The market's write-ahead journal on real SQLite and PostgreSQL: a restart rebuilds the identical book,
nothing acknowledged is lost, nothing is stored twice, and stored state that disagrees with the journal is
reported, not fixed."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from console.services.market import MarketService
from console.store.market_journal import SqlMarketJournal
from console.store.schema import market_events, market_fills, market_orders
from core.market import MarketRules, OrderSpec, Rested, Side
from core.market.ports import JournalBatch, JournalConflict, JournalEntry

pytestmark = pytest.mark.store

PRODUCT = 1_800_000_000  # a delivery period start (multiple of 900 s)
NOW = PRODUCT - 3600  # trading is open: an hour before delivery


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def service(url: str, clock: Clock) -> MarketService:
    return MarketService(MarketRules(tick=1, lot=100), SqlMarketJournal(url), clock=clock, tick_hz=1.0)


async def test_restart_rebuilds_the_identical_book(db_url: str) -> None:
    clock = Clock(NOW)
    first = service(db_url, clock)
    await first.start()
    await first.submit(OrderSpec("a1", "alice", PRODUCT, Side.SELL, 1000, 200))
    await first.submit(OrderSpec("b1", "bob", PRODUCT, Side.SELL, 500, 210))
    clock.t += 5
    out = await first.submit(OrderSpec("c1", "carol", PRODUCT, Side.BUY, 1200, 210))
    # Carol buys alice's 1000 Wh at 200 first (best price), then 200 of bob's 500 at 210.
    assert [(t.seller, t.price, t.quantity) for t in out.trades] == [("alice", 200, 1000), ("bob", 210, 200)]
    await first.submit(OrderSpec("a2", "alice", PRODUCT, Side.BUY, 400, 150))
    await first.cancel("a2", "alice")
    snap_before = first.book.snapshot()
    market_before = first.snapshot()
    await first.stop()

    second = service(db_url, clock)
    await second.start()
    try:
        assert second.book.snapshot() == snap_before
        assert second.mismatches == ()
        depth = second.snapshot().products[0]
        assert depth.asks == ((210, 300),) and depth.bids == ()
        assert depth.volume_wh == 1200 and depth.last_price == 210
        assert second.snapshot().products == market_before.products
        assert [t.quantity for t in await second.trades_of("carol")] == [200, 1000]  # newest first
        # Nothing repeated: one row per journal position, and the journal is the book's.
        journal = SqlMarketJournal(db_url)
        entries = journal.load()
        assert [e.seq for e in entries] == list(range(len(second.book.journal)))
        with journal.engine.connect() as conn:
            assert conn.execute(select(market_fills.c.quantity).order_by(market_fills.c.seq)).scalars().all() \
                == [1000, 200]
            rows = {r.order_id: r for r in conn.execute(select(market_orders))}
        assert (rows["b1"].status, rows["b1"].filled, rows["b1"].remaining) == ("resting", 200, 300)
        assert (rows["a2"].status, rows["a2"].cancelled) == ("cancelled", 400)
        journal.close()
        # The rebuilt book decides the next order like the first would have.
        more = await second.submit(OrderSpec("d1", "dave", PRODUCT, Side.BUY, 300, 210))
        assert [(t.seller, t.quantity) for t in more.trades] == [("bob", 300)]
    finally:
        await second.stop()


async def test_a_console_that_dies_loses_nothing_it_acknowledged(db_url: str) -> None:
    clock = Clock(NOW)
    first = service(db_url, clock)
    await first.start()
    for i in range(20):
        await first.submit(OrderSpec(f"s{i}", f"p{i % 3}", PRODUCT, Side.SELL if i % 2 else Side.BUY, 100 * (i + 1),
                                     200 + (i % 5)))
    expected = first.book.snapshot()
    # No stop(): the process "dies" with its tasks running; only what was acknowledged counts.
    for task in first._tasks:
        task.cancel()
    first.journal.close()

    second = service(db_url, clock)
    await second.start()
    try:
        assert second.book.snapshot() == expected
        assert second.mismatches == ()
    finally:
        await second.stop()


async def test_stored_state_that_disagrees_with_the_journal_is_reported_not_fixed(db_url: str) -> None:
    clock = Clock(NOW)
    first = service(db_url, clock)
    await first.start()
    await first.submit(OrderSpec("a1", "alice", PRODUCT, Side.SELL, 1000, 200))
    await first.stop()
    journal = SqlMarketJournal(db_url)
    with journal.engine.begin() as conn:
        conn.execute(update(market_orders).where(market_orders.c.order_id == "a1").values(remaining=700))
    journal.close()

    second = service(db_url, clock)
    await second.start()
    try:
        assert second.mismatches == ("order a1: remaining stored 700 replayed 1000",)
        assert second.snapshot().mismatches == second.mismatches
        assert second.order("a1") is not None and second.order("a1").remaining == 1000  # type: ignore[union-attr]
    finally:
        await second.stop()
    journal = SqlMarketJournal(db_url)
    with journal.engine.connect() as conn:
        assert conn.execute(select(market_orders.c.remaining)).scalar() == 700  # still as it was: not "fixed"
    journal.close()


def test_a_journal_position_is_never_written_twice(db_url: str) -> None:
    journal = SqlMarketJournal(db_url)
    try:
        batch = JournalBatch((JournalEntry(0, Rested(NOW, "x")),), (), ())
        journal.append([batch])
        with pytest.raises(JournalConflict, match="would overwrite stored positions"):
            journal.append([batch])
        with journal.engine.connect() as conn:
            assert conn.execute(select(market_events.c.seq)).scalars().all() == [0]
    finally:
        journal.close()
