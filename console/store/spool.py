"""Append-only local spool for samples the database could not take.

One line per batch: ``<crc32 hex> <json rows>``. A torn or damaged line is
found by its checksum, reported with file, line and byte offset, and skipped;
every good line around it is kept and replayed in order.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from console.store.samples import Row

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SpoolCorruption:
    """A record of the spool that could not be read back."""

    path: Path
    line: int
    offset: int
    reason: str

    def __str__(self) -> str:
        return (f"spool {self.path}: record on line {self.line} (byte {self.offset}) is unreadable "
                f"({self.reason}); skipped it, the records around it are kept")


class Spool:
    """The spool file; not thread-safe (the historian writer owns it)."""

    def __init__(self, path: Path, on_corruption: Callable[[SpoolCorruption], None] | None = None) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._on_corruption = on_corruption
        self.corruptions: list[SpoolCorruption] = []

    def __bool__(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def append(self, rows: list[Row]) -> None:
        """Add one batch durably (fsync: the spool exists for when things fail)."""
        payload = json.dumps(rows, separators=(",", ":"))
        line = f"{zlib.crc32(payload.encode()):08x} {payload}\n"
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def records(self, start: int = 0) -> Iterator[tuple[int, list[Row]]]:
        """(offset after the record, rows) for every good record from byte ``start``."""
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(start)
            offset = start
            number = self._line_number(start)
            for raw in f:
                number += 1
                here, offset = offset, offset + len(raw)
                rows = self._decode(raw, number, here)
                if rows is not None:
                    yield offset, rows

    def clear(self) -> None:
        """Forget everything (after a complete replay)."""
        self.path.unlink(missing_ok=True)

    def _decode(self, raw: bytes, number: int, offset: int) -> list[Row] | None:
        reason = None
        if not raw.endswith(b"\n"):
            reason = "incomplete record (torn write)"
        else:
            crc, _, payload = raw.rstrip(b"\n").partition(b" ")
            try:
                if int(crc, 16) != zlib.crc32(payload):
                    reason = "checksum mismatch"
                else:
                    return [(str(k), int(t), None if v is None else float(v), int(q))
                            for k, t, v, q in json.loads(payload)]
            except (ValueError, TypeError) as exc:
                reason = f"not a spool record: {exc}"
        problem = SpoolCorruption(self.path, number, offset, reason or "unknown")
        self.corruptions.append(problem)
        log.error("%s", problem)
        if self._on_corruption is not None:
            self._on_corruption(problem)
        return None

    def _line_number(self, offset: int) -> int:
        if offset == 0:
            return 0
        with self.path.open("rb") as f:
            return f.read(offset).count(b"\n")
