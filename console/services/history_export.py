"""Historian database use cases for the command line: migrate, report status, export raw samples as CSV.

The service talks to a :class:`HistoryDatabase` port; ``console.bootstrap`` hands it the SQL adapter.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TextIO

from core.points import Quality


class HistoryDatabase(Protocol):
    """What the database use cases need of a historian store."""

    @property
    def display_url(self) -> str:
        """The database URL without its password, for messages."""
        ...

    def current_revision(self) -> str | None: ...

    def head_revision(self) -> str | None: ...

    def upgrade(self) -> str | None:
        """Migrate to the newest schema; returns the revision now current."""
        ...

    def sample_count(self) -> int: ...

    def export(self, point: str, t0_us: int, t1_us: int) -> Iterable[tuple[int, float | None, Quality]]:
        """Raw samples of ``point`` in [t0, t1), oldest first."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    """``energynet db status``: where the database is, its schema revision and how much it holds."""

    url: str
    revision: str | None
    head: str | None
    samples: int

    @property
    def current(self) -> bool:
        return self.revision is not None and self.revision == self.head


class HistoryExport:
    """Migrate, inspect and export one historian database; closes it when done (``with`` or :meth:`close`)."""

    def __init__(self, database: HistoryDatabase) -> None:
        self.database = database

    def __enter__(self) -> HistoryExport:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.database.close()

    def upgrade(self) -> tuple[str, str | None]:
        """Run migrations; returns (url shown without password, revision now current)."""
        return self.database.display_url, self.database.upgrade()

    def status(self) -> DatabaseStatus:
        """Revision, head and sample count (0 for a database never migrated: it has no tables yet)."""
        current = self.database.current_revision()
        count = self.database.sample_count() if current else 0
        return DatabaseStatus(self.database.display_url, current, self.database.head_revision(), count)

    def export_csv(self, point: str, start: float, end: float, out: TextIO) -> int:
        """Write raw samples of ``point`` in [start, end) (Unix seconds) as CSV; returns the row count.

        Values are written with ``repr`` so that a float reads back bit for bit; a missing value is empty."""
        writer = csv.writer(out)
        writer.writerow(["time_utc", "point", "value", "quality"])
        n = 0
        for ts_us, value, quality in self.database.export(point, round(start * 1e6), round(end * 1e6)):
            stamp = datetime.fromtimestamp(ts_us / 1e6, UTC).isoformat(timespec="microseconds")
            writer.writerow([stamp, point, "" if value is None else repr(value), quality.value])
            n += 1
        return n
