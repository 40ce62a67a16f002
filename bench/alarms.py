"""Alarm benchmark: point evaluations per second against 5,000 definitions with the loop lag, and a
1,000-alarm flood rendered in the alarm summary.

1. **Evaluation.** 2,500 points with a high and a low alarm each (5,000
   definitions, deadband and a 1 s on-delay). A seeded stream of samples,
   generated before timing: values around nominal, 1 % of them beyond a limit (single samples: the
   on-delay filters them), and 50 points high for the second half (50 activations, journaled).
   - *max*: ``AlarmService.on_samples`` as fast as it goes (batches of 500), samples per CPU second;
     the *baseline* in the same run is a bare Python loop comparing each sample with its point's two
     limits (a dict lookup and two comparisons: what any evaluation must at least do).
   - *paced*: the service running on an asyncio loop (its 0.25 s tick and its journal writer on
     SQLite) fed 50,000 samples/s in 500-sample batches every 10 ms, while a probe sleeping 5 ms
     measures how late it wakes (the loop lag); p50 / p99 of the lag over the run.
2. **Flood render.** 1,000 active alarms in ``AlarmsView`` (offscreen), one
   frame = 10 alarms acknowledged + ``refresh()`` + the paint Qt does for it
   (``processEvents``); also an unchanged frame. Milliseconds per frame, wall
   and CPU (the process's CPU time: on a shared, loaded machine the wall time
   is mostly waiting for a core; the CPU time is the frame's own cost).

Medians over ``--runs`` runs; JSON on stdout.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/alarms.py [--runs 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import machine, percentile  # noqa: E402
from core.alarms import AlarmDef, AlarmEngine, LimitCondition, LimitKind, Priority  # noqa: E402
from core.points import Quality, Sample  # noqa: E402

POINTS = 2500
BATCH = 500
RATE = 50_000


def definitions() -> list[AlarmDef]:
    defs = []
    for i in range(POINTS):
        p = f"p{i:04d}"
        defs.append(AlarmDef(f"{p}.high", p, LimitCondition(LimitKind.HIGH, 110.0), Priority(1 + i % 4),
                             f"{p} high", deadband=1.0, on_delay_s=1.0))
        defs.append(AlarmDef(f"{p}.low", p, LimitCondition(LimitKind.LOW, 90.0), Priority(1 + i % 4),
                             f"{p} low", deadband=1.0, on_delay_s=1.0))
    return defs


def stream(n: int, t0: float, rate: float, seed: int = 7) -> list[list[Sample]]:
    rnd = random.Random(seed)
    batches, batch = [], []
    for k in range(n):
        t = t0 + k / rate
        v = 100.0 + rnd.uniform(-5, 5) if rnd.random() > 0.01 else rnd.choice((115.0, 85.0))
        if k % POINTS < 50 and k >= n // 2:
            v = 115.0  # 50 points go high for the second half: real activations, journal writes
        batch.append(Sample(f"p{k % POINTS:04d}", v, "1", Quality.GOOD, t, t))
        if len(batch) == BATCH:
            batches.append(batch)
            batch = []
    return batches


def baseline(batches: list[list[Sample]]) -> float:
    limits = {f"p{i:04d}": (90.0, 110.0) for i in range(POINTS)}
    over = 0
    c0 = time.process_time()
    for b in batches:
        for s in b:
            lo, hi = limits[s.point]
            if s.value > hi or s.value < lo:
                over += 1
    return sum(map(len, batches)) / (time.process_time() - c0)


def service_max(batches: list[list[Sample]], db: Path) -> float:
    from console.services.alarms import AlarmService
    from console.store.alarm_journal import SqlAlarmJournal

    defs = definitions()
    t_end = batches[-1][-1].source_ts
    service = AlarmService(AlarmEngine(defs), SqlAlarmJournal.open(f"sqlite:///{db}", defs), clock=lambda: t_end)
    c0 = time.process_time()
    for b in batches:
        service.on_samples(b)
    return sum(map(len, batches)) / (time.process_time() - c0)


async def paced(seconds: float, db: Path) -> dict[str, float]:
    from console.services.alarms import AlarmService
    from console.store.alarm_journal import SqlAlarmJournal

    defs = definitions()
    journal = SqlAlarmJournal.open(f"sqlite:///{db}", defs)
    t0 = 1_796_000_000.0
    batches = stream(int(seconds * RATE), t0, RATE, seed=11)
    started = [time.perf_counter()]
    # console time runs with the stream from its first sample (a live feed): the tick then sees the
    # on-delays exactly as it would in the field, not a stream that lags the wall clock
    service = AlarmService(AlarmEngine(defs), journal, clock=lambda: t0 + time.perf_counter() - started[0])
    await service.start()
    lags: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - start - 0.005)

    probe_task = asyncio.create_task(probe())
    fed = 0
    wall0 = started[0] = time.perf_counter()
    for i, b in enumerate(batches):
        due = wall0 + (i + 1) * BATCH / RATE
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        service.on_samples(b)
        fed += len(b)
    wall = time.perf_counter() - wall0
    done.set()
    await probe_task
    await service.stop()
    journal.close()
    return {"fed_per_s": fed / wall, "lag_p50_ms": percentile(lags, 50) * 1000,
            "lag_p99_ms": percentile(lags, 99) * 1000, "events": service.stats().events,
            "journaled": service.stats().journaled}


def flood(frames: int, db: Path) -> dict[str, float]:
    os.environ.setdefault("QT_API", "pyside6")
    import qasync
    from PySide6.QtWidgets import QApplication

    from console.services.alarms import AlarmService
    from console.store.alarm_journal import SqlAlarmJournal
    from console.ui.alarms_view import AlarmsView

    app = QApplication.instance() or QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    defs = [AlarmDef(f"a{i:04d}", f"p{i:04d}", LimitCondition(LimitKind.HIGH, 1.0), Priority(1 + i % 4),
                     f"Alarm {i} of the flood") for i in range(1000)]
    now = [1_796_000_000.0]
    service = AlarmService(AlarmEngine(defs), SqlAlarmJournal.open(f"sqlite:///{db}", defs), clock=lambda: now[0])
    service.on_samples([Sample(d.point, 2.0, "1", Quality.GOOD, now[0], now[0]) for d in defs])
    view = AlarmsView(service, "bench", clock=lambda: now[0])
    view.state_filter.setCurrentIndex(5)  # everything listed: acknowledged rows stay in the table
    view.resize(1600, 900)
    view.show()
    view.refresh(force=True)
    app.processEvents()
    changed, unchanged, changed_cpu, unchanged_cpu = [], [], [], []
    for f in range(frames):
        ids = [d.id for d in defs[(f * 10) % 1000:(f * 10) % 1000 + 10]]
        for a in ids:
            if not service.engine.state(a).acked:
                service.acknowledge(a, "bench")
        now[0] += 0.05
        t, c = time.perf_counter(), time.process_time()
        view.refresh()
        app.processEvents()
        changed.append(time.perf_counter() - t)
        changed_cpu.append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        view.refresh()
        app.processEvents()
        unchanged.append(time.perf_counter() - t)
        unchanged_cpu.append(time.process_time() - c)
    rows = view.table.rowCount()
    view.close()
    loop.close()
    asyncio.set_event_loop(None)
    return {"rows": rows, "changed_frame_ms": statistics.median(changed) * 1000,
            "changed_frame_cpu_ms": statistics.median(changed_cpu) * 1000,
            "changed_frame_p95_ms": percentile(changed, 95) * 1000,
            "unchanged_frame_ms": statistics.median(unchanged) * 1000,
            "unchanged_frame_cpu_ms": statistics.median(unchanged_cpu) * 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--flood-only", action="store_true", help="only the flood render (no evaluation runs)")
    a = ap.parse_args()
    batches = stream(200_000, 1_796_000_000.0, RATE)
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.runs):
            row: dict[str, float] = {}
            if not a.flood_only:
                row = {"baseline_per_s": baseline(batches),
                       "service_max_per_s": service_max(batches, Path(tmp) / f"max{r}.sqlite")}
                row.update({f"paced_{k}": v
                            for k, v in asyncio.run(paced(a.seconds, Path(tmp) / f"p{r}.sqlite")).items()})
            row.update({f"flood_{k}": v for k, v in flood(a.frames, Path(tmp) / f"f{r}.sqlite").items()})
            runs.append(row)
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(json.dumps({"bench": "alarms", "definitions": 2 * POINTS, "points": POINTS, "batch": BATCH,
                      "paced_rate_per_s": RATE, "targets": {"evaluations_per_s": RATE, "lag_p99_ms": 50,
                                                            "flood_frame_ms": 20},
                      "median": median, "runs": runs, "machine": machine()}, indent=2))


if __name__ == "__main__":
    main()
