"""The grid's market-maker quotes: which products, which prices, when to top up, withdraw and what a
participant saves against the grid. Figures by hand below each case."""

from __future__ import annotations

import pytest

from core.market import MarketRules, OrderStatus, OrderView, Side
from core.market.maker import GridTariffs, Place, TariffError, Withdraw, plan, quoted_products, saving_vs_grid

RULES = MarketRules(tick=1, lot=100, open_horizon_s=3600, gate_closure_s=300)
T = 1_800_000_000  # a multiple of 900: a delivery period starts here
TARIFFS = GridTariffs(feed_in=80, retail=320, size_wh=10_000, products=3)


def view(oid: str, product: int, side: Side, price: int, remaining: int) -> OrderView:
    return OrderView(oid, "grid-maker", product, side, price, OrderStatus.RESTING, 10_000, 10_000 - remaining, 0,
                     remaining)


def test_the_next_open_products_from_the_first_whose_gate_is_open() -> None:
    # A product is named by its delivery start; its gate closes 300 s before. At T + 500 the product T is
    # being delivered and T + 900 closes at T + 600: still open, so it is the first.
    assert quoted_products(RULES, T + 500, 3) == [T + 900, T + 1800, T + 2700]
    # At T + 600 that gate has closed: the first is T + 1800.
    assert quoted_products(RULES, T + 600, 3) == [T + 1800, T + 2700, T + 3600]
    # Trading opens an hour ahead: at T − 3000 the first open gate is T − 1800's (T − 2100), and T opens at
    # T − 3600 but T + 900 only at T − 2700, so of six periods three are open.
    assert quoted_products(RULES, T - 3000, 6) == [T - 1800, T - 900, T]


def test_an_empty_book_gets_a_buy_at_feed_in_and_a_sell_at_retail_in_each_product() -> None:
    p = T + 900
    assert plan(RULES, TARIFFS, T + 500, []) == [
        Place(p, Side.BUY, 80, 10_000), Place(p, Side.SELL, 320, 10_000),
        Place(p + 900, Side.BUY, 80, 10_000), Place(p + 900, Side.SELL, 320, 10_000),
        Place(p + 1800, Side.BUY, 80, 10_000), Place(p + 1800, Side.SELL, 320, 10_000)]


def test_a_quote_is_topped_up_only_below_half_its_size_and_stale_prices_are_withdrawn() -> None:
    p = T + 900
    mine = [view("b0", p, Side.BUY, 80, 5_000),  # exactly half left: kept as it is
            view("s0", p, Side.SELL, 320, 4_900),  # below half: 5 100 Wh more
            view("b1", p + 900, Side.BUY, 75, 10_000),  # an old feed-in tariff: withdrawn and replaced
            view("s1", p + 900, Side.SELL, 320, 10_000),
            view("b2", p + 1800, Side.BUY, 80, 10_000), view("s2", p + 1800, Side.SELL, 320, 10_000)]
    assert plan(RULES, TARIFFS, T + 500, mine) == [Withdraw("b1"), Place(p, Side.SELL, 320, 5_100),
                                                   Place(p + 900, Side.BUY, 80, 10_000)]


def test_a_participants_saving_against_the_grid() -> None:
    # Bought 2 500 Wh at 200 instead of the retail 320: 120 × 2.5 = 300; sold at 200 instead of feed-in 80: 300.
    assert saving_vs_grid(Side.BUY, 200, 2_500, TARIFFS) == 300
    assert saving_vs_grid(Side.SELL, 200, 2_500, TARIFFS) == 300
    # With the grid itself (at its own tariffs) nobody saves anything.
    assert saving_vs_grid(Side.BUY, 320, 2_500, TARIFFS) == 0


@pytest.mark.parametrize(("feed_in", "retail", "size", "key"), [(100, 100, 1000, "retail_tariff"),
                                                                  (-1, 100, 1000, "feed_in_tariff"),
                                                                  (10, 100, 0, "size_wh")])
def test_tariffs_that_cannot_work_name_the_key(feed_in: int, retail: int, size: int, key: str) -> None:
    with pytest.raises(TariffError, match=key):
        GridTariffs(feed_in, retail, size)
