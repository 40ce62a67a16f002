"""`energynet chain up` makes the grid a participant the console's market-maker can trade for: it writes the
grid-maker's keystore, registers the account with its supply meter "grid-supply", funds its escrow and lets
Settlement pull it. Then the composition root's [market.maker] (from a config file naming that keystore)
quotes the feed-in and retail tariffs in every open product; a household's orders cross it; the grid's buy
settles from the escrow chain up funded and its sell is delivered by the grid-supply meter; every balance and
the savings vs the grid are computed by hand below."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from console import config as config_mod
from console.bootstrap import build_market_maker
from console.bootstrap_chain import DEMO_PASSWORD, GRID_MAKER_CREDITS, chain_up
from console.services.settlement import MatchState
from contracts.anvil import DEV_KEYS
from contracts.deploy import contract_at
from contracts.gateway import load_keystore
from core.market import Side
from core.market.maker import GridTariffs, quoted_products, saving_vs_grid
from tests.conftest import free_port
from tests.contracts.conftest import ALICE, CAROL, FEE, Suite, connect
from tests.support.market_console import (
    NAMES,
    Console,
    deliver_and_pay_out,
    signed_body,
    until,
    write_participants,
)

pytestmark = pytest.mark.contracts
GRID = Account.from_key(DEV_KEYS[8]).address
HOUSE_01 = Web3.keccak(text="house-01")  # ALICE's meter as chain up registers it (house-01 is dev key 1)
GRID_SUPPLY = Web3.keccak(text="grid-supply")
# A config needs one field device; nothing here connects to it.
DEVICE = ('[[modbus]]\nname = "house-01"\nparticipant = "house-01"\nasset = "meter"\nhost = "127.0.0.1"\n'
          'port = 5020\ndevice_id = 1\nprofile = "eastron_sdm630.toml"\n\n')


def suite_of(url: str, addresses: dict[str, str]) -> Suite:
    w3 = connect(url)

    def c(name: str, key: str | None = None) -> object:
        return contract_at(w3, name, addresses[key or name])

    return Suite(w3, c("EnergyNetCredit", "SettlementToken"), c("MeterReading"), c("Settlement"),  # type: ignore[arg-type]
                 c("EnergyTrade"), c("GridBalance"), c("AchievementNFT"), c("OrderSettlement"))  # type: ignore[arg-type]


async def test_chain_up_makes_the_grid_a_funded_participant_whose_quotes_trade_and_pay_out(tmp_path: Path) -> None:
    up = chain_up(free_port(), tmp_path)
    try:
        dep = up.deployment
        s = suite_of(up.anvil.url, dep.addresses)
        # The keystore: private to its owner, the grid's account under the demo password (its key not shown).
        assert up.maker_keystore == tmp_path / "31337-grid-maker.keystore.json"
        assert stat.S_IMODE(up.maker_keystore.stat().st_mode) == 0o600
        assert load_keystore(up.maker_keystore, DEMO_PASSWORD).address == GRID
        # On chain: a participant named grid-maker, its supply meter read through its own account, credits,
        # and Settlement allowed to pull them.
        assert s.meter.functions.isParticipant(GRID).call()
        names = {e.args.account: e.args.name for e in s.meter.events.ParticipantRegistered().get_logs(from_block=0)}
        assert names[GRID] == "grid-maker"
        participant, device, *_ = s.meter.functions.meters(GRID_SUPPLY).call()
        assert (participant, device) == (GRID, GRID)
        assert s.balance(GRID) == GRID_MAKER_CREDITS == 100_000 * 10**6
        assert s.token.functions.allowance(GRID, dep.addresses["Settlement"]).call() == 2**255

        # The console: [market.maker] from a config file, built by the composition root.
        config = tmp_path / "console.toml"
        config.write_text(DEVICE + '[market]\nenabled = true\n\n[market.maker]\nenabled = true\n'
                          f'keystore = "{up.maker_keystore}"\n\n[chain]\nenabled = true\nrpc = "{up.anvil.url}"\n'
                          f'deployment = "{up.deployment_path}"\nkeystore = "{up.keystore}"\n')
        settings = config_mod.load(config)
        write_participants(tmp_path, {n: NAMES[n] for n in ("alice", "carol")})
        s.reading(HOUSE_01, 0, 0, device=ALICE)  # each seller's meter baseline (a first reading sets its zero)
        s.reading(GRID_SUPPLY, 0, 0, device=GRID)
        start = {who: s.balance(who) for who in (ALICE, GRID, CAROL, FEE)}
        console = Console(tmp_path, up.anvil.url, dep, max_wait_s=0.05)
        maker = build_market_maker(settings, console.market, console.settlement)
        assert maker is not None and maker.signer.address == GRID
        assert maker.tariffs == GridTariffs(feed_in=80, retail=320, size_wh=10_000, products=8)
        await console.start()
        try:
            market = console.market

            def book() -> dict[int, tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]]:
                return {d.product: (d.bids, d.asks) for d in market.snapshot().products}

            await maker.step()
            quoted = quoted_products(market.rules, market.now(), 8)
            assert len(quoted) == 8  # trading opens a day ahead: the next 8 quarter hours are all open
            assert all(book()[p] == (((80, 10_000),), ((320, 10_000),)) for p in quoted)
            product = quoted[1]  # 15–30 min ahead: settles well before its delivery starts
            async with httpx.AsyncClient(base_url=console.api.url, timeout=10) as http:
                async def offer(name: str, side: str, quantity: int, price: int, nonce: int) -> list[tuple[int, int]]:
                    r = await http.post("/api/v1/trades/offer", json=signed_body(
                        name, dep, product=product, side=side, quantity=quantity, price=price, nonce=nonce))
                    assert r.status_code == 201, r.text
                    return [(t["quantity"], t["price"]) for t in r.json()["trades"]]

                # ALICE sells 3 000 Wh asking 70: the grid's bid buys it at the feed-in tariff, 80.
                assert await offer("alice", "sell", 3000, 70, 1) == [(3000, 80)]
                # CAROL buys 10 000 Wh bidding 400: the whole of the grid's ask, at the retail tariff, 320.
                assert await offer("carol", "buy", 10_000, 400, 1) == [(10_000, 320)]
                assert book()[product] == (((80, 7_000),), ())
                # Peer to peer inside the spread: ALICE asks 150 for 2 000 Wh, CAROL's bid of 200 takes it at 150.
                assert await offer("alice", "sell", 2000, 150, 2) == []
                assert await offer("carol", "buy", 2000, 200, 2) == [(2000, 150)]
            # The book is never left without the grid: its next step puts a full ask back (the bid has 7 000 of
            # 10 000 left, above half: kept with its time priority).
            await maker.step()
            assert book()[product] == (((80, 7_000),), ((320, 10_000),))
            assert all(book()[p] == (((80, 10_000),), ((320, 10_000),)) for p in quoted if p != product)

            # Savings vs the grid on the peer-to-peer trade, 2 kWh at 150: CAROL would have paid the retail 320,
            # (320 − 150) × 2 = 340; ALICE would have got the feed-in 80, (150 − 80) × 2 = 140. Against the
            # grid itself nobody saves: ALICE's 3 kWh at 80 saved (80 − 80) × 3 = 0.
            tariffs = maker.tariffs
            assert saving_vs_grid(Side.BUY, 150, 2000, tariffs) == 340
            assert saving_vs_grid(Side.SELL, 150, 2000, tariffs) == 140
            assert saving_vs_grid(Side.SELL, 80, 3000, tariffs) == 0

            await until(lambda: len(console.settlement.matches()) == 3
                        and all(m.state is MatchState.SETTLED for m in console.settlement.matches()), timeout=60)
            # Escrow: the grid pays 3 000 × 80 / 1 000 = 240 (from what chain up minted it); CAROL pays
            # 10 000 × 320 / 1 000 = 3 200 to the grid and 2 000 × 150 / 1 000 = 300 to ALICE.
            assert s.balance(GRID) == start[GRID] - 240
            assert s.balance(CAROL) == start[CAROL] - 3_500

            s.reading(HOUSE_01, 0, 5_000, device=ALICE)  # ALICE's export: 3 000 to the grid, 2 000 to CAROL
            s.reading(GRID_SUPPLY, 0, 10_000, device=GRID)  # the grid's supply into the community
            await deliver_and_pay_out(s, console, product, timeout=60)
        finally:
            await console.stop()
        for who in (ALICE, GRID, FEE):  # CAROL got all she paid for: nothing to withdraw
            s.send(s.settlement.functions.withdraw(), who)
        # Fee 0.5 %, rounded down per trade: 240 → 1, 3 200 → 16, 300 → 1.
        assert s.balance(ALICE) - start[ALICE] == (240 - 1) + (300 - 1)
        assert s.balance(GRID) - start[GRID] == (3_200 - 16) - 240
        assert s.balance(CAROL) - start[CAROL] == -3_500
        assert s.balance(FEE) - start[FEE] == 1 + 16 + 1
    finally:
        up.anvil.stop()


def test_the_maker_without_its_keystore_is_off_and_says_how_to_get_one(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A non-demo install that turns [market.maker] on before `chain up` wrote the keystore: no maker, a
    warning naming the file and the command; the market itself runs (build_market_maker returns None)."""
    import time

    from console.services.market import MarketService
    from core.market import MarketRules

    config = tmp_path / "console.toml"
    config.write_text(DEVICE + '[market]\nenabled = true\n\n[market.maker]\nenabled = true\n'
                      f'keystore = "{tmp_path / "31337-grid-maker.keystore.json"}"\n')
    settings = config_mod.load(config)
    market = MarketService(MarketRules(), None, clock=time.time)  # type: ignore[arg-type]  # never started
    with caplog.at_level("WARNING"):
        assert build_market_maker(settings, market, None) is None
    assert f"its keystore {tmp_path / '31337-grid-maker.keystore.json'} does not exist" in caplog.text
    assert "energynet chain up" in caplog.text


