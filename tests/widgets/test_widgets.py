"""Widgets and the main window, offscreen, fed with samples directly."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from console.bootstrap import build_acquisition
from console.config import default_config_path, load
from console.services.loop_monitor import LoopMonitor
from console.ui.main_window import MainWindow
from core.bands import Band
from core.points import Quality, Sample
from core.sources import ConnectionState, PointFault, SourceStatus
from widgets.readout import Readout
from widgets.source_status import SourceIndicator
from widgets.trend import TrendWidget

pytestmark = pytest.mark.widgets


@pytest.mark.parametrize(
    ("quality", "band", "state", "tag"),
    [
        (Quality.GOOD, Band.NORMAL, "normal", ""),
        (Quality.GOOD, Band.ALERT, "alert", "ALERT"),
        (Quality.GOOD, Band.EMERGENCY, "emergency", "EMERGENCY"),
        (Quality.STALE, Band.EMERGENCY, "stale", "STALE"),  # quality wins over band
        (Quality.COMM_FAILURE, Band.NORMAL, "bad", "BAD"),
        (Quality.BAD, Band.NORMAL, "bad", "BAD"),
    ],
)
def test_readout_state_follows_quality_then_band(qtbot, quality: Quality, band: Band, state: str, tag: str) -> None:  # type: ignore[no-untyped-def]
    r = Readout("FREQUENCY", "Hz", decimals=3)
    qtbot.addWidget(r)
    r.set_value(49.9871, quality, band)
    assert r.text == "49.987"
    assert r.state == state and r.property("state") == state
    assert r.tag == tag


def test_trend_live_mode_hands_only_the_window_and_holds_last_value(qtbot) -> None:  # type: ignore[no-untyped-def]
    trend = TrendWidget("Frequency", "Hz")
    qtbot.addWidget(trend)
    trend.add_series("f")
    trend.set_window(60)
    t = np.arange(0.0, 600.0, 0.05) + 1.7e9
    v = 50 + 0.01 * np.sin(t)
    trend.set_series_data("f", t, v, hold_until=t[-1] + 5)
    x, y = trend.curve_data("f")
    assert x[-1] == pytest.approx(t[-1] + 5) and y[-1] == pytest.approx(v[-1])
    assert x[0] >= t[-1] + 5 - 60 * 1.05 - 0.1
    trend.set_live(False)
    trend.set_series_data("f", t, v)
    assert trend.curve_data("f")[0].size == t.size  # paused: everything, to scroll back


def test_source_indicator_shows_degraded_with_tooltip(qtbot) -> None:  # type: ignore[no-untyped-def]
    ind = SourceIndicator("plc")
    qtbot.addWidget(ind)
    fault = PointFault("p1", "ns=2;s=X", "point 'p1' node 'ns=2;s=X': BadNodeIdUnknown")
    ind.show_status(SourceStatus("plc", "opc.tcp://h:1", ConnectionState.DEGRADED, 0, faults=(fault,)))
    assert "degraded (1 point failed)" in ind.text() and ind.state == "alert"
    assert "BadNodeIdUnknown" in ind.toolTip()
    ind.show_status(SourceStatus("plc", "opc.tcp://h:1", ConnectionState.DEGRADED, 0,
                                 last_error="connected, but no data for 5 s or more"))
    assert ind.text().endswith("plc degraded (no data)") and ind.state == "alert"  # silent, not "0 points failed"
    assert "no data for 5 s" in ind.toolTip()
    ind.show_status(SourceStatus("plc", "opc.tcp://h:1", ConnectionState.DISCONNECTED, 0,
                                 last_error="connection refused", next_retry_s=1.5))
    assert "retry in 1.5 s" in ind.text() and ind.state == "emergency"


@pytest.fixture
def window(qtbot):  # type: ignore[no-untyped-def]
    settings = load(default_config_path())
    acq = build_acquisition(settings)
    win = MainWindow(settings, acq, LoopMonitor())
    win.timer.stop()  # frames are driven by the test
    qtbot.addWidget(win)
    win.show()
    return win, acq


def _feed(acq, now: float, f: float = 49.98, quality: Quality = Quality.GOOD) -> None:  # type: ignore[no-untyped-def]
    batch = []
    for i in range(40):  # 2 s at 20 Hz
        ts = now - 2 + i * 0.05
        batch += [Sample("grid.frequency", f - 0.01 * i / 40, "Hz", quality, ts, ts)]
    for pid, value in [("grid.demand", 8.0e9), ("grid.supply", 7.95e9), ("feeder1.voltage", 231.0),
                       ("feeder2.voltage", 256.0), ("feeder3.voltage", 229.0), ("feeder4.voltage", 228.0)]:
        batch.append(Sample(pid, value, "", quality, now, now))
    acq.on_samples(batch)


def test_main_window_shows_values_bands_and_stale(window) -> None:  # type: ignore[no-untyped-def]
    win, acq = window
    now = time.time()
    _feed(acq, now)
    win.refresh()
    view = win.view
    assert view.freq_readout.state == "normal" and view.freq_readout.text.startswith("49.97")
    assert view.demand_readout.text == "8,000.0" and view.balance_readout.text == "-50.0"
    assert view.bus_readouts["feeder2.voltage"].state == "alert"  # 256 V > 253 V
    assert not math.isnan(acq.snapshot().rocof_hz_s)
    x, _ = view.freq_trend.curve_data("grid.frequency")
    assert x.size >= 40
    acq.on_samples([Sample("grid.frequency", math.nan, "Hz", Quality.STALE, now, now + 1)])
    win.refresh()
    assert view.freq_readout.state == "stale" and view.freq_readout.text.startswith("49.97")


def test_window_keys_and_pause(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    win, acq = window
    _feed(acq, time.time())
    qtbot.keyClick(win, Qt.Key.Key_2)
    assert all(t.window_s == 600 for t in win.view.trends)
    qtbot.keyClick(win, Qt.Key.Key_Space)
    assert win.paused and not win.view.freq_trend.live and win.pause_button.text() == "▶ Live"
    qtbot.mouseClick(win.pause_button, Qt.MouseButton.LeftButton)
    assert not win.paused and win.view.freq_trend.live


def _drag(widget, start: QPoint, end: QPoint, steps: int = 10) -> None:  # type: ignore[no-untyped-def]
    """A real left-button drag on a widget's viewport: press, moves with the button held, release
    (QTest.mouseMove does not carry the held button, so the events are sent as the window system would)."""
    viewport = widget.viewport()

    def send(kind: QEvent.Type, at: QPoint, button: Qt.MouseButton, buttons: Qt.MouseButton) -> None:
        local = QPointF(at)
        QApplication.sendEvent(viewport, QMouseEvent(kind, local, QPointF(viewport.mapToGlobal(at)), button, buttons,
                                                     Qt.KeyboardModifier.NoModifier))

    left = Qt.MouseButton.LeftButton
    send(QEvent.Type.MouseButtonPress, start, left, left)
    for i in range(1, steps + 1):
        send(QEvent.Type.MouseMove, start + (end - start) * i / steps, Qt.MouseButton.NoButton, left)
    send(QEvent.Type.MouseButtonRelease, end, left, Qt.MouseButton.NoButton)


def test_dragging_a_trend_pauses(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    win, acq = window
    _feed(acq, time.time())
    win.refresh()
    trend = win.view.freq_trend
    before = trend.visible_range()
    assert not win.paused and trend.live
    middle = trend.viewport().rect().center()
    _drag(trend, middle, middle + QPoint(120, 0))  # drag the time axis to the right: look back
    assert win.paused and not trend.live and win.pause_button.text() == "▶ Live"
    after = trend.visible_range()
    assert after[0] < before[0] and after[1] < before[1]  # the view moved back in time, it did not zoom
    assert after[1] - after[0] == pytest.approx(before[1] - before[0], rel=1e-6)


def test_chain_that_cannot_start_is_named_in_the_status_bar(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from console.bootstrap import build
    from console.config import ChainSettings

    settings = load(default_config_path())
    settings = dataclasses.replace(settings, chain=ChainSettings(enabled=True, deployment=tmp_path / "none.json"))
    app = build(settings)
    chain, error = app.chain, app.chain_error
    assert chain is None and error is not None and "none.json" in error and "chain up" in error
    win = MainWindow(settings, app.acquisition, app.monitor, app.historian, app.commands, chain, error)
    qtbot.addWidget(win)
    assert win.chain_label.text().startswith("✕ chain off:") and win.chain_label.property("state") == "emergency"
    assert win.chain_view is None
