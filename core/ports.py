"""Protocols the console services depend on; drivers implement them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from core.chain import ChainCommand, ChainStatus, TxRecord
from core.commands import WriteResult
from core.history import Bucket, HistorianStats
from core.points import PointDef, Sample
from core.reports.series import Series
from core.sources import SourceStatus

SampleSink = Callable[[Sequence[Sample]], None]
StatusSink = Callable[[SourceStatus], None]
# Points a driver learns at run time (a device's profile, SunSpec discovery): announced once,
# before their first sample, so the process image and the historian know unit, role and access.
PointSink = Callable[[Sequence[PointDef]], None]


class SampleSource(Protocol):
    """Anything that produces batches of samples and reports its health."""

    async def start(self) -> None:
        """Start acquisition tasks; returns once they are running."""

    async def stop(self) -> None:
        """Stop all tasks and close connections."""

    def statuses(self) -> Sequence[SourceStatus]:
        """Current status of every source this object serves."""


class Historian(Protocol):
    """Stores every sample and answers history queries (blocking calls: the
    console runs them in a worker thread)."""

    def start(self) -> None:
        """Start the background writer."""

    def stop(self) -> None:
        """Write or spool what is queued and stop."""

    def record(self, samples: Sequence[Sample]) -> None:
        """Queue samples for storage; never blocks on the database."""

    def register_points(self, defs: Sequence[PointDef]) -> None:
        """Store name, unit and kind of points a driver announced at run time (blocking: call it
        from a worker thread); a point stored before without them is completed."""

    def history(self, point: str, t0: float, t1: float, buckets: int) -> list[Bucket]:
        """min/max/avg/last of ``point`` in ``buckets`` equal buckets over [t0, t1) (POSIX s)."""
        ...

    def history_many(self, points: Sequence[str], t0: float, t1: float, buckets: int) -> dict[str, list[Bucket]]:
        """:meth:`history` of several points in one query per source table."""
        ...

    def maintain(self, now: float) -> None:
        """Roll up closed periods and drop data past its retention."""

    def record_event(self, ts: float, kind: str, source: str, severity: int, message: str) -> None:
        """Journal an event (blocking: call it from a worker thread)."""

    def record_audit(self, ts: float, user: str, action: str, target: str, old: str | None, new: str | None,
                     result: str) -> None:
        """Keep who did what, from what to what, with which result (blocking)."""

    def stats(self) -> HistorianStats:
        """Writer counters and database health."""
        ...


class SampleReader(Protocol):
    """Raw samples for reports whose KPIs need every value (time in band, 10-minute means), not buckets
    (a blocking call: run it in a worker thread)."""

    def read_series(self, point: str, t0: float, t1: float) -> Series:
        """Usable (good or uncertain) samples of ``point`` in [t0, t1) (POSIX s), oldest first, and the nearest
        usable sample on either side of the period when there is one (values hold and are interpolated into
        the period from its edges)."""
        ...


class DeviceWriter(Protocol):
    """Verified writes to field devices."""

    async def write(self, device: str, point: str, value: float) -> WriteResult:
        """Write, read back, compare; raises :class:`core.commands.WriteError` when refused."""
        ...


class ChainPort(Protocol):
    """The chain gateway as the console services see it."""

    async def start(self) -> None:
        """Connect and start sending, confirming and following events."""

    async def stop(self) -> None:
        """Stop; queued commands stay stored and are sent after the next start."""

    def submit(self, cmd: ChainCommand) -> bool:
        """Queue a command; False when its key was submitted before (it is not sent again)."""
        ...

    def record(self, key: str) -> TxRecord | None:
        """Where command `key` stands."""
        ...

    def status(self) -> ChainStatus:
        """Connection, block, balances, pending and recent transactions, recent events."""
        ...

    def undecided(self) -> list[TxRecord]:
        """Open commands the operator has to decide about because the chain is a different one."""
        ...

    def resend(self, keys: Sequence[str]) -> list[str]:
        """Send these open commands to the different chain; the keys that were open."""
        ...

    def discard(self, keys: Sequence[str]) -> list[str]:
        """Never send these open commands; the keys that were open."""
        ...
