"""One supervised asyncio task per session, shared by the field drivers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from core.tasks import cancel_all_and_wait


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
        await cancel_all_and_wait(tasks, errors_too=True)
