"""The trading tab (F4): the market beside the grid, and the operator's hand on it.

Strip of the next delivery periods on top; the selected product's ladder, depth and price chart; the
order ticket and the market controls; the trade tape (with each trade's settlement state) and the
acting account's open orders below. One :meth:`MarketService.screen` per frame, and only when the
market's revision or the second changed: a burst of orders between two frames costs one redraw.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from console.services.market import MarketScreen, MarketService, MarketUnavailable, Outcome, Suspension, TradeView
from core.access import Action, PermissionDenied, User, may
from core.market import OrderSpec, OrderView, Traded
from widgets.depth_chart import DepthChart
from widgets.elided_label import ElidedLabel
from widgets.market_cells import LEFT, RIGHT, CachedTable, hhmm, kwh, period, price
from widgets.order_ticket import OrderTicket
from widgets.price_chart import PriceChart
from widgets.price_ladder import PriceLadder
from widgets.product_strip import ProductStrip
from widgets.style import show_state
from widgets.trade_tape import TradeTape

log = logging.getLogger(__name__)

MAKER = "grid-maker"  # the grid's own market-maker account (the operator's desk)
DEPTH_LEVELS = 1000
# Short labels (the table shares a row with the tape: 330 px at 1366 x 768); the whole names are the tooltips.
ORDER_HEADERS = ("Order", "Delivery", "Side", "Price", "Open", "Filled", "Status")
ORDER_TIPS = ("Order id (the whole id is the cell's tooltip)", "Delivery period (start)", "", "Limit price per kWh",
              "Open quantity [kWh]: still in the book", "Filled quantity [kWh]", "")


class Desk(Protocol):
    """Who signs the grid's own orders (console.services.market_maker.MarketMakerService)."""

    participant: str

    async def submit(self, spec: OrderSpec, condition_text: str | None = None) -> Outcome: ...


