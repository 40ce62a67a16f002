"""Each role × each console command through the real service: allowed and done, or refused with a message
naming the user, role, action and who may, and an audit entry in the hash-chained log.

Real things: a Modbus device fleet for the commands, an anvil chain with the deployed suite for the chain
commands, the SQL alarm journal, SQLite for the audit log and users. Nothing here is a double."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from console.bootstrap_chain import ChainUp, chain_up
from console.bootstrap_security import user_service_for
from console.services.alarms import AlarmService
from console.services.chain import ChainService
from console.services.commands import CommandService
from console.store import audit_chain
from console.store.alarm_journal import SqlAlarmJournal
from console.store.historian import SqlHistorian
from console.store.schema import audit_log
from contracts.anvil import DEV_KEYS
from contracts.deploy import account_from_key
from contracts.gateway import ChainGateway
from contracts.outbox import Outbox
from core.access import Action, PermissionDenied, Role, User, roles_table_markdown
from core.alarms import AlarmEngine, EventKind
from core.alarms.journal import JournalQuery
from core.commands import Outcome
from core.sources import ModbusDeviceSpec
from drivers.modbus.hub import ModbusHub
from drivers.sim.devices import DeviceFleet
from tests.conftest import free_port
from tests.drivers.test_opcua_hub import Recorder, wait_until
from tests.unit.alarms.helpers import high, sample

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

# Who may do what, written out by hand from the intent (docs/security.md has the same table).
OP, AN, EN, AD = "operator", "analyst", "engineer", "admin"
ALLOWED = {
    Action.DEVICE_SETPOINT: {OP, EN, AD},
    Action.POWER_LIMIT: {OP, EN, AD},
    Action.REGISTER_WRITE: {EN, AD},
    Action.DR_REQUEST: {OP, AD},
    Action.CHAIN_RESEND: {OP, AD},
    Action.CHAIN_DISCARD: {OP, AD},
    Action.ALARM_ACK: {OP, EN, AD},
    Action.ALARM_SHELVE: {OP, EN, AD},
    Action.ALARM_SILENCE: {OP, EN, AD},
    Action.USER_ADMIN: {AD},
    Action.GRID_STATUS: {OP, AD},
    Action.MARKET_SUSPEND: {OP, AD},
    Action.LOAD_SHED: {OP, AD},  # every role through the real service: tests/e2e/test_balancing_commands.py
    Action.ORDER_FOR_OTHERS: {AD},
    Action.REPORT_EXPORT: {OP, AN, EN, AD},
    Action.CONFIG_CHANGE: {EN, AD},
}
ORDER = [OP, AN, EN, AD]


def refusal(role: Role, action: Action) -> str:
    who = ", ".join(r for r in ORDER if r in ALLOWED[action])
    return f"{role.value}-1 ({role.value}) may not do {action.value}; allowed for: {who}"


@pytest.fixture
def historian(tmp_path: Path) -> Iterator[SqlHistorian]:
    h = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool")
    h.start()
    yield h
    h.stop()


def audit_rows(historian: SqlHistorian) -> list[tuple[str, str, str, str]]:
    with historian.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
    return [(r.user, r.action, r.target, r.result) for r in rows]


def test_every_action_is_in_this_table() -> None:
    # Written by hand above; a new action must be added here (and get a service check and a row below).
    assert set(ALLOWED) == set(Action)


def test_docs_carry_the_table() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "security.md").read_text()
    assert roles_table_markdown() in docs


async def test_device_commands_by_role(historian: SqlHistorian) -> None:
    fleet = DeviceFleet(count=3, port=free_port())
    await fleet.start()
    rec = Recorder()
    hub = ModbusHub([ModbusDeviceSpec("inv3", fleet.host, fleet.port, 3, "sunspec", timeout_s=0.5,
                                      poll_overrides=(("fast", 0.2),))], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: rec.latest("inv3.controls.WMaxLimPct") is not None, 10)
        for role in Role:
            user = User(f"{role.value}-1", role)
            commands = CommandService(hub, historian)  # the default user is not the one acting
            calls = {
                Action.DEVICE_SETPOINT: (lambda u=user, c=commands: c.run(
                    "inv3", "inv3 PV: enable limit", [("controls.WMaxLim_Ena", 1, None)], by=u), "inv3"),
                Action.POWER_LIMIT: (lambda u=user, c=commands: c.run(
                    "inv3", "inv3 PV: limit to 60 %", [("controls.WMaxLimPct", 60, None)], by=u,
                    action=Action.POWER_LIMIT), "inv3"),
                Action.REGISTER_WRITE: (lambda u=user, c=commands: c.set_value(
                    "inv3", "controls.WMaxLimPct", 70, by=u), "inv3.controls.WMaxLimPct"),
            }
            for action, (call, target) in calls.items():
                before = len(audit_rows(historian))
                outcome = await call()
                new = audit_rows(historian)[before:]
                if role.value in ALLOWED[action]:
                    assert outcome.outcome is Outcome.CONFIRMED, (role, action, outcome)
                    assert new[-1][0] == user.name and new[-1][3].startswith("confirmed")
                else:
                    assert (outcome.outcome, outcome.message) == (Outcome.REJECTED, refusal(role, action))
                    assert new == [(user.name, action.value, target, "refused: " + refusal(role, action))]
    finally:
        await hub.stop()
        await fleet.stop()
    assert audit_chain.verify(historian.engine).ok


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[ChainUp]:
    up = chain_up(free_port(), tmp_path / "chain", "pw")
    yield up
    up.anvil.stop()


async def test_chain_commands_by_role(historian: SqlHistorian, chain: ChainUp, tmp_path: Path) -> None:
    gateway = ChainGateway(chain.anvil.url, account_from_key(DEV_KEYS[0]), chain.deployment,
                           Outbox(tmp_path / "outbox.db"))
    service = ChainService(gateway, historian=historian, publish_every_s=0)  # not started: commands queue only
    for role in Role:
        user = User(f"{role.value}-1", role)
        for action in (Action.DR_REQUEST, Action.CHAIN_RESEND, Action.CHAIN_DISCARD):
            before = len(audit_rows(historian))
            if action is Action.DR_REQUEST:
                call = service.request_demand_response(200_000, 1800, 500, by=user)
                target = "GridBalance"
            else:
                call = (service.resend if action is Action.CHAIN_RESEND else service.discard)(["dr-x"], by=user)
                target = "dr-x"
            if role.value not in ALLOWED[action]:
                with pytest.raises(PermissionDenied) as refused:
                    await call
                assert str(refused.value) == refusal(role, action)
                assert audit_rows(historian)[before:] == [
                    (user.name, action.value, target, "refused: " + refusal(role, action))]
            elif action is Action.DR_REQUEST:
                key = await call
                assert gateway.record(key) is not None  # queued in the outbox
                (row,) = audit_rows(historian)[before:]
                assert row == (user.name, "chain.requestDemandResponse", f"GridBalance {key}", "queued")
            else:  # allowed: the gateway itself answers (the chain is not a different one: nothing to decide)
                with pytest.raises(ValueError, match="not a different chain: there is nothing to decide"):
                    await call
    await service.stop()
    assert audit_chain.verify(historian.engine).ok


async def test_alarm_commands_by_role(historian: SqlHistorian, tmp_path: Path) -> None:
    definitions = [high(deadband=0.05)]
    for role in Role:
        user = User(f"{role.value}-1", role)
        journal = SqlAlarmJournal.open(f"sqlite:///{tmp_path / f'alarms-{role.value}.sqlite'}", definitions)
        svc = AlarmService(AlarmEngine(definitions), journal, clock=lambda: 1000.0, audit=historian)
        svc.on_samples([sample("grid.frequency", 50.3, 1000.0)])
        assert svc.snapshot().unacknowledged() != ()
        calls = {
            Action.ALARM_SILENCE: lambda u=user, s=svc: s.silence("f.high", u),
            Action.ALARM_ACK: lambda u=user, s=svc: s.acknowledge("f.high", u, "seen"),
            Action.ALARM_SHELVE: lambda u=user, s=svc: s.shelve("f.high", u, "sensor work", 600.0),
        }
        await svc.start()
        for action, call in calls.items():
            before = len(audit_rows(historian))
            if role.value in ALLOWED[action]:
                assert call().user == user.name
            else:
                with pytest.raises(PermissionDenied) as refused:
                    call()
                assert str(refused.value) == refusal(role, action)
                await svc.stop()  # waits for the audit write in flight
                await svc.start()
                assert audit_rows(historian)[before:] == [
                    (user.name, action.value, "f.high", "refused: " + refusal(role, action))]
        await svc.stop()
        # An allowed alarm command is journaled with the user's name (the alarm journal is its audit trail).
        done = journal.query(JournalQuery(0.0, 2000.0, users=frozenset({user.name})))
        expected = [kind for action, kind in ((Action.ALARM_SILENCE, EventKind.SILENCED),
                                              (Action.ALARM_ACK, EventKind.ACKNOWLEDGED),
                                              (Action.ALARM_SHELVE, EventKind.SHELVED))
                    if role.value in ALLOWED[action]]
        assert [e.kind for e in done] == expected
        journal.engine.dispose()
    assert audit_chain.verify(historian.engine).ok


async def test_user_admin_by_role(historian: SqlHistorian) -> None:
    users = user_service_for(historian)
    root = await users.create_admin("root", "a long first password")
    for role in Role:
        await users.create_user(root, f"{role.value}-1", role, "a long enough password")
    for role in Role:
        user = User(f"{role.value}-1", role)
        before = len(audit_rows(historian))
        if role.value in ALLOWED[Action.USER_ADMIN]:
            made = await users.create_user(user, f"new-by-{role.value}", Role.ANALYST, "another long password")
            assert made == User(f"new-by-{role.value}", Role.ANALYST)
            assert audit_rows(historian)[before:] == [(user.name, "user.create", made.name, "ok: role analyst")]
        else:
            with pytest.raises(PermissionDenied) as refused:
                await users.create_user(user, f"new-by-{role.value}", Role.ANALYST, "another long password")
            assert str(refused.value) == refusal(role, Action.USER_ADMIN)
            assert audit_rows(historian)[before:] == [
                (user.name, Action.USER_ADMIN.value, f"user new-by-{role.value}",
                 "refused: " + refusal(role, Action.USER_ADMIN))]
    assert audit_chain.verify(historian.engine).ok


# ---- issue 18: the market's suspension and orders for others, report export, configuration changes, the grid
# status on chain — each through its service, refused with the message and an audit entry, or done.

PRODUCT = 1_800_000_000
NOW = PRODUCT - 3600


def _refused_entry(user: User, action: Action, target: str) -> tuple[str, str, str, str]:
    return (user.name, action.value, target, "refused: " + refusal(user.role, action))


async def test_market_commands_by_role(historian: SqlHistorian, tmp_path: Path) -> None:
    from console.services.market import MarketService, MarketSuspended
    from console.store.market_journal import SqlMarketJournal
    from core.market import MarketRules, OrderSpec, Side

    market = MarketService(MarketRules(tick=5, lot=100), SqlMarketJournal(f"sqlite:///{tmp_path / 'm.sqlite'}"),
                           clock=lambda: float(NOW))
    market.audit = historian
    await market.start()
    try:
        for role in Role:
            user = User(f"{role.value}-1", role)
            # market.suspend: suspend and resume trading
            before = len(audit_rows(historian))
            if role.value in ALLOWED[Action.MARKET_SUSPEND]:
                await market.suspend("settlement chain down", by=user)
                with pytest.raises(MarketSuspended, match="settlement chain down"):
                    await market.submit(OrderSpec(f"o-{role.value}", "alice", PRODUCT, Side.SELL, 100, 200))
                await market.resume(by=user)
                assert market.suspensions() == ()
                assert audit_rows(historian)[before:] == [
                    (user.name, "market.suspend", "market", "suspended"),
                    (user.name, "market.resume", "market", "resumed")]
            else:
                with pytest.raises(PermissionDenied) as denied:
                    await market.suspend("settlement chain down", by=user)
                assert str(denied.value) == refusal(role, Action.MARKET_SUSPEND)
                assert market.suspensions() == ()
                assert audit_rows(historian)[before:] == [_refused_entry(user, Action.MARKET_SUSPEND, "market")]
            # market.order_for_others: an order entered for a participant
            before = len(audit_rows(historian))
            spec = OrderSpec(f"for-{role.value}", "bob", PRODUCT, Side.BUY, 100, 150)
            target = f"order {spec.order_id} of bob"
            if role.value in ALLOWED[Action.ORDER_FOR_OTHERS]:
                outcome = await market.submit_for(user, spec)
                assert outcome.rejected is None and market.order(spec.order_id) is not None
                assert audit_rows(historian)[before:] == [
                    (user.name, "market.order_for_others", target, "ok: accepted")]
            else:
                with pytest.raises(PermissionDenied) as denied:
                    await market.submit_for(user, spec)
                assert str(denied.value) == refusal(role, Action.ORDER_FOR_OTHERS)
                assert market.order(spec.order_id) is None
                assert audit_rows(historian)[before:] == [_refused_entry(user, Action.ORDER_FOR_OTHERS, target)]
    finally:
        await market.stop()
    assert audit_chain.verify(historian.engine).ok


async def test_report_export_by_role(historian: SqlHistorian, tmp_path: Path) -> None:
    from console.services.reports import ReportFormat, ReportKind, ReportService, ReportSite
    from console.store.report_queries import SqlSampleReader
    from core.points import Quality, Sample

    data = SqlHistorian(f"sqlite:///{tmp_path / 'data.sqlite'}", tmp_path / "data-spool")
    data.start()
    data.record([Sample("grid.frequency", 50.0, "Hz", Quality.GOOD, t, t) for t in range(1000, 4600, 10)])
    data.stop()  # writes what is queued
    reports = ReportService(SqlSampleReader(f"sqlite:///{tmp_path / 'data.sqlite'}"),
                            ReportSite("Test grid", "grid.frequency"))
    reports.audit = historian
    for role in Role:
        user = User(f"{role.value}-1", role)
        out = tmp_path / f"report-{role.value}.csv"
        before = len(audit_rows(historian))
        if role.value in ALLOWED[Action.REPORT_EXPORT]:
            await reports.run([ReportKind.STABILITY], 1000.0, 4600.0, ReportFormat.CSV, out, by=user)
            assert out.is_file()
            (row,) = audit_rows(historian)[before:]
            assert row == (user.name, "report.export", str(out),
                           "ok: stability csv, 1970-01-01 00:16:40 to 1970-01-01 01:16:40 UTC")
        else:  # pragma: no cover - every role may export today; the branch keeps the test honest if that changes
            with pytest.raises(PermissionDenied):
                await reports.run([ReportKind.STABILITY], 1000.0, 4600.0, ReportFormat.CSV, out, by=user)
    reports.close()


async def test_config_change_by_role(historian: SqlHistorian, tmp_path: Path) -> None:
    from console.services.trust import TrustService
    from drivers.opcua.certs import create_client_certificate
    from drivers.opcua.trust import TrustList, UntrustedCertificate

    cert = create_client_certificate(tmp_path / "pki", "urn:test:server", "plc")  # stands in for a server's
    der = cert.cert.read_bytes()
    trust = TrustList(tmp_path / "trust.json")
    service = TrustService(trust, historian)
    for role in Role:
        user = User(f"{role.value}-1", role)
        endpoint = f"opc.tcp://plc-{role.value}:4840/"
        with pytest.raises(UntrustedCertificate):
            trust.check(endpoint, der)
        before = len(audit_rows(historian))
        if role.value in ALLOWED[Action.CONFIG_CHANGE]:
            entry = await service.accept(user, endpoint, cert.info.fingerprint)
            assert entry.by == user.name
            trust.check(endpoint, der)  # trusted now
            assert audit_rows(historian)[before:] == [(user.name, "opcua.trust_accept", endpoint,
                                                       f"ok: {cert.info.subject}")]
        else:
            with pytest.raises(PermissionDenied) as denied:
                await service.accept(user, endpoint, cert.info.fingerprint)
            assert str(denied.value) == refusal(role, Action.CONFIG_CHANGE)
            with pytest.raises(UntrustedCertificate):
                trust.check(endpoint, der)  # still refused
            assert audit_rows(historian)[before:] == [
                _refused_entry(user, Action.CONFIG_CHANGE, f"opcua trust {endpoint}")]
    assert audit_chain.verify(historian.engine).ok


async def test_grid_status_by_role(historian: SqlHistorian, chain: ChainUp, tmp_path: Path) -> None:
    from tests.api.test_admin_and_operator_api import snapshot

    gateway = ChainGateway(chain.anvil.url, account_from_key(DEV_KEYS[0]), chain.deployment,
                           Outbox(tmp_path / "outbox.db"))
    service = ChainService(gateway, snapshot, historian=historian, publish_every_s=0)  # not started: queue only
    for role in Role:
        user = User(f"{role.value}-1", role)
        before = len(audit_rows(historian))
        if role.value in ALLOWED[Action.GRID_STATUS]:
            key = await service.publish_demand(1_000_000, 900_000, by=user)
            rec = gateway.record(key)
            assert rec is not None and rec.description == f"grid status by {user.name}: 1.000 MW demand"
            (row,) = audit_rows(historian)[before:]
            assert row == (user.name, "chain.updateStatus", f"GridBalance {key}", "queued")
        else:
            with pytest.raises(PermissionDenied) as denied:
                await service.publish_demand(1_000_000, 900_000, by=user)
            assert str(denied.value) == refusal(role, Action.GRID_STATUS)
            assert audit_rows(historian)[before:] == [_refused_entry(user, Action.GRID_STATUS, "GridBalance")]
    await service.stop()
    assert audit_chain.verify(historian.engine).ok
