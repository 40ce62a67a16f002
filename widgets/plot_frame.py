"""The console's plot frame, one look for every chart: no pyqtgraph context menu or auto-range button, the
axes in the grid colour with dim tick text, and the values as given (no SI prefix of pyqtgraph's: it would
turn a MW axis into kMW, or small ROCOF values into "Hz/s (x0.001)")."""

from __future__ import annotations

import pyqtgraph as pg

from widgets import palette


def calm_frame(item: pg.PlotItem) -> None:
    item.setMenuEnabled(False)
    item.hideButtons()
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(palette.GRID))
        axis.setTextPen(pg.mkPen(palette.TEXT_DIM))
        axis.enableAutoSIPrefix(False)
