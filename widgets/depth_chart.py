"""Market depth: cumulative bids and asks of one product as two step plots.

Built for 1,000 levels a side at 10 Hz (``bench/depth_render.py``): the levels arrive as (price, Wh)
pairs best first; the cumulative arrays are made with numpy and handed to pyqtgraph's own step mode,
the view range is set once per update (no auto-range), and an unchanged book is not redrawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QWidget

from widgets import palette
from widgets.plot_frame import calm_frame

BID_SERIES, ASK_SERIES = 1, 2  # two calm "normal" hues of the palette (palette.SERIES): neither reads as an alarm
Levels = Sequence[tuple[int, int]]


def cumulative(bids: Levels, asks: Levels, tick: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Step-plot arrays (edges, heights) of both sides, in kWh, prices ascending.

    The bid depth at a price is what buyers take at that price or above; the ask depth what sellers give
    at it or below. ``bids``/``asks`` are best first (bids descending, asks ascending)."""
    if bids:
        b = np.asarray(bids, dtype=np.float64)[::-1]  # ascending prices
        b_edges = np.empty(len(b) + 1)
        b_edges[0] = b[0, 0] - tick
        b_edges[1:] = b[:, 0]
        b_height = np.cumsum(b[::-1, 1])[::-1] / 1000.0
    else:
        b_edges, b_height = np.zeros(1), np.zeros(0)
    if asks:
        a = np.asarray(asks, dtype=np.float64)
        a_edges = np.empty(len(a) + 1)
        a_edges[:-1] = a[:, 0]
        a_edges[-1] = a[-1, 0] + tick
        a_height = np.cumsum(a[:, 1]) / 1000.0
    else:
        a_edges, a_height = np.zeros(1), np.zeros(0)
    return b_edges, b_height, a_edges, a_height


