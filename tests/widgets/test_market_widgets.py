"""The market widgets on their own: figures computed by hand, no market behind them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import pytest

from core.market import GridGate, MarketRules, OrderKind, OrderStatus, OrderView, Side, TimeInForce
from widgets.depth_chart import DepthChart, cumulative
from widgets.market_cells import LEFT, CachedTable, countdown
from widgets.order_ticket import OrderTicket, TicketForm, check_ticket
from widgets.palette import ALERT, TEXT
from widgets.price_chart import ohlc
from widgets.price_ladder import PriceLadder
from widgets.product_strip import ProductStrip
from widgets.trade_tape import COL_SETTLEMENT, TradeTape

pytestmark = pytest.mark.widgets

PRODUCT = 1_800_000_000  # a delivery period start (a multiple of 900)
NOW = PRODUCT - 3600
RULES = MarketRules(tick=5, lot=100)


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class T(NamedTuple):
    seq: int
    ts: int
    product: int
    price: int
    quantity: int
    buyer: str
    seller: str
    aggressor: Side


# -- depth ------------------------------------------------------------------------------------------------

def test_cumulative_depth_by_hand() -> None:
    # bids best first 100 (1 kWh), 95 (2 kWh), 90 (0.5 kWh); asks 105 (0.3), 110 (1.2)
    bx, by, ax, ay = cumulative([(100, 1000), (95, 2000), (90, 500)], [(105, 300), (110, 1200)], tick=5)
    # buyers take 3.5 kWh at 90 or above, 3.0 at 95, 1.0 at 100
    assert bx.tolist() == [85, 90, 95, 100] and by.tolist() == [3.5, 3.0, 1.0]
    # sellers give 0.3 kWh at 105, 1.5 at 110
    assert ax.tolist() == [105, 110, 115] and ay.tolist() == [0.3, 1.5]


def test_depth_chart_plots_the_steps_and_skips_an_unchanged_book(qapp) -> None:  # type: ignore[no-untyped-def]
    chart = DepthChart()
    bids, asks = [(100, 1000), (95, 2000)], [(105, 300)]
    chart.set_depth(bids, asks, tick=5, reference=102, last=100)
    (bx, by), (ax, ay) = chart.curve_data()
    assert list(bx) == [90, 95, 100] and list(by) == [3.0, 1.0]
    assert list(ax) == [105, 110] and list(ay) == [0.3]
    assert chart.reference.value() == 102 and chart.last.value() == 100
    assert "spread 5" in chart.label.toPlainText()
    chart.set_depth(bids, asks, tick=5, reference=102, last=100)
    assert chart.updates == 1  # the same book again: nothing redrawn
    chart.set_depth([], [], tick=5)
    assert chart.updates == 2 and not chart.reference.isVisible()


# -- ladder -----------------------------------------------------------------------------------------------

def test_ladder_puts_asks_above_bids_with_my_quantity(qapp) -> None:  # type: ignore[no-untyped-def]
    ladder = PriceLadder(levels=3)
    mine = [OrderView("o1", "grid", PRODUCT, Side.SELL, 110, OrderStatus.RESTING, 700, 0, 0, 700),
            OrderView("o2", "grid", PRODUCT, Side.BUY, 95, OrderStatus.RESTING, 1500, 500, 0, 1000)]
    ladder.show_book("L", [(100, 1000), (95, 2000)], [(105, 300), (110, 1200), (115, 100), (120, 5)], mine)
    t = ladder.table
    # rows: 115, 110, 105 (best ask just above the spread), then 100, 95, and an empty row
    assert [t.text(r, 2) for r in range(6)] == ["115", "110", "105", "100", "95", ""]
    assert t.text(1, 3) == "1.2" and t.text(1, 4) == "0.7"  # my 0.7 kWh ask at 110
    assert t.text(4, 1) == "2.0" and t.text(4, 0) == "1.0"  # my 1.0 kWh open bid at 95
    assert t.item(2, 2).font().bold() and t.item(3, 2).font().bold()  # best ask, best bid
    writes = t.writes
    ladder.show_book("L", [(100, 1000), (95, 2000)], [(105, 300), (110, 1200), (115, 100), (120, 5)], mine)
    assert t.writes == writes  # an unchanged book writes no cell


# -- tape, strip ------------------------------------------------------------------------------------------

def test_tape_newest_first_and_only_a_dispute_is_coloured(qapp, utc) -> None:  # type: ignore[no-untyped-def]
    tape = TradeTape()
    trades = [T(1, PRODUCT - 600, PRODUCT, 250, 1200, "a", "b", Side.BUY),
              T(2, PRODUCT - 590, PRODUCT, 255, 300, "c", "a", Side.SELL)]
    states = {1: ("paid", "0x" + "ab" * 32), 2: ("disputed", None)}
    tape.show_trades(trades, lambda t: states[t.seq])
    assert tape.shown == [2, 1]
    assert [tape.text(0, c) for c in range(7)] == ["07:50:10", "08:00", "255", "0.3", "sell", "c", "a"]
    assert tape.text(0, COL_SETTLEMENT) == "disputed" and tape.text(1, COL_SETTLEMENT) == "paid"
    assert tape.item(0, COL_SETTLEMENT).foreground().color().name() == ALERT
    assert tape.item(1, COL_SETTLEMENT).foreground().color().name() == TEXT.lower()
    assert tape.text(1, 8) == "0xabab…abab"  # short (the tape shares its row with the orders); whole in the tooltip
    assert tape.item(1, 8).toolTip() == "0x" + "ab" * 32


class P(NamedTuple):
    product: int
    best_bid: int | None
    best_ask: int | None
    last_price: int | None
    volume_wh: int
    gate_closure_in_s: int


def test_strip_countdown_selection_and_suspension(qapp, utc) -> None:  # type: ignore[no-untyped-def]
    strip = ProductStrip()
    got: list[int] = []
    strip.selected.connect(got.append)
    products = [P(PRODUCT, 245, 250, 248, 12_300, 754), P(PRODUCT + 900, None, 260, None, 0, 1654)]
    strip.show_products(products, set())
    assert [strip.text(r, 0) for r in range(6)] == ["08:00–08:15", "245", "250", "248", "12.3", "12:34"]
    assert strip.text(5, 1) == "27:34"
    strip._clicked(0, 1)
    assert got == [PRODUCT + 900]
    strip.show_products(products, {PRODUCT + 900})
    assert strip.text(0, 1).startswith("▶") and strip.text(5, 1) == "SUSPENDED"
    assert strip.item(5, 1).foreground().color().name() == ALERT
    strip.show_products(products, {None})  # the whole market
    assert strip.text(5, 0) == "SUSPENDED"
    assert countdown(3723) == "1:02:03" and countdown(0) == "closed"


def test_cached_table_writes_changed_cells_only(qapp) -> None:  # type: ignore[no-untyped-def]
    t = CachedTable(["a"], [LEFT])
    t.set_rows(1)
    t.set_cell(0, 0, "x")
    t.set_cell(0, 0, "x")
    t.set_cell(0, 0, "x", "alert")
    assert t.writes == 2


# -- OHLC -------------------------------------------------------------------------------------------------

def test_ohlc_per_minute_by_hand() -> None:
    m = PRODUCT - 1800
    trades = [T(1, m + 5, PRODUCT, 250, 100, "", "", Side.BUY), T(2, m + 20, PRODUCT, 262, 200, "", "", Side.BUY),
              T(3, m + 59, PRODUCT, 248, 300, "", "", Side.SELL), T(4, m + 61, PRODUCT, 255, 400, "", "", Side.BUY)]
    rows = ohlc(trades, 60)
    assert rows.tolist() == [[m, 250, 262, 248, 248, 600], [m + 60, 255, 255, 255, 255, 400]]
    assert ohlc([], 60).shape == (0, 6)
    assert np.all(rows[:, 0] % 60 == 0)


# -- the ticket -------------------------------------------------------------------------------------------

def form(**kw: object) -> TicketForm:
    base: dict[str, object] = {"account": "grid", "product": PRODUCT, "side": Side.BUY, "kind": OrderKind.LIMIT,
                               "tif": TimeInForce.GTC, "quantity_kwh": "1.5", "price": "250"}
    base.update(kw)
    return TicketForm(**base)  # type: ignore[arg-type]


def test_ticket_builds_the_order_in_wh_and_base_units() -> None:
    check = check_ticket(form(), RULES, NOW)
    assert check.problems == {}
    assert check.spec is not None
    assert (check.spec.quantity, check.spec.price, check.spec.participant, check.spec.product) == (
        1500, 250, "grid", PRODUCT)
    c = check_ticket(form(kind=OrderKind.MARKET_WITH_LIMIT, tif=TimeInForce.FOK, price="",
                          condition="frequency < 49.9 Hz", grid=GridGate.ADMIT_IF_HELPS), RULES, NOW)
    assert c.spec is not None and c.spec.price is None and c.spec.condition is not None
    assert c.spec.grid is GridGate.ADMIT_IF_HELPS


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"quantity_kwh": "1.55"}, "quantity", "lot (0.1 kWh)"),
    ({"quantity_kwh": "-1"}, "quantity", "positive"),
    ({"quantity_kwh": "abc"}, "quantity", "not an energy"),
    ({"price": "252"}, "price", "try 250"),
    ({"price": ""}, "price", "needs a price"),
    ({"price": "2.5"}, "price", "whole number"),
    ({"kind": OrderKind.MARKET_WITH_LIMIT, "price": ""}, "tif", "IOC or FOK"),
    ({"tif": TimeInForce.GTD}, "valid_until", "needs the time it expires"),
    ({"valid_until": "25:00"}, "valid_until", "not a time of day"),
    ({"condition": "frequency <> 49.9"}, "condition", ""),
    ({"account": ""}, "account", "choose the account"),
    ({"product": PRODUCT - 900 * 10}, "product", "closed for trading"),
])
def test_ticket_names_the_field_and_what_to_do(fields: dict[str, object], field: str, words: str) -> None:
    check = check_ticket(form(**fields), RULES, NOW)
    assert check.spec is None
    assert field in check.problems and words in check.problems[field]


def test_ticket_in_a_suspended_market_is_disabled_with_the_reason(qapp) -> None:  # type: ignore[no-untyped-def]
    ticket = OrderTicket(RULES)
    ticket.set_accounts(["grid"])
    ticket.set_products([PRODUCT], PRODUCT)
    ticket.set_state(NOW, None)
    ticket.quantity.setText("1.5")
    ticket.price.setText("252")  # off the tick: refused as typed
    assert not ticket.send.isEnabled() and "try 250" in ticket.problem_label.text()
    assert ticket.price.property("invalid") == "true"
    ticket.price.setText("250")
    assert ticket.send.isEnabled() and ticket.send.text() == "Send: BUY 1.5 kWh @ 250 for grid"
    sent: list[object] = []
    ticket.submitted.connect(sent.append)
    ticket.send.click()
    assert len(sent) == 1
    ticket.set_state(NOW, "trading suspended in all products by ann: drill")
    assert not ticket.send.isEnabled() and ticket.send.text() == "Trading suspended"
    assert "drill" in ticket.problem_label.text()
