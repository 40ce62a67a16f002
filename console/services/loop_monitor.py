"""Event-loop stall watchdog: how late do timers fire?"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from core.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class LoopMonitor:
    """Measures asyncio loop lag by sleeping a fixed tick and timing the overshoot."""

    def __init__(self, tick_s: float = 0.05, keep: int = 1200, warn_s: float = 0.25) -> None:
        self.tick_s = tick_s
        self.warn_s = warn_s
        self.lags: deque[float] = deque(maxlen=keep)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-monitor")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.tick_s)
            lag = max(0.0, time.perf_counter() - t0 - self.tick_s)
            self.lags.append(lag)
            if lag > self.warn_s:
                log.warning("event loop stalled for %.0f ms", lag * 1000)

    def p99_ms(self) -> float:
        """99th percentile of recent lags in milliseconds."""
        if not self.lags:
            return 0.0
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
