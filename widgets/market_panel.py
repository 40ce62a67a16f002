"""The grid view's market panel: compact depth of the current product, its last price, the reference
price's grid factor and the community imbalance, so frequency, voltage and market depth share a screen."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QWidget

from core.market import PriceComponents
from widgets.depth_chart import DepthChart
from widgets.market_cells import countdown, period, price
from widgets.style import show_state


class MarketPanel(QFrame):
    """Fixed-width panel beside the readouts; grey unless trading is suspended (amber)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("readout")
        self.setFixedWidth(420)
        self.title = QLabel("MARKET")
        self.title.setObjectName("readoutTitle")
        self.depth_chart = DepthChart(title="Depth", compact=True)
        self.depth_chart.setMinimumHeight(96)
        self.depth_chart.setFixedHeight(104)
        self.depth_chart.getPlotItem().getAxis("bottom").setLabel("")
        self.last = QLabel("—")
        self.last.setObjectName("marketValue")
        self.factor = QLabel("—")
        self.imbalance = QLabel("—")
        self.book = QLabel("—")
        self.status = QLabel("")
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 4, 8, 4)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(0)
        grid.addWidget(self.title, 0, 0, 1, 2)
        grid.addWidget(self.last, 1, 0)
        grid.addWidget(self.book, 2, 0)
        grid.addWidget(self.factor, 3, 0)
        grid.addWidget(self.imbalance, 4, 0)
        grid.addWidget(self.status, 5, 0)
        grid.addWidget(self.depth_chart, 1, 1, 5, 1)
        grid.setColumnStretch(1, 1)
        self.last.setStyleSheet("font-size: 14pt; font-family: 'DejaVu Sans Mono', monospace; color: #e4e6e8;")

    def show_market(self, product: int | None, bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]],
                    last: int | None, best_bid: int | None, best_ask: int | None, gate_in_s: int,
                    reference: PriceComponents | None, imbalance_w: int | None, tick: int,
                    suspended: str | None, period_s: int = 900) -> None:
        if product is None:
            self.title.setText("MARKET — no product open for trading")
        else:
            self.title.setText(f"MARKET {period(product, period_s)}  gate {countdown(gate_in_s)}")
        self.last.setText(f"last {price(last)}")
        self.book.setText(f"bid {price(best_bid)} / ask {price(best_ask)}")
        if reference is not None:
            self.factor.setText(f"ref {reference.price:,}  grid ×{reference.grid_ppm / 1e6:.3f}")
        else:
            self.factor.setText("ref —  grid factor —")
        self.imbalance.setText("imbalance —" if imbalance_w is None else f"imbalance {_power(imbalance_w)}")
        self.status.setText(suspended or "trading")
        self.status.setToolTip(suspended or "")
        show_state(self.status, "alert" if suspended else "normal")
        self.depth_chart.set_depth(bids, asks, tick, reference.price if reference else None, last, span_ticks=None)


def _power(w: int) -> str:
    """Signed power in kW, or MW from 1 MW on (the community surplus is positive)."""
    return f"{w / 1e6:+,.2f} MW" if abs(w) >= 1_000_000 else f"{w / 1000:+,.1f} kW"
