"""The analytics tab's forecast plots before the first Compute: a calm line of text in each plot's place
(the muted text colour), not empty 0-1 axes; once computed, the plots with their curves. On a real SQLite
historian (tests/api/production_data.py)."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import QApplication, QLabel

from console.ui.analytics_view import AnalyticsView
from console.ui.layouts import SCREENS
from tests.api.conftest import NOW
from tests.api.production_data import production_service
from widgets import palette

pytestmark = pytest.mark.widgets


def _placeholders(view: AnalyticsView) -> list[str]:
    return [w.text() for w in view.findChildren(QLabel) if w.isVisibleTo(view) and w.text().startswith("Press Compute")]


async def test_forecast_plots_say_press_compute_until_there_is_data(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = AnalyticsView(production_service(tmp_path, NOW, days=3), clock=lambda: NOW)
    view.resize(1366, 700)
    view.show()
    QApplication.processEvents()
    plots = view.findChildren(pg.PlotWidget)
    assert len(plots) == 2
    assert not any(p.isVisibleTo(view) for p in plots)  # no empty axes on screen
    assert sorted(_placeholders(view)) == ["Press Compute to forecast PV", "Press Compute to forecast the load"]
    label = next(w for w in view.findChildren(QLabel) if w.text() == "Press Compute to forecast the load")
    assert palette.TEXT_DIM in label.styleSheet()  # the theme's muted colour, no alarm colour
    view.period.setCurrentIndex(0)
    await view.refresh()
    QApplication.processEvents()
    assert view.load_plot.isVisibleTo(view) and _placeholders(view) == []
    # the data set has no PV total (alice's inverter is the only one, summed per participant): said in the
    # PV plot's place, again with no empty axes
    assert not view.pv_plot.isVisibleTo(view)
    assert any(w.isVisibleTo(view) and w.text() == "No PV data for All participants" for w in view.findChildren(QLabel))
    view.who.setCurrentText("alice")
    QApplication.processEvents()
    assert all(p.isVisibleTo(view) for p in plots)
    # tomorrow has no actuals yet: the seasonal naive and the Holt-Winters curves
    assert len(view.load_plot.getPlotItem().listDataItems()) == 2
    view.close()


def test_the_forecast_dock_holds_both_plots_and_their_placeholders(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The layouts dock the box of both forecasts ("Day-ahead forecasts"): the box, not one plot's stack (the
    PV plot was left behind in the screen's top area, the load's placeholder docked alone)."""
    view = AnalyticsView(production_service(tmp_path, NOW, days=3), clock=lambda: NOW)
    _, panels = SCREENS["AnalyticsView"]
    box = next(p for p in panels if p.key == "forecast").find(view)
    assert box is not None
    for w in (view.load_plot, view.pv_plot, view.who, view.load_label, view.pv_label):
        assert box.isAncestorOf(w)
    view.close()
