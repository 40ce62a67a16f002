"""The trading tab on a real market (MarketService on a SQLite journal; the clock is the only thing mocked):
the screen snapshot's figures by hand, ticket → book → ladder → tape, settlement states, suspension with
permission and audit, and the per-frame coalescing."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from console.services.market import (
    MarketService,
    MarketSuspended,
    SettlementState,
    SettlementView,
    TradeView,
)
from console.store.audit_read import recent_audit
from console.store.historian import SqlHistorian
from console.store.market_journal import SqlMarketJournal
from core.access import PermissionDenied, Role, User
from core.market import MarketRules, OrderSpec, OrderStatus, PricingConfig, Side, Traded

pytestmark = pytest.mark.widgets

PRODUCT = 1_800_000_000
NOW = PRODUCT - 3600  # an hour before delivery: gate closure (300 s before) in 3300 s
OPERATOR = User("olga", Role.OPERATOR)
ADMIN = User("adam", Role.ADMIN)
ANALYST = User("ana", Role.ANALYST)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Ledger:
    """A settlement port that keeps the trades it took and can say where each one stands."""

    def __init__(self) -> None:
        self.taken: list[Traded] = []
        self.states: dict[tuple[str, str], SettlementView] = {}

    async def submit_batch(self, trades: list[Traded]) -> None:
        self.taken.extend(trades)

    def state_of(self, trade: TradeView) -> SettlementView | None:
        return self.states.get((trade.buy_id, trade.sell_id))


@pytest.fixture
async def market(tmp_path: Path) -> AsyncIterator[MarketService]:
    service = MarketService(MarketRules(tick=5, lot=100), SqlMarketJournal(f"sqlite:///{tmp_path / 'm.db'}"),
                            clock=Clock(NOW), pricing=PricingConfig(base=250), settlement=Ledger())
    historian = SqlHistorian(f"sqlite:///{tmp_path / 'audit.db'}", tmp_path / "spool")
    historian.start()
    service.audit = historian
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
        historian.stop()


def spec(oid: str, who: str, side: Side, qty: int, price: int, product: int = PRODUCT) -> OrderSpec:
    return OrderSpec(oid, who, product, side, qty, price)


async def test_screen_figures_by_hand(market: MarketService) -> None:
    await market.submit(spec("b1", "alice", Side.BUY, 1000, 240))
    await market.submit(spec("b2", "bob", Side.BUY, 500, 240))
    await market.submit(spec("a1", "carol", Side.SELL, 800, 250))
    await market.submit(spec("x1", "dave", Side.BUY, 300, 250))  # takes 300 Wh of carol's ask at 250
    await market.tick()  # publishes the reference price (250 × 1 × 1 × 1)
    s = market.screen(None, "carol")
    # the trading window is 24 h ahead; the first product still open is the one at NOW + 900 (gate at +600)
    assert s.upcoming[0].product == NOW + 900 and s.upcoming[0].gate_closure_in_s == 600
    assert len(s.upcoming) == 8 and s.upcoming[3].product == PRODUCT  # +900, +1800, +2700, +3600
    assert s.depth is not None and s.depth.product == NOW + 900  # nothing chosen: the first
    s = market.screen(PRODUCT, "carol")
    d = s.depth
    assert d is not None
    assert d.bids == ((240, 1500),) and d.asks == ((250, 500),)
    assert (d.best_bid, d.best_ask, d.last_price, d.volume_wh, d.gate_closure_in_s) == (240, 250, 250, 300, 3300)
    assert [(t.price, t.quantity, t.buyer, t.seller) for t in s.trades] == [(250, 300, "dave", "carol")]
    assert [o.order_id for o in s.open_orders] == ["a1"] and s.open_orders[0].remaining == 500
    assert s.reference is not None and s.reference.price == 250
    assert s.suspension is None
    assert market.participants() == ["alice", "bob", "carol", "dave"]


async def test_revision_changes_with_the_book_and_a_suspension_only(market: MarketService) -> None:
    r0 = market.revision()
    assert market.revision() == r0
    await market.submit(spec("b1", "alice", Side.BUY, 1000, 240))
    r1 = market.revision()
    assert r1 != r0
    await market.suspend("drill", by=OPERATOR)
    assert market.revision() != r1


async def test_ticket_to_ladder_to_tape_to_settlement(qapp, market: MarketService) -> None:  # type: ignore[no-untyped-def]
    from console.ui.trading_view import MAKER, TradingView

    view = TradingView(market, ADMIN)
    view.select_product(PRODUCT)
    await market.submit(spec("a1", "carol", Side.SELL, 800, 250))
    view.refresh()
    assert view.ticket.account.currentText() == MAKER
    assert [view.ticket.account.itemText(i) for i in range(view.ticket.account.count())][1:] == ["carol"]
    view.ticket.set_products([PRODUCT], PRODUCT)
    view.ticket.quantity.setText("1.2")
    view.ticket.price.setText("245")
    assert view.ticket.send.isEnabled()
    view.ticket.send.click()  # → send_order → market.submit
    await next(iter(view.tasks))
    assert "accepted, resting" in view.ticket.result.text()
    view.refresh()
    ladder = view.ladder.table
    bid_row = view.ladder.rows.index((245, "bid"))
    assert ladder.text(bid_row, 1) == "1.2" and ladder.text(bid_row, 0) == "1.2"  # mine: the maker's bid
    assert view.order_ids and market.order(view.order_ids[0]).status is OrderStatus.RESTING  # type: ignore[union-attr]
    # carol sells into the maker's bid: the fill reaches the tape, settlement "matched"
    await market.submit(spec("s1", "carol", Side.SELL, 1200, 245))
    view.refresh()
    assert view.tape.text(0, 2) == "245" and view.tape.text(0, 3) == "1.2"
    assert (view.tape.text(0, 5), view.tape.text(0, 6)) == (MAKER, "carol")
    assert view.tape.text(0, 7) == "matched"
    assert view.order_ids == []  # filled: no longer open
    trade = market.trades_in(PRODUCT)[-1]
    ledger = market.settlement
    assert isinstance(ledger, Ledger)
    ledger.states[(trade.buy_id, trade.sell_id)] = SettlementView(SettlementState.SETTLED, "0x" + "12" * 32, "")
    market.clock.t += 1  # type: ignore[attr-defined]  # the next second: the tab redraws
    view.refresh()
    assert view.tape.text(0, 7) == "settled" and view.tape.text(0, 8) == "0x1212…1212"


async def test_a_repeated_frame_draws_nothing(qapp, market: MarketService) -> None:  # type: ignore[no-untyped-def]
    from console.ui.trading_view import TradingView

    view = TradingView(market, OPERATOR)
    assert view.refresh() is not None
    for i in range(5):  # a burst between two frames ...
        await market.submit(spec(f"b{i}", "alice", Side.BUY, 100, 200 + 5 * i))
    assert view.refresh() is not None  # ... is one redraw
    assert view.refresh() is None
    assert view.frames_drawn == 2


async def test_suspension_needs_the_permission_and_is_audited(qapp, market: MarketService) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied, match=r"ana \(analyst\) may not do market\.suspend"):
        await market.suspend("no", by=ANALYST)
    assert market.suspensions() == ()
    with pytest.raises(ValueError, match="needs a reason"):
        await market.suspend("  ", by=OPERATOR)
    await market.submit(spec("b1", "alice", Side.BUY, 1000, 240))
    halt = await market.suspend("feeder 2 protection test", PRODUCT, by=OPERATOR)
    assert market.suspension(PRODUCT) == halt and market.suspension(PRODUCT + 900) is None
    with pytest.raises(MarketSuspended, match="feeder 2 protection test"):
        await market.submit(spec("b2", "bob", Side.BUY, 100, 240))
    with pytest.raises(MarketSuspended):
        await market.modify("b1", "alice", price=245)
    await market.submit(spec("n1", "bob", Side.BUY, 100, 240, PRODUCT + 900))  # another product trades on
    out = await market.cancel("b1", "alice")  # cancels stay allowed: participants can leave a halted market
    assert out.order is not None and out.order.status is OrderStatus.CANCELLED
    await market.resume(PRODUCT, by=OPERATOR)
    await market.submit(spec("b3", "bob", Side.BUY, 100, 240))
    entries = recent_audit(market.audit.engine, 10)  # type: ignore[union-attr]
    assert [(e.user, e.action, e.target, e.result.split(":")[0]) for e in reversed(entries)] == [
        ("ana", "market.suspend", "market", "refused"),
        ("olga", "market.suspend", f"market.product {PRODUCT}", "suspended"),
        ("olga", "market.resume", f"market.product {PRODUCT}", "resumed"),
    ]


async def test_suspend_from_the_tab_confirms_with_cancel_default(qapp, market: MarketService) -> None:  # type: ignore[no-untyped-def]
    from console.ui.trading_view import TradingView

    view = TradingView(market, OPERATOR)
    view.select_product(PRODUCT)
    asked: list[str] = []
    view.ask_suspension = lambda product: (None, "storm over feeder 3")
    view.confirm = lambda title, text, act: asked.append(text) is not None and False  # the operator cancels
    assert view.suspend_clicked() is None and market.suspensions() == ()
    assert "ALL products" in asked[0] and "503" in asked[0]
    view.confirm = lambda title, text, act: True
    task = view.suspend_clicked()
    assert task is not None
    await task
    view.refresh()
    assert view.banner.isVisibleTo(view) and "STORM OVER FEEDER 3" in view.banner.text()
    assert not view.ticket.send.isEnabled() and "storm over feeder 3" in view.ticket.problem_label.text()
    assert view.strip.text(5, 0) == "SUSPENDED"
    task = view.resume_clicked()
    assert task is not None
    await task
    view.refresh()
    assert market.suspensions() == () and not view.banner.isVisibleTo(view)


async def test_positions_by_hand_and_the_participants_table(qapp, market: MarketService) -> None:  # type: ignore[no-untyped-def]
    from console.ui.participants_view import ParticipantsView

    await market.tick()  # reference price 250 from NOW on
    market.clock.t += 10  # type: ignore[attr-defined]
    await market.submit(spec("a1", "carol", Side.SELL, 2000, 260))
    await market.submit(spec("b1", "dave", Side.BUY, 1500, 260))  # dave buys 1.5 kWh at 260 from carol
    await market.submit(spec("a2", "dave", Side.SELL, 1000, 240, PRODUCT + 900))
    await market.submit(spec("b2", "carol", Side.BUY, 1000, 240, PRODUCT + 900))  # carol buys 1 kWh at 240
    pos = {p.participant: p for p in market.positions()}
    carol, dave = pos["carol"], pos["dave"]
    assert (carol.sold_wh, carol.bought_wh, carol.trades) == (1500, 1000, 2)
    assert carol.earnings == 1.5 * 260 and carol.cost == 1.0 * 240  # 390 and 240
    # against 250: carol sold 1.5 kWh 10 above (+15) and bought 1 kWh 10 below (+10); dave the opposite
    assert carol.gain_vs_reference == 25.0 and dave.gain_vs_reference == -25.0
    assert [(q.product, q.net_wh) for q in carol.products] == [(PRODUCT, -1500), (PRODUCT + 900, 1000)]
    view = ParticipantsView(market)
    assert view.refresh() and not view.refresh()  # nothing new: no rebuild
    t = view.table
    rows = {t.item(r, 0).text(): [t.item(r, c).text() for c in range(1, 13)] for r in range(t.rowCount())}
    assert rows["carol"] == ["—", "—", "—", "—", "2", "1.0", "1.5", "-0.5", "240", "390", "150", "25"]
    t.sortItems(12)  # by gain: dave (-25) before carol (+25), by value not text
    assert t.item(0, 0).text() == "dave"
    view.select("carol")
    assert "bought 1.0 kWh for 240, sold 1.5 kWh for 390" in view.title.text()


async def test_main_window_has_the_market_tabs_panel_and_banner(qtbot, market: MarketService) -> None:  # type: ignore[no-untyped-def]
    from console.bootstrap import build_acquisition
    from console.config import default_config_path, load
    from console.services.loop_monitor import LoopMonitor
    from console.ui.main_window import MainWindow

    settings = load(default_config_path())
    win = MainWindow(settings, build_acquisition(settings), LoopMonitor(), market=market)
    qtbot.addWidget(win)
    win.timer.stop()
    tabs = [win.tabs.tabText(i) for i in range(win.tabs.count())]
    assert "Market  (F4)" in tabs and "Participants  (F6)" in tabs
    assert win.view.market_panel is win.market_panel
    await market.submit(spec("a1", "carol", Side.SELL, 800, 250, NOW + 900))
    win.frames = 0
    win.refresh()
    assert win.market_panel is not None and "ask 250" in win.market_panel.book.text()
    assert win.market_banner.isHidden()
    await market.suspend("storm", by=OPERATOR)
    win.frames = 0
    win.refresh()
    assert not win.market_banner.isHidden()
    assert win.market_banner.text() == "TRADING SUSPENDED IN ALL PRODUCTS BY OLGA: STORM"
    assert win.market_panel.status.text() == "trading suspended in all products by olga: storm"


async def test_participants_with_their_devices_energy(qapp, market: MarketService) -> None:  # type: ignore[no-untyped-def]
    from console.ui.participants_view import ParticipantsView
    from core.participants import EnergyBalance

    await market.submit(spec("a1", "house-01", Side.SELL, 2000, 260))
    await market.submit(spec("b1", "school", Side.BUY, 500, 260))
    # house-01: PV 3.2 kW, meter exports 1.2 kW, battery idle → consumes 2.0 kW; house-02 trades nothing
    rows = [EnergyBalance("house-01", -1200.0, 2000.0, 3200.0, math.nan, 0.0, 55.0, 4100.0, 7300.0, 3200.0),
            EnergyBalance("house-02", 800.0, 800.0, math.nan, math.nan, math.nan, math.nan, 900.0, 0.0, math.nan)]
    view = ParticipantsView(market, lambda: rows)
    assert view.refresh()
    t = view.table
    got = {t.item(r, 0).text(): [t.item(r, c).text() for c in range(1, 8)] for r in range(t.rowCount())}
    assert got["house-01"] == ["3.2", "2.0", "4.1", "7.3", "1", "0.0", "0.5"]
    assert got["house-02"] == ["—", "0.8", "0.9", "0.0", "0", "0.0", "0.0"]  # devices, no trades
    assert got["school"][:4] == ["—", "—", "—", "—"]  # trades, no devices
    view.select("house-02")
    assert view.title.text().startswith("house-02: 0 trades")


async def test_a_participants_page_lists_its_badges(qapp, market: MarketService) -> None:  # type: ignore[no-untyped-def]
    from console.ui.participants_view import ParticipantsView

    await market.submit(spec("a1", "house-01", Side.SELL, 2000, 260))
    await market.submit(spec("b1", "school", Side.BUY, 500, 260))
    badges = {"house-01": ["First Trade", "Prosumer (sent)"]}
    view = ParticipantsView(market, badges=lambda who: badges.get(who, []))
    assert view.refresh()
    view.select("house-01")
    assert view.title.text().endswith("badges: First Trade, Prosumer (sent)")
    view.select("school")
    assert view.title.text().endswith("badges: none yet")


async def test_the_desks_order_for_the_grid_is_signed_with_the_grids_key(qapp, market: MarketService) -> None:  # type: ignore[no-untyped-def]
    """With the market-maker as the desk, a ticket for the grid's account is signed (its id is the EIP-712
    digest the signer's address signed, remembered for settlement); another account's order is not."""
    from eth_account import Account

    from console.api.auth import recover, signable
    from console.api.signer import KeystoreOrderSigner
    from console.services.market_maker import MarketMakerService
    from console.ui.trading_view import MAKER, TradingView
    from contracts.anvil import DEV_KEYS
    from core.market.maker import GridTariffs

    class Remembered:
        def __init__(self) -> None:
            self.orders: dict[str, tuple[dict[str, object], str]] = {}

        async def remember(self, order_id: str, message: dict[str, object], signature: str) -> None:
            self.orders[order_id] = (message, signature)

        async def forget(self, order_id: str) -> None:
            self.orders.pop(order_id)

    grid = Account.from_key(DEV_KEYS[8])
    kept = Remembered()
    desk = MarketMakerService(market, GridTariffs(80, 320, 1000), KeystoreOrderSigner(grid, 31337, None), kept,
                              participant=MAKER)
    view = TradingView(market, ADMIN)
    view.desk = desk
    view.select_product(PRODUCT)
    view.refresh()
    assert view.ticket.account.currentText() == MAKER
    view.ticket.set_products([PRODUCT], PRODUCT)
    view.ticket.quantity.setText("1.2")
    view.ticket.price.setText("245")
    assert view.ticket.send.isEnabled()
    view.ticket.send.click()
    await next(iter(view.tasks))
    assert "accepted, resting" in view.ticket.result.text()
    (oid, (message, signature)), = kept.orders.items()
    assert market.order(oid) is not None and market.order(oid).participant == MAKER  # type: ignore[union-attr]
    assert (message["quantity"], message["price"], message["side"]) == (1200, 245, 0)  # 1.2 kWh, buy
    signed = recover(signable("Order", message, 31337), signature)
    assert (signed.digest, signed.signer) == (oid, grid.address)
