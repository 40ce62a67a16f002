"""Simulated participants answer demand response as a home energy manager would: each agent follows the
chain with its own key, opts in, curtails its flexible load and discharges its battery in the World through
the world's Modbus face for exactly the event window (chain time), restores them, and claims what the oracle
verified - to the base unit. Real anvil, real World model behind a real pymodbus server."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3
from web3.logs import DISCARD
from web3.middleware import SignAndSendRawMiddlewareBuilder

from console.bootstrap_chain import ChainUp, chain_up
from contracts.anvil import DEV_KEYS
from contracts.deploy import contract_at
from drivers.sim.agents.dr_agent import DrAgent, HomeDevices, Policy
from drivers.sim.world.clock import WorldClock, utc
from drivers.sim.world.modbus_face import WorldDevice, WorldModbusServer
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.runner import WorldRunner
from tests.conftest import free_port, until

pytestmark = [pytest.mark.drivers, pytest.mark.contracts, pytest.mark.timeout(120)]
ACCOUNTS = [Account.from_key(k) for k in DEV_KEYS]
OPERATOR, HOUSE_A, HOUSE_B = ACCOUNTS[0], ACCOUNTS[1], ACCOUNTS[2]


@dataclass
class Setup:
    up: ChainUp
    world: World
    modbus: WorldModbusServer
    w3: Web3
    grid: Any
    meter: Any
    token: Any

    def send(self, call: Any, sender: str) -> Any:
        receipt = self.w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}), poll_latency=0.02)
        assert receipt["status"] == 1
        return receipt

    def chain_now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def warp_to(self, ts: int) -> None:
        self.w3.provider.make_request("evm_mine", [ts])


@pytest.fixture
async def setup(tmp_path: Any) -> AsyncIterator[Setup]:
    up = chain_up(free_port(), tmp_path / "deployments")
    world = World(WorldConfig(clock=WorldClock(start=utc(2026, 12, 2, 17)), load_noise=0.0, battery_fcr=False))
    runner = WorldRunner(world)  # not stepped: the test reads the devices' commands off the model
    modbus = WorldModbusServer(runner, port=free_port(), households=24)
    await modbus.start()
    w3 = Web3(Web3.HTTPProvider(up.anvil.url, request_kwargs={"timeout": 10}))
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(ACCOUNTS), layer=0)
    a = up.deployment.addresses
    try:
        yield Setup(up, world, modbus, w3, contract_at(w3, "GridBalance", a["GridBalance"]),
                    contract_at(w3, "MeterReading", a["MeterReading"]), contract_at(w3, "EnergyNetCredit",
                                                                                    a["SettlementToken"]))
    finally:
        await modbus.stop()
        await runner.stop()
        up.anvil.stop()


def homes(modbus: WorldModbusServer) -> tuple[list[WorldDevice], list[WorldDevice]]:
    """A household with a flexible load and a battery, and one with a flexible load only."""
    by_conn: dict[int, list[WorldDevice]] = {}
    for d in modbus.devices:
        by_conn.setdefault(d.connection, []).append(d)
    both = next(ds for ds in by_conn.values() if any(d.flexible for d in ds) and any(d.kind == "battery"
                                                                                      for d in ds))
    flex = next(ds for c, ds in by_conn.items() if c != both[0].connection and any(d.flexible for d in ds)
                and not any(d.kind == "battery" for d in ds))
    return both, flex


def devices_of(modbus: WorldModbusServer, ds: list[WorldDevice]) -> HomeDevices:
    return HomeDevices("127.0.0.1", modbus.port, next((d.device_id for d in ds if d.flexible), None),
                       next((d.device_id for d in ds if d.kind == "battery"), None))


async def test_agents_opt_in_shed_for_the_window_restore_and_claim(setup: Setup) -> None:
    s = setup
    both, flex = homes(s.modbus)
    c_both, c_flex = both[0].connection, flex[0].connection
    seen: list[tuple[str, int, bool, bool]] = []

    def log_change(who: str) -> Any:
        return lambda p: seen.append((who, p.request_id, p.acted, p.restored))

    agent_a = DrAgent(s.up.anvil.url, HOUSE_A, s.up.deployment, devices_of(s.modbus, both), Policy(lead_s=0),
                      poll_s=0.1, on_change=log_change("a"))
    agent_b = DrAgent(s.up.anvil.url, HOUSE_B, s.up.deployment, devices_of(s.modbus, flex), Policy(lead_s=0),
                      poll_s=0.1, on_change=log_change("b"))
    # A third participant asks more than offered: declines, never opts in.
    greedy = DrAgent(s.up.anvil.url, ACCOUNTS[3], s.up.deployment, devices_of(s.modbus, flex),
                     Policy(min_price_per_kwh=10**9), poll_s=0.1)
    tasks = [asyncio.create_task(a.run()) for a in (agent_a, agent_b, greedy)]
    try:
        # Meters read before the request; the operator asks 10 kW for 600 s for 3 ENC (1667 Wh target).
        for i, house in ((1, HOUSE_A), (2, HOUSE_B)):
            s.send(s.meter.functions.submitReading(Web3.keccak(text=f"house-{i:02d}"), s.chain_now(), 1000, 0,
                                                   False), house.address)
        receipt = s.send(s.grid.functions.requestDemandResponse(10_000, 600, 3_000_000), OPERATOR.address)
        (req,) = s.grid.events.DemandResponseRequested().process_receipt(receipt, errors=DISCARD)
        start, end = int(req.args.start), int(req.args.end)
        await until(lambda: all(p.opted_in for a in (agent_a, agent_b) for p in a.participations.values()
                                if a.participations), timeout=20)
        await until(lambda: bool(greedy.participations) and greedy.participations[1].declined is not None)
        assert "below" in (greedy.participations[1].declined or "")
        assert s.grid.functions.enrollments(1, ACCOUNTS[3].address).call()[0] is False
        # Before the start nothing is shed.
        assert s.world.flex_limit[c_both] == 1.0 and math.isnan(s.world.battery_setpoint_w[c_both])

        s.warp_to(start)
        await until(lambda: agent_a.participations[1].acted and agent_b.participations[1].acted, timeout=20)
        rated = s.world.participants[c_both].battery_kw * 1000
        assert s.world.flex_limit[c_both] == 0.0 and s.world.flex_limit[c_flex] == 0.0
        assert s.world.battery_setpoint_w[c_both] == pytest.approx(-rated)  # full discharge (OutWRte 100 %)
        assert not agent_a.participations[1].restored

        s.warp_to(end)
        await until(lambda: agent_a.participations[1].restored and agent_b.participations[1].restored, timeout=20)
        assert s.world.flex_limit[c_both] == 1.0 and s.world.flex_limit[c_flex] == 1.0
        assert math.isnan(s.world.battery_setpoint_w[c_both])  # back to self-consumption

        # Meters read past the end (A 300 Wh, B 500 Wh metered since opt-in, reported for audit only); the
        # oracle (the operator's account) states the verified reductions: A 1200 Wh, B 300 Wh. Basis 1667 Wh
        # (the target):
        # A gets 3 000 000 × 1200 // 1667 = 2 159 568, B 3 000 000 × 300 // 1667 = 539 892.
        for i, house, imported in ((1, HOUSE_A, 1300), (2, HOUSE_B, 1500)):
            s.send(s.meter.functions.submitReading(Web3.keccak(text=f"house-{i:02d}"), s.chain_now(), imported, 0,
                                                   False), house.address)
        s.send(s.grid.functions.recordDelivery(1, HOUSE_A.address, 1200), OPERATOR.address)
        s.send(s.grid.functions.recordDelivery(1, HOUSE_B.address, 300), OPERATOR.address)
        before = [s.token.functions.balanceOf(h.address).call() for h in (HOUSE_A, HOUSE_B)]
        s.warp_to(end + 3600)
        await until(lambda: agent_a.participations[1].claimed is not None
                    and agent_b.participations[1].claimed is not None, timeout=20)
        after = [s.token.functions.balanceOf(h.address).call() for h in (HOUSE_A, HOUSE_B)]
        assert [agent_a.participations[1].claimed, agent_b.participations[1].claimed] == [2_159_568, 539_892]
        assert [x - y for x, y in zip(after, before, strict=True)] == [2_159_568, 539_892]
        assert ("a", 1, True, False) in seen and ("a", 1, True, True) in seen
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
    assert all(not a.participations[1].errors for a in (agent_a, agent_b)), \
        [a.participations[1].errors for a in (agent_a, agent_b)]
