"""One supervised asyncio task per session, shared by the field drivers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence


class SessionTasks:
    """Starts one task per session and cancels them all, waiting for their cleanup."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, runs: Sequence[tuple[str, Callable[[], Awaitable[None]]]]) -> None:
        """Start ``run()`` of every (name, run) pair; a second call does nothing."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(run(), name=name) for name, run in runs]  # type: ignore[arg-type]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
