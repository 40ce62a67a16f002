"""Participant administration and operator-only endpoints end to end: a real anvil chain with the deployed
suite and the gateway's outbox, the market on a SQLite journal, the users and audit chain in a SQLite
historian, uvicorn on a free port and httpx. Only the market's clock is fixed.

Must-shows: a participant created by the admin is registered on chain (confirmed, isParticipant true) and
trades through the API; suspended, its open order is cancelled, its order refused with the reason (403),
its token refused with the reason, and it is removed on chain; reinstated it trades again; a rotated token
replaces the old one at once. Operator endpoints: 401 without credentials, 403 for a participant token and
for an analyst (audited), 202 for an operator (audited, confirmed on chain)."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from sqlalchemy import select
from web3 import Web3

from console.api.app import ApiServer, create_app
from console.api.auth import order_message, sign
from console.api.operator_routes import install
from console.api.registry_directory import RegistryDirectory
from console.bootstrap_chain import ChainUp, chain_up
from console.bootstrap_security import user_service_for
from console.services.chain import ChainService
from console.services.market import MarketService
from console.services.participants_admin import ParticipantsAdmin, meter_chain_id
from console.store import audit_chain
from console.store.historian import SqlHistorian
from console.store.market_journal import SqlMarketJournal
from console.store.participants_store import SqlParticipantStore
from console.store.schema import audit_log
from contracts.anvil import DEV_KEYS
from contracts.artifacts import load
from contracts.deploy import account_from_key
from contracts.gateway import ChainGateway
from contracts.outbox import Outbox
from core.access import Role, User
from core.bands import Band
from core.chain import TxState
from core.grid import GridSnapshot, Reading
from core.market import MarketRules
from core.participant_registry import MeterLink, ParticipantDraft, ParticipantType
from core.points import PointDef, PointKind, Quality
from tests.api.conftest import CHAIN_ID, NOW, PRODUCT, Clock
from tests.conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ADMIN = User("root", Role.ADMIN)


def snapshot() -> GridSnapshot:
    f = PointDef("grid.frequency", "Frequency", "Hz", PointKind.FREQUENCY, 50.0)
    v = PointDef("bus1.voltage", "Bus 1", "V", PointKind.VOLTAGE, 400.0)
    return GridSnapshot(NOW, Reading(f, 49.95, Quality.GOOD, NOW, Band.NORMAL), 0.0, Quality.GOOD,
                        (Reading(v, 398.0, Quality.GOOD, NOW, Band.NORMAL),), None, None, None, None)


@dataclass
class World:
    url: str
    client: httpx.AsyncClient
    admin: ParticipantsAdmin
    market: MarketService
    gateway: ChainGateway
    historian: SqlHistorian
    w3: Web3
    chain: ChainUp


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    up = chain_up(free_port(), tmp_path / "chain", "pw")
    historian = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool")
    historian.start()
    gateway = ChainGateway(up.anvil.url, account_from_key(DEV_KEYS[0]), up.deployment, Outbox(tmp_path / "ob.db"),
                           confirmations=0)
    chain = ChainService(gateway, snapshot, historian, publish_every_s=0)
    market = MarketService(MarketRules(tick=5, lot=100), SqlMarketJournal(f"sqlite:///{tmp_path / 'm.sqlite'}"),
                           clock=Clock(NOW))
    market.audit = historian
    admin = ParticipantsAdmin(SqlParticipantStore(historian.engine), chain=gateway, market=market, audit=historian,
                              tariffs=frozenset({"standard", "time-of-use"}))
    users = user_service_for(historian)
    root = await users.create_admin("root", "a long first password")
    await users.create_user(root, "op-1", Role.OPERATOR, "operator password 1")
    await users.create_user(root, "an-1", Role.ANALYST, "analyst password 1")
    await users.create_user(root, "en-1", Role.ENGINEER, "engineer password 1")
    await chain.start()
    await market.start()
    await admin.start()
    app = create_app(market, RegistryDirectory(admin), rate_per_s=1000, burst=1000, chain_id=CHAIN_ID)
    install(app, users, chain)
    server = ApiServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
            yield World(server.url, client, admin, market, gateway, historian, Web3(Web3.HTTPProvider(up.anvil.url)),
                        up)
    finally:
        await server.stop()
        await market.stop()
        await chain.stop()
        historian.stop()
        up.anvil.stop()


def registry(w: World) -> Any:
    return w.w3.eth.contract(address=w.chain.deployment.addresses["MeterReading"], abi=load("MeterReading").abi)


def audit_rows(w: World) -> list[tuple[str, str, str, str]]:
    with w.historian.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
    return [(r.user, r.action, r.target, r.result) for r in rows]


def order(key: str, address: str, pid: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"participant": pid, "product": PRODUCT, "side": "sell", "quantity": 1000, "price": 200,
                            "nonce": secrets.randbits(63)}
    body.update(fields)
    body["signature"] = sign("Order", order_message(address, body), CHAIN_ID, key)
    return body


async def confirmed(w: World, keys: tuple[str, ...]) -> list[int]:
    blocks = []
    for k in keys:
        rec = await w.gateway.wait(k, timeout=30)
        assert rec.state is TxState.CONFIRMED, rec
        assert rec.block is not None
        blocks.append(rec.block)
    return blocks


async def test_participant_lifecycle_on_chain_in_market_and_api(world: World) -> None:
    w = world
    key = DEV_KEYS[6]
    wallet = Account.from_key(key).address
    meter_account = Account.from_key(DEV_KEYS[7]).address
    draft = ParticipantDraft("alice", "Alice's farm", ParticipantType.PROSUMER, "bus-12", wallet.lower(),
                             (MeterLink("alice-meter", meter_account.lower()),), ("alice-pv",), "time-of-use", True)
    rec, token = await w.admin.create(ADMIN, draft)
    assert rec.wallet == wallet  # checksummed once, stored so
    assert len(rec.chain_keys) == 2 and token
    await confirmed(w, rec.chain_keys)
    reg = registry(w)
    assert await asyncio.to_thread(reg.functions.isParticipant(wallet).call) is True
    meter = await asyncio.to_thread(reg.functions.meters(meter_chain_id("alice-meter")).call)
    assert meter[:2] == [wallet, meter_account]
    assert [(k, r.state if r else None) for k, r in w.admin.chain_results("alice")] == [
        (k, TxState.CONFIRMED) for k in rec.chain_keys]
    auth = {"Authorization": f"Bearer {token}"}
    assert (await w.client.get("/api/v1/orders", headers=auth)).json() == []
    placed = await w.client.post("/api/v1/trades/offer", json=order(key, wallet, "alice"))
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order"]["order_id"]

    # Suspended: open order cancelled, new orders and the token refused with the reason, removed on chain.
    sus = await w.admin.suspend(ADMIN, "alice", "meter tampering under investigation")
    assert w.market.order(order_id) is not None and w.market.order(order_id).status.value == "cancelled"  # type: ignore[union-attr]
    refused = await w.client.post("/api/v1/trades/offer", json=order(key, wallet, "alice"))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "participant 'alice' is suspended: meter tampering under investigation"
    denied = await w.client.get("/api/v1/trades/history", headers=auth)
    assert (denied.status_code, denied.json()["rule"]) == (403, "participant-suspended")
    assert "meter tampering under investigation" in denied.json()["detail"]
    # The market itself refuses it too, whatever way the order comes in.
    from core.market import OrderSpec, Side

    direct = await w.market.submit(OrderSpec("direct-1", "alice", PRODUCT, Side.BUY, 100, 200))
    assert direct.rejected is not None
    assert direct.rejected.detail == "participant 'alice' is suspended: meter tampering under investigation"
    await confirmed(w, sus.chain_keys)
    assert await asyncio.to_thread(reg.functions.isParticipant(wallet).call) is False

    # Reinstated: on chain again, trades again.
    back = await w.admin.reinstate(ADMIN, "alice")
    await confirmed(w, back.chain_keys)
    assert await asyncio.to_thread(reg.functions.isParticipant(wallet).call) is True
    again = await w.client.post("/api/v1/trades/offer", json=order(key, wallet, "alice"))
    assert again.status_code == 201, again.text

    # A rotated token: the old one is unknown at once, the new one works.
    new_token = await w.admin.rotate_token(ADMIN, "alice")
    old = await w.client.get("/api/v1/orders", headers=auth)
    assert (old.status_code, old.json()["rule"]) == (401, "token-unknown")
    fresh = await w.client.get("/api/v1/orders", headers={"Authorization": f"Bearer {new_token}"})
    assert fresh.status_code == 200 and len(fresh.json()) == 2

    # The register survives a restart (the store), and every change is in the audit chain.
    again_admin = ParticipantsAdmin(SqlParticipantStore(w.historian.engine))
    await again_admin.start()
    stored = again_admin.get("alice")
    assert stored is not None and (stored.suspended, stored.meters, stored.tariff) == (
        False, (MeterLink("alice-meter", meter_account),), "time-of-use")
    assert again_admin.by_token(new_token) is not None and again_admin.by_token(token) is None
    actions = [(u, a, t) for u, a, t, _ in audit_rows(w) if a.startswith("participant.")]
    assert actions == [("root", f"participant.{x}", "alice") for x in ("create", "suspend", "reinstate",
                                                                        "rotate_token")]
    suspend_row = next(r for r in audit_rows(w) if r[1] == "participant.suspend")
    assert suspend_row[3].endswith("; 1 open order(s) cancelled")
    assert audit_chain.verify(w.historian.engine).ok


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_operator_endpoints(world: World) -> None:
    w = world
    body = {"reduction_w": 200_000, "duration_s": 1800, "compensation": 500}
    none = await w.client.post("/api/v1/grid/balance", json=body)
    assert (none.status_code, none.json()["rule"]) == (401, "credentials-missing")
    assert none.headers["www-authenticate"].startswith("Basic")
    _, token = await w.admin.create(ADMIN, ParticipantDraft("bob", "Bob", ParticipantType.PRODUCER, "bus-3",
                                                            Account.from_key("0x" + "42" * 32).address))
    participant = await w.client.post("/api/v1/grid/balance", json=body, headers={"Authorization": f"Bearer {token}"})
    assert (participant.status_code, participant.json()["rule"]) == (403, "operator-credentials-required")
    assert "'bob' is not an operator credential" in participant.json()["detail"]
    wrong = await w.client.post("/api/v1/grid/balance", json=body, headers=basic("op-1", "not the password"))
    assert (wrong.status_code, wrong.json()["detail"]) == (401, "wrong user name or password")
    before = len(audit_rows(w))
    analyst = await w.client.post("/api/v1/grid/balance", json=body, headers=basic("an-1", "analyst password 1"))
    refusal = "an-1 (analyst) may not do chain.dr_request; allowed for: operator, admin"
    assert (analyst.status_code, analyst.json()["detail"]) == (403, refusal)
    assert audit_rows(w)[before:] == [("an-1", "user.login", "api", "ok"),
                                      ("an-1", "chain.dr_request", "GridBalance", "refused: " + refusal)]
    demand_refused = await w.client.put("/api/v1/grid/demand", json={"demand_w": 1e6, "supply_w": 9e5},
                                        headers=basic("an-1", "analyst password 1"))
    assert demand_refused.status_code == 403
    assert demand_refused.json()["detail"] == (
        "an-1 (analyst) may not do chain.grid_status; allowed for: operator, admin")

    # The whole matrix over HTTP: each role × both endpoints, refused with the message and audited, or 202.
    passwords = {"an-1": "analyst password 1", "en-1": "engineer password 1", "root": "a long first password"}
    for name, role in (("an-1", "analyst"), ("en-1", "engineer"), ("root", "admin")):
        for path, method, action, payload in (
                ("/api/v1/grid/balance", "post", "chain.dr_request", body),
                ("/api/v1/grid/demand", "put", "chain.grid_status", {"demand_w": 1e6, "supply_w": 9e5})):
            before = len(audit_rows(w))
            resp = await w.client.request(method, path, json=payload, headers=basic(name, passwords[name]))
            if role == "admin":
                assert resp.status_code == 202 and resp.json()["by"] == "root", resp.text
                continue
            text = f"{name} ({role}) may not do {action}; allowed for: operator, admin"
            assert (resp.status_code, resp.json()["detail"]) == (403, text)
            assert audit_rows(w)[before:] == [(name, "user.login", "api", "ok"),
                                              (name, action, "GridBalance", "refused: " + text)]

    ok = await w.client.post("/api/v1/grid/balance", json=body, headers=basic("op-1", "operator password 1"))
    assert ok.status_code == 202, ok.text
    dr_key = ok.json()["key"]
    assert ok.json()["by"] == "op-1"
    put = await w.client.put("/api/v1/grid/demand", json={"demand_w": 1_250_000, "supply_w": 1_100_000},
                             headers=basic("op-1", "operator password 1"))
    assert put.status_code == 202, put.text
    status_key = put.json()["key"]
    await confirmed(w, (dr_key, status_key))
    grid = w.w3.eth.contract(address=w.chain.deployment.addresses["GridBalance"], abi=load("GridBalance").abi)
    # 49.95 Hz → 49950 mHz, 398 V → 398000 mV, 1.25 MW → 1250000 W, 1.1 MW → 1100000 W (the chain's units)
    assert (await asyncio.to_thread(grid.functions.status().call))[:4] == [49950, 398000, 1_250_000, 1_100_000]
    followed = await w.client.get(f"/api/v1/grid/commands/{status_key}", headers=basic("op-1", "operator password 1"))
    assert followed.json()["state"] == "confirmed" and followed.json()["block"] > 0
    mine = [r for r in audit_rows(w) if r[0] == "op-1" and r[1].startswith("chain.")]
    assert [r for r in mine if r[3] == "queued"] == [
        ("op-1", "chain.requestDemandResponse", f"GridBalance {dr_key}", "queued"),
        ("op-1", "chain.updateStatus", f"GridBalance {status_key}", "queued")]
    # The outcome is audited too, once on chain (the follower polls every 0.5 s).
    for _ in range(300):  # (bounded at 30 s: a loaded machine is slow)
        if len([r for r in audit_rows(w) if r[0] == "op-1" and r[3].startswith("confirmed in block")]) == 2:
            break
        await asyncio.sleep(0.1)
    assert {r[1] for r in audit_rows(w) if r[0] == "op-1" and r[3].startswith("confirmed in block")} == {
        "chain.requestDemandResponse", "chain.updateStatus"}
    assert audit_chain.verify(w.historian.engine).ok
