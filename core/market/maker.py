"""The grid as a participant: a market-maker quoting the grid's tariffs in every product it trades.

As in gsy-e's market maker, the upstream grid is always willing to take surplus at the feed-in tariff and
to supply at the retail tariff. So the book is never empty (a household can always sell and buy), the
spread between the two tariffs is the room peer-to-peer trades have, and what participants save against
the grid is measurable trade by trade (:func:`saving_vs_grid`).

This module only decides; the service (``console.services.market_maker``) signs and submits. A quote is one
resting GTC limit order per side and product; it is topped up when trades have taken it below half its
size and replaced when the tariff it quotes has changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.market.orders import OrderView, Side
from core.market.products import MarketRules


class TariffError(ValueError):
    """The maker's tariffs cannot work (a configuration error naming the key)."""


@dataclass(frozen=True, slots=True)
class GridTariffs:
    """What the grid pays for energy it takes (``feed_in``) and charges for energy it supplies
    (``retail``), in settlement-token base units per kWh; ``size_wh`` is each quote's quantity and
    ``products`` how many delivery periods ahead (from the next one still open) it quotes."""

    feed_in: int
    retail: int
    size_wh: int
    products: int = 8

    def __post_init__(self) -> None:
        if self.feed_in < 0:
            raise TariffError(f"[market.maker] feed_in_tariff must be >= 0, got {self.feed_in}")
        if self.retail <= self.feed_in:
            raise TariffError(f"[market.maker] retail_tariff ({self.retail}) must be above feed_in_tariff "
                              f"({self.feed_in}): otherwise the grid would trade with itself through the book")
        if self.size_wh <= 0:
            raise TariffError(f"[market.maker] size_wh must be positive, got {self.size_wh}")
        if self.products <= 0:
            raise TariffError(f"[market.maker] products must be positive, got {self.products}")

    def price(self, side: Side) -> int:
        return self.feed_in if side is Side.BUY else self.retail


@dataclass(frozen=True, slots=True)
class Place:
    product: int
    side: Side
    price: int
    quantity: int


@dataclass(frozen=True, slots=True)
class Withdraw:
    order_id: str


Action = Place | Withdraw


def quoted_products(rules: MarketRules, now: int, count: int) -> list[int]:
    """The ``count`` delivery periods from the first whose gate has not closed at ``now``, that are open."""
    first = rules.product_at(now)
    while rules.gate_closure(first) <= now:
        first += rules.period_s
    out = [first + k * rules.period_s for k in range(count)]
    return [p for p in out if rules.opens_at(p) <= now]


def plan(rules: MarketRules, tariffs: GridTariffs, now: int, open_orders: Iterable[OrderView]) -> list[Action]:
    """What the maker should do at ``now`` given its open orders: withdraw quotes at a stale price (and
    duplicates), place a full quote where a side has none, top up a side that trades have taken below half
    its size (the rest stays in the book, keeping its time priority)."""
    lot = rules.lot
    size = max(lot, tariffs.size_wh - tariffs.size_wh % lot)
    by_slot: dict[tuple[int, Side], list[OrderView]] = {}
    actions: list[Action] = []
    for o in open_orders:
        by_slot.setdefault((o.product, o.side), []).append(o)
    for (_product, side), orders in sorted(by_slot.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
        actions += [Withdraw(o.order_id) for o in orders if o.price != tariffs.price(side)]
    for product in quoted_products(rules, now, tariffs.products):
        for side in (Side.BUY, Side.SELL):
            price = tariffs.price(side)
            resting = sum(o.remaining for o in by_slot.get((product, side), ()) if o.price == price)
            if resting * 2 < size:
                actions.append(Place(product, side, price, size - resting - (size - resting) % lot or lot))
    return actions


def saving_vs_grid(side: Side, price: int, quantity_wh: int, tariffs: GridTariffs) -> int:
    """What a participant gained on one trade against trading with the grid, in base units: a buyer paid
    ``price`` instead of the retail tariff, a seller got ``price`` instead of the feed-in tariff."""
    per_kwh = tariffs.retail - price if side is Side.BUY else price - tariffs.feed_in
    return per_kwh * quantity_wh // 1000


def total_saving(trades: Sequence[tuple[Side, int, int]], tariffs: GridTariffs) -> int:
    """:func:`saving_vs_grid` summed over ``(side, price, quantity_wh)`` trades."""
    return sum(saving_vs_grid(s, p, q, tariffs) for s, p, q in trades)
