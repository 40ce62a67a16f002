"""Price ladder of one product: the best asks above, the best bids below, the acting account's own
quantity beside each level. Only changed cells are written (widgets/market_cells.py)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.market import OrderView, Side
from widgets.market_cells import CENTER, RIGHT, CachedTable, kwh, price

HEADERS = ("Mine", "Bid kWh", "Price", "Ask kWh", "Mine")
COL_MY_BID, COL_BID, COL_PRICE, COL_ASK, COL_MY_ASK = range(5)


class PriceLadder(QWidget):
    """``levels`` asks (highest on top, best ask just above the spread) and ``levels`` bids below."""

    def __init__(self, levels: int = 10, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.levels = levels
        self.title = QLabel("Ladder")
        self.title.setObjectName("marketTitle")
        self.table = CachedTable(HEADERS, (RIGHT, RIGHT, CENTER, RIGHT, RIGHT))
        self.table.setObjectName("priceLadder")
        self.table.set_rows(2 * levels)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        self.rows: list[tuple[int | None, str]] = []  # (price, "ask"/"bid"/"") per row, for tests

    def show_book(self, title: str, bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]],
                  mine: Sequence[OrderView] = ()) -> None:
        """Show the best ``levels`` of each side; ``mine`` are the acting account's open orders."""
        self.title.setText(title)
        own: dict[tuple[Side, int], int] = {}
        for o in mine:
            if o.price is not None and o.remaining:
                own[(o.side, o.price)] = own.get((o.side, o.price), 0) + o.remaining
        n = self.levels
        top = list(asks[:n])[::-1]  # highest ask first, best ask last
        rows: list[tuple[int | None, str]] = [(None, "")] * (n - len(top)) + [(p, "ask") for p, _ in top]
        rows += [(p, "bid") for p, _ in bids[:n]] + [(None, "")] * (n - min(len(bids), n))
        qty = {("ask", p): q for p, q in asks[:n]} | {("bid", p): q for p, q in bids[:n]}
        t = self.table
        for r, (p, side) in enumerate(rows):
            if p is None:
                for c in range(5):
                    t.set_cell(r, c, "")
                continue
            q = qty[(side, p)]
            best = (side == "ask" and r == n - 1) or (side == "bid" and r == n)
            t.set_cell(r, COL_PRICE, price(p), bold=best)
            t.set_cell(r, COL_BID, kwh(q) if side == "bid" else "")
            t.set_cell(r, COL_ASK, kwh(q) if side == "ask" else "")
            my_bid = own.get((Side.BUY, p)) if side == "bid" else None
            my_ask = own.get((Side.SELL, p)) if side == "ask" else None
            t.set_cell(r, COL_MY_BID, kwh(my_bid) if my_bid else "")
            t.set_cell(r, COL_MY_ASK, kwh(my_ask) if my_ask else "")
        self.rows = rows
