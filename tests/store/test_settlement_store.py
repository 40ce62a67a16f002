"""The settlement store on SQLite and PostgreSQL: signed orders, matches, nonce lookup, cursor, journal fills."""

from __future__ import annotations

from dataclasses import replace

from console.services.settlement import MatchRecord, MatchState, SignedOrder
from console.store.market_journal import SqlMarketJournal
from console.store.settlement_store import SqlSettlementStore
from core.market import OrderSpec, Side
from core.market.events import Accepted, Traded
from core.market.orders import OrderStatus, OrderView
from core.market.ports import JournalBatch, JournalEntry

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BIG = 2**200 + 7  # a uint256 nonce beyond any SQL integer


def test_orders_matches_cursor_and_journal_fills_round_trip(db_url: str) -> None:
    store = SqlSettlementStore(db_url)
    msg = {"participant": ALICE, "product": 1_800_000_000, "side": 1, "quantity": 1000, "price": 200,
           "hasPrice": True, "kind": 0, "tif": 0, "validFrom": 0, "validUntil": 0, "condition": "", "grid": 0,
           "nonce": BIG}
    order = SignedOrder("0xaa", ALICE, msg, "0x" + "11" * 65)
    store.remember([order])
    store.remember([order])  # the same order again: kept once
    assert store.signed(["0xaa", "0xbb"]) == {"0xaa": order}  # the uint256 nonce comes back exact
    assert store.order_with_nonce(ALICE.upper().replace("0X", "0x"), str(BIG)) == "0xaa"
    assert store.order_with_nonce(ALICE, "1") is None

    m = MatchRecord(5, 1_799_990_000, 1_800_000_000, 200, 1000, "0xbb", "0xaa", recorded=1.5, updated=1.5)
    assert store.record([m]) == 1
    assert store.record([replace(m, price=999)]) == 0  # a seq stored before is left as it is
    settled = replace(m, state=MatchState.SETTLED, trade_id=3, value=200, delivery_end=1_800_000_900,
                      tx_hash="0x" + "ab" * 32, updated=2.0)
    store.save([settled])
    assert store.matches() == [settled]
    store.save([replace(settled, state=MatchState.PAID, delivered_wh=1000)])
    assert store.matches(open_only=True) == []

    assert store.cursor() is None
    store.set_cursor(10, 2)
    store.set_cursor(12, 0)
    assert store.cursor() == (12, 0)

    journal = SqlMarketJournal(db_url, store.engine)
    spec_s = OrderSpec("0xaa", "alice", 1_800_000_000, Side.SELL, 1000, 200)
    spec_b = OrderSpec("0xbb", "bob", 1_800_000_000, Side.BUY, 1000, 200)
    trade = Traded(1_799_990_001, 1_800_000_000, 200, 1000, "0xbb", "0xaa", Side.BUY, 0, 0)
    views = tuple(OrderView(s.order_id, s.participant, s.product, s.side, 200, OrderStatus.FILLED, 1000, 1000, 0, 0)
                  for s in (spec_s, spec_b))
    entries = (JournalEntry(0, Accepted(1, spec_s, True)), JournalEntry(1, Accepted(2, spec_b, True)),
               JournalEntry(2, trade))
    journal.append([JournalBatch(entries, views, ((2, trade, "bob", "alice"),))])
    assert store.journal_fills_after(-1) == [MatchRecord(2, 1_799_990_001, 1_800_000_000, 200, 1000, "0xbb", "0xaa")]
    assert store.journal_fills_after(2) == []
    store.close()
