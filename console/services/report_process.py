"""Reports in a child process: the computation and the rendering hold the GIL for most of their time
(numpy in short calls, matplotlib and reportlab in Python), and on a busy machine a worker thread
alone lifts the console's loop lag p99 past 50 ms. A spawned process has its own interpreter: the loop
only polls a queue. Progress and the result come back over a ``multiprocessing`` queue; cancel is a
``multiprocessing`` event the child checks before each read, as the thread does.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue as queue_mod
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from console.services.reports import (
    Cancelled,
    NoData,
    Progress,
    Report,
    ReportFormat,
    ReportKind,
    ReportSite,
    compute,
)
from core.ports import SampleReader

POLL_S = 0.05


def _child(factory: Callable[[], SampleReader], kinds: Sequence[ReportKind], site: ReportSite, t0: float,
           t1: float, fmt: ReportFormat, out: Path, q: Any, cancel: Any) -> None:
    from console.services.report_formats import render

    class _Flag(threading.Event):  # compute() takes a threading.Event: this one asks the parent's event
        def is_set(self) -> bool:
            return bool(cancel.is_set())

    reader = factory()
    try:
        report = compute(kinds, site, reader, t0, t1, lambda s, w: q.put(("progress", s, w)), _Flag())
        if cancel.is_set():
            raise Cancelled()
        render(report, fmt, out)
        q.put(("done", report))
    except (NoData, Cancelled) as exc:
        q.put(("raise", type(exc).__name__, str(exc)))
    except Exception as exc:  # handed to the parent, which raises it there with the child's message
        q.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        close = getattr(reader, "close", None)
        if callable(close):
            close()


async def run_in_process(factory: Callable[[], SampleReader], kinds: Sequence[ReportKind], site: ReportSite,
                         t0: float, t1: float, fmt: ReportFormat, out: Path, progress: Progress | None,
                         cancelled: Callable[[], bool]) -> Report:
    """Run one report in a spawned process; ``cancelled`` is polled and passed on to the child."""
    ctx = multiprocessing.get_context("spawn")  # not fork: the parent has threads (Qt, the writer, asyncio)
    q = ctx.Queue()
    cancel = ctx.Event()
    proc = ctx.Process(target=_child, args=(factory, tuple(kinds), site, t0, t1, fmt, out, q, cancel),
                       name="energynet-report", daemon=True)
    proc.start()
    try:
        while True:
            if cancelled():
                cancel.set()
            try:
                msg = q.get_nowait()
            except queue_mod.Empty:
                if not proc.is_alive() and q.empty():
                    raise RuntimeError(f"report process ended without a result (exit code {proc.exitcode})") from None
                await asyncio.sleep(POLL_S)
                continue
            if msg[0] == "progress":
                if progress is not None:
                    progress(msg[1], msg[2])
            elif msg[0] == "done":
                report: Report = msg[1]
                return report
            elif msg[0] == "raise":
                raise {"NoData": NoData, "Cancelled": Cancelled}[msg[1]](msg[2])
            else:
                raise RuntimeError(f"report failed: {msg[1]}")
    except asyncio.CancelledError:
        cancel.set()
        raise
    finally:
        deadline = time.monotonic() + 5
        while proc.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
        if proc.is_alive():
            proc.terminate()
        q.close()
