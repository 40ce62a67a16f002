"""Protocols the console services depend on; drivers implement them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from core.points import Sample
from core.sources import SourceStatus

SampleSink = Callable[[Sequence[Sample]], None]
StatusSink = Callable[[SourceStatus], None]


class SampleSource(Protocol):
    """Anything that produces batches of samples and reports its health."""

    async def start(self) -> None:
        """Start acquisition tasks; returns once they are running."""

    async def stop(self) -> None:
        """Stop all tasks and close connections."""

    def statuses(self) -> Sequence[SourceStatus]:
        """Current status of every source this object serves."""
