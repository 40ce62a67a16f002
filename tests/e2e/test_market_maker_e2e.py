"""The grid's market-maker on anvil: it quotes the feed-in and retail tariffs with orders signed by the grid's
own key; a household's surplus sold through the API is bought at the feed-in tariff, another household's
shortfall is supplied at the retail tariff; both trades settle on chain against metered delivery (the
household's meter, and the grid's supply meter for what the grid sold) and pay out exactly (by hand below)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from console.api.signer import KeystoreOrderSigner
from console.services.market_maker import MarketMakerService
from console.services.settlement import MatchState
from contracts.anvil import CHAIN_ID, Anvil
from core.market.maker import GridTariffs, quoted_products
from tests.conftest import free_port
from tests.contracts.conftest import ALICE, BOB, CAROL, FEE, METER_A, METER_B, build_suite, connect
from tests.support.market_console import (
    KEYS,
    NAMES,
    Console,
    deliver_and_pay_out,
    deployment,
    signed_body,
    until,
    write_participants,
)

pytestmark = pytest.mark.contracts
GRID = BOB  # the grid's account in this test: registered, funded, its meter METER_B is the grid's supply meter


async def test_the_grid_buys_at_feed_in_sells_at_retail_and_both_trades_pay_out(tmp_path: Path) -> None:
    write_participants(tmp_path, {n: a for n, a in NAMES.items() if a != GRID})
    with Anvil(free_port()) as node:
        s = build_suite(connect(node.url))
        dep = deployment(s)
        s.reading(METER_A, 0, 0)
        s.reading(METER_B, 0, 0)
        start = {who: s.balance(who) for who in (ALICE, GRID, CAROL, FEE)}
        console = Console(tmp_path, node.url, dep, max_wait_s=0.05)
        signer = KeystoreOrderSigner(Account.from_key(KEYS[GRID]), CHAIN_ID, dep.addresses["OrderSettlement"])
        maker = MarketMakerService(console.market, GridTariffs(feed_in=80, retail=320, size_wh=5_000, products=2),
                                   signer, console.settlement, every_s=3600)
        await console.start()
        try:
            await maker.step()
            quoted = quoted_products(console.market.rules, console.market.now(), 2)
            mine = console.market.orders_of("grid-maker", open_only=True)
            assert sorted((o.product, o.side.value, o.price, o.remaining) for o in mine) == sorted(
                (p, side, price, 5_000) for p in quoted for side, price in (("buy", 80), ("sell", 320)))
            product = quoted[1]  # 15–30 min ahead: settles well before its delivery starts
            async with httpx.AsyncClient(base_url=console.api.url, timeout=10) as http:
                # ALICE sells 3 000 Wh asking 70: takes the grid's resting buy at its price, 80.
                r = await http.post("/api/v1/trades/offer", json=signed_body(
                    "alice", dep, product=product, side="sell", quantity=3000, price=70, nonce=1))
                assert r.status_code == 201, r.text
                assert [(t["quantity"], t["price"]) for t in r.json()["trades"]] == [(3000, 80)]
                # CAROL buys 2 000 Wh bidding up to 400: the grid's resting sell at 320.
                r = await http.post("/api/v1/trades/offer", json=signed_body(
                    "carol", dep, product=product, side="buy", quantity=2000, price=400, nonce=1))
                assert r.status_code == 201, r.text
                assert [(t["quantity"], t["price"]) for t in r.json()["trades"]] == [(2000, 320)]

            # 5 000 − 3 000 = 2 000 Wh left of the buy quote (below half): topped up by 3 000; the sell quote
            # has 3 000 left (not below half): kept.
            await maker.step()
            mine = [o for o in console.market.orders_of("grid-maker", open_only=True) if o.product == product]
            assert sorted((o.side.value, o.remaining) for o in mine) == [("buy", 2_000), ("buy", 3_000),
                                                                           ("sell", 3_000)]

            await until(lambda: len(console.settlement.matches()) == 2
                        and all(m.state is MatchState.SETTLED for m in console.settlement.matches()), timeout=30)
            # Escrow: the grid pays 3 000 Wh × 80 / 1 000 = 240, CAROL 2 000 × 320 / 1 000 = 640.
            assert s.balance(GRID) == start[GRID] - 240 and s.balance(CAROL) == start[CAROL] - 640

            s.reading(METER_A, 0, 3_000)  # ALICE's export
            s.reading(METER_B, 0, 2_000)  # what the grid's supply meter delivered into the community
            await deliver_and_pay_out(s, console, product, timeout=30)
        finally:
            await console.stop()
        for who in (ALICE, GRID, FEE):  # CAROL got all she paid for: nothing to withdraw (NothingOwed)
            s.send(s.settlement.functions.withdraw(), who)
        # Fee 0.5 %, rounded down: 240 → 1 (ALICE gets 239), 640 → 3 (the grid gets 637, less its 240 escrow).
        assert s.balance(ALICE) - start[ALICE] == 239
        assert s.balance(GRID) - start[GRID] == 637 - 240
        assert s.balance(CAROL) - start[CAROL] == -640
        assert s.balance(FEE) - start[FEE] == 4


def test_the_maker_signs_only_its_own_account() -> None:
    """A desk order for another participant is refused before anything is signed or sent."""
    import asyncio

    from console.services.market import MarketService
    from core.market import MarketRules, OrderSpec, Side

    class Journal:  # never reached: the refusal comes first
        pass

    market = MarketService(MarketRules(), Journal(), clock=time.time)  # type: ignore[arg-type]
    signer = KeystoreOrderSigner(Account.from_key(KEYS[GRID]), CHAIN_ID, None)
    maker = MarketMakerService(market, GridTariffs(80, 320, 1000), signer, None)
    spec = OrderSpec("", "alice", 0, Side.BUY, 100, 100)
    with pytest.raises(ValueError, match="only for 'grid-maker'"):
        asyncio.run(maker.submit(spec))
