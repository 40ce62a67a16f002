"""A participant's trade history is the store's (market_fills), on real SQLite and PostgreSQL: the newest
``limit`` (at most 1000) of its trades as buyer and seller, newest first; a trade decided but not yet stored
is in it at once; a restart's history is the one before it; nobody's trades but its own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from console.services.market import MarketService, MarketUnavailable
from console.store.market_journal import SqlMarketJournal
from core.market import MarketRules, OrderSpec, Side
from core.market.ports import JournalBatch
from tests.store.test_market_journal import NOW, PRODUCT, Clock, service

pytestmark = pytest.mark.store


def pair(k: int) -> tuple[OrderSpec, OrderSpec]:
    """Trade ``k`` (100 Wh at 200): alice buys carol's sell when k % 3 == 2, else bob buys alice's sell."""
    if k % 3 == 2:
        return (OrderSpec(f"cs{k}", "carol", PRODUCT, Side.SELL, 100, 200),
                OrderSpec(f"ab{k}", "alice", PRODUCT, Side.BUY, 100, 200))
    return (OrderSpec(f"as{k}", "alice", PRODUCT, Side.SELL, 100, 200),
            OrderSpec(f"bb{k}", "bob", PRODUCT, Side.BUY, 100, 200))


async def trade(svc: MarketService, ks: Sequence[int]) -> None:
    """Trades ``ks`` in order: their sells rest first (in one group commit), then each buy takes the oldest
    resting sell (time priority at one price), which is its own pair's."""
    specs = [pair(k) for k in ks]
    await asyncio.gather(*(svc.submit(sell) for sell, _ in specs))
    outs = await asyncio.gather(*(svc.submit(buy) for _, buy in specs))
    assert [len(o.trades) for o in outs] == [1] * len(ks)


async def test_the_newest_1000_of_1500_trades_newest_first_and_the_same_after_a_restart(db_url: str) -> None:
    clock = Clock(NOW)
    first = service(db_url, clock)
    await first.start()
    for start in range(0, 1500, 100):
        await trade(first, range(start, start + 100))
    await first.submit(OrderSpec("erin1", "erin", PRODUCT, Side.BUY, 100, 150))  # rests: an order, no trade
    history = await first.trades_of("alice", 1000)
    # alice is in every trade; the newest 1000 are trades 1499 down to 500. She bought in those with
    # k % 3 == 2: 500, 503, …, 1499 = (1499 - 500) / 3 + 1 = 334 of them, and sold in the other 666.
    assert len(history) == 1000
    assert history[0].buy_id == "ab1499" and (history[0].buyer, history[0].seller) == ("alice", "carol")
    assert history[1].sell_id == "as1498" and (history[1].buyer, history[1].seller) == ("bob", "alice")
    assert history[-1].buy_id == "ab500" and history[-1].seller == "carol"  # 500 = 3 * 166 + 2
    assert sum(t.buyer == "alice" for t in history) == 334
    assert sum(t.seller == "alice" for t in history) == 666
    assert [t.seq for t in history] == sorted((t.seq for t in history), reverse=True)
    assert len({t.seq for t in history}) == 1000
    assert (history[0].price, history[0].quantity, history[0].aggressor) == (200, 100, Side.BUY)
    # carol sold in the 500 trades k % 3 == 2 of 1500 (2, 5, …, 1499): all of them, under a limit of 1000.
    carol = await first.trades_of("carol", 1000)
    assert len(carol) == 500 and carol[0].sell_id == "cs1499" and carol[-1].sell_id == "cs2"
    assert [t.sell_id for t in await first.trades_of("bob", 3)] == ["as1498", "as1497", "as1495"]
    assert len(await first.trades_of("bob")) == 100  # the API's default limit
    assert await first.trades_of("erin", 1000) == []  # orders, but no trade
    assert await first.trades_of("nobody", 1000) == []
    before = {who: await first.trades_of(who, 1000) for who in ("alice", "bob", "carol", "erin")}
    await first.stop()

    second = service(db_url, clock)
    await second.start()
    try:
        assert {who: await second.trades_of(who, 1000) for who in before} == before
    finally:
        await second.stop()


class HeldJournal(SqlMarketJournal):
    """The real store, whose writer waits at ``gate`` before each append (so a test can read while a group
    is decided but not yet stored); ``fail`` makes the held append raise instead."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def append(self, batches: Sequence[JournalBatch]) -> None:
        self.gate.wait(10)
        if self.fail:
            raise OSError("disk full")
        super().append(batches)


async def test_a_trade_made_a_moment_ago_is_in_the_history_before_it_is_stored(db_url: str) -> None:
    journal = HeldJournal(db_url)
    svc = MarketService(MarketRules(tick=1, lot=100), journal, clock=Clock(NOW), tick_hz=1.0)
    await svc.start()
    try:
        await trade(svc, [0, 1])  # stored: bob bought alice's as0, then as1
        await svc.submit(OrderSpec("as3", "alice", PRODUCT, Side.SELL, 100, 205))
        journal.gate.clear()
        buy = asyncio.create_task(svc.submit(OrderSpec("bb3", "bob", PRODUCT, Side.BUY, 100, 205)))
        for _ in range(20):  # until the book has decided it (the writer is then held in append)
            await asyncio.sleep(0.01)
            if svc.trades_made == 3:
                break
        assert not buy.done()  # the store has only the two stored trades (column 8: sell_id)
        assert [r[8] for r in await asyncio.to_thread(journal.fills_of, "bob", 10)] == ["as1", "as0"]
        history = await svc.trades_of("bob", 10)
        assert [(t.sell_id, t.price) for t in history] == [("as3", 205), ("as1", 200), ("as0", 200)]
        assert [t.buy_id for t in await svc.trades_of("alice", 2)] == ["bb3", "bb1"]  # the limit holds
        assert await svc.trades_of("carol", 10) == []
        journal.gate.set()
        await buy
        assert await svc.trades_of("bob", 10) == history  # stored now: the same, once
        assert not svc._unstored  # nothing held once the writer is idle
    finally:
        journal.gate.set()
        await svc.stop()


async def test_a_trade_whose_write_failed_is_not_in_the_history(db_url: str) -> None:
    journal = HeldJournal(db_url)
    svc = MarketService(MarketRules(tick=1, lot=100), journal, clock=Clock(NOW), tick_hz=1.0)
    await svc.start()
    try:
        await trade(svc, [0])
        await svc.submit(OrderSpec("as1", "alice", PRODUCT, Side.SELL, 100, 200))
        journal.gate.clear()
        journal.fail = True
        buy = asyncio.create_task(svc.submit(OrderSpec("bb1", "bob", PRODUCT, Side.BUY, 100, 200)))
        await asyncio.sleep(0.05)
        assert [t.buy_id for t in await svc.trades_of("bob", 10)] == ["bb1", "bb0"]  # decided, being written
        journal.gate.set()
        with pytest.raises(MarketUnavailable):
            await buy
        # Never stored nor acknowledged (a restart's replay will not have it): the history is the store's.
        assert [t.buy_id for t in await svc.trades_of("bob", 10)] == ["bb0"]
    finally:
        journal.gate.set()
        await svc.stop()

