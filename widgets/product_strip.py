"""The next delivery periods side by side: best bid/ask, last price, volume and the gate-closure
countdown; a click selects the product the ladder, depth and ticket work on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QAbstractItemView, QWidget

from widgets.market_cells import RIGHT, CachedTable, countdown, kwh, period, price

ROWS = ("Delivery", "Bid", "Ask", "Last", "Volume kWh", "Gate closes in")


class StripProduct(Protocol):
    @property
    def product(self) -> int: ...

    @property
    def best_bid(self) -> int | None: ...

    @property
    def best_ask(self) -> int | None: ...

    @property
    def last_price(self) -> int | None: ...

    @property
    def volume_wh(self) -> int: ...

    @property
    def gate_closure_in_s(self) -> int: ...


class ProductStrip(CachedTable):
    """One column per product; rows as in :data:`ROWS`. A suspended product says so in amber."""

    selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(["—"], [RIGHT], parent)
        self.setObjectName("productStrip")
        self.setColumnCount(0)
        self.setRowCount(len(ROWS))
        self.setVerticalHeaderLabels(list(ROWS))
        self.verticalHeader().setVisible(True)
        self.horizontalHeader().setVisible(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectColumns)
        self.setFixedHeight(len(ROWS) * 18 + 6)
        self.products: list[int] = []
        self.current: int | None = None
        self.cellClicked.connect(self._clicked)

    def show_products(self, products: Sequence[StripProduct], suspended: set[int | None],
                      period_s: int = 900) -> None:
        """``suspended`` holds the suspended products (None: the whole market)."""
        if len(products) != self.columnCount():
            self.setColumnCount(len(products))
            self.aligns = [RIGHT] * len(products)
            self._cells.clear()
            self.clearContents()
        self.products = [p.product for p in products]
        for c, p in enumerate(products):
            halted = None in suspended or p.product in suspended
            selected = p.product == self.current
            self.set_cell(0, c, ("▶ " if selected else "") + period(p.product, period_s), bold=selected)
            self.set_cell(1, c, price(p.best_bid))
            self.set_cell(2, c, price(p.best_ask))
            self.set_cell(3, c, price(p.last_price))
            self.set_cell(4, c, kwh(p.volume_wh))
            if halted:
                self.set_cell(5, c, "SUSPENDED", "alert")
            else:
                self.set_cell(5, c, countdown(p.gate_closure_in_s))

    def select(self, product: int) -> None:
        self.current = product

    def _clicked(self, _row: int, col: int) -> None:
        if 0 <= col < len(self.products):
            self.current = self.products[col]
            self.selected.emit(self.current)
