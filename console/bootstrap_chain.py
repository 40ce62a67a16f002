"""Composition root, chain part: the only console module besides bootstrap.py that names the gateway.

Kept apart from bootstrap.py so each stays small; the import rule treats both as the composition root.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

from console.config import ChainSettings
from console.services.chain import ChainService
from contracts.anvil import DEV_KEYS, Anvil, rpc_ready
from contracts.deploy import (
    Deployment,
    account_from_key,
    contract_at,
    deploy_suite,
    signing_web3,
    transact,
    write_deployment,
)
from contracts.gateway import ChainGateway, load_keystore, write_keystore
from contracts.outbox import Outbox
from core.grid import GridSnapshot
from core.ports import Historian

DEMO_PASSWORD = "energynet-demo"
DEMO_PARTICIPANTS = 5
ENC = 10**6


@dataclass(frozen=True, slots=True)
class ChainUp:
    anvil: Anvil
    deployment: Deployment
    deployment_path: Path
    keystore: Path


def keystore_password(settings: ChainSettings) -> str:
    return os.environ.get(settings.password_env, DEMO_PASSWORD)


def chain_up(port: int, directory: Path, password: str = DEMO_PASSWORD, state: Path | None = None) -> ChainUp:
    """Start anvil on `port`, deploy the suite with the demo token, seed demo participants, and write
    `<directory>/<chainId>.json` and the operator's encrypted keystore. The caller stops the anvil."""
    anvil = Anvil(port, state=state).start()
    try:
        operator = account_from_key(DEV_KEYS[0])
        w3 = signing_web3(anvil.url, operator)
        dep = deploy_suite(w3, fee_account=account_from_key(DEV_KEYS[9]).address)
        _seed_demo(anvil.url, dep)
        path = write_deployment(dep, directory)
        keystore = write_keystore(directory / f"{dep.chain_id}-operator.keystore.json", DEV_KEYS[0], password)
    except BaseException:
        anvil.stop()
        raise
    return ChainUp(anvil, dep, path, keystore)


def _seed_demo(url: str, dep: Deployment) -> None:
    """Demo houses 1–5 as participants with a meter each, credits for everyone, DR allowance for the operator."""
    from eth_account import Account
    from web3 import Web3
    from web3.middleware import SignAndSendRawMiddlewareBuilder

    accounts = [Account.from_key(k) for k in DEV_KEYS]
    w3 = Web3(Web3.HTTPProvider(url))
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(accounts), layer=0)
    w3.eth.default_account = accounts[0].address
    meter = contract_at(w3, "MeterReading", dep.addresses["MeterReading"])
    token = contract_at(w3, "EnergyNetCredit", dep.addresses["SettlementToken"])
    transact(w3, token.functions.mint(accounts[0].address, 1_000_000 * ENC))
    transact(w3, token.functions.approve(dep.addresses["GridBalance"], 2**255))
    for i in range(1, DEMO_PARTICIPANTS + 1):
        house = accounts[i].address
        transact(w3, meter.functions.registerParticipant(house, f"house-{i:02d}"))
        transact(w3, meter.functions.registerMeter(Web3.keccak(text=f"house-{i:02d}"), house, house))
        transact(w3, token.functions.mint(house, 10_000 * ENC))


def chain_deploy(rpc: str, keystore: Path, password: str, directory: Path, token: str | None,
                 fee_account: str | None) -> tuple[Deployment, Path]:
    """Deploy the suite to an existing chain with the keystore's account (no demo seeding)."""
    if rpc_ready(rpc, timeout=3) is None:
        raise ConnectionError(f"no JSON-RPC answer from {rpc}; is the node running and the URL right?")
    account = load_keystore(keystore, password)
    dep = deploy_suite(signing_web3(rpc, account), token=token, fee_account=fee_account)
    return dep, write_deployment(dep, directory)


def chain_status(settings: ChainSettings) -> dict[str, object]:
    """Node, deployment and account facts for `energynet chain status`."""
    from web3 import Web3

    dep = Deployment.read(settings.deployment)
    chain_id = rpc_ready(settings.rpc, timeout=3)
    out: dict[str, object] = {"rpc": settings.rpc, "up": chain_id is not None, "deployment": str(settings.deployment),
                              "chainId": dep.chain_id, "contracts": dep.addresses}
    if chain_id is None:
        return out
    w3 = Web3(Web3.HTTPProvider(settings.rpc))
    out["block"] = w3.eth.block_number
    out["nodeChainId"] = chain_id
    out["deployed"] = {n: len(w3.eth.get_code(Web3.to_checksum_address(a))) > 0 for n, a in dep.addresses.items()}
    token = contract_at(w3, "EnergyNetCredit", dep.addresses["SettlementToken"])
    out["admin"] = dep.admin
    out["adminTokenBalance"] = token.functions.balanceOf(Web3.to_checksum_address(dep.admin)).call()
    return out


def build_chain_service(settings: ChainSettings, snapshot: Callable[[], GridSnapshot] | None,
                        historian: Historian | None) -> ChainService:
    """The chain service of a console run; raises with a clear message when the deployment or key is missing."""
    dep = Deployment.read(settings.deployment)
    account = load_keystore(settings.keystore, keystore_password(settings))
    outbox_path = settings.outbox or Path(user_data_dir("energynet", "EnergyNet")) / f"chain-outbox-{dep.chain_id}.db"
    gateway = ChainGateway(settings.rpc, account, dep, Outbox(outbox_path), confirmations=settings.confirmations)
    return ChainService(gateway, snapshot, historian, publish_every_s=settings.publish_status_s)
