"""Deploy the EnergyNet contract suite and write deployments/<chainId>.json."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.middleware import SignAndSendRawMiddlewareBuilder

from contracts.artifacts import load
from contracts.roles import GRID_OPERATOR, MARKET, MATCHER, MINTER, ORACLE, PAUSER, REGISTRATION

log = logging.getLogger(__name__)

SUITE = ("MeterReading", "Settlement", "EnergyTrade", "GridBalance", "AchievementNFT", "OrderSettlement")


@dataclass(frozen=True, slots=True)
class SuiteParameters:
    """Deployment settings; the defaults suit a demo chain."""

    fee_bps: int = 50                 # 0.5 % of the seller's proceeds to the grid-fee account
    delivery_window_s: int = 900      # a trade's energy is due within 15 min
    dispute_window_s: int = 3600
    dr_notice_s: int = 60
    dr_verification_window_s: int = 3600
    period_s: int = 900               # signed-order settlement: a delivery product's length
    gate_closure_s: int = 300         # trading in a product closes this long before delivery
    max_settle_delay_s: int = 900     # a match settles at most this long after the book made it


@dataclass(frozen=True, slots=True)
class Deployment:
    chain_id: int
    addresses: dict[str, str]
    block: int
    admin: str
    deployed_at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps({"chainId": self.chain_id, "block": self.block, "admin": self.admin,
                           "deployedAt": round(self.deployed_at), "contracts": self.addresses}, indent=2) + "\n"

    @classmethod
    def read(cls, path: Path) -> Deployment:
        try:
            data = json.loads(path.read_text())
            return cls(int(data["chainId"]), dict(data["contracts"]), int(data["block"]), str(data["admin"]),
                       float(data.get("deployedAt", 0)))
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{path}: no deployment; run `energynet chain up` or `chain deploy`") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a deployment file ({exc!r}); deploy again to rewrite it") from exc


def signing_web3(url: str, account: LocalAccount, timeout: float = 10.0) -> Web3:
    """A Web3 that signs every `transact` locally with `account` (never with a node-held key)."""
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(account), layer=0)
    w3.eth.default_account = account.address
    return w3


def contract_at(w3: Web3, name: str, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load(name).abi)


def deploy_contract(w3: Web3, name: str, *args: Any) -> Contract:
    art = load(name)
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    tx = factory.constructor(*args).transact()
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=60, poll_latency=0.05)
    if receipt["status"] != 1:
        raise RuntimeError(f"deploying {name} failed in transaction {tx.hex()}")
    address = receipt["contractAddress"]
    if address is None:  # a receipt of a deployment always has one; a node that omits it is broken
        raise RuntimeError(f"deploying {name}: the receipt of {tx.hex()} names no contract address")
    log.info("deployed %s at %s", name, address)
    return contract_at(w3, name, address)


def transact(w3: Web3, call: Any) -> Any:
    """Send one contract call from the default account and wait for its receipt."""
    receipt = w3.eth.wait_for_transaction_receipt(call.transact(), timeout=60, poll_latency=0.05)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction {receipt['transactionHash'].hex()} reverted")
    return receipt


def deploy_suite(
    w3: Web3,
    *,
    token: str | None = None,
    fee_account: str | None = None,
    params: SuiteParameters | None = None,
) -> Deployment:
    """Deploy the six contracts (and, without `token`, the demo "EnergyNet Credit"), wire them and give the
    deploying account every operating role. Returns the addresses."""
    p = params or SuiteParameters()
    admin = str(w3.eth.default_account)
    addresses: dict[str, str] = {}
    if token is None:
        token = deploy_contract(w3, "EnergyNetCredit", admin).address
        addresses["EnergyNetCredit"] = token
    addresses["SettlementToken"] = Web3.to_checksum_address(token)
    meter = deploy_contract(w3, "MeterReading", admin)
    settlement = deploy_contract(w3, "Settlement", admin, token, meter.address, fee_account or admin, p.fee_bps,
                                 p.delivery_window_s, p.dispute_window_s)
    trade = deploy_contract(w3, "EnergyTrade", admin, settlement.address, meter.address)
    grid = deploy_contract(w3, "GridBalance", admin, token, meter.address, p.dr_notice_s, p.dr_verification_window_s)
    nft = deploy_contract(w3, "AchievementNFT", admin)
    orders = deploy_contract(w3, "OrderSettlement", admin, settlement.address, p.period_s, p.gate_closure_s,
                             p.max_settle_delay_s)
    for name, c in zip(SUITE, (meter, settlement, trade, grid, nft, orders), strict=True):
        addresses[name] = c.address
    transact(w3, settlement.functions.grantRole(MARKET, trade.address))
    transact(w3, settlement.functions.grantRole(MARKET, orders.address))
    grants = {meter: (GRID_OPERATOR, ORACLE, PAUSER), settlement: (GRID_OPERATOR, MATCHER, PAUSER),
              trade: (PAUSER,), grid: (GRID_OPERATOR, ORACLE, PAUSER), nft: (MINTER, PAUSER),
              orders: (MATCHER, PAUSER)}
    for contract, roles in grants.items():
        for role in roles:
            transact(w3, contract.functions.grantRole(role, admin))
    return Deployment(int(w3.eth.chain_id), addresses, int(w3.eth.block_number), admin)


def grant_registrar(w3: Web3, dep: Deployment, registrar: str) -> None:
    """Give ``registrar`` the roles that registering participants takes (:data:`contracts.roles.REGISTRATION`),
    sent from the default account (the admin). A separate registrar keeps its nonces apart from the operator's
    gateway, which sends with the admin's key meanwhile."""
    for name, roles in REGISTRATION.items():
        if name not in dep.addresses:
            raise ValueError(f"registrar: the deployment has no {name} (registration mints the demo token)")
        contract = contract_at(w3, name, dep.addresses[name])
        for role in roles:
            transact(w3, contract.functions.grantRole(role, Web3.to_checksum_address(registrar)))


def write_deployment(dep: Deployment, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dep.chain_id}.json"
    path.write_text(dep.to_json())
    return path


def account_from_key(key: str) -> LocalAccount:
    acct: LocalAccount = Account.from_key(key)
    return acct
