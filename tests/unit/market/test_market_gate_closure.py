"""Gate closure picks the open orders from every order the product accepted (filled and cancelled ones skipped).

The product keeps a list of its accepted orders (not a dict of the open ones, which cost an
insert and a delete per order on the matching path); these cases pin what gate closure must
then still get right: only open orders, each with its open remainder, in acceptance order,
the same after a replay, and a second product closing on its own.
"""

from __future__ import annotations

import pytest

from core.market import Cancelled, CancelReason, GateClosed, OrderSpec, OrderStatus, ProductClosed, Side, replay
from tests.unit.market.helpers import NOW, RULES, P, book_with, buy, sell

pytestmark = pytest.mark.unit

GATE = P - 300


def test_gate_closure_skips_filled_and_cancelled_orders_and_keeps_acceptance_order() -> None:
    book = book_with(
        sell("a1", "s1", 1000, 200),  # rests; b1 then takes 400 of it: 600 open
        buy("b1", "b", 400, 200),  # filled at once
        sell("c1", "s2", 500, 210),  # rests, cancelled below
        buy("d1", "b", 700, 150, valid_from=NOW + 50),  # pending until NOW + 50
        buy("e1", "b2", 300, 190),  # rests
    )
    assert book.cancel("c1", "s2", NOW + 1) == [Cancelled(NOW + 1, "c1", CancelReason.BY_PARTICIPANT, 500)]
    events = book.tick(GATE)
    # A tick closes gates before it activates anything: d1, still pending, closes with all its 700 Wh.
    assert events == [
        GateClosed(GATE, "a1", 600), GateClosed(GATE, "d1", 700), GateClosed(GATE, "e1", 300), ProductClosed(GATE, P)
    ]  # fmt: skip
    statuses = {oid: book.order(oid).status for oid in ("a1", "b1", "c1", "d1", "e1")}  # type: ignore[union-attr]
    assert statuses == {
        "a1": OrderStatus.GATE_CLOSED,
        "b1": OrderStatus.FILLED,
        "c1": OrderStatus.CANCELLED,
        "d1": OrderStatus.GATE_CLOSED,
        "e1": OrderStatus.GATE_CLOSED,
    }
    a1 = book.order("a1")
    assert a1 is not None and (a1.submitted, a1.filled, a1.cancelled, a1.remaining) == (1000, 400, 600, 0)
    assert replay(RULES, book.journal).snapshot() == book.snapshot()


def test_each_product_closes_its_own_orders_only() -> None:
    later = P + 900
    book = book_with(sell("a1", "s1", 1000, 200), OrderSpec("n1", "s1", later, Side.SELL, 800, 200))
    assert book.tick(GATE) == [GateClosed(GATE, "a1", 1000), ProductClosed(GATE, P)]
    assert book.depth(later) == ([], [(200, 800)])  # the next product's order still rests
    assert book.tick(GATE + 900) == [GateClosed(GATE + 900, "n1", 800), ProductClosed(GATE + 900, later)]
    assert replay(RULES, book.journal).snapshot() == book.snapshot()
