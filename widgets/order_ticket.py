"""The order ticket: every order type of the market, checked as the operator types.

:func:`check_ticket` turns the form's text into an order (without its id) or the problems, one per
field, in words the operator can act on. It gives early feedback only: the book decides again on
submission and its answer is what counts (shown in the ticket's result line).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.market import (
    Condition,
    ConditionSyntaxError,
    GridGate,
    MarketRules,
    OrderKind,
    OrderSpec,
    Side,
    TimeInForce,
    parse_condition,
)
from widgets.market_cells import period
from widgets.style import set_style_property

TIF_TEXT = {TimeInForce.GTC: "GTC — good till close", TimeInForce.GTD: "GTD — good till date",
            TimeInForce.IOC: "IOC — immediate or cancel", TimeInForce.FOK: "FOK — fill or kill"}
KIND_TEXT = {OrderKind.LIMIT: "Limit", OrderKind.MARKET_WITH_LIMIT: "Market (with protection limit)"}
GRID_TEXT = {GridGate.NONE: "No grid condition", GridGate.ADMIT_IF_HELPS: "Admit only if it helps the grid",
             GridGate.MATCH_IF_HELPS: "Match only while it helps the grid"}


@dataclass(frozen=True, slots=True)
class TicketForm:
    """What the operator typed (text as typed; the choices as values)."""

    account: str
    product: int | None
    side: Side
    kind: OrderKind
    tif: TimeInForce
    quantity_kwh: str
    price: str
    valid_from: str = ""  # HH:MM local time, empty: now
    valid_until: str = ""  # HH:MM local time, empty: until gate closure
    condition: str = ""
    grid: GridGate = GridGate.NONE


@dataclass(frozen=True, slots=True)
class TicketCheck:
    """The order the form describes (``order_id`` empty), or the problem with each field."""

    spec: OrderSpec | None
    problems: dict[str, str]


def clock_time(text: str, now: int) -> int:
    """``HH:MM`` (or ``HH:MM:SS``) local time as epoch seconds: the next such time from a minute ago."""
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is not a time; write HH:MM (24 h, local)")
    h, m, s = (int(p) for p in (*parts, "0")[:3])
    if h > 23 or m > 59 or s > 59:
        raise ValueError(f"{text!r} is not a time of day")
    local = dt.datetime.fromtimestamp(now).astimezone()
    when = local.replace(hour=h, minute=m, second=s, microsecond=0)
    if when.timestamp() < now - 60:
        when += dt.timedelta(days=1)
    return int(when.timestamp())


def check_ticket(form: TicketForm, rules: MarketRules, now: int, suspended: str | None = None) -> TicketCheck:
    """The order the form describes, or why not (one problem per field, in the form's order)."""
    problems: dict[str, str] = {}
    if not form.account:
        problems["account"] = "choose the account the order is for"
    product = form.product
    if product is None:
        problems["product"] = "choose a delivery period"
    elif now >= rules.gate_closure(product):
        problems["product"] = f"{period(product, rules.period_s)} closed for trading (gate closure passed)"
    elif now < rules.opens_at(product):
        problems["product"] = f"{period(product, rules.period_s)} is not open for trading yet"
    if suspended:
        problems["product"] = suspended
    quantity = 0
    try:
        kwh = Decimal(form.quantity_kwh.strip().replace(",", ""))
        wh = kwh * 1000
        if not kwh.is_finite() or wh != wh.to_integral_value() or wh <= 0:
            raise InvalidOperation
        quantity = int(wh)
        if quantity % rules.lot:
            problems["quantity"] = f"{kwh} kWh is not a multiple of the lot ({rules.lot / 1000:g} kWh)"
        elif quantity > rules.max_quantity:
            problems["quantity"] = f"at most {rules.max_quantity / 1000:,.1f} kWh"
    except (InvalidOperation, ValueError):
        problems["quantity"] = (f"{form.quantity_kwh!r} is not an energy: give a positive number of kWh"
                                if form.quantity_kwh.strip() else "give the energy in kWh")
    price: int | None = None
    text = form.price.strip().replace(",", "")
    if not text:
        if form.kind is OrderKind.LIMIT:
            problems["price"] = "a limit order needs a price per kWh"
    elif not text.isdigit():
        problems["price"] = f"{form.price!r} is not a price: a whole number of base units per kWh"
    else:
        price = int(text)
        if price % rules.tick:
            problems["price"] = f"{price} is not on the tick ({rules.tick}): try {price - price % rules.tick}"
        elif price > rules.max_price:
            problems["price"] = f"at most {rules.max_price:,}"
    if form.kind is OrderKind.MARKET_WITH_LIMIT and form.tif not in (TimeInForce.IOC, TimeInForce.FOK):
        problems["tif"] = "a market order is immediate: choose IOC or FOK"
    valid_from = valid_until = None
    for name, value in (("valid_from", form.valid_from), ("valid_until", form.valid_until)):
        if value.strip():
            try:
                ts = clock_time(value, now)
            except ValueError as exc:
                problems[name] = str(exc)
                continue
            if name == "valid_from":
                valid_from = ts
            else:
                valid_until = ts
    if form.tif is TimeInForce.GTD and valid_until is None and "valid_until" not in problems:
        problems["valid_until"] = "a good-till-date order needs the time it expires (HH:MM)"
    if valid_until is not None and valid_from is not None and valid_from >= valid_until:
        problems["valid_until"] = "must be after 'valid from'"
    if valid_from is not None and product is not None and valid_from >= rules.gate_closure(product):
        problems["valid_from"] = "at or after the product's gate closure: the order could never work"
    condition: Condition | None = None
    if form.condition.strip():
        try:
            condition = parse_condition(form.condition)
        except ConditionSyntaxError as exc:
            problems["condition"] = str(exc)
    if problems or product is None:
        return TicketCheck(None, problems)
    spec = OrderSpec("", form.account, product, form.side, quantity, price, form.kind, form.tif, valid_from,
                     valid_until, condition, form.grid)
    return TicketCheck(spec, {})


FIELDS = ("account", "product", "quantity", "price", "tif", "valid_from", "valid_until", "condition")


class OrderTicket(QWidget):
    """The form; ``submitted`` carries the checked order (the view gives it its id and sends it)."""

    submitted = Signal(object)

    def __init__(self, rules: MarketRules, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("orderTicket")
        self.rules = rules
        self.now = 0
        self.suspended: str | None = None
        self.account = QComboBox()
        self.product = QComboBox()
        self.buy = QPushButton("Buy")
        self.sell = QPushButton("Sell")
        self.sides = QButtonGroup(self)
        for b in (self.buy, self.sell):
            b.setCheckable(True)
            self.sides.addButton(b)
        self.buy.setChecked(True)
        self.kind = QComboBox()
        for k, t in KIND_TEXT.items():
            self.kind.addItem(t, k)
        self.tif = QComboBox()
        for k2, t in TIF_TEXT.items():
            self.tif.addItem(t, k2)
        self.quantity = QLineEdit()
        self.quantity.setPlaceholderText("kWh, e.g. 1.5")
        self.price = QLineEdit()
        self.price.setPlaceholderText("per kWh")
        self.valid_from = QLineEdit()
        self.valid_from.setPlaceholderText("HH:MM (empty: now)")
        self.valid_until = QLineEdit()
        self.valid_until.setPlaceholderText("HH:MM (empty: gate closure)")
        self.condition = QLineEdit()
        self.condition.setPlaceholderText("e.g. frequency < 49.9 Hz")
        self.grid = QComboBox()
        for k3, t in GRID_TEXT.items():
            self.grid.addItem(t, k3)
        self.send = QPushButton("Send order")
        self.send.setObjectName("sendOrder")
        self.problem_label = QLabel("")
        self.problem_label.setObjectName("ticketProblem")
        self.problem_label.setWordWrap(True)
        self.result = QLabel("")
        self.result.setObjectName("ticketResult")
        self.result.setWordWrap(True)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(3)
        sides = QHBoxLayout()
        sides.addWidget(self.buy)
        sides.addWidget(self.sell)
        form.addRow("For account", self.account)
        form.addRow("Delivery", self.product)
        form.addRow("Side", sides)
        form.addRow("Type", self.kind)
        form.addRow("Quantity kWh", self.quantity)
        form.addRow("Price", self.price)
        form.addRow("Time in force", self.tif)
        form.addRow("Valid from", self.valid_from)
        form.addRow("Valid until", self.valid_until)
        form.addRow("Condition", self.condition)
        form.addRow("Grid", self.grid)
        self.inputs: dict[str, QWidget] = {"account": self.account, "product": self.product,
                                           "quantity": self.quantity, "price": self.price, "tif": self.tif,
                                           "valid_from": self.valid_from, "valid_until": self.valid_until,
                                           "condition": self.condition}
        title = QLabel("Order ticket")
        title.setObjectName("marketTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(title)
        layout.addLayout(form)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.send)
        layout.addWidget(self.result)
        layout.addStretch(1)
        for edit in (self.quantity, self.price, self.valid_from, self.valid_until, self.condition):
            edit.textChanged.connect(self.validate)
        for combo in (self.account, self.product, self.kind, self.tif, self.grid):
            combo.currentIndexChanged.connect(self.validate)
        self.sides.buttonClicked.connect(self.validate)
        self.send.clicked.connect(self._send)
        self.check = TicketCheck(None, {})
        self.validate()

    # -- what the view sets ---------------------------------------------------------------------------------

    def set_accounts(self, accounts: Sequence[str]) -> None:
        if [self.account.itemText(i) for i in range(self.account.count())] != list(accounts):
            current = self.account.currentText()
            self.account.blockSignals(True)
            self.account.clear()
            self.account.addItems(list(accounts))
            if current in accounts:
                self.account.setCurrentText(current)
            self.account.blockSignals(False)
            self.validate()

    def set_products(self, products: Sequence[int], selected: int | None) -> None:
        have = [self.product.itemData(i) for i in range(self.product.count())]
        if have != list(products):
            self.product.blockSignals(True)
            self.product.clear()
            for p in products:
                self.product.addItem(period(p, self.rules.period_s), p)
            self.product.blockSignals(False)
        if selected is not None and selected in products and self.product.currentData() != selected:
            self.product.setCurrentIndex(list(products).index(selected))
        self.validate()

    def set_state(self, now: int, suspended: str | None) -> None:
        """The market's time and, when trading in the chosen product is suspended, why (the ticket is then
        disabled with that reason)."""
        changed = suspended != self.suspended
        self.now, self.suspended = now, suspended
        if changed:
            self.validate()

    def form(self) -> TicketForm:
        return TicketForm(self.account.currentText(), self.product.currentData(),
                          Side.BUY if self.buy.isChecked() else Side.SELL, self.kind.currentData(),
                          self.tif.currentData(), self.quantity.text(), self.price.text(), self.valid_from.text(),
                          self.valid_until.text(), self.condition.text(), self.grid.currentData())

    # -- validation as you type -----------------------------------------------------------------------------

    def validate(self, *_args: object) -> TicketCheck:
        form = self.form()
        self.check = check = check_ticket(form, self.rules, self.now, self.suspended)
        for name, widget in self.inputs.items():
            set_style_property(widget, "invalid", "true" if name in check.problems else "false")
        touched = bool(form.quantity_kwh.strip() or form.price.strip())
        shown = {k: v for k, v in check.problems.items() if touched or k in ("account", "product", "valid_from",
                                                                                 "valid_until", "condition")}
        if self.suspended:
            shown = {"product": self.suspended}
        self.problem_label.setText("\n".join(f"{k.replace('_', ' ')}: {v}" for k, v in shown.items()))
        set_style_property(self.problem_label, "state", "alert" if self.suspended else "normal")
        ok = check.spec is not None
        self.send.setEnabled(ok)
        if ok:
            assert check.spec is not None
            s = check.spec
            at = "at market" if s.price is None else f"@ {s.price:,}"
            self.send.setText(f"Send: {s.side.value.upper()} {s.quantity / 1000:,.1f} kWh {at} for {s.participant}")
        else:
            self.send.setText("Trading suspended" if self.suspended else "Send order")
        return check

    def _send(self) -> None:
        check = self.validate()
        if check.spec is not None:
            self.send.setEnabled(False)  # until the book answers (show_result)
            self.submitted.emit(check.spec)

    def show_result(self, text: str, state: str = "normal") -> None:
        """The book's answer to the last order (accepted, traded, or refused with its reason)."""
        self.result.setText(text)
        set_style_property(self.result, "state", state)
        self.validate()
