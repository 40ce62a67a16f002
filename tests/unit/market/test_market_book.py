"""Hand-computed scenarios for the book: every order type, priority, modify, gate closure, self-trade."""

from __future__ import annotations

import pytest

from core.market import (
    Accepted,
    Book,
    Cancelled,
    CancelReason,
    ClockError,
    Expired,
    GateClosed,
    GridGate,
    GridView,
    MarketRules,
    OrderKind,
    OrderStatus,
    ProductClosed,
    Rejected,
    RejectReason,
    Rested,
    SelfTradePolicy,
    Side,
    TimeInForce,
    parse_condition,
    replay,
)
from tests.unit.market.helpers import NOW, RULES, P, book_with, buy, sell, trades

pytestmark = pytest.mark.unit


def test_ioc_takes_what_is_there_at_resting_prices_and_never_rests() -> None:
    book = book_with(sell("a1", "s1", 5000, 200), sell("a2", "s2", 3000, 210))
    events = book.submit(buy("b1", "b", 6000, 205, tif=TimeInForce.IOC), NOW)
    assert trades(events) == [("b1", "a1", 5000, 200)]  # the resting price, not 205
    assert events[-1] == Cancelled(NOW, "b1", CancelReason.IOC_REMAINDER, 1000)
    assert book.depth(P) == ([], [(210, 3000)])  # the 210 ask untouched, nothing bid
    b1 = book.order("b1")
    assert b1 is not None
    assert (b1.status, b1.filled, b1.cancelled, b1.remaining) == (OrderStatus.CANCELLED, 5000, 1000, 0)


def test_limit_walks_levels_in_price_then_time_order_and_rests_the_rest() -> None:
    book = book_with(sell("a1", "s1", 1000, 210), sell("a2", "s2", 1000, 200), sell("a3", "s3", 2000, 200))
    events = book.submit(buy("b1", "b", 3500, 210), NOW)
    # 200 level first (a2 before a3: earlier), then 210: 1000 + 2000 + 500.
    assert trades(events) == [("b1", "a2", 1000, 200), ("b1", "a3", 2000, 200), ("b1", "a1", 500, 210)]
    assert book.depth(P) == ([], [(210, 500)])
    assert not any(isinstance(e, Rested) for e in events)  # fully filled: nothing rests
    events = book.submit(buy("b2", "b", 1000, 205), NOW)
    assert trades(events) == [] and events[-1] == Rested(NOW, "b2")
    assert book.depth(P) == ([(205, 1000)], [(210, 500)])


def test_sell_aggressor_trades_at_the_bid_price() -> None:
    book = book_with(buy("b1", "b", 2000, 230), buy("b2", "b2", 2000, 220))
    events = book.submit(sell("a1", "s", 3000, 215), NOW)
    assert trades(events) == [("b1", "a1", 2000, 230), ("b2", "a1", 1000, 220)]
    assert book.depth(P) == ([(220, 1000)], [])


def test_fok_is_all_or_nothing() -> None:
    book = book_with(sell("a1", "s1", 2000, 200), sell("a2", "s2", 2000, 205))
    kill = book.submit(buy("f1", "b", 5000, 205, tif=TimeInForce.FOK), NOW)
    assert trades(kill) == [] and kill[-1] == Cancelled(NOW, "f1", CancelReason.FOK_NOT_FILLABLE, 5000)
    assert book.depth(P) == ([], [(200, 2000), (205, 2000)])  # untouched
    fill = book.submit(buy("f2", "b", 3000, 205, tif=TimeInForce.FOK), NOW)
    assert trades(fill) == [("f2", "a1", 2000, 200), ("f2", "a2", 1000, 205)]
    assert book.depth(P) == ([], [(205, 1000)])


def test_fok_does_not_count_what_self_trade_prevention_would_block() -> None:
    book = book_with(sell("own", "b", 2000, 200), sell("a2", "s2", 2000, 205))
    # cancel-incoming: the walk stops at b's own ask, so only 0 Wh is fillable.
    events = book.submit(buy("f1", "b", 2000, 205, tif=TimeInForce.FOK), NOW)
    assert events[-1].reason is CancelReason.FOK_NOT_FILLABLE  # type: ignore[union-attr]
    assert book.depth(P) == ([], [(200, 2000), (205, 2000)])


