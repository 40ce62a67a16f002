"""Three participants sign orders with their own keys -> participant API (uvicorn, httpx) -> MarketService ->
match -> batch settlement through the gateway outbox on anvil -> metered delivery (MeterReading) -> Settlement
proposal and finalisation by the console -> each participant withdraws. The console is restarted after the
match (before the batch was sent), after settlement and again at the end: nothing is lost, nothing is sent
twice, every balance is exact to the base unit (computed by hand below)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from console.api.auth import fast_digest, order_message, sign
from console.services.alarm_sources import SettlementOutcome, SettlementReport
from console.services.market import SettlementState
from console.services.settlement import MatchState
from contracts.anvil import CHAIN_ID, DEV_KEYS, Anvil
from tests.conftest import free_port
from tests.contracts.conftest import (
    ALICE,
    BOB,
    CAROL,
    FEE,
    METER_A,
    METER_B,
    build_suite,
    connect,
)
from tests.support.market_console import (
    KEYS,
    NAMES,
    Console,
    deployment,
    signed_body,
    until,
    warp_to,
    write_participants,
)

pytestmark = pytest.mark.contracts


async def test_signed_orders_to_paid_out_across_restarts(tmp_path: Path) -> None:
    write_participants(tmp_path, NAMES)
    with Anvil(free_port()) as node:
        s = build_suite(connect(node.url))  # ALICE and BOB have meters; every participant approved Settlement
        assert s.orders is not None
        dep = deployment(s)
        # Baselines of both sellers' meters (a meter's first reading sets its zero).
        s.reading(METER_A, 0, 0)
        s.reading(METER_B, 0, 0)
        start = {who: s.balance(who) for who in (ALICE, BOB, CAROL, FEE)}
        t = int(time.time()) + 1800
        product = t - t % 900  # delivery 15-30 min ahead: open, before gate closure

        console = Console(tmp_path, node.url, dep, max_wait_s=3600)  # holds its matches: restarted before it sends
        await console.start()
        async with httpx.AsyncClient(base_url=console.api.url, timeout=10) as http:
            assert (await http.get("/api/v1/domain")).json() == {
                "name": "EnergyNet Market", "version": "1", "chainId": CHAIN_ID,
                "verifyingContract": dep.addresses["OrderSettlement"]}
            for body in (signed_body("alice", dep, product=product, side="sell", quantity=3000, price=200, nonce=1),
                         signed_body("bob", dep, product=product, side="sell", quantity=2000, price=220, nonce=1),
                         signed_body("carol", dep, product=product, side="buy", quantity=4000, price=250, nonce=1)):
                r = await http.post("/api/v1/trades/offer", json=body)
                assert r.status_code == 201, r.text
            trades = r.json()["trades"]
        # CAROL's buy takes ALICE's 3 000 Wh at 200 and 1 000 of BOB's 2 000 Wh at 220 (price-time priority).
        assert [(x["quantity"], x["price"]) for x in trades] == [(3000, 200), (1000, 220)]
        await until(lambda: len(console.settlement.matches()) == 2)
        assert {m.state for m in console.settlement.matches()} == {MatchState.MATCHED}
        await console.stop()

        console = Console(tmp_path, node.url, dep, max_wait_s=0.05)
        await console.start()
        await until(lambda: all(m.state is MatchState.SETTLED for m in console.settlement.matches()))
        m1, m2 = console.settlement.matches()
        # Escrow: 3 000 Wh × 200 / 1 000 = 600 and 1 000 Wh × 220 / 1 000 = 220 base units, from CAROL.
        assert (m1.value, m2.value) == (600, 220)
        assert s.balance(CAROL) == start[CAROL] - 820
        settled = s.orders.events.OrderSettled().get_logs(from_block=0)
        assert sorted(e.args.seq for e in settled) == [m1.seq, m2.seq]  # once each
        await console.stop()  # and again between settlement and delivery
        console = Console(tmp_path, node.url, dep, max_wait_s=0.05)
        await console.start()

        # Delivery: ALICE exports all 3 000 Wh, BOB only 600 of his 1 000; then the delivery period ends.
        # (After each meter's baseline: on a fast run every block so far may share the baseline's second.)
        s.reading(METER_A, 0, 3_000)
        s.reading(METER_B, 0, 600)
        warp_to(s, product + 900)
        await until(lambda: all(m.state is MatchState.DELIVERED for m in console.settlement.matches()))
        assert [m.delivered_wh for m in console.settlement.matches()] == [3_000, 600]
        warp_to(s, s.now() + 3601)  # past the dispute window
        await until(lambda: all(m.state is MatchState.PAID for m in console.settlement.matches()))
        outbox = console.gateway.outbox.counts()
        await console.stop()

        # Withdraw with their own keys. Trade 1: 600 to ALICE less the 0.5 % fee (3) = 597. Trade 2: 600 of
        # 1 000 Wh delivered: BOB 220 × 600 / 1 000 = 132 (fee 132 × 0.005 = 0.66 -> 0), CAROL refunded 88.
        for who in (ALICE, BOB, CAROL, FEE):
            s.send(s.settlement.functions.withdraw(), who)
        assert s.balance(ALICE) - start[ALICE] == 597
        assert s.balance(BOB) - start[BOB] == 132
        assert s.balance(CAROL) - start[CAROL] == -820 + 88
        assert s.balance(FEE) - start[FEE] == 3

        # A third start: journal and chain agree, nothing is sent again.
        console = Console(tmp_path, node.url, dep, max_wait_s=0.05)
        await console.start()
        await asyncio.sleep(0.5)
        assert console.settlement.mismatches == []
        # both paid: none of them is loaded into memory again (only open matches are), the store answers
        assert console.settlement.matches() == []
        assert console.settlement.counts() == {MatchState.PAID: 2}
        stored = [console.settlement.match(m.seq) for m in (m1, m2)]
        assert [None if m is None else m.state for m in stored] == [MatchState.PAID] * 2
        assert console.gateway.outbox.counts() == outbox
        await console.stop()


async def test_reconciliation_reports_what_the_chain_did_behind_the_consoles_back(tmp_path: Path) -> None:
    """A maker cancelling on chain an order the book holds, and a rogue matcher settling matches the journal
    never made (while the console runs, and while it is down): each reported, none corrected."""
    from console.services.settlement import order_tuple
    from contracts.roles import MATCHER
    from tests.contracts.conftest import OUTSIDER

    write_participants(tmp_path, NAMES)
    with Anvil(free_port()) as node:
        s = build_suite(connect(node.url))
        assert s.orders is not None
        s.send(s.orders.functions.grantRole(MATCHER, OUTSIDER))
        dep = deployment(s)
        t = int(time.time()) + 1800
        product = t - t % 900
        console = Console(tmp_path, node.url, dep, max_wait_s=0.05)
        heard: list[str] = []
        console.settlement.listeners.append(lambda mm: heard.append(mm.kind))
        await console.start()
        resting = signed_body("carol", dep, product=product, side="buy", quantity=500, price=150, nonce=2)
        async with httpx.AsyncClient(base_url=console.api.url, timeout=10) as http:
            for body in (signed_body("alice", dep, product=product, side="sell", quantity=1000, price=200, nonce=1),
                         signed_body("carol", dep, product=product, side="buy", quantity=1000, price=250, nonce=1),
                         resting):
                assert (await http.post("/api/v1/trades/offer", json=body)).status_code == 201
            # The same nonce for another order: refused before the book (on chain it could never settle).
            again = signed_body("carol", dep, product=product, side="buy", quantity=100, price=150, nonce=2)
            r = await http.post("/api/v1/trades/offer", json=again)
            assert r.status_code == 409 and r.json()["rule"] == "nonce-reused", r.text
            # An order the book refuses (off the 100 Wh lot) leaves its nonce free for the corrected order.
            off_lot = signed_body("alice", dep, product=product, side="sell", quantity=150, price=900, nonce=5)
            r = await http.post("/api/v1/trades/offer", json=off_lot)
            assert r.status_code == 422 and r.json()["rule"] == "invalid-quantity", r.text
            fixed = signed_body("alice", dep, product=product, side="sell", quantity=100, price=900, nonce=5)
            assert (await http.post("/api/v1/trades/offer", json=fixed)).status_code == 201
        await until(lambda: [m.state for m in console.settlement.matches()] == [MatchState.SETTLED])
        assert heard == []
        # CAROL cancels her resting order on chain, not through the API: the book still holds it.
        msg = order_message(CAROL, {k: v for k, v in resting.items() if k != "signature"})
        s.send(s.orders.functions.cancel(order_tuple(msg)), CAROL)
        await until(lambda: heard == ["cancelled-on-chain"])

        def rogue(seq: int, nonce: int) -> None:
            orders = []
            for who, side, price in ((BOB, "buy", 300), (ALICE, "sell", 200)):
                m = order_message(who, {"product": product, "side": side, "quantity": 100, "price": price,
                                        "nonce": nonce})
                orders.append((m, sign("Order", m, CHAIN_ID, KEYS[who], dep.addresses["OrderSettlement"])))
            (b, bs), (sl, ss) = orders
            s.send(s.orders.functions.settleBatch([[seq, s.now(), 100, 250, order_tuple(b), order_tuple(sl), bs, ss]]),
                   OUTSIDER)

        rogue(10**6, 50)
        await until(lambda: heard == ["cancelled-on-chain", "unknown-match"])
        await console.stop()
        rogue(10**6 + 1, 51)  # while the console is down

        console = Console(tmp_path, node.url, dep, max_wait_s=0.05)
        await console.start()
        # Reported at start (the contract is ahead) and once its event is followed (the gateway may not have it yet).
        await until(lambda: len(console.settlement.mismatches) == 2)
        kinds = sorted((mm.kind, mm.seq) for mm in console.settlement.mismatches)
        assert kinds == [("chain-ahead", 10**6 + 1), ("unknown-match", 10**6 + 1)], kinds
        # Nothing was corrected: our match is still the one settled, the book still holds CAROL's order.
        assert [m.state for m in console.settlement.matches()] == [MatchState.SETTLED]
        view = console.market.order("0x" + fast_digest("Order", msg, CHAIN_ID, dep.addresses["OrderSettlement"]).hex())
        assert view is not None and view.status.value == "resting"
        await console.stop()


async def test_a_refused_batch_fails_its_matches_until_an_operator_retries_and_an_execute_settles(
        tmp_path: Path) -> None:
    from contracts.roles import PAUSER
    from tests.contracts.conftest import OUTSIDER

    write_participants(tmp_path, NAMES)
    with Anvil(free_port()) as node:
        s = build_suite(connect(node.url))
        assert s.orders is not None
        s.send(s.orders.functions.grantRole(PAUSER, OUTSIDER))  # the operator's pause key, not the matcher's
        dep = deployment(s)
        t = int(time.time()) + 1800
        product = t - t % 900
        console = Console(tmp_path, node.url, dep, max_wait_s=0.05)
        await console.start()
        reports: list[SettlementReport] = []  # what the alarms' settlement hook is told
        console.settlement.subscribe(reports.append)
        s.send(s.orders.functions.pause(), OUTSIDER)
        carol = s.balance(CAROL)
        async with httpx.AsyncClient(base_url=console.api.url, timeout=10) as http:
            for body in (signed_body("alice", dep, product=product, side="sell", quantity=1000, price=200, nonce=1),
                         signed_body("carol", dep, product=product, side="buy", quantity=1000, price=250, nonce=1)):
                assert (await http.post("/api/v1/trades/offer", json=body)).status_code == 201
            await until(lambda: [m.state for m in console.settlement.matches()] == [MatchState.FAILED])
            (m,) = console.settlement.matches()
            assert "EnforcedPause" in (m.error or ""), m.error
            assert [(r.key, r.outcome) for r in reports] == [(f"match {m.seq}", SettlementOutcome.FAILED)]
            tape = console.settlement.state_of(m)  # what the trade tape shows for this trade
            assert tape.state is SettlementState.FAILED and "EnforcedPause" in tape.detail
            assert s.balance(CAROL) == carol
            # Unpaused, the operator retries: it settles once.
            s.send(s.orders.functions.unpause(), OUTSIDER)
            assert await console.settlement.retry([m.seq]) == [m.seq]
            await until(lambda: [x.state for x in console.settlement.matches()] == [MatchState.SETTLED])
            assert s.balance(CAROL) == carol - 200  # 1 000 Wh × 200 / 1 000
            assert reports[-1].outcome is SettlementOutcome.SETTLED  # the failure alarm clears
            tape = console.settlement.state_of(m)
            assert tape.state is SettlementState.SETTLED and tape.tx is not None

            # BOB takes 100 Wh of a resting offer: his execute is a signed Order (IOC, the offer's product, a
            # buy at the offer's price), so this trade settles on chain like any other.
            offer = signed_body("alice", dep, product=product, side="sell", quantity=500, price=300, nonce=2)
            offer_id = (await http.post("/api/v1/trades/offer", json=offer)).json()["order"]["order_id"]
            bob = s.balance(BOB)
            taker = order_message(BOB, {"product": product, "side": "buy", "quantity": 100, "price": 300,
                                        "kind": "limit", "tif": "ioc", "nonce": 7})
            r = await http.put("/api/v1/trades/execute", headers={"Idempotency-Key": "take-0001"}, json={
                "participant": "bob", "offer_id": offer_id, "quantity": 100, "price": 300, "nonce": 7,
                "signature": sign("Order", taker, CHAIN_ID, KEYS[BOB], dep.addresses["OrderSettlement"])})
            assert r.status_code == 200, r.text
            assert [(t["quantity"], t["price"]) for t in r.json()["trades"]] == [(100, 300)]
            # The same signed execute under another key: the settlement store knows its nonce, nothing trades
            # (on chain no set of every execute is kept in memory for this).
            r = await http.put("/api/v1/trades/execute", headers={"Idempotency-Key": "take-0002"}, json={
                "participant": "bob", "offer_id": offer_id, "quantity": 100, "price": 300, "nonce": 7,
                "signature": sign("Order", taker, CHAIN_ID, KEYS[BOB], dep.addresses["OrderSettlement"])})
            assert r.status_code == 409 and r.json()["rule"] == "nonce-reused", r.text
        await until(lambda: [x.state for x in console.settlement.matches()] == [MatchState.SETTLED] * 2)
        assert len(s.orders.events.OrderSettled().get_logs(from_block=0)) == 2
        assert s.balance(BOB) == bob - 30  # 100 Wh × 300 / 1 000 into escrow
        await console.stop()


async def test_the_composition_root_wires_settlement_into_the_ordered_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """build(settings) with [chain], [market] and [api] on: the API signs in the deployment's domain and a
    trade between two demo houses settles on chain through the application's own parts."""
    import dataclasses

    from console.bootstrap import FieldSources, build
    from console.bootstrap_chain import chain_up
    from console.config import ChainSettings, default_config_path, load

    up = chain_up(free_port(), tmp_path / "deployments", "pw")
    try:
        monkeypatch.setenv("ENERGYNET_TEST_KEYSTORE_PASSWORD", "pw")
        houses = {"h1": Account.from_key(DEV_KEYS[1]).address, "h2": Account.from_key(DEV_KEYS[2]).address}
        write_participants(tmp_path, houses, {n: "t-" + n * 20 for n in houses})
        base = load(default_config_path())
        settings = dataclasses.replace(
            base,
            chain=ChainSettings(enabled=True, rpc=up.anvil.url, deployment=up.deployment_path, keystore=up.keystore,
                                password_env="ENERGYNET_TEST_KEYSTORE_PASSWORD", outbox=tmp_path / "outbox.db",
                                publish_status_s=0),
            market=dataclasses.replace(base.market, enabled=True, lot=100,
                                       journal_url=f"sqlite:///{tmp_path / 'market.sqlite'}"),
            api=dataclasses.replace(base.api, enabled=True, port=0, participants=tmp_path / "participants.toml"))
        app = build(settings, sources=lambda _s, _a: FieldSources([]))
        assert app.settlement is not None and app.api is not None, app.chain_error
        parts = app.parts()
        assert parts.index(app.market) < parts.index(app.settlement) < parts.index(app.api)  # type: ignore[arg-type]
        await app.start()
        try:
            contract = up.deployment.addresses["OrderSettlement"]
            async with httpx.AsyncClient(base_url=app.api.url, timeout=10) as http:
                assert (await http.get("/api/v1/domain")).json()["verifyingContract"] == contract
                t = int(time.time()) + 1800
                product = t - t % 900
                for pid, side, price in (("h1", "sell", 200), ("h2", "buy", 210)):
                    body = {"participant": pid, "product": product, "side": side, "quantity": 500, "price": price,
                            "nonce": 1, "kind": "limit", "tif": "gtc"}
                    body["signature"] = sign("Order", order_message(houses[pid], body), up.deployment.chain_id,
                                             DEV_KEYS[1 if pid == "h1" else 2], contract)
                    r = await http.post("/api/v1/trades/offer", json=body)
                    assert r.status_code == 201, r.text
            settlement = app.settlement
            await until(lambda: [m.state for m in settlement.matches()] == [MatchState.SETTLED], timeout=20)
            assert settlement.matches()[0].value == 100  # 500 Wh × 200 / 1 000
        finally:
            await app.stop()
    finally:
        up.anvil.stop()


