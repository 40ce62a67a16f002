"""Demand-response metadata and M&V records on SQLAlchemy Core (implements console.services.dr.DrStore)."""

from __future__ import annotations

import json

from sqlalchemy import Engine, delete, insert, select

from console.services.dr import DeliveryRecord, DrRequest
from console.store.database import MigratedOnFirstUse
from console.store.schema import dr_deliveries, dr_events
from core.dr import SignalType


class SqlDrStore:
    """On a database URL (the historian's by default); migrated to head on first use, so building it does no
    I/O. Blocking: the service calls it from a worker thread."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        self._db = (MigratedOnFirstUse(url_or_engine) if isinstance(url_or_engine, str)
                    else MigratedOnFirstUse(None, url_or_engine))

    @property
    def engine(self) -> Engine:
        return self._db.engine

    def close(self) -> None:
        """Close the pool's connections: SQLite removes its write-ahead log once the last one is closed (an
        open one at exit left the historian's -wal file behind after every clean stop)."""
        self._db.dispose()

    def add_request(self, request: DrRequest) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(dr_events).values(
                key=request.key, created=request.created, created_by=request.created_by,
                target_kw=request.target_kw, duration_s=request.duration_s, price_per_kwh=request.price_per_kwh,
                compensation=request.compensation, signal=request.signal.value, level=request.level,
                targets=json.dumps(list(request.targets)), note=request.note))

    def requests(self) -> list[DrRequest]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(dr_events).order_by(dr_events.c.created)).all()
        return [DrRequest(r.key, r.created, r.created_by, r.target_kw, r.duration_s, int(r.price_per_kwh),
                          int(r.compensation), SignalType(r.signal), r.level, tuple(json.loads(r.targets)), r.note)
                for r in rows]

    def put_delivery(self, record: DeliveryRecord) -> None:
        """Insert or replace the record of (event, participant) in one transaction."""
        t = dr_deliveries
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.event_key == record.event_key, t.c.participant == record.participant))
            conn.execute(insert(t).values(
                event_key=record.event_key, participant=record.participant, name=record.name,
                baseline_wh=None, verified_wh=record.verified_wh, command_key=record.command_key,
                problem=record.problem, computed=record.computed))

    def deliveries(self) -> list[DeliveryRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(dr_deliveries).order_by(dr_deliveries.c.computed)).all()
        return [DeliveryRecord(r.event_key, r.participant, r.name, r.verified_wh, r.command_key,
                               r.problem, r.computed) for r in rows]
