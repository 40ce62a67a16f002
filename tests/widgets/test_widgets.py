"""Widgets and the main window, offscreen, fed with samples directly."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

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


def test_dragging_a_trend_pauses(window) -> None:  # type: ignore[no-untyped-def]
    win, _ = window
    win.view.freq_trend.interacted.emit()
    assert win.paused


def test_devices_view_totals_and_comm_state(qtbot) -> None:  # type: ignore[no-untyped-def]
    from console.ui.devices_view import DevicesView
    from core.grid import GridState
    from core.sources import ModbusDeviceSpec

    devices = [ModbusDeviceSpec("h1", "127.0.0.1", 5020, 1, "eastron_sdm630.toml"),
               ModbusDeviceSpec("h2", "127.0.0.1", 5020, 2, "eastron_sdm630.toml"),
               ModbusDeviceSpec("h3", "127.0.0.1", 5020, 3, "sunspec")]
    view = DevicesView(devices)
    qtbot.addWidget(view)
    state = GridState([])
    now = time.time()
    state.apply([Sample("h1.power", 1200.0, "W", Quality.GOOD, now, now),
                 Sample("h2.power", -800.0, "W", Quality.GOOD, now, now),
                 Sample("h3.inverter_three_phase.W", 3000.0, "W", Quality.GOOD, now, now)])
    statuses = [SourceStatus("h1", "modbus://x", ConnectionState.CONNECTED, now, reads_ok=10, latency_ms=2.5),
                SourceStatus("h2", "modbus://x", ConnectionState.DISCONNECTED, now, last_error="no answer"),
                SourceStatus("h3", "modbus://x", ConnectionState.CONNECTED, now)]
    view.refresh(state.snapshot(now), statuses)
    assert view.production.text == "3.0" and view.net.text == "0.4"
    assert view.comm.text == "2" and view.comm.state == "alert"
    rows = {r[0]: r for r in view.table.row_texts()}
    assert rows["h2"][3] == "disconnected" and rows["h2"][9] == "no answer"
    assert rows["h3"][1] == "PV inverter" and rows["h1"][4] == "1.20"


def test_devices_view_shows_tamper_events(qtbot) -> None:  # type: ignore[no-untyped-def]
    from console.ui.devices_view import DevicesView
    from core.grid import GridState
    from core.sources import ModbusDeviceSpec
    from core.tamper import TamperEvent, TamperKind

    view = DevicesView([ModbusDeviceSpec("h1", "127.0.0.1", 5020, 1, "eastron_sdm630.toml")])
    qtbot.addWidget(view)
    now = time.time()
    event = TamperEvent("h1", "energy_import", TamperKind.COUNTER_RESET, now, 0.0, 5000.0, "5000 Wh → 0 Wh")
    view.refresh(GridState([]).snapshot(now),
                 [SourceStatus("h1", "modbus://x", ConnectionState.CONNECTED, now)], [event])
    (row,) = view.table.row_texts()
    assert row[3] == "connected" and row[9].startswith("TAMPER") and "energy counter was reset" in row[9]


def test_chain_that_cannot_start_is_named_in_the_status_bar(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from console.app import _build_chain
    from console.config import ChainSettings

    settings = load(default_config_path())
    settings = dataclasses.replace(settings, chain=ChainSettings(enabled=True, deployment=tmp_path / "none.json"))
    acq = build_acquisition(settings)
    chain, error = _build_chain(settings, acq, None)
    assert chain is None and error is not None and "none.json" in error and "chain up" in error
    win = MainWindow(settings, acq, LoopMonitor(), None, None, chain, error)
    qtbot.addWidget(win)
    assert win.chain_label.text().startswith("chain off:") and win.chain_label.property("state") == "alert"
    assert win.chain_view is None


def test_totals_trend_keeps_what_happened_while_another_tab_was_shown(qtbot) -> None:  # type: ignore[no-untyped-def]
    from console.ui.devices_view import DevicesView
    from core.grid import GridState
    from core.sources import ModbusDeviceSpec

    view = DevicesView([ModbusDeviceSpec("m", "127.0.0.1", 5020, 1, "eastron_sdm630.toml", participant="h"),
                        ModbusDeviceSpec("pv", "127.0.0.1", 5020, 101, "sunspec", participant="h", asset="pv")])
    qtbot.addWidget(view)
    state = GridState([])
    now = time.time()
    for i, pv in enumerate((1000.0, 2000.0, 3000.0)):
        t = now + i
        state.apply([Sample("m.power", 500.0 - pv, "W", Quality.GOOD, t, t),
                     Sample("pv.inverter_three_phase.W", pv, "W", Quality.GOOD, t, t)])
        if i < 2:
            view.record_totals(state.snapshot(t))  # the tab is not shown
        else:
            view.refresh(state.snapshot(t), [])
    _, solar = view.totals_trend.curve_data("solar")
    assert list(solar) == [1.0, 2.0, 3.0]
    _, consumption = view.totals_trend.curve_data("consumption")
    assert list(consumption) == [0.5, 0.5, 0.5]  # meter (500 − PV) + PV
