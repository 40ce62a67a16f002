"""Compaction: a closed product's orders and the journal's read events leave memory; positions stay global.

Two products, P (gate closure at P - 300) and P + 900. Each gets N orders; P closes and is compacted: none of
its orders is held any more, the other product's book is what it was, ``len(journal)`` still counts every
event, and a compacting replay of the whole journal is the compacted live book (the open state).
"""

from __future__ import annotations

import pytest

from core.market import (
    Book,
    CompactedError,
    GateClosed,
    JournalWindow,
    OrderSpec,
    OrderStatus,
    ProductClosed,
    Rested,
    Side,
    TimeInForce,
    replay,
)
from core.market.events import Event
from tests.unit.market.helpers import NOW, RULES, P

pytestmark = pytest.mark.unit

LATER = P + 900
GATE = P - 300
N = 50


def two_products() -> tuple[Book, list[Event]]:
    """N resting sells in P (prices 300..349, nothing crosses) and N resting buys in LATER (100..149), then
    P's gate closure: N GateClosed + 1 ProductClosed. Journal: 2 N (Accepted, Rested) pairs + N + 1 = 251."""
    book = Book(RULES)
    for i in range(N):
        book.submit(OrderSpec(f"p{i}", f"s{i % 5}", P, Side.SELL, 100 * (i + 1), 300 + i), NOW)
        book.submit(OrderSpec(f"l{i}", f"b{i % 5}", LATER, Side.BUY, 100, 100 + i), NOW)
    closing = book.tick(GATE)
    assert closing[-1] == ProductClosed(GATE, P)
    assert [type(e) for e in closing] == [GateClosed] * N + [ProductClosed]
    return book, list(book.journal)


def test_a_closed_product_leaves_memory_and_the_other_is_unchanged() -> None:
    book, everything = two_products()
    assert len(everything) == 4 * N + N + 1 == 251
    before = book.snapshot()
    later_depth = book.depth(LATER, 100)
    gone = book.compact()
    assert sorted(o.order_id for o in gone) == sorted(f"p{i}" for i in range(N))
    assert all(o.status is OrderStatus.GATE_CLOSED for o in gone)
    # Held now: the N orders of LATER only, and one product.
    assert sorted(book.orders) == sorted(f"l{i}" for i in range(N))
    assert list(book.products) == [LATER]
    assert book.depth(LATER, 100) == later_depth
    assert book.depth(P) == ([], [])
    assert book.order("p0") is None
    # The kept orders' views are exactly what they were (the snapshot restricted to LATER).
    assert book.snapshot().orders == tuple(v for v in before.orders if v.product == LATER)
    # The journal: positions are global, nothing is held.
    assert len(book.journal) == 251 and book.journal.base == 251 and list(book.journal) == []
    with pytest.raises(CompactedError, match="journal position 250 was compacted"):
        book.journal[250]
    with pytest.raises(CompactedError):
        book.journal[0:]


def test_the_journal_continues_after_compaction() -> None:
    book, _ = two_products()
    book.compact()
    events = book.submit(OrderSpec("l-new", "s0", LATER, Side.SELL, 100, 149), GATE + 1)
    # It crosses the best buy (l49 at 149): Accepted, Traded; the journal's next positions are 251, 252.
    assert len(book.journal) == 253 and book.journal.base == 251
    assert book.journal[251:] == events and book.journal[252] == events[1]
    assert book.order("l49") is not None and book.order("l49").status is OrderStatus.FILLED  # type: ignore[union-attr]
    # A new order in the closed product is refused as closed (the book forgot it, the rule did not).
    refused = book.submit(OrderSpec("p-late", "s0", P, Side.SELL, 100, 300), GATE + 2)
    assert refused[-1].reason.value == "product-closed"  # type: ignore[union-attr]


def test_a_compacting_replay_holds_the_open_state_only() -> None:
    book, everything = two_products()
    book.compact()
    again = replay(RULES, everything, compact=True)
    assert again.snapshot() == book.snapshot()
    assert len(again.journal) == 251 and sorted(again.orders) == sorted(book.orders)
    # Without compaction the replay is the whole run (the invariant of an uncompacted book).
    full = replay(RULES, everything)
    assert len(full.orders) == 2 * N and full.journal == everything


def test_an_expiry_of_a_compacted_order_is_skipped() -> None:
    """A GTD order's expiry entry outlives its product (valid_until after gate closure is allowed)."""
    book = Book(RULES)
    accepted = book.submit(OrderSpec("g1", "s1", P, Side.SELL, 100, 300, tif=TimeInForce.GTD, valid_until=P + 60), NOW)
    assert [type(e).__name__ for e in accepted] == ["Accepted", "Rested"]
    book.submit(OrderSpec("l1", "b1", LATER, Side.BUY, 100, 100), NOW)
    assert book.tick(GATE)[-1] == ProductClosed(GATE, P)
    book.compact()
    assert "g1" not in book.orders
    assert book.tick(P + 60) == []  # the stale expiry entry finds no order: nothing to expire


def test_the_window_reads_by_position() -> None:
    w = JournalWindow([])
    w.events.extend(Rested(NOW, f"o{i}") for i in range(5))
    assert w.discard_below(3) == 3 and w.base == 3 and len(w) == 5
    assert w[3] == Rested(NOW, "o3") and w[-1] == Rested(NOW, "o4") and w[4:] == [Rested(NOW, "o4")]
    assert w[3:4] == [Rested(NOW, "o3")]
    assert w.discard_below(99) == 2 and len(w) == 5 and w[5:] == []
    with pytest.raises(ValueError):
        w[::2]


def test_memory_held_after_10_000_orders_into_closed_products_is_bounded() -> None:
    """20 products of 500 orders (a resting sell and a buy that fills it at once, 100 Wh at 200, by two
    traders), each product closed and compacted in turn. Uncompacted, a book holds ~700 B per order
    (docs/BENCHMARKS.md): 10 000 orders ≈ 7 MB. Compacted, what is held at the end must be below what 100
    orders would hold (70 000 B): nothing of the run is kept but the book's fixed state."""
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        book = Book(RULES)
        n = 0
        for k in range(20):
            product = P + 900 * k
            now = product - 1200  # the previous product's gate closure
            for _ in range(250):
                book.decide_submit(OrderSpec(f"s{n}", "seller", product, Side.SELL, 100, 200), now)
                book.decide_submit(OrderSpec(f"b{n}", "buyer", product, Side.BUY, 100, 200), now)
                n += 1
            _ = book.journal
            assert book.tick(product - 300)[-1] == ProductClosed(product - 300, product)
            book.compact()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    # 20 × 250 × (Accepted, Rested, Accepted, Traded) + 20 ProductClosed = 20 020 events, none held.
    assert len(book.journal) == 20_020 and list(book.journal) == [] and book.orders == {}
    assert held < 100 * 700, held
