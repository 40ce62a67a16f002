"""A real anvil chain with the suite deployed once per session; every test runs on a snapshot of it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.middleware import SignAndSendRawMiddlewareBuilder

from contracts.anvil import DEV_KEYS, Anvil
from contracts.deploy import contract_at, deploy_contract, deploy_suite, transact
from contracts.errors import decode_revert
from tests.conftest import free_port

ENC = 10**6  # one EnergyNet Credit in base units
ACCOUNTS = [Account.from_key(k) for k in DEV_KEYS]
ADMIN, ALICE, BOB, CAROL, DEVICE_A, DEVICE_B, OUTSIDER, _, _, FEE = (a.address for a in ACCOUNTS)
METER_A = Web3.keccak(text="meter-alice")
METER_B = Web3.keccak(text="meter-bob")


@dataclass
class Suite:
    w3: Web3
    token: Contract
    meter: Contract
    settlement: Contract
    trade: Contract
    grid: Contract
    nft: Contract
    orders: Contract | None = None  # OrderSettlement (signed-order settlement)

    def send(self, call: Any, sender: str = ADMIN) -> Any:
        """Send `call` from `sender` and return its receipt (asserting success)."""
        receipt = self.w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}), poll_latency=0.01)
        assert receipt["status"] == 1
        return receipt

    def reverts(self, call: Any, error: str, sender: str = ADMIN) -> dict[str, Any]:
        """Assert `call` from `sender` reverts with custom error `error`; returns its arguments."""
        with pytest.raises((ContractCustomError, ContractLogicError)) as info:
            call.transact({"from": sender})
        data = info.value.data if isinstance(info.value.data, str) else None
        decoded = decode_revert(data)
        assert decoded.name == error, decoded.message
        return decoded.args

    def events(self, contract: Contract, name: str, receipt: Any) -> list[Any]:
        return list(getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD))

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def warp(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])

    def balance(self, who: str) -> int:
        return int(self.token.functions.balanceOf(who).call())

    def reading(self, meter: bytes, import_wh: int, export_wh: int, *, dt: int = 1, tamper: bool = False,
                device: str | None = None) -> Any:
        """Submit a reading stamped `dt` seconds after the latest block or the meter's last reading."""
        dev = device or (DEVICE_A if meter == METER_A else DEVICE_B)
        ts = self.next_ts(meter, dt)
        return self.send(self.meter.functions.submitReading(meter, ts, import_wh, export_wh, tamper), dev)

    def next_ts(self, meter: bytes, dt: int = 1) -> int:
        """A timestamp `dt` s after both the latest block and the meter's last reading."""
        return max(self.now(), int(self.meter.functions.meters(meter).call()[2])) + dt


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    with Anvil(free_port()) as node:
        yield node


def connect(url: str) -> Web3:
    w3 = Web3(Web3.HTTPProvider(url))
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(ACCOUNTS), layer=0)
    w3.eth.default_account = ADMIN
    return w3


def build_suite(w3: Web3, token_name: str = "EnergyNetCredit") -> Suite:
    """Deploy the suite around `token_name` and set up participants, meters, balances and allowances."""
    token = deploy_contract(w3, token_name) if token_name != "EnergyNetCredit" else None
    dep = deploy_suite(w3, token=token.address if token else None, fee_account=FEE)
    c = {n: contract_at(w3, n, a) for n, a in dep.addresses.items() if n != "SettlementToken"}
    token = token or c["EnergyNetCredit"]
    suite = Suite(w3, token, c["MeterReading"], c["Settlement"], c["EnergyTrade"], c["GridBalance"],
                  c["AchievementNFT"], c["OrderSettlement"])
    for who in (ALICE, BOB, CAROL):
        transact(w3, suite.meter.functions.registerParticipant(who, f"house {who[:6]}"))
    transact(w3, suite.meter.functions.registerMeter(METER_A, ALICE, DEVICE_A))
    transact(w3, suite.meter.functions.registerMeter(METER_B, BOB, DEVICE_B))
    for who in (ADMIN, ALICE, BOB, CAROL, OUTSIDER):
        transact(w3, token.functions.mint(who, 100_000 * ENC))
        for spender in (suite.settlement.address, suite.grid.address):
            suite.send(token.functions.approve(spender, 2**255), who)
    return suite


@pytest.fixture(scope="session")
def deployed(anvil: Anvil) -> tuple[Suite, str]:
    suite = build_suite(connect(anvil.url))
    snap = suite.w3.provider.make_request("evm_snapshot", [])["result"]
    return suite, snap


@pytest.fixture
def chain(deployed: tuple[Suite, str]) -> Iterator[Suite]:
    suite, _ = deployed
    snap = suite.w3.provider.make_request("evm_snapshot", [])["result"]
    yield suite
    suite.w3.provider.make_request("evm_revert", [snap])
