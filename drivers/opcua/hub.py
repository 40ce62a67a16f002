"""The OPC-UA hub: one supervised session task per configured endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from core.ports import SampleSink, StatusSink
from core.sources import OpcUaSourceSpec, SourceStatus
from drivers.opcua.session import SourceSession
from drivers.tasks import SessionTasks


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
        self._tasks = SessionTasks()

    async def start(self) -> None:
        """Start one task per source; returns at once (connections follow)."""
        self._tasks.start([(f"opcua-{s.spec.name}", s.run) for s in self.sessions])

    async def stop(self) -> None:
        """Cancel all sessions and wait until their clients are closed."""
        await self._tasks.stop()

    def statuses(self) -> Sequence[SourceStatus]:
        """Current status of every source."""
        return [s.status for s in self.sessions]

    @property
    def notifications(self) -> int:
        """Data-change notifications received so far, all sources."""
        return sum(s.notifications for s in self.sessions)
