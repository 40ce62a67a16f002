"""Real-time trend: time axis, shaded normal band, limit lines, many series.

Built for refresh at 10–20 Hz: curves use peak downsampling and clip to the
view, and in live mode only the visible window is handed to pyqtgraph.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPen, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from widgets import palette
from widgets.palette import BAND_FILL, SERIES_DASHES
from widgets.plot_frame import calm_frame

FloatArray = npt.NDArray[np.float64]


class TrendWidget(pg.PlotWidget):  # type: ignore[misc]
    """A time trend of one or more series sharing a unit (shown in the title and on the y axis).

    Signals
    -------
    interacted:
        The operator panned or zoomed with the mouse (the console pauses).
    range_moved:
        (t0, t1) of the visible time range after the operator moved a paused trend.
    hovered:
        The time under the mouse (NaN when the mouse left the plot), for a cursor
        shared by linked trends.

    The mouse moves time only: the wheel and drags pan and zoom the time axis, the
    y axis follows the data and the band; a paused trend cannot be moved past now.
    """

    interacted = Signal()
    range_moved = Signal(float, float)
    hovered = Signal(float)

    def __init__(self, title: str, unit: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=palette.BACKGROUND, axisItems={"bottom": pg.DateAxisItem()})
        self.unit = unit
        self.window_s = 60.0
        self.live = True
        self._latest_t = 0.0
        self._curves: dict[str, pg.PlotDataItem] = {}
        item = self.getPlotItem()
        item.setTitle(f"<span style='color:{palette.TEXT_DIM}'>{title} [{unit}]</span>", size="9pt")
        # The title never widens the trend: in a narrow dock (1366 px screens) a long title pushed the
        # legend column off the plot's right edge. Now the title's ends are cut instead.
        item.titleLabel.updateMin = lambda: None
        item.titleLabel.setMinimumWidth(0)
        # No grid lines: the shaded band and limit lines are the reference (ISA-101:
        # less ink), and the grid cost a quarter of the frame time in bench/trend_render.py.
        item.setClipToView(True)
        calm_frame(item)
        for name in ("left", "bottom"):
            item.getAxis(name).setStyle(maxTickLevel=1, maxTextLevel=1)  # major + minor ticks: calmer, cheaper
        item.getAxis("left").setLabel(unit, color=palette.TEXT_DIM)  # the unit on the axis, as given
        item.getAxis("left").setWidth(62)
        self._legend: pg.LegendItem | None = None
        self._legend_above = False  # show_legend(above=True)
        self._legend_in_row = False  # an above legend in its own row (no room beside the title)
        self._legend_peers: list[TrendWidget] = []  # share_legend_width
        vb = item.getViewBox()
        vb.disableAutoRange()  # y follows the data in end_frame(): cheaper and steadier than auto-range
        vb.setMouseEnabled(x=True, y=False)  # a wheel over a trend zooms time, never the value scale
        self._now_limit: float | None = None
        self._cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(palette.TEXT_DIM, width=1))
        self._cursor.setZValue(20)
        self._cursor.setVisible(False)
        item.addItem(self._cursor, ignoreBounds=True)
        vb.sigRangeChangedManually.connect(self._on_manual_range)
        vb.sigXRangeChanged.connect(self._on_x_range)
        self._history: dict[str, pg.PlotDataItem] = {}
        self._bounds: dict[str, tuple[float, float]] = {}
        self._history_bounds: dict[str, tuple[float, float]] = {}
        self._min_y_range: tuple[float, float] | None = None
        self._y_range: tuple[float, float] | None = None
        # Series name -> text of a plotted value for the hover tooltip (e.g. the absolute
        # voltage behind a per-unit trace); series without one show the plotted value.
        self._hover_text: dict[str, Callable[[float], str]] = {}
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.setMinimumHeight(120)

    # ---- decoration ------------------------------------------------------

    def add_series(self, name: str, label: str | None = None, color: str | None = None) -> None:
        """Declare a series. The n-th series of a trend gets the n-th calm colour *and*
        dash pattern of the palette, so 4–5 series are told apart, in greyscale too."""
        if name in self._curves:
            return
        index = len(self._curves)
        pen = pg.mkPen(color or palette.SERIES[index % len(palette.SERIES)], width=1)
        dashes = SERIES_DASHES[index % len(SERIES_DASHES)]
        if dashes:
            pen.setDashPattern(list(dashes))
        curve = self.getPlotItem().plot(pen=pen, connect="finite", name=label or name)
        curve.setClipToView(True)
        self._curves[name] = curve

    def series_pen(self, name: str) -> QPen:
        """The pen a series is drawn with (colour and dash pattern)."""
        return QPen(self._curves[name].opts["pen"])

    def show_legend(self, above: bool = False, short: Callable[[str], str] | None = None) -> None:
        """A legend in its own column right of the plot: it never covers data.

        ``above``: on one line above the plot instead, the plot as wide as one without a legend (a trend of
        two series in a narrow panel: the side column took a quarter of its width): right-aligned in the
        title's row when it fits beside the title (centred, or else moved to the left), else in a row of its
        own between title and plot.
        ``short``: the legend's text of a series' label, where shorter (the title says the rest)."""
        if self._legend is None and above:
            item = self.getPlotItem()
            self._legend_above = True
            self._legend = _SideLegend(labelTextColor=palette.TEXT_DIM, labelTextSize="8pt", frame=False,
                                       verSpacing=-5, horSpacing=10)
            self._legend.setParentItem(item)
            for name, curve in self._curves.items():
                label = curve.name() or name
                self._legend.addItem(curve, short(label) if short is not None else label)
            self._legend.layout.setContentsMargins(0, 0, 0, 0)
            self._legend.setColumnCount(len(self._curves))  # one line
            # The trends never show a top axis (hidden, it takes no room): its cell, between the title and the
            # plot, is where the legend goes when the title row has no room for it.
            item.layout.removeItem(item.getAxis("top"))
            self.fit_legend()
        elif self._legend is None:
            item = self.getPlotItem()
            # Rows 5 px tighter than pyqtgraph's: the eleven feeders of the world fit a 1366 x 768 screen.
            self._legend = _SideLegend(labelTextColor=palette.TEXT_DIM, labelTextSize="8pt", frame=False, verSpacing=-5)
            self._legend.setParentItem(item)
            for name, curve in self._curves.items():
                self._legend.addItem(curve, curve.name() or name)
            # Beside the plot *and* its time axis (rows 2 and 3): in row 2 alone a legend taller than the plot
            # stretched that row and pushed the time axis below the widget's edge (the feeder voltages' eleven
            # entries at 1366 x 768: no time labels).
            item.layout.addItem(self._legend, 2, 3, 2, 1)
            # Entries stacked at the top of their column, not spread over the plot's height.
            self._legend.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
            item.layout.setAlignment(self._legend, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            item.layout.setColumnStretchFactor(3, 0)
            item.layout.setColumnFixedWidth(3, LEGEND_WIDTH)
            self.fit_legend()

    def legend_room(self) -> float:
        """The height the legend's column has: from its top (under the title) to the trend's bottom edge,
        beside the plot and its time axis (px; not the plot's own height: a legend taller than the room
        stretches the plot's layout beyond the widget)."""
        top = self._legend.sceneBoundingRect().top() if self._legend is not None else 0.0
        return float(self.viewport().height() - self.mapFromScene(0.0, top).y())

    def fit_legend(self) -> None:
        """As many legend columns as the entries need to fit the height: the eleven feeders of the world
        fit one column at 1366 x 768, not with the emergency band above the screen (three were cut)."""
        legend = self._legend
        if legend is None or not legend.items:
            return
        if self._legend_above:
            self._fit_legend_above(legend)
            return
        rows = math.ceil(len(legend.items) / legend.columnCount)
        # The pitch of one entry, without the legend's margins (counted once per legend, not once per row:
        # dividing them among the rows made eleven feeders "not fit" a 209 px column they fit, and two columns
        # took half the plot's width).
        _, top, _, bottom = legend.layout.getContentsMargins()
        spacing = legend.layout.verticalSpacing()
        pitch = max((legend.layout.preferredHeight() - top - bottom + spacing) / rows, 1.0)
        fit = max(int((self.legend_room() - top - bottom + spacing) // pitch), 1)
        columns = math.ceil(len(legend.items) / fit)
        if columns != legend.columnCount:
            legend.setColumnCount(columns)
            # The plot was held at the minimum height the old legend asked for (taller than the widget, the time
            # axis below its edge): lay it out again in the widget's own rectangle.
            self.getPlotItem().setGeometry(QRectF(self.range))
        # One legend width for the trends that share it (one above the other in a column): the widest's,
        # so their plots, and their linked time axes, start and end at the same x.
        width = max(t.natural_legend_width() for t in (self, *self._legend_peers))
        for t in (self, *self._legend_peers):
            if t.legend is not None:
                t.getPlotItem().layout.setColumnFixedWidth(3, width)

    def _fit_legend_above(self, legend: pg.LegendItem) -> None:
        item = self.getPlotItem()
        size = legend.layout.preferredSize()
        plot = item.vb.geometry()  # in the PlotItem's coordinates
        title = item.titleLabel
        x = plot.right() - size.width()

        def beside(justify: str) -> bool:  # the title so justified leaves the legend room on its right
            title.opts["justify"] = justify
            title.resizeEvent(None)
            text = title.mapRectToParent(title.item.mapRectToParent(title.item.boundingRect()))
            return bool(x >= text.right() + 12 and size.height() <= title.geometry().height() + 6)

        # the title centred as on every trend; moved to the left where that makes room (a narrow panel)
        fits = beside("center") or beside("left")
        if not fits:
            beside("center")
        in_row = self._legend_in_row
        if fits and in_row:
            item.layout.removeItem(legend)
        elif not fits and not in_row:
            item.layout.addItem(legend, 1, 1)
            legend.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Maximum)  # compact, at the right
            item.layout.setAlignment(legend, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom)
        self._legend_in_row = not fits
        if fits:
            legend.resize(size)
            legend.setPos(x, title.geometry().center().y() - size.height() / 2)
        if fits == in_row:  # moved: the plot's rows change
            self.getPlotItem().setGeometry(QRectF(self.range))
            QTimer.singleShot(0, self, self.fit_legend)  # placed again once the rows have their new heights

    def legend_in_title_row(self) -> bool:
        """Whether an ``above`` legend sits in the title's row (else in a row of its own)."""
        return self._legend_above and not self._legend_in_row

    def natural_legend_width(self) -> float:
        """The width the legend's column needs: ``LEGEND_WIDTH`` a column, more for a longer label (px)."""
        if self._legend is None:
            return 0.0
        # several columns: as wide as their labels ask (150 px each gave three columns of "Feeder 7 end" 450 px)
        return max(float(LEGEND_WIDTH), float(self._legend.layout.preferredWidth()))

    def share_legend_width(self, other: TrendWidget) -> None:
        """Give this trend's legend column and ``other``'s the same width (both must show a legend)."""
        if other is not self and other not in self._legend_peers:
            self._legend_peers.append(other)
            other._legend_peers.append(self)
        self.fit_legend()
        other.fit_legend()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if getattr(self, "_legend", None) is not None:  # (the first resize comes before __init__ set it)
            QTimer.singleShot(0, self, self.fit_legend)  # once the plot's layout has its new size

    @property
    def legend(self) -> pg.LegendItem | None:
        return self._legend

    def data_rect(self) -> QRectF:
        """Where the data is drawn, in scene coordinates."""
        return QRectF(self.getPlotItem().getViewBox().sceneBoundingRect())

    def set_band(self, low: float, high: float) -> None:
        """Shade the normal band so an excursion is visible at a glance."""
        region = pg.LinearRegionItem(
            values=(low, high), orientation="horizontal", movable=False,
            brush=pg.mkBrush(*BAND_FILL), pen=pg.mkPen(None),
        )
        region.setZValue(-10)
        self.getPlotItem().addItem(region, ignoreBounds=True)

    def set_min_y_range(self, low: float, high: float) -> None:
        """Always show at least [low, high] (e.g. the normal band), so the scale
        stays put in normal operation and grows only when the data leaves it."""
        self._min_y_range = (low, high)

    def add_limit(self, value: float, severity: str = "alert") -> None:
        """A dashed limit line in the severity's colour."""
        color = palette.EMERGENCY if severity == "emergency" else palette.ALERT
        line = pg.InfiniteLine(pos=value, angle=0, pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine))
        line.setOpacity(0.6)
        self.getPlotItem().addItem(line, ignoreBounds=True)

    # ---- data ------------------------------------------------------------

    def set_series_data(self, name: str, t: FloatArray, v: FloatArray, hold_until: float | None = None) -> None:
        """Replace a series' data (times in POSIX seconds, NaN = gap).

        Servers report by exception, so an unchanged value sends nothing:
        ``hold_until`` extends the last valid value to that time, as a
        historian trend does, instead of ending the line at the last change.
        """
        curve = self._curves[name]
        if t.size:
            if hold_until is not None and hold_until > t[-1] and np.isfinite(v[-1]):
                t = np.append(t, hold_until)
                v = np.append(v, v[-1])
            self._latest_t = max(self._latest_t, float(t[-1]))
            if self.live:
                # Only the visible window (plus a margin) goes to pyqtgraph.
                start = int(np.searchsorted(t, self._latest_t - self.window_s * 1.05))
                t, v = t[max(start - 1, 0):], v[max(start - 1, 0):]
        # Peak downsampling only when there are more points than pixels can show;
        # pyqtgraph's auto mode costs more than it saves on short series.
        factor = max(1, t.size // max(self.width(), 1))
        if factor != curve.opts["downsample"]:
            curve.setDownsampling(ds=factor, auto=False, method="peak")
        finite_mask = np.isfinite(v)
        # 'finite' (gaps at NaN) costs a mask pass in pyqtgraph; only pay it when there is a gap.
        all_finite = bool(finite_mask.all())
        curve.setData(t, v, connect="all" if all_finite else "finite", skipFiniteCheck=all_finite)
        finite = v[finite_mask]
        if finite.size:
            self._bounds[name] = (float(finite.min()), float(finite.max()))
        else:
            self._bounds.pop(name, None)

    def end_frame(self) -> None:
        """Fit the y axis to what was handed over (and to the history under it):
        the y axis is never the mouse's, live or paused."""
        spans = list(self._bounds.values()) + list(self._history_bounds.values())
        if self._min_y_range is not None:
            spans.append(self._min_y_range)
        if not spans:
            return
        low = min(s[0] for s in spans)
        high = max(s[1] for s in spans)
        pad = (high - low) * 0.05 or max(abs(high) * 0.01, 1e-3)
        target = (low - pad, high + pad)
        current = self._y_range
        # Re-scale only on a visible change: every setYRange re-clips all curves.
        if current is None or abs(target[0] - current[0]) + abs(target[1] - current[1]) > (high - low + 2 * pad) * 0.02:
            self._y_range = target
            self.getPlotItem().setYRange(*target, padding=0)

    def set_window(self, seconds: float) -> None:
        """Width of the visible time window in live mode."""
        self.window_s = float(seconds)
        if self.live:
            self.follow()

    def set_live(self, live: bool) -> None:
        """Live follows the newest data; paused leaves the time axis to the operator
        (up to now: ``limit_to``)."""
        self.live = live
        self._y_range = None  # re-fit on the next frame
        if live:
            self._now_limit = None
            self.getPlotItem().getViewBox().setLimits(xMax=None)
            self.clear_history()
            self.follow()
        elif self._latest_t > 0:
            self.limit_to(self._latest_t)

    def limit_to(self, now: float) -> None:
        """A paused trend can be scrolled back, not past ``now`` (there is no data from the future)."""
        if now != self._now_limit:
            self._now_limit = now
            self.getPlotItem().getViewBox().setLimits(xMax=now)

    def link_x(self, master: TrendWidget) -> None:
        """Show the same time range as ``master`` (a pan or zoom on either moves both)."""
        self.getPlotItem().getViewBox().setXLink(master.getPlotItem().getViewBox())

    def set_cursor(self, t: float) -> None:
        """A vertical line at time ``t`` (NaN hides it): the shared cursor of linked trends."""
        if math.isfinite(t):
            self._cursor.setPos(t)
            self._cursor.setVisible(True)
        else:
            self._cursor.setVisible(False)

    def seconds_per_pixel(self) -> float:
        """How much time one pixel column of the plot area shows."""
        return self.window_s / max(self.getPlotItem().getViewBox().width(), 1.0)

    def follow(self, now: float | None = None) -> None:
        """Move the time window so it ends at ``now`` (default: newest data)."""
        end = now if now is not None else self._latest_t
        if end > 0:
            self.getPlotItem().setXRange(end - self.window_s, end, padding=0)

    def curve_data(self, name: str) -> tuple[FloatArray, FloatArray]:
        """What the named curve currently holds (for tests)."""
        x, y = self._curves[name].getOriginalDataset()
        return (np.asarray(x if x is not None else []), np.asarray(y if y is not None else []))

    def set_history_data(self, name: str, t: FloatArray, v: FloatArray) -> None:
        """History from the historian under a series (a dimmer min–max envelope)."""
        curve = self._history.get(name)
        if curve is None:
            pen = self._curves[name].opts["pen"]
            color = pg.mkColor(pen.color())
            color.setAlpha(150)
            curve = self.getPlotItem().plot(pen=pg.mkPen(color, width=1), connect="finite")
            curve.setZValue(-1)
            self._history[name] = curve
        curve.setData(t, v)
        finite = v[np.isfinite(v)]
        if finite.size:
            self._history_bounds[name] = (float(finite.min()), float(finite.max()))

    def clear_history(self) -> None:
        for curve in self._history.values():
            curve.setData([], [])
        self._history_bounds.clear()

    def visible_range(self) -> tuple[float, float]:
        (t0, t1), _ = self.getPlotItem().getViewBox().viewRange()
        return float(t0), float(t1)

    def set_hover_text(self, name: str, text: Callable[[float], str]) -> None:
        """How the tooltip writes a plotted value of series ``name``."""
        self._hover_text[name] = text

    def hover_text(self, t: float) -> str:
        """The time ``t`` and each series' last plotted value at or before it, one per line."""
        return "\n".join([time.strftime("%H:%M:%S", time.localtime(t)), *self.values_at(t)])

    def values_at(self, t: float) -> list[str]:
        """``label: value unit`` of every series at time ``t``; ``label: —`` where it has no
        trustworthy value then (a gap, or before its first sample)."""
        lines: list[str] = []
        for name, curve in self._curves.items():
            label = curve.name() or name
            x, y = curve.getOriginalDataset()
            i = int(np.searchsorted(x, t, side="right")) - 1 if x is not None and len(x) else -1
            if i < 0 or not np.isfinite(y[i]):
                lines.append(f"{label}: —")
                continue
            value = float(y[i])
            text = self._hover_text.get(name)
            lines.append(f"{label}: {text(value) if text else f'{value:.6g} {self.unit}'}")
        return lines

    def _on_mouse_moved(self, pos: object) -> None:
        # No tooltip: it would cover the data. The time goes out (``hovered``) to a shared readout.
        vb = self.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            self.hovered.emit(math.nan)
            return
        self.hovered.emit(float(vb.mapSceneToView(pos).x()))

    def leaveEvent(self, event: QEvent) -> None:
        super().leaveEvent(event)
        self.hovered.emit(math.nan)

    def _on_manual_range(self, *args: object) -> None:
        self.interacted.emit()

    def _on_x_range(self, *args: object) -> None:
        if not self.live:
            self.range_moved.emit(*self.visible_range())


LEGEND_WIDTH = 150  # px: the same on every trend, so linked time axes line up in a column


class _SideLegend(pg.LegendItem):  # type: ignore[misc]
    """A legend that lives in the plot's layout: not draggable onto the data. In several columns its entries
    run down each column in turn (LV busbar, Feeder 1 end, Feeder 2 end ... under each other), not along
    the rows as pyqtgraph's do."""

    def setColumnCount(self, columnCount: int) -> None:
        if columnCount == self.columnCount:
            return
        self.columnCount = columnCount
        self.rowCount = math.ceil(len(self.items) / columnCount)
        for i in range(self.layout.count() - 1, -1, -1):
            self.layout.removeAt(i)
        for i, (sample, label) in enumerate(self.items):
            row, col = i % self.rowCount, 2 * (i // self.rowCount)
            self.layout.addItem(sample, row, col, alignment=Qt.AlignmentFlag.AlignVCenter)
            self.layout.addItem(label, row, col + 1)
        self.updateSize()

    def mouseDragEvent(self, ev: object) -> None:
        ev.ignore()  # type: ignore[attr-defined]
