"""Runs a :class:`World` next to an asyncio loop without blocking it.

The world lives in one worker thread: every tick (a load flow, ~12–20 ms) and
every command runs there, one after the other, so the world needs no lock and
the loop only ever sees finished, immutable snapshots. Wall time decides how
many ticks are due (``speed`` × elapsed / ``tick_s``); the trajectory does not
depend on it. When the machine cannot keep up, simulated time slips behind the
wall clock (logged once) instead of skipping physics.

A runner can also start before its world exists (``WorldRunner.building``): it
then steps a :class:`~drivers.sim.world.preview.FrequencyPreview` on the loop
(the faces publish its frequency) while :meth:`attach` builds the world in the
worker thread; the world then catches up the ticks since the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from core.tasks import cancel_and_wait
from drivers.sim.world.snapshot import WorldSnapshot

if TYPE_CHECKING:
    from drivers.sim.world.model import World
    from drivers.sim.world.preview import FrequencyPreview

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_TICKS_PER_BATCH = 10  # a batch returns to the loop at least this often, so commands are not starved
MAX_CATCH_UP_TICKS = 300  # a world built later than this after the start slips instead of catching up


class WorldRunner:
    """Steps ``world`` at ``speed`` × real time in a worker thread; publishes each snapshot."""

    def __init__(self, world: World | None, speed: float = 1.0, preview: FrequencyPreview | None = None) -> None:
        if not 0 < speed <= 10_000:
            raise ValueError(f"world runner: speed must be within (0, 10000], got {speed}")
        if world is None and preview is None:
            raise ValueError("world runner: give a world, or a frequency preview to publish while it is built")
        self._world = world
        self.preview = preview
        self.speed = speed
        self._snapshot = world.snapshot if world is not None else None
        self._listeners: list[Callable[[WorldSnapshot], None]] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="world")
        self._task: asyncio.Task[None] | None = None
        self._behind = False
        self._attached = asyncio.Event()
        if world is not None:
            self._attached.set()
        self.step_seconds: list[float] = []  # wall time per tick, the last 1,000

    @classmethod
    def building(cls, preview: FrequencyPreview, speed: float = 1.0) -> WorldRunner:
        """A runner that publishes ``preview`` until :meth:`attach` has built its world."""
        return cls(None, speed, preview)

    @property
    def ready(self) -> bool:
        """The world is built (before that only :attr:`preview` has values)."""
        return self._world is not None

    @property
    def world(self) -> World:
        if self._world is None:
            raise RuntimeError("world runner: the world is still being built")
        return self._world

    @property
    def tick_s(self) -> float:
        if self._world is not None:
            return self._world.clock.tick_s
        assert self.preview is not None
        return self.preview.tick_s

    @property
    def snapshot(self) -> WorldSnapshot:
        """The latest finished snapshot (safe to read from the loop at any time once :attr:`ready`)."""
        if self._snapshot is None:
            raise RuntimeError("world runner: the world is still being built")
        return self._snapshot

    async def wait_ready(self) -> None:
        await self._attached.wait()

    async def attach(self, build: Callable[[], World]) -> World:
        """Build the world in the worker thread (imports and all), then step it instead of the preview."""
        loop = asyncio.get_running_loop()
        world = await loop.run_in_executor(self._executor, build)
        if self.preview is not None:
            if world.clock.tick_s != self.preview.tick_s:
                raise ValueError(f"world runner: the world ticks every {world.clock.tick_s} s, its preview every "
                                 f"{self.preview.tick_s} s")
            # catch up with the preview (still published meanwhile) before taking over: no step back in time
            # (while the gap shrinks: a machine that steps slower than the clock hands over behind, and the
            # runner's pacing then slips as it does whenever it cannot keep up)
            gap = self.preview.ticks - world.clock.ticks
            while 0 < gap <= MAX_CATCH_UP_TICKS:
                await loop.run_in_executor(self._executor, self._step, world, min(gap, MAX_TICKS_PER_BATCH))
                last, gap = gap, self.preview.ticks - world.clock.ticks
                if gap >= last:
                    break
        self._world, self._snapshot = world, world.snapshot
        self._attached.set()
        for listener in self._listeners:
            listener(world.snapshot)
        return world

    def subscribe(self, listener: Callable[[WorldSnapshot], None]) -> None:
        """Call ``listener(snapshot)`` on the loop after every batch of ticks."""
        self._listeners.append(listener)

    async def call(self, command: Callable[[World], T]) -> T:
        """Run ``command(world)`` in the world's thread between ticks; its result or exception comes back."""
        world = self.world
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, command, world)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="world")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        try:
            await self._pace()
        except asyncio.CancelledError:
            raise
        except Exception:
            t = self._world.clock.t_s if self._world is not None else float("nan")
            log.exception("world: stepping failed at t = %.0f s; the world stands still", t)
            raise

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        tick = self.tick_s
        wall0, ticks0 = time.monotonic(), 0 if self._world is None else self._world.clock.ticks
        while self._world is None:
            assert self.preview is not None
            due = ticks0 + int((time.monotonic() - wall0) * self.speed / tick) - self.preview.ticks
            for _ in range(min(due, MAX_TICKS_PER_BATCH)):
                self.preview.step()
            next_at = wall0 + (self.preview.ticks + 1 - ticks0) * tick / self.speed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._attached.wait(), max(0.0, next_at - time.monotonic()))
        catching_up = True
        while True:
            world = self.world
            due = ticks0 + int((time.monotonic() - wall0) * self.speed / tick) - world.clock.ticks
            if due > 0:
                n = min(due, MAX_TICKS_PER_BATCH)
                self._snapshot = await loop.run_in_executor(self._executor, self._advance, n)
                for listener in self._listeners:
                    listener(self._snapshot)
                if due > (MAX_CATCH_UP_TICKS if catching_up else 2 * MAX_TICKS_PER_BATCH):
                    if not self._behind:
                        log.warning("world: %d ticks behind the wall clock at speed %g; simulated time slips",
                                    due, self.speed)
                        self._behind = True
                    wall0, ticks0 = time.monotonic(), world.clock.ticks
                elif self._behind and due <= 1:
                    log.info("world: keeping up with the wall clock again")
                    self._behind = False
                if due <= n:
                    catching_up = False
                continue
            catching_up = False
            next_at = wall0 + (world.clock.ticks + 1 - ticks0) * tick / self.speed
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    def _step(self, world: World, n: int) -> None:
        for _ in range(n):
            world.step()

    def _advance(self, n: int) -> WorldSnapshot:
        world = self.world
        snapshot = world.snapshot
        for _ in range(n):
            t0 = time.perf_counter()
            snapshot = world.step()
            self.step_seconds.append(time.perf_counter() - t0)
        del self.step_seconds[:-1000]
        return snapshot