def test_market_with_limit_protection_from_the_best_price() -> None:
    # protection 20: limit = best ask 200 + 20 = 220; the 230 ask is out of reach.
    book = book_with(sell("a1", "s1", 1000, 200), sell("a2", "s2", 1000, 220), sell("a3", "s3", 1000, 230))
    events = book.submit(buy("m1", "b", 5000, None, kind=OrderKind.MARKET_WITH_LIMIT, tif=TimeInForce.IOC), NOW)
    assert trades(events) == [("m1", "a1", 1000, 200), ("m1", "a2", 1000, 220)]
    assert events[-1] == Cancelled(NOW, "m1", CancelReason.IOC_REMAINDER, 3000)
    own_limit = book.submit(sell("m2", "s", 1000, None, kind=OrderKind.MARKET_WITH_LIMIT, tif=TimeInForce.IOC), NOW)
    assert own_limit[-1] == Cancelled(NOW, "m2", CancelReason.NO_LIQUIDITY, 1000)  # no bids at all


def test_market_with_limit_must_be_immediate_and_limit_needs_a_price() -> None:
    book = Book(RULES)
    (rej,) = book.submit(buy("m1", "b", 1000, None, kind=OrderKind.MARKET_WITH_LIMIT), NOW)
    assert isinstance(rej, Rejected) and rej.reason is RejectReason.INVALID_TIME_IN_FORCE
    (rej,) = book.submit(buy("l1", "b", 1000, None), NOW)
    assert isinstance(rej, Rejected) and rej.reason is RejectReason.INVALID_PRICE


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (buy("x", "b", 0, 200), RejectReason.INVALID_QUANTITY),
        (buy("x", "b", -100, 200), RejectReason.INVALID_QUANTITY),
        (buy("x", "b", 150, 200), RejectReason.INVALID_QUANTITY),  # off-lot (lot 100 Wh)
        (buy("x", "b", 100, -1), RejectReason.INVALID_PRICE),
        (buy("x", "b", 100, 0), RejectReason.INVALID_PRICE),  # a zero price is no price
        (buy("x", "", 100, 200), RejectReason.INVALID_PARTICIPANT),
        (buy("x", "b", 100, 200)._replace(product=P + 1), RejectReason.UNKNOWN_PRODUCT),
        (buy("x", "b", 100, 200)._replace(product=P + 2 * 86400), RejectReason.PRODUCT_NOT_OPEN),
        (buy("x", "b", 100, 200)._replace(product=P - 3600), RejectReason.PRODUCT_CLOSED),
        (buy("x", "b", 100, 200, tif=TimeInForce.GTD), RejectReason.INVALID_VALIDITY),
        (buy("x", "b", 100, 200, tif=TimeInForce.GTD, valid_until=NOW), RejectReason.EXPIRED),
        (buy("x", "b", 100, 200, valid_from=P - 300), RejectReason.INVALID_VALIDITY),  # at gate closure
        (buy("x", "b", 100, 200, grid=GridGate.ADMIT_IF_HELPS), RejectReason.GRID_STATE_UNKNOWN),
    ],
)
def test_bad_orders_are_rejected_with_the_reason_and_change_nothing(spec: object, reason: RejectReason) -> None:
    book = Book(RULES)
    (rej,) = book.submit(spec, NOW)  # type: ignore[arg-type]
    assert isinstance(rej, Rejected) and rej.reason is reason and rej.detail
    assert book.orders == {} and book.products == {}


def test_off_tick_price_is_rejected() -> None:
    book = Book(MarketRules(tick=5))
    (rej,) = book.submit(buy("x", "b", 100, 203), NOW)
    assert isinstance(rej, Rejected) and rej.reason is RejectReason.INVALID_PRICE and "tick (5)" in rej.detail


def test_duplicate_order_id_is_rejected() -> None:
    book = book_with(sell("a1", "s1", 1000, 200))
    (rej,) = book.submit(sell("a1", "s1", 1000, 200), NOW)
    assert isinstance(rej, Rejected) and rej.reason is RejectReason.DUPLICATE_ORDER_ID


