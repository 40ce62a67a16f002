"""Price chart of one product: OHLC candles from its trades and the reference price as a line; the mouse
over the chart shows that minute's open/high/low/close and what the reference price was made of."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtWidgets import QWidget

from core.market import PriceComponents
from widgets import palette
from widgets.market_cells import hhmm, hms
from widgets.plot_frame import calm_frame


class ChartTrade(Protocol):
    @property
    def ts(self) -> int: ...

    @property
    def price(self) -> int: ...

    @property
    def quantity(self) -> int: ...


def ohlc(trades: Sequence[ChartTrade], bucket_s: int = 60) -> np.ndarray:
    """Rows (bucket start, open, high, low, close, Wh) of the trades (oldest first) per ``bucket_s``."""
    if not trades:
        return np.zeros((0, 6))
    ts = np.fromiter((t.ts for t in trades), dtype=np.int64, count=len(trades))
    px = np.fromiter((t.price for t in trades), dtype=np.float64, count=len(trades))
    qty = np.fromiter((t.quantity for t in trades), dtype=np.float64, count=len(trades))
    buckets = ts - ts % bucket_s
    starts, first = np.unique(buckets, return_index=True)
    last = np.append(first[1:], len(ts)) - 1
    out = np.empty((len(starts), 6))
    out[:, 0] = starts
    out[:, 1] = px[first]
    out[:, 2] = np.maximum.reduceat(px, first)
    out[:, 3] = np.minimum.reduceat(px, first)
    out[:, 4] = px[last]
    out[:, 5] = np.add.reduceat(qty, first)
    return out


def components_text(p: PriceComponents) -> str:
    """``250 × tou 1.20 × peak 1.00 × grid 0.95 = 285``: where the reference price comes from."""
    text = (f"reference {p.price:,} = base {p.base:,} × time-of-use {p.tou_ppm / 1e6:.2f} × peak "
            f"{p.peak_ppm / 1e6:.2f} × grid {p.grid_ppm / 1e6:.3f}")
    if p.floored:
        text += " (raised to the floor)"
    if p.capped:
        text += " (cut to the cap)"
    return text


BUCKETS = (10, 60, 300, 900)  # candle sizes the chart chooses from (s)


class PriceChart(pg.PlotWidget):  # type: ignore[misc]
    """Candles (rising: hollow light grey, falling: filled mid grey — no red/green, that is for alarms)."""

    def __init__(self, parent: QWidget | None = None, bucket_s: int | None = None) -> None:
        super().__init__(parent, background=palette.BACKGROUND, axisItems={"bottom": pg.DateAxisItem()})
        self.fixed_bucket = bucket_s  # None: chosen from the trades' time span (at most ~60 candles)
        self.bucket_s = bucket_s or 60
        item = self.getPlotItem()
        self._title(item)
        calm_frame(item)
        item.getAxis("left").setWidth(52)
        item.getViewBox().setMouseEnabled(x=False, y=False)
        self.wicks = pg.PlotDataItem(connect="pairs", pen=pg.mkPen(palette.NORMAL_LINE, width=1))
        self.bodies = pg.BarGraphItem(x=[], height=[], width=1, y0=[])
        self.reference = pg.PlotDataItem(stepMode="right",
                                         pen=pg.mkPen(palette.TEXT_DIM, width=1, style=Qt.PenStyle.DashLine))
        for it in (self.reference, self.wicks, self.bodies):
            item.addItem(it)
        self.hover = pg.TextItem("", color="#c9ccd0", anchor=(0, 0), fill=pg.mkBrush(palette.PANEL))
        self.hover.setParentItem(item.getViewBox())
        self.hover.setPos(QPointF(4, 2))
        self.hover.setVisible(False)
        self.candles = np.zeros((0, 6))
        self.ref_points: list[PriceComponents] = []
        self._key: object = None
        self.scene().sigMouseMoved.connect(self._moved)
        self.setMinimumHeight(140)

    def _title(self, item: pg.PlotItem) -> None:
        size = f"{self.bucket_s // 60}-min" if self.bucket_s >= 60 else f"{self.bucket_s}-s"
        # short enough for the panel's 1366 x 768 width (the long form was cut: "...reference dashe"); the
        # legend of the dashed line is in the tooltip
        item.setTitle(f"<span style='color:{palette.TEXT_DIM}'>Price per kWh, {size} candles</span>", size="9pt")
        self.setToolTip(f"Trades of the product in {size} candles (open, high, low, close); the dashed line is "
                        "the reference price")

    def set_prices(self, trades: Sequence[ChartTrade], reference: Sequence[PriceComponents], now: float) -> None:
        """Trades of the product (oldest first) and the reference prices seen (oldest first)."""
        if self.fixed_bucket is None:
            span = now - trades[0].ts if trades else 0.0
            bucket = next((b for b in BUCKETS if span / b <= 60), BUCKETS[-1])
            if bucket != self.bucket_s:
                self.bucket_s = bucket
                self._title(self.getPlotItem())
                self._key = None
        key = (len(trades), len(reference), int(now) // self.bucket_s)
        if key == self._key:
            return
        self._key = key
        self.candles = c = ohlc(trades, self.bucket_s)
        self.ref_points = list(reference)
        w = self.bucket_s * 0.7
        if len(c):
            x = c[:, 0] + self.bucket_s / 2
            rising = c[:, 4] >= c[:, 1]
            low_body = np.minimum(c[:, 1], c[:, 4])
            height = np.maximum(np.abs(c[:, 4] - c[:, 1]), 0.5)
            brushes = [pg.mkBrush(palette.BACKGROUND) if r else pg.mkBrush("#8b9096") for r in rising]
            self.bodies.setOpts(x=x, height=height, width=w, y0=low_body, brushes=brushes,
                                pen=pg.mkPen(palette.NORMAL_LINE, width=1))
            wx = np.repeat(x, 2)
            wy = np.column_stack([c[:, 3], c[:, 2]]).ravel()
            self.wicks.setData(wx, wy)
        else:
            self.bodies.setOpts(x=[], height=[], width=w, y0=[])
            self.wicks.setData([], [])
        if reference:
            rt = np.array([p.ts for p in reference] + [now], dtype=np.float64)
            rv = np.array([p.price for p in reference] + [reference[-1].price], dtype=np.float64)
            self.reference.setData(rt, rv)
        else:
            self.reference.setData([], [])
        self._fit(now)

    def _fit(self, now: float) -> None:
        c = self.candles
        t0 = min([now - 20 * self.bucket_s] + ([float(c[0, 0]) - 2 * self.bucket_s] if len(c) else []))
        lows = list(c[:, 3]) if len(c) else []
        highs = list(c[:, 2]) if len(c) else []
        if self.ref_points:
            lows.append(min(p.price for p in self.ref_points))
            highs.append(max(p.price for p in self.ref_points))
        if not lows:
            self.setRange(xRange=(t0, now + 30), yRange=(0, 1), padding=0)
            return
        lo, hi = float(min(lows)), float(max(highs))
        pad = max((hi - lo) * 0.1, 2.0)
        self.setRange(xRange=(t0, now + 30), yRange=(lo - pad, hi + pad), padding=0)

    def text_at(self, t: float) -> str:
        """The candle and the reference price at time ``t`` (what the hover shows)."""
        parts: list[str] = []
        c = self.candles
        if len(c):
            i = int(np.searchsorted(c[:, 0], t - self.bucket_s, side="right"))
            if i < len(c) and c[i, 0] <= t < c[i, 0] + self.bucket_s:
                o, h, lo, cl, q = c[i, 1:]
                parts.append(f"{hhmm(c[i, 0])}  O {o:,.0f}  H {h:,.0f}  L {lo:,.0f}  C {cl:,.0f}  "
                             f"{q / 1000:,.1f} kWh")
        ref = [p for p in self.ref_points if p.ts <= t]
        if ref:
            parts.append(f"{hms(ref[-1].ts)}  {components_text(ref[-1])}")
        return "\n".join(parts)

    def leaveEvent(self, event: QEvent) -> None:
        super().leaveEvent(event)
        self.hover.setVisible(False)  # the pointer left the chart: no readout of where it last was

    def _moved(self, pos: object) -> None:
        vb = self.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(pos):  # (the plot item's rect would take in the axes: a time
            self.hover.setVisible(False)               # left of the chart read off the price axis)
            return
        t = vb.mapSceneToView(pos).x()
        text = self.text_at(t) if math.isfinite(t) else ""
        self.hover.setText(text)
        self.hover.setVisible(bool(text))
