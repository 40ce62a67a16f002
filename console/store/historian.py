"""The SQL historian: the store, the writer and the spool behind one port."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import insert

from console.store.database import make_engine, upgrade
from console.store.retention import RetentionPolicy, enforce, rollup
from console.store.samples import QUALITY_CODES, SampleStore
from console.store.schema import audit_log, events
from console.store.spool import Spool
from console.store.writer import HistorianWriter
from core.history import Bucket, HistorianStats
from core.points import PointDef, Sample

log = logging.getLogger(__name__)


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

    def start(self) -> None:
        """Migrate to the current schema, register points, start the writer.

        A database that is down at start-up is not fatal: samples spool until it is back.
        """
        try:
            upgrade(self.engine)
            self.store.register(self._points)
        except Exception as exc:
            log.error("historian: database %s not usable at start (%s); samples will be spooled",
                      self.engine.url.render_as_string(hide_password=True), exc)
        self.writer.start()

    def stop(self) -> None:
        self.writer.stop()
        self.engine.dispose()

    def record(self, samples: Sequence[Sample]) -> None:
        codes = QUALITY_CODES
        self.writer.submit(
            (s.point, round(s.source_ts * 1_000_000), s.value if s.value == s.value else None, codes[s.quality])
            for s in samples
        )

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
        with self.engine.begin() as conn:
            conn.execute(insert(audit_log).values(ts_us=round(ts * 1_000_000), user=user, action=action,
                                                  target=target, old=old, new=new, result=result[:200]))

    def stats(self) -> HistorianStats:
        return self.writer.stats()
