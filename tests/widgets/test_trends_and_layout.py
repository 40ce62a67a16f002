"""Trends that read right, a window that never grows, one colour map, an event box that means it.

Offscreen, fed with samples directly (the same way test_widgets.py does); the only thing
mocked is the clock of the retry countdown.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel

from console.bootstrap import build_acquisition
from console.config import default_config_path, load
from console.services.acquisition import ROCOF_SERIES
from console.services.loop_monitor import LoopMonitor
from console.ui.main_window import MainWindow
from core.bands import Band
from core.chain import ChainState
from core.frequency import FrequencyEvent
from core.points import Quality, Sample
from core.sources import ConnectionState, SourceStatus
from widgets.elided_label import ElidedLabel
from widgets.palette import ALERT, BAD, EMERGENCY, SERIES, STALE, combined_state, state_colour
from widgets.source_status import SourceIndicator
from widgets.trend import TrendWidget

pytestmark = pytest.mark.widgets

LONG = "connection refused by 10.0.0.7:502 " + "x" * 465  # 500 characters
assert len(LONG) == 500


@pytest.fixture
def window(qtbot):  # type: ignore[no-untyped-def]
    settings = load(default_config_path())
    acq = build_acquisition(settings)
    win = MainWindow(settings, acq, LoopMonitor())
    win.timer.stop()  # frames are driven by the test
    qtbot.addWidget(win)
    win.show()
    QApplication.processEvents()
    return win, acq


def _feed(acq, now: float, seconds: float = 30.0, quality: Quality = Quality.GOOD) -> None:  # type: ignore[no-untyped-def]
    """``seconds`` of 49.98 Hz at 10 Hz and steady power and voltages, ending at ``now``."""
    n = int(seconds * 10)
    batch = [Sample("grid.frequency", 49.98 + 0.001 * math.sin(i / 10), "Hz", quality,
                    now - seconds + i / 10, now - seconds + i / 10) for i in range(n + 1)]
    for pid, value in [("grid.demand", 8.0e9), ("grid.supply", 7.95e9), ("feeder1.voltage", 231.0),
                       ("feeder2.voltage", 232.0), ("feeder3.voltage", 229.0), ("feeder4.voltage", 228.0)]:
        batch += [Sample(pid, value, "", quality, now - seconds + i, now - seconds + i)
                  for i in range(int(seconds) + 1)]
    acq.on_samples(sorted(batch, key=lambda s: s.source_ts))


# ---- layout: no content changes the window's size ------------------------------------------------

def _controls_inside(win: MainWindow) -> list[str]:
    """Names of visible buttons and labels that do not lie wholly inside the window."""
    outside = []
    inside = win.rect()
    for w in win.findChildren(QAbstractButton) + win.findChildren(QLabel):
        if not w.isVisibleTo(win) or not w.isVisible():
            continue
        rect = QRect(w.mapTo(win, QPoint(0, 0)), w.size())
        if not inside.contains(rect):
            outside.append(f"{type(w).__name__} {w.objectName() or w.text()[:30]!r} at {rect}")
    return outside


def test_a_500_character_error_everywhere_leaves_the_window_size_unchanged(window) -> None:  # type: ignore[no-untyped-def]
    win, acq = window
    _feed(acq, time.time())
    win.refresh()
    QApplication.processEvents()
    size = win.size()
    assert size.width() == 1600 and not _controls_inside(win)
    # Every status-bar indicator and every readout note gets a 500-character text.
    for name, ind in win.indicators.items():
        ind.show_status(SourceStatus(name, "opc.tcp://127.0.0.1:4840", ConnectionState.DISCONNECTED, 0.0,
                                     last_error=LONG, next_retry_s=3.0))
        ind.setText(LONG)
    for label in (win.modbus_label, win.chain_label, win.historian_label, win.rate_label, win.lag_label):
        label.setText(LONG)
    win.statusBar().addWidget(win.chain_label)  # the chain label too (no chain in the default config)
    win.chain_label.show()
    view = win.view
    for r in (view.freq_readout, view.rocof_readout, view.demand_readout, view.supply_readout,
              view.balance_readout, *view.bus_readouts.values()):
        r.set_value(50.0, Quality.GOOD, Band.NORMAL, note=LONG)
    view.cursor_readout.setText(LONG)
    win.paused_banner.setText(LONG)
    win.paused_banner.show()
    for _ in range(3):
        QApplication.processEvents()
    assert win.size() == size
    assert not _controls_inside(win)
    # What makes a window grow on a real display (offscreen Qt does not resize it): a part whose
    # minimum is wider than the window. With plain QLabels these were 4,530 and 11,749 px.
    for part in (win.centralWidget(), win.statusBar(), *win.indicators.values(), win.view.freq_readout):
        assert part.minimumSizeHint().width() < size.width(), part
    # The text is cut on screen and whole in the tooltip.
    assert win.modbus_label.is_elided() and LONG in win.modbus_label.toolTip()
    assert view.freq_readout.tag_label.is_elided() and LONG in view.freq_readout.tag_label.toolTip()
    assert win.pause_button.isVisible() and win.clock_label.isVisible()


def test_elided_label_asks_for_little_and_keeps_the_full_text(qtbot) -> None:  # type: ignore[no-untyped-def]
    label = ElidedLabel(LONG)
    qtbot.addWidget(label)
    label.show()
    label.resize(200, 20)
    QApplication.processEvents()
    assert label.text() == LONG
    assert label.shown_text().endswith("…") and label.fontMetrics().horizontalAdvance(label.shown_text()) <= 200
    assert label.minimumSizeHint().width() < 100
    assert label.sizeHint().width() <= label.fontMetrics().averageCharWidth() * 60 + 10
    label.setText("short")
    assert label.shown_text() == "short" and label.toolTip() == ""


# ---- one colour map ------------------------------------------------------------------------------

def test_one_colour_per_source_state_on_every_indicator(window) -> None:  # type: ignore[no-untyped-def]
    win, _ = window
    assert state_colour(ConnectionState.DISCONNECTED) == state_colour(ChainState.DOWN) == "#ff6a63"
    assert state_colour(ConnectionState.DEGRADED) == "#f2c12e"
    names = sorted(win._modbus_names)
    # All Modbus devices down reads as red, like one OPC-UA source down (was amber vs red).
    statuses = [SourceStatus(n, "", ConnectionState.DISCONNECTED, 0.0) for n in names]
    grid = next(iter(win.indicators.values()))
    grid.show_status(SourceStatus(grid.name, "", ConnectionState.DISCONNECTED, 0.0))
    win._show_modbus(statuses)
    assert win.modbus_label.text().startswith(f"● Modbus 0/{len(names)}")
    assert f"color: {state_colour(ConnectionState.DISCONNECTED)}" in win.modbus_label.styleSheet()
    assert f"color: {state_colour(ConnectionState.DISCONNECTED)}" in grid.styleSheet()
    # Some down: degraded amber on both.
    win._show_modbus([SourceStatus(names[0], "", ConnectionState.DISCONNECTED, 0.0)] +
                     [SourceStatus(n, "", ConnectionState.CONNECTED, 0.0) for n in names[1:]])
    grid.show_status(SourceStatus(grid.name, "", ConnectionState.DEGRADED, 0.0))
    assert f"color: {state_colour(ConnectionState.DEGRADED)}" in win.modbus_label.styleSheet()
    assert f"color: {state_colour(ConnectionState.DEGRADED)}" in grid.styleSheet()


def test_retry_countdown_runs_live(qtbot) -> None:  # type: ignore[no-untyped-def]
    now = [100.0]
    ind = SourceIndicator("plc", clock=lambda: now[0])
    qtbot.addWidget(ind)
    status = SourceStatus("plc", "opc.tcp://h:1", ConnectionState.DISCONNECTED, 90.0,
                          last_error="connection refused", reconnects=3, next_retry_s=4.0)
    ind.show_status(status)
    assert ind.text().endswith("retry in 4.0 s")
    now[0] = 101.5  # the same report, 1.5 s later, as every UI frame hands it again
    ind.show_status(status)
    assert ind.text().endswith("retry in 2.5 s")
    now[0] = 104.2
    ind.show_status(status)
    assert ind.text().endswith("retrying…")
    # The driver's next failure starts a new wait.
    ind.show_status(SourceStatus("plc", "opc.tcp://h:1", ConnectionState.DISCONNECTED, 90.0,
                                 last_error="connection refused", reconnects=4, next_retry_s=8.0))
    assert ind.text().endswith("retry in 8.0 s")


# ---- the frequency-event box ---------------------------------------------------------------------

def _event(nadir: float) -> FrequencyEvent:
    return FrequencyEvent(start_ts=1.7e9, nadir_hz=nadir, nadir_ts=1.7e9 + 3, zenith_hz=50.01, zenith_ts=1.7e9)


def test_event_box_is_amber_only_outside_the_normal_band(window) -> None:  # type: ignore[no-untyped-def]
    win, acq = window
    now = time.time()
    _feed(acq, now)
    view = win.view
    freq = acq.snapshot().frequency
    view._show_event(_event(49.85), None, freq)  # an event that stayed inside 49.8–50.2 Hz
    assert view.event_card.property("state") == "normal"
    assert view.event_card.text().splitlines()[0].endswith(", in band")
    assert "inside the normal band 49.8–50.2 Hz" in view.event_card.toolTip()
    view._show_event(_event(49.75), None, freq)  # below 49.8 Hz
    assert view.event_card.property("state") == "alert"
    assert "nadir 49.750 Hz" in view.event_card.text() and "in band" not in view.event_card.text()


def test_stale_frequency_makes_the_event_box_stale(window) -> None:  # type: ignore[no-untyped-def]
    win, acq = window
    now = time.time()
    _feed(acq, now)
    acq.on_samples([Sample("grid.frequency", math.nan, "Hz", Quality.STALE, now + 0.1, now + 0.1)])
    view = win.view
    view._show_event(_event(49.75), None, acq.snapshot().frequency)
    assert view.event_card.property("state") == "stale"
    assert view.event_card.text().startswith("STALE — frequency stale since")
    start = time.strftime("%H:%M:%S", time.localtime(1.7e9))
    assert view.event_card.text().splitlines()[1] == f"last known: FREQUENCY EVENT since {start}"


# ---- trends --------------------------------------------------------------------------------------

def test_series_pens_differ_in_colour_and_dash_pattern(qtbot) -> None:  # type: ignore[no-untyped-def]
    trend = TrendWidget("Feeder voltages", "V")
    qtbot.addWidget(trend)
    names = [f"feeder{i}" for i in range(5)]
    for n in names:
        trend.add_series(n)
    pens = [trend.series_pen(n) for n in names]
    colours = {p.color().name() for p in pens}
    dashes = {tuple(p.dashPattern()) if p.style() != Qt.PenStyle.SolidLine else () for p in pens}
    assert len(colours) == 5 and len(dashes) == 5
    # Greyscale: no two of the first five draw alike once colour is gone (dash patterns differ).
    assert () in dashes  # the first series is solid


def test_legend_sits_beside_the_plot(window) -> None:  # type: ignore[no-untyped-def]
    win, acq = window
    _feed(acq, time.time())
    win.refresh()
    QApplication.processEvents()
    for trend in (win.view.voltage_trend, win.view.power_trend):
        assert trend.legend is not None
        legend = trend.legend.sceneBoundingRect()
        data = trend.data_rect()
        assert legend.width() > 20 and legend.left() >= data.right() - 1  # (sub-pixel layout rounding)
        assert legend.intersected(data).width() <= 1


def test_a_pan_on_one_trend_moves_every_trend(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    win, acq = window
    now = time.time()
    _feed(acq, now, seconds=120)
    win.refresh()
    win.set_paused(True)
    freq, rocof = win.view.freq_trend, win.view.rocof_trend
    freq.getPlotItem().getViewBox().translateBy(x=-30)
    t0, t1 = freq.visible_range()
    assert t1 == pytest.approx(now - 30, abs=1.0)
    for other in (rocof, win.view.power_trend, win.view.voltage_trend):
        assert other.visible_range() == pytest.approx((t0, t1))


def test_cursor_readout_gives_time_and_every_value(qtbot) -> None:  # type: ignore[no-untyped-def]
    trend = TrendWidget("Demand vs supply", "MW")
    qtbot.addWidget(trend)
    trend.add_series("d", "Demand")
    trend.add_series("s", "Supply")
    t0 = time.mktime((2026, 12, 1, 12, 0, 0, 0, 0, -1))  # 12:00:00 local
    t = t0 + np.array([0.0, 10.0, 20.0])
    trend.set_series_data("d", t, np.array([8.0, 8.5, 9.0]))
    trend.set_series_data("s", t, np.array([7.0, math.nan, 7.5]))  # a gap from 12:00:10
    assert trend.hover_text(t0 + 12) == "12:00:12\nDemand: 8.5 MW\nSupply: —"
    assert trend.hover_text(t0 + 25) == "12:00:25\nDemand: 9 MW\nSupply: 7.5 MW"


def test_shared_cursor_on_every_trend(window) -> None:  # type: ignore[no-untyped-def]
    win, acq = window
    now = time.time()
    _feed(acq, now)
    win.refresh()
    view = win.view
    view.freq_trend.hovered.emit(now - 5)
    text = view.cursor_readout.text()
    assert text.startswith(time.strftime("%H:%M:%S", time.localtime(now - 5)))
    # every bus at 230 V: the nominal is in the voltage trend's title, the readout gives the volts and the
    # share of it (231 / 230 = 100.43 %)
    for label in ("Frequency: 49.98", "ROCOF (console):", "Demand: 8,000.0 MW", "Supply: 7,950.0 MW",
                  "Feeder 1: 231.0 V (100.4 %)"):
        assert label in text
    assert all(t._cursor.isVisible() and t._cursor.value() == pytest.approx(now - 5) for t in view.trends)
    view.rocof_trend.hovered.emit(math.nan)
    assert not any(t._cursor.isVisible() for t in view.trends)


def test_paused_banner_says_where_the_view_is(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    win, acq = window
    now = time.time()
    _feed(acq, now, seconds=120)
    win.refresh()
    assert not win.paused_banner.isVisible()
    qtbot.keyClick(win, Qt.Key.Key_Space)
    win.view.freq_trend.getPlotItem().getViewBox().translateBy(x=-60)
    assert win.paused_banner.isVisible()
    _, t1 = win.view.freq_trend.visible_range()
    assert win.paused_banner.text().startswith(
        f"PAUSED — scrolled back to {time.strftime('%H:%M:%S', time.localtime(t1))}")
    qtbot.keyClick(win, Qt.Key.Key_Space)
    assert not win.paused_banner.isVisible()


def _wheel(trend: TrendWidget, steps: int = 3) -> None:
    viewport = trend.viewport()
    at = trend.mapFromScene(trend.data_rect().center())
    for _ in range(steps):
        QApplication.sendEvent(viewport, QWheelEvent(QPointF(at), QPointF(viewport.mapToGlobal(at)), QPoint(0, 0),
                                                     QPoint(0, 120), Qt.MouseButton.NoButton,
                                                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                                                     False))


@pytest.mark.parametrize("paused", [False, True])
def test_the_wheel_zooms_time_not_values(window, paused: bool) -> None:  # type: ignore[no-untyped-def]
    win, acq = window
    _feed(acq, time.time(), seconds=120)
    win.refresh()
    win.set_paused(paused)
    trend = win.view.freq_trend
    vb = trend.getPlotItem().getViewBox()
    (x0, x1), (y0, y1) = vb.viewRange()
    _wheel(trend)
    (nx0, nx1), (ny0, ny1) = vb.viewRange()
    assert (ny0, ny1) == pytest.approx((y0, y1))
    assert nx1 - nx0 < (x1 - x0) * 0.9  # zoomed in on time
    assert win.paused  # the operator took the trend: it stops following


def test_a_paused_trend_cannot_be_panned_past_now(window) -> None:  # type: ignore[no-untyped-def]
    win, acq = window
    now = time.time()
    _feed(acq, now, seconds=120)
    win.refresh()
    win.set_paused(True)
    trend = win.view.power_trend
    width = trend.visible_range()[1] - trend.visible_range()[0]
    trend.getPlotItem().getViewBox().translateBy(x=+300)  # try to look five minutes ahead
    t0, t1 = trend.visible_range()
    assert t1 <= now + 0.5 and t1 - t0 == pytest.approx(width, rel=0.01)
    assert win.view.freq_trend.visible_range()[1] <= now + 0.5


def test_every_series_breaks_on_stale_data(window) -> None:  # type: ignore[no-untyped-def]
    """Stale frequency, power and voltages: every trace, ROCOF included, ends in a gap and no
    last value is held across the outage."""
    win, acq = window
    now = time.time()
    _feed(acq, now - 5, seconds=30)
    win.view.refresh(acq.state.snapshot(now - 4.5))  # a frame while all is well: last values held to then
    stale_at = now - 4
    acq.on_samples([Sample(pid, math.nan, "", Quality.STALE, stale_at, stale_at) for pid in (
        "grid.frequency", "grid.demand", "grid.supply", "feeder1.voltage", "feeder2.voltage",
        "feeder3.voltage", "feeder4.voltage")])
    win.view._redraw_all()
    win.view.refresh(acq.state.snapshot(now))
    view = win.view
    series = [(b.trend, b.name) for b in view._bindings]
    assert (view.rocof_trend, ROCOF_SERIES) in series and len(series) == 8
    for trend, name in series:
        x, y = trend.curve_data(name)
        assert x.size and math.isnan(y[-1]), name  # the trace ends in a gap, not a held value
        assert np.isnan(y[x > stale_at]).all(), name  # nothing drawn after the outage began
        assert np.isfinite(y[:-1]).any(), name


def test_combined_state_of_several_sources() -> None:
    c, d, g = ConnectionState.CONNECTED, ConnectionState.DISCONNECTED, ConnectionState.CONNECTING
    assert combined_state([c, c, c]) is c
    assert combined_state([d, d, g]) is d  # none connected, some refused: blind
    assert combined_state([c, d, c]) is ConnectionState.DEGRADED
    assert combined_state([g, g]) is g  # still starting


def test_series_colours_stay_clear_of_the_state_colours() -> None:
    """ISA-101: colour is for abnormal states; a trace must not read as amber, red, stale or bad."""
    def rgb(hex_colour: str) -> np.ndarray:
        return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)

    for series in SERIES[:5]:
        for state in (ALERT, EMERGENCY, STALE, BAD):
            assert np.linalg.norm(rgb(series) - rgb(state)) > 60, (series, state)
