"""A paused trend scrolled back a week loads history without freezing the UI."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest

from console.config import default_config_path, load
from tests.support.isolated import only_isolated, run_isolated

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

WEEK = 7 * 86400


def test_week_of_history_in_a_process_of_its_own() -> None:
    """It freezes the heap (gc.freeze, as the console does) and runs a MainWindow on its own qasync loop:
    in the shared pytest process that left frozen Qt objects to die in random order at interpreter exit."""
    run_isolated(__file__, "test_week_of_history_loads_while_the_loop_stays_responsive")


@only_isolated
def test_week_of_history_loads_while_the_loop_stays_responsive(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import qasync

    from console.app import settle_heap
    from console.bootstrap import FieldSources, build
    from console.services.loop_monitor import LoopMonitor
    from console.store.database import make_engine, upgrade
    from console.store.samples import SampleStore
    from console.ui.main_window import MainWindow

    url = f"sqlite:///{tmp_path / 'week.sqlite'}"
    now = time.time()
    engine = make_engine(url)
    upgrade(engine)
    store = SampleStore(engine)
    ts = np.arange(now - WEEK, now, 1.0)  # one week at 1 Hz: 604,800 samples
    values = 50 + 0.05 * np.sin(ts / 600)
    rows = [("grid.frequency", round(t * 1e6), float(v), 0) for t, v in zip(ts, values, strict=True)]
    for i in range(0, len(rows), 100_000):
        store.insert(rows[i:i + 100_000])
    engine.dispose()

    settings = load(default_config_path())
    settings = dataclasses.replace(settings, historian=dataclasses.replace(
        settings.historian, url=url, spool=str(tmp_path / "spool")))
    # No field drivers: the week of history is all this test looks at.
    app = build(settings, sources=lambda _settings, _acq: FieldSources([]), monitor=LoopMonitor(tick_s=0.01))
    historian, monitor = app.historian, app.monitor
    assert historian is not None
    win = MainWindow(settings, app.acquisition, monitor, historian)
    win.show()
    settle_heap()  # as run_console does after building the window
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    trend = win.view.freq_trend
    result: dict[str, float] = {}

    async def scenario() -> None:
        await app.start()
        try:
            await asyncio.sleep(0.5)
            win.set_paused(True)
            monitor.lags.clear()
            started = time.perf_counter()
            trend.getPlotItem().setXRange(now - WEEK, now, padding=0)  # as a zoom-out with the mouse
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                await asyncio.sleep(0.01)
                hist = trend._history.get("grid.frequency")
                if hist is not None and hist.getOriginalDataset()[0] is not None:
                    break
            result["load_s"] = time.perf_counter() - started
            await asyncio.sleep(0.1)
            result["lag_p99_ms"] = monitor.p99_ms()
            result["ticks"] = len(monitor.lags)
        finally:
            await app.stop()

    with loop:
        loop.run_until_complete(scenario())
    win.close()

    hist = trend._history["grid.frequency"]
    x, y = hist.getOriginalDataset()
    assert x is not None and len(x) >= 2 * 300  # a min–max pair per pixel column
    assert x[0] <= now - WEEK + WEEK / 100 and x[-1] >= now - WEEK / 100  # covers the week
    assert float(np.nanmin(y)) == pytest.approx(49.95, abs=0.005)
    assert float(np.nanmax(y)) == pytest.approx(50.05, abs=0.005)
    assert result["ticks"] >= 10
    # The goal is p99 <= 50 ms (bench/historian.py, docs/BENCHMARKS.md). On a 2-core runner shared with other
    # work the same run measured 69-72 ms, so the test only catches a loop the load blocks (hundreds of ms).
    assert result["lag_p99_ms"] <= 150, result
    print(f"week of history: loaded in {result['load_s']:.2f} s, loop lag p99 {result['lag_p99_ms']:.1f} ms")
