"""Historian use case: every sample (past the deadband) to storage; history
queries off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from core.history import Bucket, DeadbandFilter, HistorianStats
from core.points import PointDef, Sample
from core.ports import Historian
from core.tamper import TamperEvent

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HistorianCounts:
    """Samples received from acquisition, and those past the deadband that went to the store."""

    received: int
    kept: int


class HistorianService:
    """Feeds the historian and serves history to the views."""

    def __init__(self, historian: Historian, deadbands: Mapping[str, float] | None = None,
                 heartbeat_s: float = 60.0, maintain_every_s: float = 60.0) -> None:
        self.historian = historian
        self.deadband = DeadbandFilter(deadbands or {}, heartbeat_s)
        self.maintain_every_s = maintain_every_s
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Future[None]] = set()
        self._received = self._kept = 0
        # Every query, journal entry and maintenance run on ONE thread of our own, not the loop's default
        # executor: under qasync that is a pool of 10 QThreads, and each thread that touches SQLite leaves
        # a glibc malloc arena holding its high-water mark (page caches, sorter and temp b-trees of the
        # rollup), so RSS climbed in steps as rollups and history queries reached new threads
        # (docs/decisions.md, "Historian database work on one thread").
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="historian-db")

    def _in_db_thread(self, fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self._db, functools.partial(fn, *args))

    def on_samples(self, batch: Sequence[Sample]) -> None:
        """Acquisition listener: cheap, never blocks (the writer has its own thread)."""
        kept = list(self.deadband(batch))
        self._received += len(batch)
        self._kept += len(kept)
        self.historian.record(kept)

    def on_event(self, event: TamperEvent) -> None:
        """Journal a meter event off the loop; a failure is logged, never raised here."""
        self._off_loop("journal a meter event", self.historian.record_event, event.ts, event.kind.name,
                       f"{event.device}.{event.point}", 2, str(event))

    def on_points(self, defs: Sequence[PointDef]) -> None:
        """Acquisition point listener: store the name, unit and kind of points a driver announced
        (a Modbus profile), off the loop, like the configured points at start."""
        self._off_loop("register the points of a device", self.historian.register_points, list(defs))

    def _off_loop(self, what: str, call: Callable[..., None], *args: object) -> None:
        task = asyncio.ensure_future(self._in_db_thread(call, *args))
        self._pending.add(task)

        def done(task: asyncio.Future[None]) -> None:
            self._pending.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error("could not %s: %s", what, task.exception())

        task.add_done_callback(done)

    async def start(self) -> None:
        """Migrate and start the writer in a worker thread, then the maintenance task on this loop.

        The worker thread cannot be interrupted: when this start is cancelled, it waits for the thread and
        stops the historian again, so a cancelled start leaves no writer running behind the caller's back."""
        loop = asyncio.get_running_loop()  # taken while running: nothing below asks for "the" loop later
        # Migrations may take a moment. On the database thread: the meter events, point registrations and
        # history queries that come meanwhile (the drivers may start beside this) queue behind it.
        started = loop.run_in_executor(self._db, self.historian.start)
        try:
            await asyncio.shield(started)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await started
            await loop.run_in_executor(None, self.historian.stop)
            raise
        self._task = loop.create_task(self._maintain_loop(), name="historian-maintenance")

    async def stop(self) -> None:
        """End maintenance, let queued meter events finish, then flush: every sample handed over is written
        or spooled before this returns."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await asyncio.to_thread(self.historian.stop)
        self._db.shutdown(wait=True)

    def counts(self) -> HistorianCounts:
        """Samples handed to the historian so far and how many passed the deadband (were queued to store)."""
        return HistorianCounts(self._received, self._kept)

    async def history(self, point: str, t0: float, t1: float, buckets: int) -> list[Bucket]:
        """Buckets of a point, queried in a worker thread so the UI keeps drawing."""
        return await self._in_db_thread(self.historian.history, point, t0, t1, buckets)

    async def envelope(self, point: str, t0: float, t1: float, buckets: int) -> tuple[np.ndarray, np.ndarray]:
        """History as a min–max envelope ready to plot (two points per bucket)."""
        return _envelope(await self.history(point, t0, t1, buckets), t0, t1, buckets)

    async def envelopes(self, points: Sequence[str], t0: float, t1: float,
                        buckets: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Envelopes of several points from one query per source table (a worker thread)."""
        rows = await self._in_db_thread(self.historian.history_many, points, t0, t1, buckets)
        return {p: _envelope(r, t0, t1, buckets) for p, r in rows.items()}

    def stats(self) -> HistorianStats:
        return self.historian.stats()

    async def _maintain_loop(self) -> None:
        while True:
            await asyncio.sleep(self.maintain_every_s)
            try:
                await self._in_db_thread(self.historian.maintain, time.time())
            except Exception:
                log.exception("historian maintenance failed; will retry")


def _envelope(rows: Sequence[Bucket], t0: float, t1: float, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    width = (t1 - t0) / max(buckets, 1)
    t = np.empty(2 * len(rows))
    v = np.empty(2 * len(rows))
    for i, b in enumerate(rows):
        start = b.start_us / 1e6
        t[2 * i], t[2 * i + 1] = start, start + width / 2
        v[2 * i], v[2 * i + 1] = b.vmin, b.vmax
    return t, v
