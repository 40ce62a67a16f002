"""One trend line, one source: the console's computed ROCOF and the substation's own ROCOF point never share a
buffer (they did: both were named "grid.rocof", so the ROCOF trend's single line zig-zagged between the
console's slope of the frequency and the relay's figure). On the demo's world config, which has both.

Hand-computed figures: a frequency rising 0.2 Hz every second (10 samples a second, 0.02 Hz apart) has a
least-squares slope of exactly +0.2 Hz/s over any window; the substation reports a steady -0.5 Hz/s.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from console.bootstrap import build_acquisition
from console.bootstrap_demo import DEMO_CONFIG
from console.config import ConfigError, load, parse
from console.services.acquisition import ROCOF_SERIES
from console.services.loop_monitor import LoopMonitor
from console.ui.main_window import MainWindow
from core.points import PointDef, Quality, Sample

pytestmark = pytest.mark.widgets


@pytest.fixture
def window(qtbot):  # type: ignore[no-untyped-def]
    settings = load(DEMO_CONFIG)
    acq = build_acquisition(settings)
    win = MainWindow(settings, acq, LoopMonitor())
    win.timer.stop()
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    QApplication.processEvents()
    return win, acq


def _feed(acq, now: float) -> None:  # type: ignore[no-untyped-def]
    """20 s of frequency rising 0.2 Hz/s from 49.0 Hz at 10 Hz, and the substation's ROCOF at -0.5 Hz/s (1 Hz)."""
    t0 = now - 20
    batch = [Sample("grid.frequency", 49.0 + 0.02 * i, "Hz", Quality.GOOD, t0 + i / 10, t0 + i / 10)
             for i in range(201)]
    batch += [Sample("grid.rocof", -0.5, "Hz/s", Quality.GOOD, t0 + i, t0 + i) for i in range(21)]
    acq.on_samples(sorted(batch, key=lambda s: s.source_ts))


def test_the_consoles_rocof_and_the_substations_are_two_lines_each_from_its_own_source(window) -> None:  # type: ignore[no-untyped-def]
    win, acq = window
    now = time.time()
    _feed(acq, now)
    view = win.view
    view.refresh(acq.state.snapshot(now))
    # every line of every trend has a buffer of its own
    buffers = [id(b.buffer) for b in view._bindings]
    assert len(buffers) == len(set(buffers))
    names = [(b.trend, b.name) for b in view._bindings]
    assert len(names) == len(set(names))
    assert [b.name for b in view._bindings if b.trend is view.rocof_trend] == [ROCOF_SERIES, "grid.rocof"]

    _, console = view.rocof_trend.curve_data(ROCOF_SERIES)
    console = console[np.isfinite(console)]
    assert console.size > 150  # ~ one value per frequency sample once the 500 ms window is full
    assert np.allclose(console, 0.2, atol=1e-6)  # the slope alone: no -0.5 of the relay among it
    _, substation = view.rocof_trend.curve_data("grid.rocof")
    substation = substation[np.isfinite(substation)]
    assert substation.size >= 21 and np.all(substation == -0.5)  # the relay's alone (21 samples + held to now)

    # told apart: another colour and dash, and a legend naming both (under the title "ROCOF [Hz/s]": the
    # source only), above the plot (not over it)
    a, b = view.rocof_trend.series_pen(ROCOF_SERIES), view.rocof_trend.series_pen("grid.rocof")
    assert a.color().name() != b.color().name() and a.dashPattern() != b.dashPattern()
    legend = view.rocof_trend.legend
    assert legend is not None
    assert [label.text for _, label in legend.items] == ["console", "substation"]
    box, plot = legend.sceneBoundingRect(), view.rocof_trend.data_rect()
    assert box.bottom() <= plot.top() + 1 and box.right() <= view.rocof_trend.viewport().width()
    # the frequency trend above has no legend column either: the two linked time axes stay aligned
    assert view.freq_trend.data_rect().left() == view.rocof_trend.data_rect().left()
    assert view.freq_trend.data_rect().width() == view.rocof_trend.data_rect().width()


def test_a_driver_point_named_like_the_consoles_series_is_refused(window) -> None:  # type: ignore[no-untyped-def]
    _, acq = window
    now = time.time()
    acq.register_points([PointDef(ROCOF_SERIES, "rogue", "Hz/s")])
    assert ROCOF_SERIES not in acq.state.points
    _feed(acq, now)
    acq.on_samples([Sample(ROCOF_SERIES, 9.0, "Hz/s", Quality.GOOD, now, now)])
    _, v = acq.series[ROCOF_SERIES].arrays()
    assert 9.0 not in v[np.isfinite(v)]


def test_a_configured_point_id_like_an_internal_series_is_refused_with_what_to_do(tmp_path: Path) -> None:
    text = Path(DEMO_CONFIG).read_text().replace('id = "grid.rocof"\n  name = "ROCOF (substation)"',
                                                 'id = "<console ROCOF>"\n  name = "ROCOF (substation)"', 1)
    assert "<console ROCOF>" in text
    path = tmp_path / "site.toml"
    with pytest.raises(ConfigError) as err:
        parse(text, path)
    message = str(err.value)
    assert message.startswith(f"{path}: sources[0 'world'].points[")
    assert ".id: '<console ROCOF>' is not a usable point id ('<…>' names are the console's own series" in message
    assert "letters, digits and _ . : - only, like 'grid.rocof'" in message


def test_a_steady_rocof_keeps_a_calm_scale(window) -> None:  # type: ignore[no-untyped-def]
    """A steady grid's ROCOF of 0.0002 Hz/s was stretched over the whole trend (ticks 0.00021, 0.00022): the
    scale holds at least ±0.01 Hz/s, padded 5 % (±0.011), and grows with a real swing (+0.2 Hz/s)."""
    win, acq = window
    now = time.time()
    t0 = now - 20
    acq.on_samples([Sample("grid.frequency", 50.0 + 0.0002 * i / 10, "Hz", Quality.GOOD, t0 + i / 10, t0 + i / 10)
                    for i in range(201)])
    view = win.view
    view.refresh(acq.state.snapshot(now))
    low, high = view.rocof_trend.getPlotItem().getViewBox().viewRange()[1]
    assert (low, high) == pytest.approx((-0.011, 0.011))
    _feed(acq, now + 30)  # +0.2 Hz/s from the console, -0.5 Hz/s from the substation
    view._redraw_all()
    view.refresh(acq.state.snapshot(now + 30))
    low, high = view.rocof_trend.getPlotItem().getViewBox().viewRange()[1]
    assert low < -0.5 and high > 0.2
