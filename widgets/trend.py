"""Real-time trend: time axis, shaded normal band, limit lines, many series.

Built for refresh at 10–20 Hz: curves use peak downsampling and clip to the
view, and in live mode only the visible window is handed to pyqtgraph.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QWidget

from widgets.palette import ALERT, BACKGROUND, BAND_FILL, EMERGENCY, GRID, SERIES, TEXT_DIM

FloatArray = npt.NDArray[np.float64]


class TrendWidget(pg.PlotWidget):  # type: ignore[misc]
    """A time trend of one or more series sharing a unit.

    Signals
    -------
    interacted:
        The operator panned or zoomed with the mouse (the console pauses).
    """

    interacted = Signal()
    # (t0, t1) of the visible time range after the operator moved a paused trend
    range_moved = Signal(float, float)

    def __init__(self, title: str, unit: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=BACKGROUND, axisItems={"bottom": pg.DateAxisItem()})
        self.unit = unit
        self.window_s = 60.0
        self.live = True
        self._latest_t = 0.0
        self._curves: dict[str, pg.PlotDataItem] = {}
        item = self.getPlotItem()
        item.setTitle(f"<span style='color:{TEXT_DIM}'>{title} [{unit}]</span>", size="9pt")
        # No grid lines: the shaded band and limit lines are the reference (ISA-101:
        # less ink), and the grid cost a quarter of the frame time in bench/trend_render.py.
        item.setClipToView(True)
        item.setMenuEnabled(False)
        item.hideButtons()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(GRID))
            axis.setTextPen(pg.mkPen(TEXT_DIM))
            axis.setStyle(maxTickLevel=1, maxTextLevel=1)  # major + minor ticks only: calmer and cheaper
        item.getAxis("left").setWidth(52)
        self._legend: pg.LegendItem | None = None
        vb = item.getViewBox()
        vb.disableAutoRange()  # y follows the data in end_frame(): cheaper and steadier than auto-range
        vb.sigRangeChangedManually.connect(self._on_manual_range)
        vb.sigXRangeChanged.connect(self._on_x_range)
        self._history: dict[str, pg.PlotDataItem] = {}
        self._bounds: dict[str, tuple[float, float]] = {}
        self._min_y_range: tuple[float, float] | None = None
        self._y_range: tuple[float, float] | None = None
        self.setMinimumHeight(120)

    # ---- decoration ------------------------------------------------------

    def add_series(self, name: str, label: str | None = None, color: str | None = None) -> None:
        """Declare a series; its colour is a calm grey/blue unless given."""
        if name in self._curves:
            return
        pen = pg.mkPen(color or SERIES[len(self._curves) % len(SERIES)], width=1)
        curve = self.getPlotItem().plot(pen=pen, connect="finite", name=label or name)
        curve.setClipToView(True)
        self._curves[name] = curve

    def show_legend(self) -> None:
        """A small legend in the top-left corner (for multi-series trends)."""
        if self._legend is None:
            self._legend = self.getPlotItem().addLegend(
                offset=(4, 4), labelTextColor=TEXT_DIM, labelTextSize="8pt"
            )
            for name, curve in self._curves.items():
                self._legend.addItem(curve, curve.name() or name)

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
        color = EMERGENCY if severity == "emergency" else ALERT
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
        """Fit the y axis to what was handed over this frame (live mode only:
        a paused trend belongs to the operator's mouse)."""
        if not self.live:
            return
        spans = list(self._bounds.values())
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
        """Live follows the newest data; paused leaves the view to the operator."""
        self.live = live
        self.getPlotItem().getViewBox().setMouseEnabled(x=True, y=not live)
        if live:
            self._y_range = None  # re-fit on the next frame
            self.clear_history()
            self.follow()

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

    def clear_history(self) -> None:
        for curve in self._history.values():
            curve.setData([], [])

    def visible_range(self) -> tuple[float, float]:
        (t0, t1), _ = self.getPlotItem().getViewBox().viewRange()
        return float(t0), float(t1)

    def _on_manual_range(self, *args: object) -> None:
        self.interacted.emit()

    def _on_x_range(self, *args: object) -> None:
        if not self.live:
            self.range_moved.emit(*self.visible_range())