def test_reducing_quantity_keeps_priority_raising_or_repricing_loses_it() -> None:
    book = book_with(sell("a1", "s1", 2000, 200), sell("a2", "s2", 2000, 200), sell("a3", "s3", 2000, 200))
    book.modify("a1", "s1", NOW, quantity=1000)  # reduce: stays first
    book.modify("a2", "s2", NOW, quantity=3000)  # raise: goes to the back (behind a3)
    events = book.submit(buy("b1", "b", 2500, 200), NOW)
    assert trades(events) == [("b1", "a1", 1000, 200), ("b1", "a3", 1500, 200)]
    a2 = book.order("a2")
    assert a2 is not None and (a2.submitted, a2.remaining) == (3000, 3000)  # 2000 + 1000 more
    a1 = book.order("a1")
    assert a1 is not None and (a1.submitted, a1.filled, a1.cancelled) == (2000, 1000, 1000)
    # a price change away and back also loses priority: a3 (500 left) is now behind a2.
    book.modify("a3", "s3", NOW, price=201)
    book.modify("a3", "s3", NOW, price=200)
    assert trades(book.submit(buy("b2", "b", 3000, 200), NOW)) == [("b2", "a2", 3000, 200)]


def test_modify_to_a_crossing_price_trades_at_once() -> None:
    book = book_with(sell("a1", "s1", 1000, 200), buy("b1", "b", 1000, 190))
    events = book.modify("b1", "b", NOW, price=205)
    assert trades(events) == [("b1", "a1", 1000, 200)]
    assert book.depth(P) == ([], [])


def test_modify_and_cancel_are_checked() -> None:
    book = book_with(sell("a1", "s1", 1000, 200))
    (rej,) = book.cancel("a1", "intruder", NOW)
    assert isinstance(rej, Rejected) and rej.reason is RejectReason.NOT_OWNER
    (rej,) = book.modify("nope", "s1", NOW, price=190)
    assert isinstance(rej, Rejected) and rej.reason is RejectReason.UNKNOWN_ORDER
    (rej,) = book.modify("a1", "s1", NOW, quantity=150)
    assert isinstance(rej, Rejected) and rej.reason is RejectReason.INVALID_QUANTITY
    (rej,) = book.modify("a1", "s1", NOW, price=200)
    assert isinstance(rej, Rejected) and rej.reason is RejectReason.NOT_MODIFIABLE
    assert book.cancel("a1", "s1", NOW) == [Cancelled(NOW, "a1", CancelReason.BY_PARTICIPANT, 1000)]
    (rej,) = book.cancel("a1", "s1", NOW)
    assert isinstance(rej, Rejected) and rej.reason is RejectReason.ORDER_CLOSED
    assert book.depth(P) == ([], [])


def test_self_trade_cancel_incoming_keeps_earlier_fills() -> None:
    book = book_with(sell("a1", "s1", 1000, 200), sell("own", "b", 1000, 201), sell("a3", "s3", 1000, 202))
    events = book.submit(buy("b1", "b", 3000, 205), NOW)
    assert trades(events) == [("b1", "a1", 1000, 200)]
    assert events[-1] == Cancelled(NOW, "b1", CancelReason.SELF_TRADE, 2000)
    assert book.depth(P) == ([], [(201, 1000), (202, 1000)])  # own ask stays


def test_self_trade_cancel_resting_clears_own_orders_and_goes_on() -> None:
    rules = MarketRules(self_trade=SelfTradePolicy.CANCEL_RESTING)
    book = book_with(sell("own", "b", 1000, 200), sell("a2", "s2", 1000, 201), rules=rules)
    events = book.submit(buy("b1", "b", 1500, 205), NOW)
    assert Cancelled(NOW, "own", CancelReason.SELF_TRADE, 1000) in events
    assert trades(events) == [("b1", "a2", 1000, 201)]
    assert book.depth(P) == ([(205, 500)], [])


def test_gtd_expires_and_never_matches_after() -> None:
    book = book_with(sell("a1", "s1", 1000, 200, tif=TimeInForce.GTD, valid_until=NOW + 60))
    assert book.tick(NOW + 59) == []
    events = book.submit(buy("b1", "b", 1000, 210), NOW + 60)  # submit first expires what is due
    assert events[0] == Expired(NOW + 60, "a1", 1000)
    assert trades(events) == [] and book.depth(P) == ([(210, 1000)], [])


