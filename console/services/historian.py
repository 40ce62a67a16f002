"""Historian use case: every sample (past the deadband) to storage; history
queries off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np

from core.history import Bucket, DeadbandFilter, HistorianStats
from core.points import Sample
from core.ports import Historian
from core.tamper import TamperEvent

log = logging.getLogger(__name__)


class HistorianService:
    """Feeds the historian and serves history to the views."""

    def __init__(self, historian: Historian, deadbands: Mapping[str, float] | None = None,
                 heartbeat_s: float = 60.0, maintain_every_s: float = 60.0) -> None:
        self.historian = historian
        self.deadband = DeadbandFilter(deadbands or {}, heartbeat_s)
        self.maintain_every_s = maintain_every_s
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def on_samples(self, batch: Sequence[Sample]) -> None:
        """Acquisition listener: cheap, never blocks (the writer has its own thread)."""
        self.historian.record(list(self.deadband(batch)))

    def on_event(self, event: TamperEvent) -> None:
        """Journal a meter event off the loop; a failure is logged, never raised here."""
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(
            self.historian.record_event, event.ts, event.kind.name, f"{event.device}.{event.point}", 2, str(event)))
        self._pending.add(task)
        task.add_done_callback(self._event_done)

    def _event_done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("could not journal a meter event: %s", task.exception())

    async def start(self) -> None:
        await asyncio.to_thread(self.historian.start)  # migrations may take a moment
        self._task = asyncio.create_task(self._maintain_loop(), name="historian-maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.to_thread(self.historian.stop)

    async def history(self, point: str, t0: float, t1: float, buckets: int) -> list[Bucket]:
        """Buckets of a point, queried in a worker thread so the UI keeps drawing."""
        return await asyncio.to_thread(self.historian.history, point, t0, t1, buckets)

    async def envelope(self, point: str, t0: float, t1: float, buckets: int) -> tuple[np.ndarray, np.ndarray]:
        """History as a min–max envelope ready to plot (two points per bucket)."""
        return _envelope(await self.history(point, t0, t1, buckets), t0, t1, buckets)

    async def envelopes(self, points: Sequence[str], t0: float, t1: float,
                        buckets: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Envelopes of several points from one query per source table (a worker thread)."""
        rows = await asyncio.to_thread(self.historian.history_many, points, t0, t1, buckets)
        return {p: _envelope(r, t0, t1, buckets) for p, r in rows.items()}

    def stats(self) -> HistorianStats:
        return self.historian.stats()

    async def _maintain_loop(self) -> None:
        while True:
            await asyncio.sleep(self.maintain_every_s)
            try:
                await asyncio.to_thread(self.historian.maintain, time.time())
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