class TradingView(QWidget):
    """The market screen; ``refresh()`` once per UI frame while it is shown."""

    def __init__(self, market: MarketService, user: User, maker: str = MAKER, parent: QWidget | None = None,
                 banner: bool = True) -> None:
        super().__init__(parent)
        self.market = market
        self.user = user
        self.maker = maker
        # The grid's market-maker service: signs the desk's orders for the grid's account with the grid's
        # key, so they settle on chain (app.py sets it when [market.maker] runs). Without it, or for another
        # account, the order goes to the book unsigned and its trades cannot settle on chain.
        self.desk: Desk | None = None
        self.product: int | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self._drawn: tuple[object, ...] | None = None
        self.frames_drawn = 0
        # Dialogs as attributes: the tests answer them without a modal loop.
        self.ask_suspension: Callable[[int | None], tuple[int | None, str] | None] = self._ask_suspension
        self.confirm: Callable[[str, str, str], bool] = _confirm

        self.banner = ElidedLabel("", max_hint_chars=120)
        self.banner.setObjectName("marketBanner")
        self.banner.setVisible(False)
        self.own_banner = banner  # False inside the main window: its banner above the tabs says it already
        self.strip = ProductStrip()
        self.strip.selected.connect(self.select_product)
        self.ladder = PriceLadder(levels=10)
        self.ladder.setFixedWidth(330)
        self.depth_chart = DepthChart(title="Depth")
        self.chart = PriceChart()
        self.ticket = OrderTicket(market.rules)
        self.ticket.submitted.connect(self.send_order)
        self.ticket.account.currentTextChanged.connect(lambda _t: self._invalidate())
        self.ticket.product.currentIndexChanged.connect(self._ticket_product)
        self.suspend_button = QPushButton("Suspend trading…")
        self.suspend_button.clicked.connect(self.suspend_clicked)
        self.resume_button = QPushButton("Resume trading")
        self.resume_button.clicked.connect(self.resume_clicked)
        self.control_result = QLabel("")
        self.control_result.setWordWrap(True)
        if not may(user, Action.MARKET_SUSPEND):
            for b in (self.suspend_button, self.resume_button):
                b.setEnabled(False)
                b.setToolTip(f"{user.name} ({user.role.value}) may not suspend or resume trading")
        self.tape = TradeTape(rows=100)
        self.orders = CachedTable(ORDER_HEADERS, (LEFT, LEFT, LEFT, RIGHT, RIGHT, RIGHT, LEFT), tips=ORDER_TIPS)
        self.orders.setObjectName("openOrders")
        self.order_ids: list[str] = []
        self.cancel_button = QPushButton("Cancel order")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.new_price = QLineEdit()
        self.new_price.setPlaceholderText("new price")
        self.new_qty = QLineEdit()
        self.new_qty.setPlaceholderText("new open kWh")
        self.modify_button = QPushButton("Modify order")
        self.modify_button.clicked.connect(self.modify_selected)
        self.orders_result = QLabel("")

        right = QVBoxLayout()
        right.setSpacing(4)
        right.addWidget(self.ticket)
        controls_title = QLabel("Market controls")
        controls_title.setObjectName("marketTitle")
        right.addWidget(controls_title)
        row = QHBoxLayout()
        row.addWidget(self.suspend_button)
        row.addWidget(self.resume_button)
        right.addLayout(row)
        right.addWidget(self.control_result)
        right_w = QWidget()
        right_w.setLayout(right)
        right_w.setFixedWidth(340)
        charts = QSplitter(Qt.Orientation.Vertical)
        charts.addWidget(self.depth_chart)
        charts.addWidget(self.chart)
        middle = QHBoxLayout()
        middle.setSpacing(6)
        middle.addWidget(self.ladder)
        middle.addWidget(charts, 1)
        middle.addWidget(right_w)
        tape_box = QVBoxLayout()
        tape_title = QLabel("Trades (newest first)")
        tape_title.setObjectName("marketTitle")
        tape_box.addWidget(tape_title)
        tape_box.addWidget(self.tape, 1)
        orders_box = QVBoxLayout()
        self.orders_title = QLabel("Open orders")
        self.orders_title.setObjectName("marketTitle")
        orders_box.addWidget(self.orders_title)
        orders_box.addWidget(self.orders, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.new_price)
        buttons.addWidget(self.new_qty)
        buttons.addWidget(self.modify_button)
        orders_box.addLayout(buttons)
        orders_box.addWidget(self.orders_result)
        bottom = QHBoxLayout()
        bottom.addLayout(tape_box, 3)
        bottom.addLayout(orders_box, 2)
        top = QWidget()
        top.setLayout(middle)
        low = QWidget()
        low.setLayout(bottom)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(low)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([520, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.banner)
        layout.addWidget(self.strip)
        layout.addWidget(split, 1)
        self.ticket.set_accounts(self.accounts())

    # -- who the operator may act for -------------------------------------------------------------------

    def accounts(self) -> list[str]:
        """The grid's market-maker account for those who run the market (core.access has no action of its
        own for the grid's desk yet: the operators and admins who may suspend it), and every participant
        for those who may order for others (admins)."""
        out = [self.maker] if may(self.user, Action.MARKET_SUSPEND) else []
        if may(self.user, Action.ORDER_FOR_OTHERS):
            out += [p for p in self.market.participants() if p != self.maker]
        return out

    # -- per frame --------------------------------------------------------------------------------------

    def refresh(self) -> MarketScreen | None:
        """Redraw when the market changed or a second passed (countdowns); else nothing. Returns the screen
        drawn, if any."""
        market = self.market
        key = (market.revision(), market.now(), self.product, self.ticket.account.currentText())
        if key == self._drawn:
            return None
        self._drawn = key
        account = self.ticket.account.currentText() or None
        screen = market.screen(self.product, account, DEPTH_LEVELS)
        self.draw(screen)
        return screen

    def draw(self, s: MarketScreen) -> None:
        rules = self.market.rules
        products = [p.product for p in s.upcoming]
        if self.product not in products:
            self.product = products[0] if products else None
        self.strip.select(self.product) if self.product is not None else None
        halts = self.market.suspensions()
        self.strip.show_products(s.upcoming, {h.product for h in halts}, rules.period_s)
        self._show_banner()
        self.ticket.set_products(products, self.product)
        halt = self.market.suspension(self.ticket.product.currentData())
        self.ticket.set_state(s.ts, describe(halt, rules.period_s) if halt else None)
        if self.frames_drawn % 25 == 0:
            self.ticket.set_accounts(self.accounts())
        d = s.depth
        ref = s.reference.price if s.reference is not None else None
        if d is not None and self.product is not None:
            self.ladder.show_book(f"Ladder {period(d.product, rules.period_s)}   last {price(d.last_price)}",
                                  d.bids, d.asks, s.open_orders)
            self.depth_chart.set_depth(d.bids, d.asks, rules.tick, ref, d.last_price, span_ticks=None)
        else:
            self.ladder.show_book("Ladder — no product open", (), (), ())
            self.depth_chart.set_depth((), (), rules.tick, ref, None)
        self.chart.set_prices(s.trades, self.market.reference_history(), float(s.ts))
        self.tape.show_trades(s.tape, self._settlement)
        self._show_orders(s.open_orders)
        self.frames_drawn += 1

    def _settlement(self, trade: Any) -> tuple[str, str | None]:
        view = self.market.settlement_of(trade)
        return view.state.value, view.tx

    def _show_orders(self, orders: tuple[OrderView, ...]) -> None:
        account = self.ticket.account.currentText()
        self.orders_title.setText(f"Open orders of {account}" if account else "Open orders")
        t = self.orders
        t.set_rows(len(orders))
        for r, o in enumerate(orders):
            t.set_cell(r, 0, o.order_id[:8])
            item = t.item(r, 0)
            if item is not None and item.toolTip() != o.order_id:
                item.setToolTip(o.order_id)
            t.set_cell(r, 1, hhmm(o.product))
            t.set_cell(r, 2, o.side.value)
            t.set_cell(r, 3, price(o.price))
            t.set_cell(r, 4, kwh(o.remaining))
            t.set_cell(r, 5, kwh(o.filled))
            t.set_cell(r, 6, o.status.value)
        self.order_ids = [o.order_id for o in orders]

    def _show_banner(self) -> None:
        halts = self.market.suspensions()
        self.banner.setVisible(bool(halts) and self.own_banner)
        self.banner.setText(banner_text(halts, self.market.rules.period_s))

    def _invalidate(self) -> None:
        self._drawn = None

    def _ticket_product(self, _index: int) -> None:
        chosen = self.ticket.product.currentData()
        if chosen is not None and chosen != self.product:
            self.select_product(chosen)

    def select_product(self, product: int) -> None:
        self.product = product
        self.strip.select(product)
        self._invalidate()

    # -- commands ---------------------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def send_order(self, spec: OrderSpec) -> asyncio.Task[None]:
        """Give the checked ticket an id and send it to the market; the book's answer goes to the ticket."""
        order = spec._replace(order_id=f"ui-{uuid.uuid4().hex}")
        return self._run(self._send(order))

    async def _send(self, spec: OrderSpec) -> None:
        desk = self.desk
        try:
            if desk is not None and spec.participant == desk.participant:
                outcome = await desk.submit(spec, self.ticket.condition.text().strip() or None)
            else:
                outcome = await self.market.submit(spec)
        except MarketUnavailable as exc:
            self.ticket.show_result(f"refused: {exc}", "alert")
            return
        self.ticket.show_result(*_outcome_text(outcome))
        self._invalidate()

    def selected_order(self) -> str | None:
        row = self.orders.currentRow()
        return self.order_ids[row] if 0 <= row < len(self.order_ids) else None

    def cancel_selected(self) -> asyncio.Task[None] | None:
        oid = self.selected_order()
        if oid is None:
            self.orders_result.setText("select an order first")
            return None
        account = self.ticket.account.currentText()
        return self._run(self._order_command(self.market.cancel(oid, account), "cancelled"))

    def modify_selected(self) -> asyncio.Task[None] | None:
        oid = self.selected_order()
        if oid is None:
            self.orders_result.setText("select an order first")
            return None
        try:
            new_price = int(self.new_price.text()) if self.new_price.text().strip() else None
            qty = self.new_qty.text().strip()
            new_qty = round(float(qty) * 1000) if qty else None
        except ValueError:
            self.orders_result.setText("new price: a whole number; new open kWh: a number")
            return None
        account = self.ticket.account.currentText()
        return self._run(self._order_command(self.market.modify(oid, account, new_price, new_qty), "modified"))

    async def _order_command(self, coro: Coroutine[Any, Any, Outcome], done: str) -> None:
        try:
            outcome = await coro
        except MarketUnavailable as exc:
            self.orders_result.setText(f"refused: {exc}")
            show_state(self.orders_result, "alert")
            return
        rejected = outcome.rejected
        if rejected is not None:
            self.orders_result.setText(f"refused by the book: {rejected.reason.value}: {rejected.detail}")
            show_state(self.orders_result, "alert")
        else:
            self.orders_result.setText(f"order {done}")
            show_state(self.orders_result, "normal")
        self._invalidate()

    # -- market controls -------------------------------------------------------------------------------

    def suspend_clicked(self) -> asyncio.Task[None] | None:
        asked = self.ask_suspension(self.product)
        if asked is None:
            return None
        product, reason = asked
        where = "ALL products" if product is None else f"delivery {period(product, self.market.rules.period_s)}"
        if not self.confirm("Suspend trading", f"Suspend trading in {where}?\n\nReason: {reason}\n\n"
                            "New orders and modifications are refused — here and in the participant API "
                            "(503 with this reason) — until trading is resumed. Cancels stay allowed.",
                            "Suspend trading"):
            return None
        return self._run(self._control(self.market.suspend(reason, product, by=self.user), "suspended"))

    def resume_clicked(self) -> asyncio.Task[None] | None:
        halts = self.market.suspensions()
        if not halts:
            self.control_result.setText("trading is not suspended")
            return None
        halt = next((h for h in halts if h.product is None), None) or next(
            (h for h in halts if h.product == self.product), halts[0])
        where = "all products" if halt.product is None else f"delivery {period(halt.product)}"
        if not self.confirm("Resume trading", f"Resume trading in {where}?\n\nSuspended by {halt.by}: "
                            f"{halt.reason}", "Resume trading"):
            return None
        return self._run(self._control(self.market.resume(halt.product, by=self.user), "resumed"))

    async def _control(self, coro: Coroutine[Any, Any, object], done: str) -> None:
        try:
            await coro
        except (PermissionDenied, ValueError) as exc:
            self.control_result.setText(f"refused: {exc}")
            show_state(self.control_result, "alert")
            return
        self.control_result.setText(f"trading {done}")
        show_state(self.control_result, "normal")
        self._invalidate()

    def _ask_suspension(self, product: int | None) -> tuple[int | None, str] | None:
        dialog = SuspendDialog(product, self.market.rules.period_s, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.choice()


class SuspendDialog(QDialog):
    """Scope (all products or the selected one) and a reason, which is required."""

    def __init__(self, product: int | None, period_s: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("commandDialog")
        self.setWindowTitle("Suspend trading")
        self.scope = QComboBox()
        self.scope.addItem("All products", None)
        if product is not None:
            self.scope.addItem(f"Delivery {period(product, period_s)} only", product)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("why (shown to every trader and in the audit log)")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Next…")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.reason.textChanged.connect(lambda t: self.buttons.button(
            QDialogButtonBox.StandardButton.Ok).setEnabled(bool(t.strip())))
        form = QFormLayout(self)
        form.addRow("Suspend", self.scope)
        form.addRow("Reason", self.reason)
        form.addRow(self.buttons)

    def choice(self) -> tuple[int | None, str]:
        return self.scope.currentData(), self.reason.text().strip()


def describe(halt: Suspension, period_s: int = 900) -> str:
    """A suspension in the operator's words: the product as its local delivery period."""
    return halt.describe("all products" if halt.product is None else f"delivery {period(halt.product, period_s)}")


def banner_text(halts: Sequence[Suspension], period_s: int = 900) -> str:
    """Every suspension in force on one line, the whole market's in capitals."""
    return "   |   ".join(describe(h, period_s).upper() if h.product is None else describe(h, period_s)
                          for h in halts)


def _confirm(title: str, text: str, act: str) -> bool:
    """A confirmation whose default button is Cancel: Enter never suspends the market by accident."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text)
    go = box.addButton(act, QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    box.exec()
    return box.clickedButton() is go


def _outcome_text(outcome: Outcome) -> tuple[str, str]:
    rejected = outcome.rejected
    if rejected is not None:
        return f"refused by the book: {rejected.reason.value}: {rejected.detail}", "alert"
    o = outcome.order
    traded = sum(e.quantity for e in outcome.events if isinstance(e, Traded))
    state = o.status.value if o is not None else "?"
    text = f"accepted, {state}"
    if traded:
        text += f"; traded {kwh(traded)} kWh"
    return text, "normal"


__all__ = ["MAKER", "SuspendDialog", "TradeView", "TradingView"]