def test_valid_from_activates_at_the_first_tick_then_matches() -> None:
    book = book_with(sell("a1", "s1", 1000, 200))
    (acc,) = book.submit(buy("b1", "b", 1000, 200, valid_from=NOW + 100), NOW)
    assert isinstance(acc, Accepted) and not acc.active
    assert book.tick(NOW + 99) == []
    assert trades(book.submit(buy("b2", "b2", 0, 200), NOW + 99)) == []  # rejected, and b1 still waits
    events = book.tick(NOW + 100)
    assert trades(events) == [("b1", "a1", 1000, 200)]


def test_gate_closure_closes_every_open_order_of_the_product() -> None:
    book = book_with(
        sell("a1", "s1", 1000, 200), buy("b1", "b", 1000, 190), buy("w", "b", 1000, 190, valid_from=P - 301)
    )
    gate = P - 300
    assert book.tick(gate - 1)[1:] == [Rested(gate - 1, "w")]  # w activates at its valid_from and rests
    events = book.tick(gate)
    assert events == [
        GateClosed(gate, "a1", 1000), GateClosed(gate, "b1", 1000), GateClosed(gate, "w", 1000), ProductClosed(gate, P)
    ]  # fmt: skip
    (rej,) = book.submit(sell("late", "s1", 1000, 180), gate)
    assert isinstance(rej, Rejected) and rej.reason is RejectReason.PRODUCT_CLOSED


def test_conditional_on_frequency_triggers_once() -> None:
    book = book_with(sell("a1", "s1", 3000, 200))
    book.submit(buy("c1", "b", 1000, 200, condition=parse_condition("frequency < 49.9 Hz")), NOW)
    assert book.tick(NOW + 1, GridView(frequency_mhz=49_900)) [1:] == []  # 49.900 is not < 49.9
    events = book.tick(NOW + 2, GridView(frequency_mhz=49_899))
    assert trades(events) == [("c1", "a1", 1000, 200)]
    # frequency recovers and drops again: c1 is done, nothing else triggers.
    book.tick(NOW + 3, GridView(frequency_mhz=50_000))
    assert trades(book.tick(NOW + 4, GridView(frequency_mhz=49_800))) == []
    assert book.depth(P) == ([], [(200, 2000)])


def test_conditional_on_price_reads_the_last_trade() -> None:
    book = book_with(sell("a1", "s1", 1000, 190), sell("a2", "s2", 1000, 200))
    book.submit(buy("c1", "b", 1000, 250, condition=parse_condition("last_price >= 200")), NOW)
    assert book.tick(NOW) == []  # no trade yet: the condition cannot hold
    book.submit(buy("x", "x", 1000, 190), NOW)  # trades at 190
    assert book.tick(NOW + 1) == []
    book.submit(buy("y", "y", 1000, 200), NOW + 1)  # trades at 200
    events = book.tick(NOW + 2)
    assert events[0].reason.value == "condition"  # type: ignore[union-attr]
    assert events[-1] == Rested(NOW + 2, "c1")  # nothing left to buy: it rests at 250


def test_conditional_on_feeder_voltage() -> None:
    book = book_with(buy("b1", "b", 1000, 150))
    book.submit(sell("c1", "s", 1000, 100, condition=parse_condition("voltage(f3) > 1.08 pu")), NOW)
    assert book.tick(NOW, GridView.of(voltages_upu={"f3": 1_080_000, "f4": 1_200_000}))[1:] == []
    events = book.tick(NOW + 1, GridView.of(voltages_upu={"f3": 1_080_001}))
    assert trades(events) == [("b1", "c1", 1000, 150)]


def test_admit_if_helps_reads_the_imbalance() -> None:
    book = Book(RULES)
    surplus = GridView(imbalance_w=5_000)
    (rej,) = book.submit(sell("s1", "s", 1000, 200, grid=GridGate.ADMIT_IF_HELPS), NOW, surplus)[1:]
    assert isinstance(rej, Rejected) and rej.reason is RejectReason.GRID_NOT_HELPED and "5000 W" in rej.detail
    ok = book.submit(buy("b1", "b", 1000, 200, grid=GridGate.ADMIT_IF_HELPS), NOW)
    assert ok == [Accepted(NOW, ok[0].order, True), Rested(NOW, "b1")]  # type: ignore[union-attr]


