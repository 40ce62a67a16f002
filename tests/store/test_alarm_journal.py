"""The SQL alarm journal on real SQLite and PostgreSQL: migration, search, restart, a database outage."""

from __future__ import annotations

import asyncio
import contextlib
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url

from console.services.alarms import AlarmService
from console.store.alarm_journal import SqlAlarmJournal, state_from_json, state_to_json
from console.store.database import _config, current_revision, head_revision, make_engine, upgrade
from console.store.schema import alarm_events
from core.alarms import (
    AlarmDef,
    AlarmEngine,
    AlarmEvent,
    AlarmState,
    EventKind,
    ExternalCondition,
    IsaState,
    LimitCondition,
    LimitKind,
    Priority,
    Shelving,
)
from core.alarms.journal import JournalQuery
from core.points import Quality, Sample
from tests.conftest import until

pytestmark = [pytest.mark.store, pytest.mark.timeout(120)]


def definitions() -> list[AlarmDef]:
    return [
        AlarmDef("f.high", "grid.frequency", LimitCondition(LimitKind.HIGH, 50.2), Priority.HIGH, "Frequency high",
                 deadband=0.05),
        AlarmDef("v.low", "bus1.voltage", LimitCondition(LimitKind.LOW, 207.0), Priority.MEDIUM, "Bus 1 voltage low"),
        AlarmDef("chain.down", "chain", ExternalCondition(), Priority.LOW, "Chain node unreachable"),
    ]


def s(point: str, value: float, t: float) -> Sample:
    return Sample(point, value, "", Quality.GOOD, t, t)


def scripted_events(engine: AlarmEngine) -> list[AlarmEvent]:
    """Seven events by hand: numbered as the test's expectations refer to them."""
    out: list[AlarmEvent] = []
    out += engine.feed([s("grid.frequency", 50.3, 1000.0)])  # 0 f.high activated
    out += engine.feed([s("bus1.voltage", 205.0, 1001.0)])  # 1 v.low activated
    out.append(engine.acknowledge("f.high", "anna", 1005.0, "Governor checked"))  # 2
    out += engine.set_external("chain.down", True, 1010.0)  # 3 chain.down activated
    out += engine.feed([s("grid.frequency", 50.1, 1020.0)])  # 4 f.high cleared (below 50.2 − 0.05)
    out.append(engine.shelve("v.low", "bo", 1030.0, Shelving.TIMED, "sensor swap", 600.0))  # 5
    out.append(engine.comment("chain.down", "anna", 1040.0, "ticket 42 at 100% load"))  # 6
    assert len(out) == 7
    return out


def test_migration_creates_the_journal_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    assert upgrade(engine) == head_revision() == "0011"
    insp = inspect(engine)
    assert {"alarm_events", "alarm_latest"} <= set(insp.get_table_names())
    indexed = {tuple(ix["column_names"]) for ix in insp.get_indexes("alarm_events")}
    assert {("ts",), ("alarm", "ts"), ("point", "ts"), ("priority", "ts"), ("user", "ts")} <= indexed
    cfg = _config(engine)
    with engine.begin() as conn:  # the downgrade drops them again
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    assert current_revision(engine) == "0003" and "alarm_events" not in inspect(engine).get_table_names()


