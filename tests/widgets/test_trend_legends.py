"""The grid screen's trend legends take no plot width they do not need, at 1366 x 768, 1920 x 1080 and
islanded (the emergency band above every tab, the balancing panel beside the readouts), on the demo's world
config (frequency, the console's and the substation's ROCOF, eleven 230 V feeder buses).

* Frequency and ROCOF, one above the other with linked time axes: their plots start and end at the same x
  and take the panel's width but for the value axis (62 px, TrendWidget) and the layout's 1 px margins: the
  frequency's one-entry legend no longer holds a 159 px column beside its plot (457 of 616 px at 1366).
* The feeder voltages' legend: every bus has the same 230 V nominal, so it is said once, in the title, and
  the entries are the bus names; islanded at 1366 x 768 the plot had 134 px beside three columns of
  "Feeder 7 end (230 V)", it now keeps at least a third of the panel.
"""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from console.bootstrap import build_acquisition
from console.bootstrap_demo import DEMO_CONFIG
from console.config import load
from console.services.loop_monitor import LoopMonitor
from console.ui.main_window import MainWindow
from tests.support.clipping import clipped
from tests.widgets.test_no_clipping import islanded_balancing
from widgets.trend import TrendWidget

pytestmark = pytest.mark.widgets

AXIS = 62  # the value axis's fixed width (TrendWidget)


def _grid(qtbot, size: tuple[int, int], islanded: bool = False):  # type: ignore[no-untyped-def]
    settings = load(DEMO_CONFIG)
    win = MainWindow(settings, build_acquisition(settings), LoopMonitor(),
                     **({"balancing": islanded_balancing()} if islanded else {}))
    win.timer.stop()
    qtbot.addWidget(win)
    if islanded:
        assert win.balancing is not None
        win.balancing.timer.stop()
        win.balancing.refresh()
    win.resize(*size)
    win.show()
    for _ in range(4):
        win.frames = 0
        win.refresh()
        QApplication.processEvents()
    return win


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_frequency_and_rocof_plots_are_aligned_and_as_wide_as_their_panel(qtbot, size) -> None:  # type: ignore[no-untyped-def]
    win = _grid(qtbot, size)
    view = win.view
    freq, rocof = view.freq_trend.data_rect(), view.rocof_trend.data_rect()
    # the time axes one above the other (to a pixel: the layouts' float arithmetic differs in the 13th digit)
    assert freq.left() == pytest.approx(rocof.left(), abs=0.5) and freq.width() == pytest.approx(rocof.width(), abs=0.5)
    # the plot spans the widget but for the value axis and the PlotItem's 1 px margins: no legend column
    assert freq.width() >= view.freq_trend.viewport().width() - AXIS - 2 - 1
    assert view.freq_trend.legend is None  # one line, named by the title "Frequency [Hz]"
    legend = view.rocof_trend.legend
    assert legend is not None and view.rocof_trend.legend_in_title_row()
    title = view.rocof_trend.getPlotItem().titleLabel
    text = title.item.sceneBoundingRect()
    box = legend.sceneBoundingRect()
    assert box.left() > text.right() and box.right() <= rocof.right() + 1  # beside the title, not over it
    assert box.bottom() <= rocof.top() + 1
    assert [p for p in clipped(win) if "legend" in p or "time axis" in p] == []


def test_an_above_legend_moves_the_title_left_then_takes_a_row_of_its_own(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The grid's ROCOF trend beside the market panel is ~500 px wide: the centred title and the legend's
    185 px overlap there, a title on the left leaves room; at 300 px neither does."""
    trend = TrendWidget("ROCOF", "Hz/s")
    qtbot.addWidget(trend)
    trend.add_series("a", "console")
    trend.add_series("b", "substation")
    trend.show_legend(above=True)
    trend.show()
    title = trend.getPlotItem().titleLabel

    def at(width: int) -> tuple[bool, str]:
        trend.resize(width, 200)
        for _ in range(4):
            QApplication.processEvents()
        legend, plot = trend.legend, trend.data_rect()
        assert legend is not None
        box, text = legend.sceneBoundingRect(), title.item.sceneBoundingRect()
        assert box.bottom() <= plot.top() + 1 and box.right() <= trend.viewport().width()  # never over the data
        if trend.legend_in_title_row():
            assert box.left() > text.right()  # beside the title, not over it
        else:
            assert box.top() >= text.bottom() - 1  # under the title
        return trend.legend_in_title_row(), title.opts["justify"]

    assert at(900) == (True, "center")
    assert at(480) == (True, "left")
    assert at(300) == (False, "center")
    assert at(900) == (True, "center")  # and back


def test_the_islanded_voltage_legend_names_the_buses_once_at_230_v(qtbot) -> None:  # type: ignore[no-untyped-def]
    win = _grid(qtbot, (1366, 768), islanded=True)
    trend = win.view.voltage_trend
    legend = trend.legend
    assert legend is not None
    box, plot = legend.sceneBoundingRect(), trend.data_rect()
    assert plot.width() >= trend.viewport().width() / 3  # was 134 of 680 px
    assert box.left() >= plot.right() - 1 and box.right() <= trend.viewport().width()  # beside, whole
    labels = [label.text for _, label in legend.items]
    assert labels[0] == "LV busbar" and labels[-1] == "Feeder 10 end" and len(labels) == 11
    # down each column in turn: "Feeder 1 end" under "LV busbar", not beside it
    first, second = (label.sceneBoundingRect() for _, label in legend.items[:2])
    assert second.left() == pytest.approx(first.left(), abs=1) and second.top() > first.top()
    assert "% of 230 V" in trend.getPlotItem().titleLabel.text
    assert [p for p in clipped(win) if "legend" in p or "time axis" in p] == []
