"""Frame time of the console's TrendWidget vs a bare pyqtgraph PlotWidget.

Both get the same data every frame (10 curves x 1,000 points + 1 x 10,000,
moving like a live feed) and are rendered offscreen with ``grab()``, which
paints the whole widget. Several runs alternate between the two so machine
noise hits both alike; the JSON reports medians, p95 and the throughput ratio
(bare frame time / ours: >= 0.8 means ours is at most 25 % slower).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/trend_render.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from bench.stats import machine, summary_ms
from widgets.trend import TrendWidget

FRAMES = 120
RUNS = 5
SIZE = (720, 330)  # one trend panel of the 1600 x 900 main window


def make_data(frame: int) -> list[tuple[np.ndarray, np.ndarray]]:
    t0 = 1.7e9 + frame * 0.05
    rng = np.random.default_rng(frame)
    series = []
    for i in range(10):
        t = t0 + np.linspace(0, 60, 1000)
        series.append((t, 50 + 0.05 * np.sin(t / 3 + i) + rng.normal(0, 0.005, 1000)))
    t = t0 + np.linspace(0, 60, 10_000)
    series.append((t, 50 + 0.1 * np.sin(t / 7) + rng.normal(0, 0.01, 10_000)))
    return series


def bare() -> tuple[pg.PlotWidget, object]:
    w = pg.PlotWidget()
    curves = [w.plot(pen=pg.mkPen("w", width=1)) for _ in range(11)]  # pyqtgraph defaults: auto-range

    def draw(data: list[tuple[np.ndarray, np.ndarray]]) -> None:
        for c, (t, v) in zip(curves, data, strict=True):
            c.setData(t, v)
    return w, draw


def ours() -> tuple[TrendWidget, object]:
    w = TrendWidget("Bench", "Hz")
    w.set_band(49.8, 50.2)
    w.set_min_y_range(49.7, 50.3)
    w.add_limit(49.8)
    w.add_limit(50.2)
    w.set_window(60)
    for i in range(11):
        w.add_series(f"s{i}")

    def draw(data: list[tuple[np.ndarray, np.ndarray]]) -> None:
        # As the console's frame does: move the window to "now", then hand over the data.
        w.follow(float(data[-1][0][-1]))
        for i, (t, v) in enumerate(data):
            w.set_series_data(f"s{i}", t, v, hold_until=float(t[-1]))
        w.end_frame()
    return w, draw


def render(widget: object, draw: object, data: list[tuple[np.ndarray, np.ndarray]]) -> float:
    start = time.perf_counter()
    draw(data)  # type: ignore[operator]
    widget.viewport().repaint()  # type: ignore[attr-defined]  # synchronous paint into the backing store
    return time.perf_counter() - start


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    datasets = [make_data(f) for f in range(FRAMES)]
    widgets = {"bare": bare(), "ours": ours()}
    for w, _ in widgets.values():
        w.resize(*SIZE)
        w.show()
    QApplication.processEvents()
    results: dict[str, list[float]] = {"bare": [], "ours": []}
    run_medians: dict[str, list[float]] = {"bare": [], "ours": []}
    for run in range(RUNS):
        times: dict[str, list[float]] = {"bare": [], "ours": []}
        order = ("bare", "ours") if run % 2 == 0 else ("ours", "bare")
        for i, data in enumerate(datasets):
            for name in order:  # interleaved frame by frame: drift hits both alike
                took = render(*widgets[name], data)
                if i >= 5:  # the first frames warm caches
                    times[name].append(took)
        for name in times:
            results[name] += times[name]
            run_medians[name].append(statistics.median(times[name]))
    ratio = statistics.median(run_medians["bare"]) / statistics.median(run_medians["ours"])
    out = {
        "benchmark": "trend_render",
        "data": "10 curves x 1,000 points + 1 x 10,000, new arrays every frame",
        "method": "offscreen platform, shown widgets; per frame: setData + synchronous viewport repaint; "
                  "the two widgets interleaved frame by frame",
        "widget_size": SIZE,
        "frames_per_run": FRAMES - 5,
        "runs": RUNS,
        "bare_pyqtgraph": summary_ms(results["bare"]),
        "energynet_trend": summary_ms(results["ours"]),
        "run_medians_ms": {k: [round(x * 1000, 2) for x in v] for k, v in run_medians.items()},
        "throughput_ratio_vs_bare": round(ratio, 3),
        "goal": {"ratio_min": 0.8, "p95_ms_max": 16.7},
        "machine": machine(),
    }
    print(json.dumps(out, indent=2))
    del app


if __name__ == "__main__":
    main()