def test_the_demo_starts_the_maker_with_the_chain_signing_with_the_keystore_chain_up_wrote(tmp_path: Path) -> None:
    """resources/world.toml has the market and the maker on: the demo's first build has the maker off (its
    keystore is not written yet), its book in the demo folder; once the chain is up the maker is on with the
    grid-maker keystore of the demo folder and signs as the grid in OrderSettlement's domain."""
    import time

    from console.bootstrap_chain import GRID_MAKER_KEY, maker_keystore_path
    from console.bootstrap_demo import DemoChain, chain_settings, demo_market, demo_settings
    from console.services.market import MarketService
    from contracts.gateway import write_keystore
    from core.market import MarketRules

    world = demo_settings()
    assert world.market.enabled and world.market.maker.enabled
    first, late = demo_market(world, tmp_path)
    assert late and not first.market.maker.enabled
    assert first.market.journal_url == f"sqlite:///{tmp_path}/market.db"
    keystore = write_keystore(maker_keystore_path(tmp_path, 31337), GRID_MAKER_KEY, DEMO_PASSWORD)
    up = DemoChain("http://127.0.0.1:1", tmp_path / "31337.json", tmp_path / "31337-operator.keystore.json", keystore)
    with_chain = chain_settings(first, up, maker=late)
    assert with_chain.market.maker.enabled and with_chain.market.maker.keystore == keystore
    assert chain_settings(first, up, maker=False).market.maker.enabled is False  # a config with the maker off
    market = MarketService(MarketRules(), None, clock=time.time)  # type: ignore[arg-type]  # never started
    maker = build_market_maker(with_chain, market, None)
    assert maker is not None and maker.signer.address == GRID
    assert maker.tariffs == GridTariffs(feed_in=80, retail=320, size_wh=10_000, products=8)
