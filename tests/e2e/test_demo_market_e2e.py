"""The demo's market end to end: `chain up --participants` registers the World's households, a household of
the trader fleet (its own key, its own HTTP client: drivers/sim/traders) lets Settlement pull its buys and
buys its shortfall from the grid's market-maker through the participant API; the meter reporter puts the
grid-supply meter (the World's transformer, on its real Modbus face) on chain with the grid-maker's key;
the trade settles against that metered delivery and pays out. Balances are computed by hand below."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from eth_account import Account
from web3 import Web3

from console import config as config_mod
from console.bootstrap import build_market_maker
from console.bootstrap_chain import GRID_MAKER_KEY, chain_up, register_participants
from console.services.settlement import MatchState
from core.market.maker import quoted_products
from drivers.sim.agents.meter_reporter import MeterReporter, ModbusCounters, grid_supply_meter, meters_of
from drivers.sim.traders.escrow import approve_settlement
from drivers.sim.traders.fleet import Market, Stats, Trader
from drivers.sim.traders.households import api_participants_toml, load
from drivers.sim.world.clock import WorldClock, utc
from drivers.sim.world.modbus_face import GRID_SUPPLY_UNIT, WorldModbusServer
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.participants import write_participants
from drivers.sim.world.runner import WorldRunner
from drivers.sim.world.snapshot import grid_supply_reading
from tests.conftest import free_port
from tests.contracts.conftest import FEE
from tests.e2e.test_chain_up_maker_e2e import DEVICE, suite_of
from tests.support.market_console import Console, until, warp_to

pytestmark = [pytest.mark.e2e, pytest.mark.contracts, pytest.mark.timeout(150)]
GRID = Account.from_key(GRID_MAKER_KEY).address
GRID_SUPPLY = Web3.keccak(text="grid-supply")


def f32_wh(wh: float) -> int:
    """What the SDM630 registers carry (float32 kWh), back in whole Wh."""
    return round(float(np.float32(wh / 1000)) * 1000)


async def test_a_household_buys_from_the_grid_through_the_api_and_the_metered_grid_supply_pays_it(
        tmp_path: Path) -> None:
    # A December evening: no PV, the community draws from the upstream grid (the grid-supply meter's export).
    world = World(WorldConfig(clock=WorldClock(start=utc(2026, 12, 2, 17), tick_s=10.0), load_noise=0.0,
                              battery_fcr=False))
    runner = WorldRunner(world)  # stepped by the test
    modbus = WorldModbusServer(runner, port=free_port(), households=2)
    await modbus.start()
    book = write_participants(tmp_path / "participants.json", world.participants, modbus.devices,
                              host="127.0.0.1", modbus_port=modbus.port, seed=1,
                              start=datetime(2026, 12, 2, 17, tzinfo=UTC), scrypt_n=2**4)
    up = chain_up(free_port(), tmp_path, houses=False)
    counters = ModbusCounters("127.0.0.1", modbus.port)
    reporter: MeterReporter | None = None
    try:
        register_participants(up.anvil.url, up.deployment, book.path, tmp_path, wait_s=1)
        s = suite_of(up.anvil.url, up.deployment.addresses)
        reporter = MeterReporter(up.anvil.url, up.deployment, [*meters_of(book), grid_supply_meter(GRID_MAKER_KEY)],
                                 counters, interval_s=1.0)

        async def step(seconds: float) -> None:
            await runner.call(lambda w: w.run_for(seconds))
            runner._snapshot = world.snapshot  # what the face serves: the world after the step

        # The grid-supply meter is on the face at its own unit, and its first reading (its zero) on chain,
        # sent by the grid-maker's account (the meter's registered device): the grid's import and export.
        await step(600)
        truth0 = tuple(f32_wh(x) for x in grid_supply_reading(world.snapshot))
        assert truth0[1] > 1_000  # 10 evening minutes: the community drew from the grid
        await reporter.round()
        _p, device, ts0, _t, imported, exported = s.meter.functions.meters(GRID_SUPPLY).call()
        assert (device, (imported, exported)) == (GRID, truth0) and ts0 > 0
        assert reporter.state["grid-supply"].sent == 1 and GRID_SUPPLY_UNIT == 247

        # The console's market side with the grid's market-maker ([market.maker] from a config file).
        households = load(book.path)  # the fleet's households: keys decrypted from their own keystores
        buyer = households[0]
        (tmp_path / "participants.toml").write_text(api_participants_toml(households))
        config = tmp_path / "console.toml"
        config.write_text(DEVICE + '[market]\nenabled = true\n\n[market.maker]\nenabled = true\n'
                          f'keystore = "{up.maker_keystore}"\n\n[chain]\nenabled = true\nrpc = "{up.anvil.url}"\n'
                          f'deployment = "{up.deployment_path}"\nkeystore = "{up.keystore}"\n')
        console = Console(tmp_path, up.anvil.url, up.deployment, max_wait_s=0.05)
        maker = build_market_maker(config_mod.load(config), console.market, console.settlement)
        assert maker is not None and maker.signer.address == GRID
        # The household lets Settlement pull its buys, signed with its own key (nothing twice: a second call
        # sends nothing).
        assert approve_settlement(up.anvil.url, up.deployment, [buyer], wait_s=5) == 1
        assert approve_settlement(up.anvil.url, up.deployment, [buyer], wait_s=5) == 0
        start = {who: s.balance(who) for who in (buyer.address, GRID, FEE)}
        await console.start()
        try:
            await maker.step()
            product = quoted_products(console.market.rules, console.market.now(), 8)[1]
            async with httpx.AsyncClient(base_url=console.api.url, timeout=10) as http:
                pub = (await http.get("/api/v1/eip712")).json()
                trader = Trader(buyer, http, Market(pub["domain"], pub["types"], pub["encodings"]), Stats())
                # Its shortfall of 1 000 Wh as a market order without its own limit: the grid's ask, 320.
                await trader.offer("market", product=product, side="buy", quantity=1000, kind="market-with-limit",
                                   tif="ioc")
                assert dict(trader.stats.status["market"]) == {201: 1}, trader.stats.refusals
                history = (await http.get("/api/v1/trades/history", headers=trader.auth)).json()
            assert [(t["quantity"], t["price"]) for t in history] == [(1000, 320)]
            await until(lambda: [m.state for m in console.settlement.matches()] == [MatchState.SETTLED], 60)
            # Escrow: 1 000 Wh × 320 / 1 000 = 320 base units from the household.
            assert s.balance(buyer.address) == start[buyer.address] - 320

            # Delivery: 15 more minutes of the evening; the reporter's next round puts the grid's counters on
            # chain (one batch, the new reading only), the grid's export since its zero covers the 1 000 Wh.
            await step(900)
            truth1 = tuple(f32_wh(x) for x in grid_supply_reading(world.snapshot))
            assert truth1[1] - truth0[1] > 1000
            await reporter.round()  # before the delivery ends on chain: the settlement proposes at once then
            warp_to(s, product + 900)
            assert tuple(s.meter.functions.meters(GRID_SUPPLY).call()[4:6]) == truth1
            assert reporter.state["grid-supply"].sent == 2
            assert s.meter.functions.participants(GRID).call()[3] == truth1[1] - truth0[1]  # exported Wh
            await until(lambda: [m.state for m in console.settlement.matches()] == [MatchState.DELIVERED], 60)
            assert console.settlement.matches()[0].delivered_wh == 1000
            warp_to(s, s.now() + 3601)  # past the dispute window
            await until(lambda: [m.state for m in console.settlement.matches()] == [MatchState.PAID], 60)
        finally:
            await console.stop()
        s.send(s.settlement.functions.withdraw(), GRID)
        s.send(s.settlement.functions.withdraw(), FEE)
        # Fee 0.5 %, rounded down: 320 → 1. The grid gets 319, the household paid 320.
        assert s.balance(buyer.address) - start[buyer.address] == -320
        assert s.balance(GRID) - start[GRID] == 319
        assert s.balance(FEE) - start[FEE] == 1
        # Every grid-supply reading went on chain once: two readings, two batches.
        stamps = [int(e.args.timestamp) for e in s.meter.events.ReadingRecorded().get_logs(from_block=0)
                  if bytes(e.args.meterId) == bytes(GRID_SUPPLY)]
        assert len(stamps) == 2 and stamps[0] == ts0
    finally:
        counters.close()
        if reporter is not None:
            await reporter.w3.provider.disconnect()
        up.anvil.stop()
        await modbus.stop()


def test_the_demo_builds_the_api_late_on_loopback_and_starts_the_traders_with_the_chain(tmp_path: Path) -> None:
    """resources/world.toml has [api] off: the demo turns it on for itself, on 127.0.0.1, port 8600 or a free
    one when taken, its participants file (empty until the traders write it) in the demo folder; the first
    build keeps it off (the API is built with the settlement, once the chain is up). The traders are told the
    chain, so each household approves Settlement before it trades, and the market's rules."""
    import socket

    from console.bootstrap_demo import DemoChain, chain_settings, demo_api, demo_settings, traders_argv

    world = demo_settings()
    assert world.market.enabled and not world.api.enabled
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        api = demo_api(world, tmp_path, port=taken.getsockname()[1])
        assert api is not None and api.port != taken.getsockname()[1] and api.port > 0
    assert (api.enabled, api.host, api.participants) == (True, "127.0.0.1", tmp_path / "api-participants.toml")
    assert api.participants.read_text() == ""
    up = DemoChain("http://127.0.0.1:1", tmp_path / "31337.json", tmp_path / "31337-operator.keystore.json")
    argv = traders_argv(chain_settings(world, up), "http://127.0.0.1:8600", tmp_path / "participants.json",
                        api.participants)
    i = argv.index("traders")
    assert argv[i:] == ["traders", "--rpc", "http://127.0.0.1:1", "--deployment", str(tmp_path / "31337.json"),
                        "--participants", str(tmp_path / "participants.json"), "--api", "http://127.0.0.1:8600",
                        "--api-participants", str(api.participants), "--wait", "120", "--interval", "12",
                        "--reference-price", "250", "--lot", "100", "--tick", "1", "--gate-closure", "300"]
    assert "--rpc" not in traders_argv(world, "http://x", tmp_path / "p.json", api.participants)  # chain off
