"""Stopping a background task: the one asyncio idiom every long-running part needs.

Not domain logic, but plumbing shared by services and drivers alike (both may import core); it does no I/O.
"""

from __future__ import annotations

import asyncio
import contextlib


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has finished its cleanup; its cancellation is not re-raised."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
