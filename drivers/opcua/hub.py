"""The OPC-UA hub: one supervised session task per configured endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from core.ports import SampleSink, StatusSink
from core.sources import OpcUaSourceSpec, SourceStatus
from drivers.opcua.session import SourceSession


class OpcUaHub:
    """Reads every configured OPC-UA source into batches of samples.

    Parameters
    ----------
    specs:
        The sources to serve.
    on_samples:
        Called on the event loop with each batch of samples (one per publish
        response per source, plus quality changes after a loss).
    on_status:
        Called with a source's :class:`SourceStatus` whenever it changes.
    """

    def __init__(
        self,
        specs: Sequence[OpcUaSourceSpec],
        on_samples: SampleSink,
        on_status: StatusSink,
        clock: Callable[[], float] = time.time,
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"OPC-UA source names must be unique, got {names}")
        self.sessions = [SourceSession(s, on_samples, on_status, clock) for s in specs]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start one task per source; returns at once (connections follow)."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(s.run(), name=f"opcua-{s.spec.name}") for s in self.sessions
        ]

    async def stop(self) -> None:
        """Cancel all sessions and wait until their clients are closed."""
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    def statuses(self) -> Sequence[SourceStatus]:
        """Current status of every source."""
        return [s.status for s in self.sessions]

    @property
    def notifications(self) -> int:
        """Data-change notifications received so far, all sources."""
        return sum(s.notifications for s in self.sessions)