def test_every_search_of_the_journal_screen(db_url: str) -> None:
    journal = SqlAlarmJournal.open(db_url, definitions())
    ev = scripted_events(AlarmEngine(definitions()))
    journal.append(ev[:3])
    journal.append(ev[3:])
    assert journal.count() == 7

    def found(**kw: object) -> list[int]:
        q = JournalQuery(kw.pop("t0", 0.0), kw.pop("t1", 2000.0), **kw)  # type: ignore[arg-type]
        got = journal.query(q)
        return [ev.index(e) for e in got]

    assert found() == [0, 1, 2, 3, 4, 5, 6]
    assert found(t0=1001.0, t1=1020.0) == [1, 2, 3]  # t1 excluded
    assert found(alarms=frozenset({"f.high"})) == [0, 2, 4]
    assert found(points=frozenset({"chain"})) == [3, 6]
    assert found(priorities=frozenset({Priority.MEDIUM})) == [1, 5]
    assert found(priorities=frozenset({Priority.HIGH, Priority.LOW})) == [0, 2, 3, 4, 6]
    assert found(users=frozenset({"anna"})) == [2, 6]
    assert found(kinds=frozenset({EventKind.ACTIVATED})) == [0, 1, 3]
    assert found(kinds=frozenset({EventKind.ACTIVATED}), limit=2) == [0, 1]
    assert found(states=frozenset({IsaState.SHELVED})) == [5]
    assert found(states=frozenset({IsaState.UNACK_ACTIVE})) == [0, 1, 3, 6]
    assert found(positions=frozenset({"main"})) == [0, 1, 2, 3, 4, 5, 6]
    assert found(positions=frozenset({"other"})) == []
    assert found(text="GOVERNOR") == [2]  # comment, any case
    assert found(text="bus1") == [1, 5]  # point
    assert found(text="chain.d") == [3, 6]  # alarm id
    assert found(text="100%") == [6]  # a LIKE wildcard is searched for literally
    assert found(text="%") == [6]
    assert found(text="_") == []
    assert found(text="anna") == []  # the user is not text: filter by users
    # Every field comes back as written: values, NaN for operator actions, states with their times.
    back = journal.query(JournalQuery(0.0, 2000.0))
    # (NaN values compare equal here because both sides hold the one math.nan object; checked apart too)
    assert back == ev
    assert math.isnan(back[2].value) and back[2].state == ev[2].state and back[2].user == "anna"
    assert back[0].value == 50.3 and back[5].state.shelved_until == 1630.0
    with journal.engine.connect() as conn:
        messages = conn.execute(select(alarm_events.c.message).order_by(alarm_events.c.id)).scalars().all()
    assert messages[:2] == ["Frequency high", "Bus 1 voltage low"]


def test_latest_states_are_the_newest_per_alarm(db_url: str) -> None:
    journal = SqlAlarmJournal.open(db_url, definitions())
    engine = AlarmEngine(definitions())
    for e in scripted_events(engine):
        journal.append([e])  # one transaction per event: the latest row is rewritten each time
    latest = journal.latest_states()
    assert set(latest) == {"f.high", "v.low", "chain.down"}
    assert latest["f.high"] == AlarmState(active=False, acked=True, active_since=1000.0)
    assert latest["v.low"] == AlarmState(active=True, acked=False, shelving=Shelving.TIMED, shelved_until=1630.0,
                                         shelve_reason="sensor swap", active_since=1001.0)
    assert latest["chain.down"] == AlarmState(active=True, acked=False, active_since=1010.0)


def test_state_json_round_trips_every_sub_state() -> None:
    st = AlarmState(active=True, acked=False, confirmed=False, latched=True, shelving=Shelving.TIMED,
                    shelved_until=1_790_000_000.123456789, shelve_reason="work ∆ permit", suppressed=True,
                    out_of_service=True, silenced=True, out_of_service_reason="calibration",
                    active_since=1_789_999_999.987654321)
    assert state_from_json(state_to_json(st)) == st
    assert state_from_json('{"active": true, "acked": false, "active_since": 5.0}') == AlarmState(
        active=True, acked=False, active_since=5.0)  # a field not written takes its default


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_a_restart_restores_the_live_list_exactly(db_url: str) -> None:
    clock = Clock(1000.0)
    svc = AlarmService(AlarmEngine(definitions()), SqlAlarmJournal.open(db_url, definitions()), clock=clock,
                       tick_s=0.01)
    await svc.start()
    svc.on_samples([s("grid.frequency", 50.3, 1000.0), s("bus1.voltage", 205.0, 1000.5)])
    svc.set_condition("chain.down", True)
    clock.now = 1003.0
    svc.acknowledge("f.high", "anna", "governor checked")
    svc.shelve("v.low", "bo", "sensor swap", duration_s=600.0)
    before = svc.snapshot()
    await svc.stop()
    assert svc.stats().journaled == 5 and svc.stats().queued == 0

    clock.now = 1100.0  # a new console process: new engine, new journal object on the same database
    svc2 = AlarmService(AlarmEngine(definitions()), SqlAlarmJournal.open(db_url, definitions()), clock=clock,
                        tick_s=0.01)
    await svc2.start()
    try:
        after = svc2.snapshot()
        assert [(a.id, a.state) for a in after.alarms] == [(a.id, a.state) for a in before.alarms]
        assert [(a.id, a.isa) for a in after.alarms] == [
            ("f.high", IsaState.ACKED_ACTIVE), ("v.low", IsaState.SHELVED), ("chain.down", IsaState.UNACK_ACTIVE)]
    finally:
        await svc2.stop()


