"""The alarm journal on SQLite and PostgreSQL (implements :class:`core.alarms.ports.AlarmJournal`).

Every event is one row of ``alarm_events`` with the whole state after it (JSON)
and the searchable fields as indexed columns; ``alarm_latest`` holds each
alarm's newest state, rewritten in the same transaction as the events, so a
restart reads one row per alarm. Blocking calls: the alarm service runs them
in a worker thread.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Engine, RowMapping, and_, delete, func, insert, or_, select

from console.store.database import make_engine, upgrade
from console.store.schema import alarm_events, alarm_latest
from core.alarms.definitions import AlarmDef, Priority
from core.alarms.journal import JournalQuery
from core.alarms.state import AlarmEvent, AlarmState, EventKind, Shelving

log = logging.getLogger(__name__)


def state_to_json(s: AlarmState) -> str:
    """Every sub-state, by name (floats as JSON numbers: Python writes and reads them back exactly)."""
    return json.dumps({
        "active": s.active, "acked": s.acked, "confirmed": s.confirmed, "latched": s.latched,
        "shelving": s.shelving.value, "shelved_until": s.shelved_until, "shelve_reason": s.shelve_reason,
        "suppressed": s.suppressed, "out_of_service": s.out_of_service, "silenced": s.silenced,
        "out_of_service_reason": s.out_of_service_reason, "active_since": s.active_since,
    }, separators=(",", ":"))


def state_from_json(text: str) -> AlarmState:
    """The inverse of :func:`state_to_json`; a field a newer or older console did not write takes its default."""
    d: dict[str, Any] = json.loads(text)
    base = AlarmState()
    return AlarmState(
        active=bool(d.get("active", base.active)), acked=bool(d.get("acked", base.acked)),
        confirmed=bool(d.get("confirmed", base.confirmed)), latched=bool(d.get("latched", base.latched)),
        shelving=Shelving(d.get("shelving", base.shelving.value)), shelved_until=d.get("shelved_until"),
        shelve_reason=str(d.get("shelve_reason", "")), suppressed=bool(d.get("suppressed", False)),
        out_of_service=bool(d.get("out_of_service", False)), silenced=bool(d.get("silenced", False)),
        out_of_service_reason=str(d.get("out_of_service_reason", "")), active_since=d.get("active_since"),
    )


def _like(text: str) -> str:
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlAlarmJournal:
    """Alarm events and operator actions in the console's database.

    Parameters
    ----------
    engine:
        An engine from :func:`console.store.database.make_engine` (it may be the historian's).
    definitions:
        The configured alarms: each row keeps the message its alarm had when the event happened,
        so the journal reads right after the configuration changes.
    """

    def __init__(self, engine: Engine, definitions: Sequence[AlarmDef] = ()) -> None:
        self.engine = engine
        self._messages = {d.id: d.message for d in definitions}

    @classmethod
    def open(cls, url: str, definitions: Sequence[AlarmDef] = (), migrate: bool = True) -> SqlAlarmJournal:
        """An engine on ``url``, migrated to the current schema (the historian's ``upgrade`` does the same)."""
        journal = cls(make_engine(url), definitions)
        if migrate:
            upgrade(journal.engine)
        return journal

    def close(self) -> None:
        self.engine.dispose()

    # ---- the port -------------------------------------------------------------------------------------

    def append(self, events: Sequence[AlarmEvent]) -> None:
        """Store ``events`` and each alarm's newest state in one transaction (all or none)."""
        if not events:
            return
        rows = [self._row(e) for e in events]
        newest: dict[str, AlarmEvent] = {}
        for e in events:
            newest[e.alarm] = e  # in order: the last one per alarm wins
        with self.engine.begin() as conn:
            conn.execute(insert(alarm_events), rows)
            conn.execute(delete(alarm_latest).where(alarm_latest.c.alarm.in_(list(newest))))
            conn.execute(insert(alarm_latest), [{"alarm": a, "ts": e.ts, "state": state_to_json(e.state)}
                                                for a, e in newest.items()])

    def latest_states(self) -> Mapping[str, AlarmState]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(alarm_latest.c.alarm, alarm_latest.c.state)).all()
        return {alarm: state_from_json(state) for alarm, state in rows}

    def query(self, q: JournalQuery) -> list[AlarmEvent]:
        """Events matching ``q`` oldest first; the SQL says what :meth:`JournalQuery.matches` says."""
        c = alarm_events.c
        where: list[ColumnElement[bool]] = [c.ts >= q.t0, c.ts < q.t1]
        if q.alarms:
            where.append(c.alarm.in_(sorted(q.alarms)))
        if q.points:
            where.append(c.point.in_(sorted(q.points)))
        if q.priorities:
            where.append(c.priority.in_(sorted(int(p) for p in q.priorities)))
        if q.kinds:
            where.append(c.kind.in_(sorted(k.value for k in q.kinds)))
        if q.states:
            where.append(c.isa.in_(sorted(s.value for s in q.states)))
        if q.users:
            where.append(c.user.in_(sorted(q.users)))
        if q.positions:
            where.append(c.position.in_(sorted(q.positions)))
        stmt = select(alarm_events).where(and_(*where)).order_by(c.ts, c.id)
        if not q.text:
            with self.engine.connect() as conn:
                return [self._event(r) for r in conn.execute(stmt.limit(q.limit)).mappings()]
        # Text: SQL narrows by a lowered LIKE for ASCII needles (SQLite's lower() folds ASCII only, and
        # casefold maps e.g. "ß" to "ss"); Python's casefold then decides, exactly as matches() does.
        if q.text.isascii():
            pattern = _like(q.text)
            stmt = stmt.where(or_(*(func.lower(col).like(pattern, escape="\\")
                                    for col in (c.alarm, c.point, c.comment))))
        out: list[AlarmEvent] = []
        with self.engine.connect() as conn:
            for r in conn.execution_options(stream_results=True).execute(stmt).mappings():
                e = self._event(r)
                if q.matches(e):
                    out.append(e)
                    if len(out) >= q.limit:
                        break
        return out

    # ---- beyond the port: what the journal screen shows -----------------------------------------------

    def message_of(self, alarm: str) -> str:
        return self._messages.get(alarm, "")

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(alarm_events)).scalar_one())

    # ---- rows ---------------------------------------------------------------------------------------

    def _row(self, e: AlarmEvent) -> dict[str, object]:
        return {
            "ts": e.ts, "alarm": e.alarm, "kind": e.kind.value, "isa": e.state.isa.value,
            "priority": int(e.priority), "position": e.position, "point": e.point,
            "value": None if math.isnan(e.value) else e.value, "user": e.user, "comment": e.comment,
            "message": self._messages.get(e.alarm, ""), "state": state_to_json(e.state),
        }

    @staticmethod
    def _event(r: RowMapping) -> AlarmEvent:
        value = r["value"]
        return AlarmEvent(
            ts=float(r["ts"]), alarm=r["alarm"], kind=EventKind(r["kind"]), state=state_from_json(r["state"]),
            priority=Priority(r["priority"]), position=r["position"], point=r["point"],
            value=math.nan if value is None else float(value), user=r["user"], comment=r["comment"],
        )
