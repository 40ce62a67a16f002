"""The restart checkpoint (core/market/checkpoint.py): a compacted book dumped to JSON and read back, with the
journal's later events replayed into it, is the book a full replay gives (hypothesis, and one by hand)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.market import Book, MarketRules, OrderSpec, OrderStatus, ProductClosed, SelfTradePolicy, Side, replay
from core.market.checkpoint import CheckpointError, dump_book, load_book
from tests.unit.market.helpers import NOW, P
from tests.unit.market.strategies import plain_scripts, scripts
from tests.unit.market.test_market_properties import RULES, run

pytestmark = pytest.mark.unit

LATER = P + 900
GATE = P - 300


def _through_json(book: Book, rules: MarketRules) -> Book:
    return load_book(rules, json.loads(json.dumps(dump_book(book))))


def test_a_checkpoint_after_a_closure_resumes_the_open_state_by_hand() -> None:
    rules = MarketRules(tick=1, lot=100)
    book = Book(rules)
    book.submit(OrderSpec("p1", "s1", P, Side.SELL, 500, 300), NOW)
    book.submit(OrderSpec("l1", "s1", LATER, Side.SELL, 400, 200), NOW)
    book.submit(OrderSpec("l2", "s2", LATER, Side.SELL, 300, 200), NOW)  # behind l1 at 200
    book.submit(OrderSpec("l3", "b1", LATER, Side.BUY, 100, 200), NOW + 1)  # takes 100 of l1: 300 left
    assert book.tick(GATE)[-1] == ProductClosed(GATE, P)  # p1 gate-closed, P closed
    events = list(book.journal)
    assert len(events) == 10  # 4 Accepted, 3 Rested (l3 filled: its Traded instead), GateClosed, ProductClosed
    compacted = replay(rules, events, compact=True)
    resumed = _through_json(compacted, rules)
    assert len(resumed.journal) == 10 and list(resumed.orders) == ["l1", "l2", "l3"]
    assert resumed.depth(LATER) == ([], [(200, 600)])
    assert [(v.order_id, v.remaining, v.status) for v in (resumed.order("l1"), resumed.order("l2"))] == \
        [("l1", 300, OrderStatus.RESTING), ("l2", 300, OrderStatus.RESTING)]
    assert resumed.snapshot() == compacted.snapshot()
    # It decides the next order as the original: a buy of 400 at 200 takes l1's 300 first, then 100 of l2.
    out = resumed.submit(OrderSpec("l4", "b2", LATER, Side.BUY, 400, 200), GATE + 1)
    assert [(e.sell_id, e.quantity) for e in out if type(e).__name__ == "Traded"] == [("l1", 300), ("l2", 100)]
    assert out == book.submit(OrderSpec("l4", "b2", LATER, Side.BUY, 400, 200), GATE + 1)
    assert len(resumed.journal) == len(book.journal) == 13


def test_a_book_holding_a_closed_product_is_not_dumped() -> None:
    book = Book(MarketRules(tick=1, lot=100))
    book.submit(OrderSpec("p1", "s1", P, Side.SELL, 500, 300), NOW)
    book.tick(GATE)
    with pytest.raises(CheckpointError, match="compact"):
        dump_book(book)
    book.compact()
    assert dump_book(book)["orders"] == [] and dump_book(book)["position"] == 4


SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.one_of(scripts(), plain_scripts()), st.sampled_from(SelfTradePolicy), st.floats(0, 1))
def test_checkpoint_and_tail_equal_the_full_replay(ops: list[tuple[object, ...]], policy: SelfTradePolicy,
                                                   cut: float) -> None:
    rules = RULES[policy]
    live = run(ops, policy, check_each=False).book
    events = list(live.journal)
    k = int(cut * len(events))
    full = replay(rules, events, compact=True)
    head = replay(rules, events[:k], compact=True)
    resumed = _through_json(head, rules)
    for ev in events[k:]:
        resumed.apply(ev)
        if type(ev) is ProductClosed:
            resumed.compact()
    resumed.compact()
    assert resumed.snapshot() == full.snapshot()
    assert len(resumed.journal) == len(full.journal) == len(events)
    assert list(resumed.orders) == list(full.orders)
    # And both decide the next requests alike: a tick far ahead (closures, expiries, activations), then an order.
    later = (full.now or NOW) + 5000
    assert resumed.tick(later) == full.tick(later)
    spec = OrderSpec("next", "p0", P + 7200, Side.BUY, 100, 100)
    assert resumed.submit(spec, later) == full.submit(spec, later)
    assert resumed.snapshot() == full.snapshot()
