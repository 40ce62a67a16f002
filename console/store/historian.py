"""The SQL historian: the store, the writer and the spool behind one port."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import insert

from console.store import audit_chain
from console.store.database import make_engine, upgrade
from console.store.retention import RetentionPolicy, enforce, rollup
from console.store.samples import QUALITY_CODES, SampleStore
from console.store.schema import events
from console.store.spool import Spool
from console.store.writer import HistorianWriter
from core.history import Bucket, HistorianStats
from core.points import PointDef, Quality, Sample

log = logging.getLogger(__name__)

USABLE = frozenset(q for q in Quality if q.usable)


class SqlHistorian:
    """Implements :class:`core.ports.Historian` on SQLite or PostgreSQL."""

    def __init__(
        self,
        url: str,
        spool_path: Path,
        points: Sequence[PointDef] = (),
        retention: RetentionPolicy | None = None,
        batch_rows: int = 5000,
        flush_s: float = 1.0,
    ) -> None:
        self.engine = make_engine(url)
        self.url = url
        self.store = SampleStore(self.engine)
        self.retention = retention or RetentionPolicy()
        self.writer = HistorianWriter(self.store, Spool(spool_path), batch_rows=batch_rows, flush_s=flush_s)
        self._points = list(points)
        # register_points may come from a worker thread while start() registers: one at a time, and
        # points announced before start() are registered by it (the tables may not exist before).
        self._points_lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        """Migrate to the current schema, register points, start the writer.

        A database that is down at start-up is not fatal: samples spool until it is back.
        """
        try:
            upgrade(self.engine)
            with self._points_lock:
                self._started = True
                self.store.register(self._points)
        except Exception as exc:
            log.error("historian: database %s not usable at start (%s); samples will be spooled",
                      self.engine.url.render_as_string(hide_password=True), exc)
        self.writer.start()

    def stop(self) -> None:
        self.writer.stop()
        self.engine.dispose()

    def record(self, samples: Sequence[Sample]) -> None:
        """Queue samples for the writer. A usable value is stored at its source time (when it was
        measured); a mark of lost trust (bad, stale, comm-failure) at its receive time, when the
        console noticed: a stale mark carries the last value's source time, and stored there it would
        collide with that value on (point, time) and be dropped, so the loss would leave no trace."""
        codes, usable = QUALITY_CODES, USABLE
        self.writer.submit(
            (s.point, round((s.source_ts if s.quality in usable else s.recv_ts) * 1_000_000),
             s.value if s.value == s.value else None, codes[s.quality])
            for s in samples
        )

    def register_points(self, defs: Sequence[PointDef]) -> None:
        """Points a driver announced at run time (before start(): registered by it)."""
        with self._points_lock:
            self._points.extend(defs)
            if self._started:
                self.store.register(defs)

    def history(self, point: str, t0: float, t1: float, buckets: int) -> list[Bucket]:
        return self.store.buckets(point, round(t0 * 1_000_000), round(t1 * 1_000_000), buckets)

    def history_many(self, points: Sequence[str], t0: float, t1: float, buckets: int) -> dict[str, list[Bucket]]:
        return self.store.buckets_many(points, round(t0 * 1_000_000), round(t1 * 1_000_000), buckets)

    def maintain(self, now: float) -> None:
        now_us = round(now * 1_000_000)
        added = rollup(self.engine, now_us)
        deleted = enforce(self.engine, now_us, self.retention)
        if any(added) or any(deleted.values()):
            log.info("historian: rolled up %d minute / %d hour buckets; deleted %s", *added, deleted)

    def record_event(self, ts: float, kind: str, source: str, severity: int, message: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(events).values(ts_us=round(ts * 1_000_000), kind=kind, source=source,
                                               severity=severity, message=message))

    def record_audit(self, ts: float, user: str, action: str, target: str, old: str | None, new: str | None,
                     result: str) -> None:
        audit_chain.append(self.engine, ts, user, action, target, old, new, result)  # hash-chained

    def stats(self) -> HistorianStats:
        return self.writer.stats()