@contextlib.contextmanager
def outage(url: str) -> Iterator[None]:
    """Make the database refuse the journal's writes for real, then come back.

    SQLite: another process-level connection holds the write lock (the journal's writes fail with
    "database is locked" after its busy timeout). PostgreSQL: the database refuses new connections and
    the open ones are terminated, as when the server restarts.
    """
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        blocker = sqlite3.connect(u.database or "", timeout=0)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            blocker.rollback()
            blocker.close()
        return
    import psycopg

    admin = str(u.set(database="postgres").render_as_string(hide_password=False))
    name = u.database
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    try:
        yield
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


async def test_a_write_during_a_database_outage_is_kept_and_written_later(db_url: str) -> None:
    journal = SqlAlarmJournal.open(db_url, definitions())
    if journal.engine.dialect.name == "sqlite":  # fail fast while locked rather than after 30 s
        journal.engine.dispose()
        journal = SqlAlarmJournal(make_engine(db_url, sqlite_busy_timeout_s=0.05), definitions())
    clock = Clock(1000.0)
    svc = AlarmService(AlarmEngine(definitions()), journal, clock=clock, tick_s=0.01)
    await svc.start()
    try:
        svc.on_samples([s("grid.frequency", 50.3, 1000.0)])
        await until(lambda: svc.stats().journaled == 1)
        with outage(db_url):
            clock.now = 1001.0
            svc.acknowledge("f.high", "anna", "during the outage")
            await until(lambda: not svc.stats().journal_ok)
            assert svc.stats().queued == 1
            await asyncio.sleep(0.3)
            assert svc.stats().queued == 1 and svc.stats().dropped == 0
        await until(lambda: svc.stats().journaled == 2 and svc.stats().journal_ok, timeout=30.0)
        (ack,) = journal.query(JournalQuery(0.0, 2000.0, kinds=frozenset({EventKind.ACKNOWLEDGED})))
        assert (ack.user, ack.comment, ack.ts) == ("anna", "during the outage", 1001.0)
        assert journal.latest_states()["f.high"].acked
    finally:
        await svc.stop()
        journal.close()


async def test_a_journal_unreachable_at_start_does_not_stop_the_alarms(db_url: str) -> None:
    journal = SqlAlarmJournal.open(db_url, definitions())
    if journal.engine.dialect.name == "sqlite":  # a database file that cannot be opened
        journal.engine.dispose()
        bad = make_url(db_url).set(database=str(Path(make_url(db_url).database or "").parent / "no" / "x.sqlite"))
        journal = SqlAlarmJournal(make_engine(bad.render_as_string(hide_password=False)), definitions())
        blocked: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    else:
        blocked = outage(db_url)
    clock = Clock(1000.0)
    svc = AlarmService(AlarmEngine(definitions()), journal, clock=clock, tick_s=0.01)
    with blocked:
        await svc.start()
        try:
            svc.on_samples([s("grid.frequency", 50.3, 1000.0)])
            assert [a.id for a in svc.snapshot().unacknowledged()] == ["f.high"]
            assert not svc.stats().journal_ok and svc.stats().queued == 1
        finally:
            await svc.stop()
    journal.close()