def test_match_if_helps_leaves_the_book_while_it_does_not_help() -> None:
    book = Book(RULES)
    book.submit(sell("g1", "s", 1000, 200, grid=GridGate.MATCH_IF_HELPS), NOW, GridView(imbalance_w=-3_000))
    assert book.depth(P) == ([], [(200, 1000)])  # deficit: a sell helps, it rests
    book.tick(NOW + 1, GridView(imbalance_w=2_000))  # surplus: out of the book
    assert book.depth(P) == ([], []) and book.order("g1").status is OrderStatus.SUSPENDED  # type: ignore[union-attr]
    assert trades(book.submit(buy("b1", "b", 1000, 250), NOW + 1)) == []
    events = book.tick(NOW + 2, GridView(imbalance_w=-1))  # deficit again: back, and it crosses the bid
    assert trades(events) == [("b1", "g1", 1000, 250)]


def test_clock_must_not_go_backwards() -> None:
    book = book_with(sell("a1", "s1", 1000, 200))
    with pytest.raises(ClockError, match="backwards"):
        book.submit(sell("a2", "s1", 1000, 200), NOW - 1)


def test_replay_rebuilds_the_same_book_and_it_decides_alike() -> None:
    book = book_with(sell("a1", "s1", 5000, 200), sell("a2", "s2", 3000, 210, tif=TimeInForce.GTD, valid_until=NOW + 9))
    book.submit(buy("b1", "b", 6000, 205, tif=TimeInForce.IOC), NOW)
    book.submit(buy("c1", "b", 1000, 220, condition=parse_condition("imbalance < -5 kW")), NOW)
    book.tick(NOW + 5, GridView(imbalance_w=-5_001))
    again = replay(RULES, book.journal)
    assert again.snapshot() == book.snapshot()
    later = buy("b9", "b", 3000, 210)
    assert again.submit(later, NOW + 10) == book.submit(later, NOW + 10)
    assert again.snapshot() == book.snapshot()
    assert book.journal[-3] == Expired(NOW + 10, "a2", 2000)  # 3000 less c1's 1000
    assert book.depth(P) == ([(210, 3000)], [])


def test_depth_and_open_orders_for_the_views() -> None:
    book = book_with(buy("b1", "b", 1000, 190), buy("b2", "b", 500, 190), buy("b3", "c", 100, 180))
    assert book.depth(P, levels=1) == ([(190, 1500)], [])
    assert [o.order_id for o in book.open_orders("b")] == ["b1", "b2"]
    assert book.best_bid(P) == 190 and book.best_ask(P) is None and book.best_bid(P + 900) is None
    assert Side.BUY is book.order("b3").side  # type: ignore[union-attr]


def test_waiting_orders_can_be_modified_and_cancelled() -> None:
    book = book_with(sell("a1", "s1", 2000, 200))
    book.submit(buy("w1", "b", 1000, 190, valid_from=NOW + 10), NOW)
    book.submit(buy("w2", "b", 1000, 190, valid_from=NOW + 10), NOW)
    assert book.modify("w1", "b", NOW + 1, price=200, quantity=1500)[0].keeps_priority is False  # type: ignore[union-attr]
    assert book.cancel("w2", "b", NOW + 1) == [Cancelled(NOW + 1, "w2", CancelReason.BY_PARTICIPANT, 1000)]
    assert trades(book.tick(NOW + 10)) == [("w1", "a1", 1500, 200)]  # the new price and quantity, at activation
    w1 = book.order("w1")
    assert w1 is not None and (w1.submitted, w1.filled, w1.status) == (1500, 1500, OrderStatus.FILLED)


def test_fok_under_cancel_resting_counts_past_own_orders_and_cancels_them_only_if_it_fills() -> None:
    rules = MarketRules(self_trade=SelfTradePolicy.CANCEL_RESTING)
    book = book_with(sell("own", "b", 1000, 200), sell("a2", "s2", 1000, 205), rules=rules)
    kill = book.submit(buy("f1", "b", 2000, 205, tif=TimeInForce.FOK), NOW)  # only 1000 is not its own
    assert kill[-1] == Cancelled(NOW, "f1", CancelReason.FOK_NOT_FILLABLE, 2000)
    assert book.depth(P) == ([], [(200, 1000), (205, 1000)])  # own ask not touched by a killed FOK
    fill = book.submit(buy("f2", "b", 1000, 205, tif=TimeInForce.FOK), NOW)
    assert Cancelled(NOW, "own", CancelReason.SELF_TRADE, 1000) in fill
    assert trades(fill) == [("f2", "a2", 1000, 205)]
