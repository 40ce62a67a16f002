"""The price chart's hover readout answers only over the chart itself: pointing at the price axis (left of
the view box) once read a time before the chart's range; leaving the chart hides the last readout."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest
from PySide6.QtCore import QPointF

from core.market import PriceComponents
from widgets.price_chart import PriceChart

pytestmark = pytest.mark.widgets

NOW = 1_800_000_000


@dataclass(frozen=True)
class Trade:
    ts: int
    price: int
    quantity: int


def test_the_readout_is_shown_over_the_view_box_only(qtbot) -> None:  # type: ignore[no-untyped-def]
    chart = PriceChart(bucket_s=60)
    qtbot.addWidget(chart)
    chart.resize(600, 300)
    chart.show()
    qtbot.waitExposed(chart)
    ref = PriceComponents(NOW - 3000, 250, 1_000_000, 1_000_000, 1_000_000, Fraction(250), 250, False, False)
    chart.set_prices([Trade(NOW - 600, 248, 1000), Trade(NOW - 590, 252, 500)], [ref], NOW)
    vb = chart.getPlotItem().getViewBox().sceneBoundingRect()
    inside = QPointF(vb.center().x(), vb.center().y())
    chart._moved(inside)
    assert chart.hover.isVisible() and "250" in chart.hover.toPlainText()
    axis = QPointF(vb.left() - 20, vb.center().y())  # on the price axis (52 px wide)
    assert chart.getPlotItem().sceneBoundingRect().contains(axis)
    chart._moved(axis)
    assert not chart.hover.isVisible()