class DepthChart(pg.PlotWidget):  # type: ignore[misc]
    """Cumulative depth of one product (x: price per kWh, y: kWh), the reference and last price as lines."""

    def __init__(self, parent: QWidget | None = None, title: str = "Depth", compact: bool = False) -> None:
        super().__init__(parent, background=palette.BACKGROUND)
        item = self.getPlotItem()
        if not compact:
            item.setTitle(f"<span style='color:{palette.TEXT_DIM}'>{title} [kWh cumulative]</span>", size="9pt")
        self.compact = compact
        calm_frame(item)
        item.getAxis("left").setWidth(52)
        item.getAxis("bottom").setLabel("price / kWh", color=palette.TEXT_DIM)
        vb = item.getViewBox()
        vb.disableAutoRange()
        vb.setMouseEnabled(x=False, y=False)
        # Lines by pyqtgraph's step mode; the fill under them is one path item a side, built in one call:
        # pyqtgraph's own fill (fillLevel) splits the area into many sub-paths and cost ~1.7x as much.
        self.bids = pg.PlotDataItem(stepMode="center", pen=pg.mkPen(palette.SERIES[BID_SERIES], width=1))
        self.asks = pg.PlotDataItem(stepMode="center", pen=pg.mkPen(palette.SERIES[ASK_SERIES], width=1))
        self.fills: list[QGraphicsPathItem] = []
        for curve, colour in ((self.bids, palette.SERIES[BID_SERIES]), (self.asks, palette.SERIES[ASK_SERIES])):
            curve.setSkipFiniteCheck(True)
            fill = QGraphicsPathItem()
            fill.setBrush(QBrush(pg.mkColor(colour).darker(260)))  # opaque: alpha blending doubles the cost
            fill.setPen(QPen(Qt.PenStyle.NoPen))
            fill.setZValue(-1)
            item.addItem(fill)
            item.addItem(curve)
            self.fills.append(fill)
        dashed = pg.mkPen(palette.TEXT_DIM, width=1, style=Qt.PenStyle.DashLine)
        self.reference = pg.InfiniteLine(angle=90, movable=False, pen=dashed)
        self.last = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#c4c8cc", width=1))
        for line in (self.reference, self.last):
            line.setVisible(False)
            item.addItem(line, ignoreBounds=True)
        self.label = pg.TextItem("", color=palette.TEXT_DIM, anchor=(0, 0))
        self.label.setParentItem(item.getViewBox())
        self.label.setPos(QPointF(4, 2))
        self._key: object = None
        self._range = (0.0, 0.0, 0.0)  # x0, x1, y top as set
        self.updates = 0  # redraws done (an unchanged book does none)
        self.setMinimumHeight(140)

    def set_depth(self, bids: Levels, asks: Levels, tick: int = 1, reference: int | None = None,
                  last: int | None = None, span_ticks: int | None = None) -> None:
        """Show the book. ``span_ticks`` limits the x range to that many ticks either side of the mid price
        (None: every level)."""
        key = (id(bids), id(asks), len(bids), len(asks), reference, last, span_ticks)
        if key == self._key:
            return
        self._key = key
        b_edges, b_height, a_edges, a_height = cumulative(bids, asks, tick)
        for curve, fill, edges, heights in ((self.bids, self.fills[0], b_edges, b_height),
                                            (self.asks, self.fills[1], a_edges, a_height)):
            if len(heights):
                curve.setData(edges, heights)
                fill.setPath(_area(edges, heights))
            else:
                curve.setData([], [])
                fill.setPath(QPainterPath())
        for line, value in ((self.reference, reference), (self.last, last)):
            line.setVisible(value is not None)
            if value is not None:
                line.setValue(value)
        self._set_range(b_edges, b_height, a_edges, a_height, tick, span_ticks, reference, last)
        best_b = bids[0][0] if bids else None
        best_a = asks[0][0] if asks else None
        spread = f"   spread {best_a - best_b:,}" if best_a is not None and best_b is not None else ""
        if not self.compact:
            self.label.setText(f"{len(bids)} bid / {len(asks)} ask levels{spread}")
        self.updates += 1

    def _set_range(self, b_edges: np.ndarray, b_height: np.ndarray, a_edges: np.ndarray, a_height: np.ndarray,
                   tick: int, span_ticks: int | None, reference: int | None, last: int | None) -> None:
        lows = [x for x in (b_edges[0] if len(b_height) else None, a_edges[0] if len(a_height) else None,
                            reference, last) if x is not None]
        highs = [x for x in (b_edges[-1] if len(b_height) else None, a_edges[-1] if len(a_height) else None,
                             reference, last) if x is not None]
        if not lows:
            self.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            return
        lo, hi = float(min(lows)), float(max(highs))
        if span_ticks is not None and len(b_height) and len(a_height):
            mid = (b_edges[-1] + a_edges[0]) / 2
            lo, hi = max(lo, mid - span_ticks * tick), min(hi, mid + span_ticks * tick)
        top = max(float(b_height[0]) if len(b_height) else 0.0, float(a_height[-1]) if len(a_height) else 0.0)
        if span_ticks is not None:  # the depth within the span only
            top = max(_height_at(b_edges, b_height, lo), _height_at(a_edges, a_height, hi))
        # Hysteresis: the axes move only when the book leaves the view or fills less than half of it. A
        # new range re-lays out both axes (their ticks and labels), which costs more than the curves.
        pad = max((hi - lo) * 0.02, tick)
        want_x = (lo - pad, hi + pad)
        top = max(top, 0.1)
        x0, x1, y1 = self._range
        span = x1 - x0
        if lo < x0 or hi > x1 or (hi - lo) < 0.5 * span:
            x0, x1 = want_x[0] - 0.05 * (want_x[1] - want_x[0]), want_x[1] + 0.05 * (want_x[1] - want_x[0])
        if top > y1 or top < 0.5 * y1:
            y1 = top * 1.25
        if (x0, x1, y1) != self._range:
            self._range = (x0, x1, y1)
            self.setRange(xRange=(x0, x1), yRange=(0, y1), padding=0)

    def curve_data(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """(edges, heights) of bids and asks as plotted (for tests)."""
        bx, by = self.bids.getOriginalDataset()
        ax, ay = self.asks.getOriginalDataset()
        return (bx, by), (ax, ay)


def _height_at(edges: np.ndarray, heights: np.ndarray, x: float) -> float:
    """The step height over price ``x`` (the nearest step when ``x`` is outside the edges)."""
    if not len(heights):
        return 0.0
    i = int(np.searchsorted(edges, x, side="right")) - 1
    return float(heights[max(0, min(i, len(heights) - 1))])


def _area(edges: np.ndarray, heights: np.ndarray) -> QPainterPath:
    """The closed area under a step curve (``len(edges) == len(heights) + 1``) down to zero."""
    n = len(heights)
    x = np.empty(2 * n + 2)
    y = np.empty(2 * n + 2)
    x[0], y[0] = edges[0], 0.0
    x[1:-1:2], x[2:-1:2] = edges[:-1], edges[1:]
    y[1:-1:2], y[2:-1:2] = heights, heights
    x[-1], y[-1] = edges[-1], 0.0
    path: QPainterPath = pg.arrayToQPath(x, y, connect="all")
    return path
