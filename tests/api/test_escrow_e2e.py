"""Insufficient escrow end to end: a real anvil with the suite deployed, the real API server over HTTP, the
buyer's token balance and allowance to Settlement read on chain. Only the market's clock is mocked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from console.api.app import ApiServer, create_app
from console.api.participants import ParticipantDirectory
from console.services.escrow import EscrowService, FundsUnknown
from console.services.market import MarketService
from console.store.market_journal import SqlMarketJournal
from contracts.anvil import DEV_KEYS, Anvil
from contracts.deploy import Deployment, contract_at, deploy_suite, signing_web3, transact
from contracts.funds import TokenFunds
from core.market import MarketRules
from tests.api.conftest import CHAIN_ID, NOW, Clock, Trader, write_participants
from tests.conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# bob: balance 1000 base units, allowance 600 → he can escrow min(1000, 600) = 600.
# carol: balance 50, allowance 10**9 → she can escrow 50.  alice only sells.
FUNDS = {"bob": (1000, 600), "carol": (50, 10**9), "alice": (0, 0)}


@dataclass
class Chain:
    anvil: Anvil
    deployment: Deployment
    traders: dict[str, Trader]


@pytest.fixture
def chain() -> Iterator[Chain]:
    """Sync web3 here, before the test's loop runs (never on the loop's thread while it runs)."""
    anvil = Anvil(free_port()).start()
    try:
        admin = Account.from_key(DEV_KEYS[0])
        w3 = signing_web3(anvil.url, admin)
        dep = deploy_suite(w3)
        token = contract_at(w3, "EnergyNetCredit", dep.addresses["EnergyNetCredit"])
        traders: dict[str, Trader] = {}
        for i, (name, (balance, allowance)) in enumerate(FUNDS.items(), start=1):
            acct = Account.from_key(DEV_KEYS[i])
            traders[name] = Trader(name, DEV_KEYS[i], acct.address, f"token-of-{name}-0123456789abcdef")
            if balance:
                transact(w3, token.functions.mint(acct.address, balance))
            if allowance:
                own = signing_web3(anvil.url, acct)
                transact(own, contract_at(own, "EnergyNetCredit", token.address).functions.approve(
                    dep.addresses["Settlement"], allowance))
        yield Chain(anvil, dep, traders)
    finally:
        anvil.stop()


@dataclass
class Api:
    client: httpx.AsyncClient
    market: MarketService
    chain: Chain


@pytest.fixture
async def api(chain: Chain, tmp_path: Path) -> AsyncIterator[Api]:
    path = tmp_path / "participants.toml"
    write_participants(path, chain.traders, suspended=set())
    rules = MarketRules(tick=5, lot=100, max_price=1000)
    market = MarketService(rules, SqlMarketJournal(f"sqlite:///{tmp_path / 'market.sqlite'}"), clock=Clock(NOW))
    await market.start()
    # ttl 0: every check reads the chain, so the test sees each change at once
    funds = TokenFunds(chain.anvil.url, chain.deployment.addresses["EnergyNetCredit"],
                       chain.deployment.addresses["Settlement"])
    escrow = EscrowService(funds, max_price=rules.max_price, ttl_s=0.0)
    app = create_app(market, ParticipantDirectory.load(path), rate_per_s=1000, burst=1000, chain_id=CHAIN_ID,
                     escrow=escrow)
    server = ApiServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            yield Api(client, market, chain)
    finally:
        await server.stop()  # closes the escrow's RPC session too
        await market.stop()


async def offer(a: Api, who: str, **fields: Any) -> httpx.Response:
    return await a.client.post("/api/v1/trades/offer", json=a.chain.traders[who].order(**fields))


def problem(resp: httpx.Response, status: int, field: str | None, rule: str) -> str:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert (body["field"], body["rule"]) == (field, rule), body
    return str(body["detail"])


def open_buys(a: Api, who: str) -> list[tuple[int, int | None]]:
    return [(v.remaining, v.price) for v in a.market.orders_of(who, open_only=True)]


async def test_a_buy_beyond_the_buyers_escrow_is_refused_with_the_amounts(api: Api) -> None:
    # 2000 Wh at 200 per kWh escrows 2000 × 200 / 1000 = 400 of bob's 600: it rests (nothing to sell yet).
    first = await offer(api, "bob", side="buy", quantity=2000, price=200)
    assert first.status_code == 201, first.text
    # 1100 Wh at 200 escrows 220; 400 held + 220 = 620 > 600, 20 short.
    detail = problem(await offer(api, "bob", side="buy", quantity=1100, price=200), 422, "quantity",
                     "insufficient-escrow")
    assert "escrows 220 base units; open buys hold 400 of the 600 available (balance 1000, allowance to " \
           "Settlement 600): 20 short" in detail, detail
    assert open_buys(api, "bob") == [(2000, 200)]  # nothing of the refused order was applied
    # 1000 Wh at 200 escrows exactly the 200 left: 400 + 200 = 600 ≤ 600.
    assert (await offer(api, "bob", side="buy", quantity=1000, price=200)).status_code == 201
    assert open_buys(api, "bob") == [(2000, 200), (1000, 200)]
    # Now even the smallest buy is too much: 100 Wh at 5 escrows ceil(100 × 5 / 1000) = ceil(0.5) = 1 > 0 left.
    detail = problem(await offer(api, "bob", side="buy", quantity=100, price=5), 422, "quantity",
                     "insufficient-escrow")
    assert "escrows 1 base units; open buys hold 600 of the 600" in detail and ": 1 short" in detail, detail
    # A sell needs no escrow: alice, who holds nothing, sells 500 Wh into bob's best bid (200, the older one).
    sold = await offer(api, "alice", side="sell", quantity=500, price=200)
    assert sold.status_code == 201, sold.text
    assert [(t["quantity"], t["price"]) for t in sold.json()["trades"]] == [(500, 200)]
    # Bob's open buys now hold (2000 − 500) × 200 / 1000 = 300 + 200 = 500 (the trade is not settled on chain,
    # so his balance is still 1000): 100 left. 600 Wh at 200 (= 120) does not fit, 500 + 120 − 600 = 20 short;
    # 500 Wh at 200 (= 100) does.
    detail = problem(await offer(api, "bob", side="buy", quantity=600, price=200), 422, "quantity",
                     "insufficient-escrow")
    assert "escrows 120 base units; open buys hold 500 of the 600" in detail and ": 20 short" in detail, detail
    assert (await offer(api, "bob", side="buy", quantity=500, price=200)).status_code == 201


async def test_balance_not_allowance_can_be_what_limits(api: Api) -> None:
    # carol: balance 50, allowance 10**9 → 50. 300 Wh at 150 escrows 45 (fits); then 100 Wh at 100 escrows 10:
    # 45 + 10 = 55 > 50, 5 short.
    assert (await offer(api, "carol", side="buy", quantity=300, price=150)).status_code == 201
    detail = problem(await offer(api, "carol", side="buy", quantity=100, price=100), 422, "quantity",
                     "insufficient-escrow")
    assert "open buys hold 45 of the 50 available (balance 50, allowance to Settlement 1000000000): 5 short" \
        in detail, detail


async def test_a_buy_without_a_limit_is_reserved_at_the_max_price(api: Api) -> None:
    # A market-with-limit buy with no own price may trade up to max_price 1000: 700 Wh escrows up to 700 > 600.
    detail = problem(await offer(api, "bob", side="buy", quantity=700, price=None, kind="market-with-limit",
                                 tif="ioc"), 422, "quantity", "insufficient-escrow")
    assert "at up to 1000 (no limit given) escrows 700 base units; open buys hold 0 of the 600" in detail, detail


async def test_chain_down_makes_the_funds_unknown_and_nothing_is_applied(api: Api) -> None:
    api.chain.anvil.kill()
    detail = problem(await offer(api, "bob", side="buy", quantity=1000, price=200), 503, None, "funds-unknown")
    assert api.chain.traders["bob"].address in detail
    assert open_buys(api, "bob") == []
    # A sell does not depend on the chain's answer.
    assert (await offer(api, "alice", side="sell", quantity=1000, price=200)).status_code == 201


async def test_funds_are_cached_for_the_ttl_and_unknown_after_it_when_the_chain_is_gone(chain: Chain) -> None:
    clock = Clock(0.0)
    funds = TokenFunds(chain.anvil.url, chain.deployment.addresses["EnergyNetCredit"],
                       chain.deployment.addresses["Settlement"])
    escrow = EscrowService(funds, max_price=1000, ttl_s=5.0, clock=clock)
    try:
        bob = chain.traders["bob"].address
        assert await escrow.funds(bob) == (1000, 600)
        chain.anvil.kill()
        clock.t = 4.9  # within the 5 s: the cached figures, no call
        assert await escrow.funds(bob) == (1000, 600)
        clock.t = 5.0  # 5 s old is stale: the chain is asked, and it is gone
        with pytest.raises(FundsUnknown, match=bob):
            await escrow.funds(bob)
    finally:
        await escrow.close()


async def test_taking_an_offer_is_a_buy_that_must_fit_too(api: Api) -> None:
    sell = await offer(api, "alice", side="sell", quantity=4000, price=200)
    assert sell.status_code == 201, sell.text
    offer_id = sell.json()["order"]["order_id"]
    bob = api.chain.traders["bob"]
    # Taking 3100 Wh at the offer's 200 escrows 3100 × 200 / 1000 = 620 > bob's 600: 20 short.
    resp = await api.client.put("/api/v1/trades/execute", json=bob.execute(offer_id, 3100, 200),
                                headers={"Idempotency-Key": "take-3100-a"})
    assert "escrows 620 base units; open buys hold 0 of the 600" in problem(resp, 422, "quantity",
                                                                            "insufficient-escrow")
    assert api.market.orders_of("bob") == []  # nothing of it reached the book
    # 3000 Wh escrows exactly 600: it trades.
    resp = await api.client.put("/api/v1/trades/execute", json=bob.execute(offer_id, 3000, 200),
                                headers={"Idempotency-Key": "take-3000-b"})
    assert resp.status_code == 200, resp.text
    assert [(t["quantity"], t["price"]) for t in resp.json()["trades"]] == [(3000, 200)]
