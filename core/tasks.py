"""Stopping a background task: the one asyncio idiom every long-running part needs.

Not domain logic, but plumbing shared by services and drivers alike (both may import core); it does no I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has finished its cleanup; its cancellation is not re-raised."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def cancel_all_and_wait(tasks: Sequence[asyncio.Task[Any]], *, errors_too: bool = False) -> None:
    """Cancel every task first (they wind down side by side), then wait for each one's cleanup. Their
    cancellation is not re-raised; an error a task ended with is, unless ``errors_too``."""
    for task in tasks:
        task.cancel()
    quiet: tuple[type[BaseException], ...] = (asyncio.CancelledError, Exception) if errors_too else (
        asyncio.CancelledError,)
    for task in tasks:
        with contextlib.suppress(*quiet):
            await task
