"""A book's open state as JSON-ready values and back (the restart checkpoint, docs/decisions.md 2026-12-03).

``dump_book(book)`` gives what a compacted book holds (every product not yet closed with its orders, levels in
priority order, waiting and grid-gated orders, time, grid and journal position); ``load_book(rules, state)``
builds a book that decides exactly as the dumped one from there on: its :meth:`BookState.snapshot` and
``len(journal)`` are equal, and replaying the same later events into both gives equal books. The time indexes
are rebuilt from the orders and the rules (entries a full replay still holds for forgotten orders or closed
products are stale there and skipped, so they decide nothing).
"""

from __future__ import annotations

import heapq
from typing import Any

from core.market.book import Book
from core.market.codec import decode_grid, decode_spec, encode_grid, encode_spec
from core.market.orders import OrderStatus
from core.market.products import MarketRules
from core.market.state import NEVER, BookSide, BookState, Order, Product

VERSION = 1


class CheckpointError(ValueError):
    """A state that cannot be dumped (closed products not compacted yet) or read back."""


def dump_book(book: BookState) -> dict[str, Any]:
    """The open state of a compacted book (raises :class:`CheckpointError` if a closed product is held)."""
    position = len(book.journal)  # (reads the pending records first)
    if book._closed or any(p.closed for p in book.products.values()):
        raise CheckpointError("closed products are still held: compact the book before dumping it")
    orders = [[encode_spec(o.spec), o.status.value, o.price, o.submitted, o.cancelled, o.remaining]
              for o in book.orders.values()]
    products = [[p.start, p.last_price, [o.order_id for o in p.open_orders()], _levels(p.bids), _levels(p.asks)]
                for p in book.products.values()]
    return {"version": VERSION, "position": position, "now": book.now,
            "grid": None if book.grid is None else encode_grid(book.grid), "orders": orders, "products": products,
            "waiting": list(book.waiting), "gated": list(book.gated_resting), "expiry_n": book._expiry_n}


def _levels(side: BookSide) -> list[list[Any]]:
    return [[key * side.sign, list(side.levels[key])] for key in side.keys]


def load_book(rules: MarketRules, state: dict[str, Any]) -> Book:
    """The book ``dump_book`` gave ``state`` for (raises :class:`CheckpointError`)."""
    if state.get("version") != VERSION:
        raise CheckpointError(f"checkpoint version {state.get('version')!r}, this console reads {VERSION}")
    book = Book(rules)
    try:
        book.now = state["now"]
        book.grid = None if state["grid"] is None else decode_grid(state["grid"])
        orders = book.orders
        for spec_d, status, price, submitted, cancelled, remaining in state["orders"]:
            order = Order(decode_spec(spec_d), OrderStatus(status))
            order.price, order.submitted, order.cancelled, order.remaining = price, submitted, cancelled, remaining
            orders[order.order_id] = order
        for start, last_price, open_ids, bids, asks in state["products"]:
            product = book.products[start] = Product(start)
            product.last_price = last_price
            product.accepted = [orders[i] for i in open_ids]
            for side, levels in ((product.bids, bids), (product.asks, asks)):
                for price, ids in levels:
                    for i in ids:
                        side.add(orders[i], price)
            heapq.heappush(book.gate_closures, (rules.gate_closure(start), start))
        book.waiting = {i: orders[i] for i in state["waiting"]}
        book.gated_resting = {i: orders[i] for i in state["gated"]}
        # Expiries in acceptance order (a full replay's tie-break), numbered below the counter it goes on from.
        n = 0
        for order in orders.values():
            if order.spec.valid_until is not None:
                n += 1
                heapq.heappush(book.expiries, (order.spec.valid_until, n, order.order_id))
        book._expiry_n = max(n, int(state["expiry_n"]))
        position = int(state["position"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"market checkpoint unreadable: {exc!r}") from exc
    book._window.base = position
    book._due_at = min(book.gate_closures[0][0] if book.gate_closures else NEVER,
                       book.expiries[0][0] if book.expiries else NEVER)
    return book
