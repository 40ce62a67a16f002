"""Update time of the console's DepthChart vs a bare pyqtgraph step plot of the same book.

1,000 price levels a side, a new book 10 times a second (levels move, quantities change, like a busy
market): per update ours gets the raw (price, Wh) levels best first and does everything the trading tab
does (cumulative arrays, step plots with fill, reference and last price lines, range, label); the bare
plot gets the ready-made step arrays (edges, cumulative heights), the same pens and fills, and pyqtgraph's
defaults otherwise (auto-range).
Both are repainted synchronously offscreen; the two alternate update by update, several runs, medians.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/depth_render.py
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
from widgets import palette
from widgets.depth_chart import ASK_SERIES, BID_SERIES, DepthChart, cumulative

LEVELS = 1000
UPDATES = 100  # 10 s of a 10 Hz book
RUNS = 5
SIZE = (900, 330)  # the depth chart in the 1600 x 900 trading tab
RATE_HZ = 10.0


def make_book(i: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    rng = np.random.default_rng(i)
    mid = 2500 + int(20 * np.sin(i / 15))
    bid_px = mid - 1 - np.arange(LEVELS)
    ask_px = mid + 1 + np.arange(LEVELS)
    bid_q = rng.integers(1, 200, LEVELS) * 100
    ask_q = rng.integers(1, 200, LEVELS) * 100
    return (list(zip(bid_px.tolist(), bid_q.tolist(), strict=True)),
            list(zip(ask_px.tolist(), ask_q.tolist(), strict=True)))


def bare() -> tuple[pg.PlotWidget, object]:
    w = pg.PlotWidget()
    # The same pens and opaque fills as ours (a translucent fill alone costs ~2x: alpha blending of the area).
    BID_COLOUR, ASK_COLOUR = palette.SERIES[BID_SERIES], palette.SERIES[ASK_SERIES]
    bids = w.plot(stepMode="center", fillLevel=0, brush=pg.mkColor(BID_COLOUR).darker(260), pen=pg.mkPen(BID_COLOUR))
    asks = w.plot(stepMode="center", fillLevel=0, brush=pg.mkColor(ASK_COLOUR).darker(260), pen=pg.mkPen(ASK_COLOUR))

    def draw(book: tuple[object, ...]) -> None:
        _, _, arrays = book
        bx, by, ax, ay = arrays  # type: ignore[misc]
        bids.setData(bx, by)
        asks.setData(ax, ay)
    return w, draw


def ours() -> tuple[DepthChart, object]:
    w = DepthChart()

    def draw(book: tuple[object, ...]) -> None:
        b, a, _ = book
        w.set_depth(b, a, tick=1, reference=2500, last=b[0][0])  # type: ignore[index]
    return w, draw


def render(widget: pg.PlotWidget, draw: object, book: tuple[object, ...]) -> float:
    start = time.perf_counter()
    draw(book)  # type: ignore[operator]
    widget.viewport().repaint()
    return time.perf_counter() - start


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    books = []
    for i in range(UPDATES):
        b, a = make_book(i)
        books.append((b, a, cumulative(b, a, 1)))
    widgets = {"bare": bare(), "ours": ours()}
    for w, _ in widgets.values():
        w.resize(*SIZE)
        w.show()
    QApplication.processEvents()
    results: dict[str, list[float]] = {"bare": [], "ours": []}
    run_medians: dict[str, list[float]] = {"bare": [], "ours": []}
    paced: list[float] = []
    for run in range(RUNS):
        times: dict[str, list[float]] = {"bare": [], "ours": []}
        order = ("bare", "ours") if run % 2 == 0 else ("ours", "bare")
        next_at = time.perf_counter()
        for i, book in enumerate(books):
            for name in order:
                took = render(*widgets[name], book)
                if i >= 5:
                    times[name].append(took)
            if run == RUNS - 1:  # the last run paced at 10 Hz, as the market would deliver it
                next_at += 1 / RATE_HZ
                paced.append(max(0.0, next_at - time.perf_counter()))
                time.sleep(max(0.0, next_at - time.perf_counter()))
        for name in times:
            results[name] += times[name]
            run_medians[name].append(statistics.median(times[name]))
    ours_med = statistics.median(run_medians["ours"])
    bare_med = statistics.median(run_medians["bare"])
    out = {
        "benchmark": "depth_render",
        "data": f"{LEVELS:,} price levels per side, a new book every update ({UPDATES} books)",
        "method": "offscreen platform, shown widgets; per update: set the book + synchronous viewport repaint; "
                  "the two widgets interleaved update by update; the last run paced at 10 Hz",
        "widget_size": SIZE,
        "updates_per_run": UPDATES - 5,
        "runs": RUNS,
        "bare_pyqtgraph_step": summary_ms(results["bare"]),
        "energynet_depth_chart": summary_ms(results["ours"]),
        "run_medians_ms": {k: [round(x * 1000, 2) for x in v] for k, v in run_medians.items()},
        "ratio_ours_to_bare": round(ours_med / bare_med, 3),
        "idle_share_at_10hz": round(statistics.median(paced) * RATE_HZ, 3),
        "goal": {"median_ms_max": 20.0, "rate_hz": RATE_HZ},
        "machine": machine(),
    }
    print(json.dumps(out, indent=2))
    del app


if __name__ == "__main__":
    main()
