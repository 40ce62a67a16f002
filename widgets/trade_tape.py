"""Trade tape: the newest trades first, with both parties and each trade's settlement state.

Settlement states are normal grey while a trade is on its way (matched → settled → delivered → paid);
only a disputed or failed trade is coloured (amber: it needs someone's attention)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from PySide6.QtWidgets import QWidget

from core.market import Side
from widgets.market_cells import CENTER, LEFT, RIGHT, CachedTable, hhmm, hms, kwh, price

HEADERS = ("Time", "Product", "Price", "kWh", "Side", "Buyer", "Seller", "Settlement", "Tx")
TIPS = ("", "Delivery period (start)", "Price per kWh", "Quantity [kWh]", "The side that took the trade (aggressor)",
        "", "", "Matched → settled → delivered → paid", "Settlement transaction on the chain")
COL_SETTLEMENT = 7
STATE_DISPLAY = {"disputed": "alert", "failed": "alert"}  # every other settlement state is on its normal way


class TapeTrade(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def ts(self) -> int: ...

    @property
    def product(self) -> int: ...

    @property
    def price(self) -> int: ...

    @property
    def quantity(self) -> int: ...

    @property
    def buyer(self) -> str: ...

    @property
    def seller(self) -> str: ...

    @property
    def aggressor(self) -> Side: ...


class TradeTape(CachedTable):
    """Up to ``rows`` trades; ``settlement(trade) -> (state, tx)`` gives each trade's settlement."""

    def __init__(self, rows: int = 100, parent: QWidget | None = None) -> None:
        super().__init__(HEADERS, (LEFT, LEFT, RIGHT, RIGHT, CENTER, LEFT, LEFT, LEFT, LEFT), parent, tips=TIPS)
        self.setObjectName("tradeTape")
        self.max_rows = rows
        self.shown: list[int] = []  # trade seqs, newest first

    def show_trades(self, trades: Sequence[TapeTrade], settlement: Callable[[TapeTrade], tuple[str, str | None]]
                    ) -> None:
        """``trades`` newest last (as the market keeps them)."""
        newest = list(trades[-self.max_rows:])[::-1]
        self.set_rows(len(newest))
        for r, t in enumerate(newest):
            state, tx = settlement(t)
            self.set_cell(r, 0, hms(t.ts))
            self.set_cell(r, 1, hhmm(t.product))
            self.set_cell(r, 2, price(t.price))
            self.set_cell(r, 3, kwh(t.quantity))
            self.set_cell(r, 4, "buy" if t.aggressor is Side.BUY else "sell")
            self.set_cell(r, 5, t.buyer)
            self.set_cell(r, 6, t.seller)
            self.set_cell(r, COL_SETTLEMENT, state, STATE_DISPLAY.get(state, "normal"))
            self.set_cell(r, 8, _short(tx))
            item = self.item(r, 8)
            if item is not None and item.toolTip() != (tx or ""):
                item.setToolTip(tx or "")
        self.shown = [t.seq for t in newest]


def _short(tx: str | None) -> str:
    if not tx:
        return "—"
    return tx if len(tx) <= 11 else f"{tx[:6]}…{tx[-4:]}"  # 0x1234…abcd: the whole hash is the tooltip