async def test_a_restart_while_the_batch_waits_in_the_mempool_settles_it_once(tmp_path: Path) -> None:
    write_participants(tmp_path, NAMES)
    with Anvil(free_port()) as node:
        s = build_suite(connect(node.url))
        assert s.orders is not None
        dep = deployment(s)
        t = int(time.time()) + 1800
        product = t - t % 900
        s.w3.provider.make_request("evm_setAutomine", [False])  # nothing is mined until the test says so
        console = Console(tmp_path, node.url, dep, max_wait_s=0.05)
        await console.start()
        async with httpx.AsyncClient(base_url=console.api.url, timeout=10) as http:
            for body in (signed_body("alice", dep, product=product, side="sell", quantity=1000, price=200, nonce=1),
                         signed_body("carol", dep, product=product, side="buy", quantity=1000, price=250, nonce=1)):
                assert (await http.post("/api/v1/trades/offer", json=body)).status_code == 201
        await until(lambda: [m.state for m in console.settlement.matches()] == [MatchState.BATCHED])
        (key,) = {m.batch for m in console.settlement.matches()}
        assert key is not None
        await until(lambda: (rec := console.gateway.record(key)) is not None and rec.state.value == "sent")
        await console.stop()  # the signed batch is in the node's pool, not in a block

        console = Console(tmp_path, node.url, dep, max_wait_s=0.05)
        await console.start()
        await asyncio.sleep(0.5)  # it broadcasts the same bytes again ("already known")
        s.w3.provider.make_request("evm_mine", [])
        s.w3.provider.make_request("evm_setAutomine", [True])
        await until(lambda: [m.state for m in console.settlement.matches()] == [MatchState.SETTLED])
        assert len(s.orders.events.OrderSettled().get_logs(from_block=0)) == 1
        assert [m.batch for m in console.settlement.matches()] == [key]
        assert sum(1 for r in console.gateway.outbox.records(done=True, limit=100) if r.key.startswith("settle-")) == 1
        await console.stop()
