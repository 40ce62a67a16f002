"""core.tasks: stopping background tasks, all cancelled before any is awaited, each cleanup run."""

from __future__ import annotations

import asyncio

import pytest

from core.tasks import cancel_all_and_wait

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


async def test_every_task_is_cancelled_first_and_cleans_up_and_an_error_is_reraised_unless_asked() -> None:
    log: list[str] = []
    started = asyncio.Event()

    async def worker(name: str) -> None:
        try:
            started.set()
            await asyncio.Event().wait()
        finally:
            log.append(f"{name} cancelled={asyncio.current_task().cancelling() > 0}")  # type: ignore[union-attr]

    async def failed() -> None:
        raise RuntimeError("died earlier")

    tasks = [asyncio.create_task(worker("a")), asyncio.create_task(worker("b"))]
    await started.wait()
    await cancel_all_and_wait(tasks)
    assert log == ["a cancelled=True", "b cancelled=True"] and all(t.cancelled() for t in tasks)

    broken = asyncio.create_task(failed())
    await asyncio.sleep(0)  # it has run and ended with its error
    with pytest.raises(RuntimeError, match="died earlier"):
        await cancel_all_and_wait([broken])
    again = asyncio.create_task(failed())
    await asyncio.sleep(0)
    await cancel_all_and_wait([again], errors_too=True)  # the drivers' sessions: errors were logged already
    assert again.done()
