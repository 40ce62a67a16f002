"""Shared scenery for the market tests: one product an hour ahead, short order constructors."""

from __future__ import annotations

from core.market import Book, Event, MarketRules, OrderSpec, Side, Traded

P = 1_800_000_000  # a delivery period start (multiple of 900 s)
NOW = P - 3600  # an hour before delivery: trading is open, gate closure is at P - 300
RULES = MarketRules(tick=1, lot=100, market_protection=20)


def sell(order_id: str, participant: str, wh: int, price: int | None, **kw: object) -> OrderSpec:
    return OrderSpec(order_id, participant, P, Side.SELL, wh, price, **kw)  # type: ignore[arg-type]


def buy(order_id: str, participant: str, wh: int, price: int | None, **kw: object) -> OrderSpec:
    return OrderSpec(order_id, participant, P, Side.BUY, wh, price, **kw)  # type: ignore[arg-type]


def trades(events: list[Event]) -> list[tuple[str, str, int, int]]:
    """(buy id, sell id, Wh, price) of every trade, in order."""
    return [(e.buy_id, e.sell_id, e.quantity, e.price) for e in events if isinstance(e, Traded)]


def book_with(*orders: OrderSpec, rules: MarketRules = RULES, now: int = NOW) -> Book:
    book = Book(rules)
    for o in orders:
        book.submit(o, now)
    return book
