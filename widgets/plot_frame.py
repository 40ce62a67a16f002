"""The console's plot frame, one look for every chart: no pyqtgraph context menu or auto-range button, the
axes in the grid colour with dim tick text, and the values as given (no SI prefix of pyqtgraph's: it would
turn a MW axis into kMW, or small ROCOF values into "Hz/s (x0.001)")."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedWidget, QWidget

from widgets import palette


def calm_frame(item: pg.PlotItem) -> None:
    item.setMenuEnabled(False)
    item.hideButtons()
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(palette.GRID))
        axis.setTextPen(pg.mkPen(palette.TEXT_DIM))
        axis.enableAutoSIPrefix(False)


class PlotPlaceholder(QStackedWidget):
    """A plot that has nothing to show yet shows a calm line of text in its place (the theme's muted colour
    on the plot's background) instead of empty 0-1 axes that look like a chart of nothing.

    ``show_text(text)`` until there is data, ``show_plot()`` once there is; the plot itself is ``plot``."""

    def __init__(self, plot: pg.PlotWidget, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = plot
        self.placeholder = QLabel(text)
        self.placeholder.setObjectName("plotPlaceholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        background = plot.backgroundBrush().color().name()
        # colours in the label's own style sheet: theme.recolour follows a theme switch
        self.placeholder.setStyleSheet(f"QLabel#plotPlaceholder {{ background: {background}; "
                                       f"color: {palette.TEXT_DIM}; padding: 12px; }}")
        self.addWidget(self.placeholder)
        self.addWidget(plot)
        self.setCurrentWidget(self.placeholder)

    def show_text(self, text: str) -> None:
        self.placeholder.setText(text)
        self.setCurrentWidget(self.placeholder)

    def show_plot(self) -> None:
        self.setCurrentWidget(self.plot)

    def showing_plot(self) -> bool:
        return self.currentWidget() is self.plot
