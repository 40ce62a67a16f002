"""Composition root, chain part: the only console module besides bootstrap.py that names the gateway.

Kept apart from bootstrap.py so each stays small; the import rule treats both as the composition root.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from console.config import ChainSettings
from console.services.chain import ChainService
from contracts.anvil import DEV_KEYS, Anvil, rpc_ready
from contracts.deploy import (
    Deployment,
    SuiteParameters,
    account_from_key,
    contract_at,
    deploy_suite,
    grant_registrar,
    signing_web3,
    transact,
    write_deployment,
)
from contracts.gateway import ChainGateway, load_keystore, write_keystore
from contracts.outbox import Outbox
from core.access import User
from core.grid import GridSnapshot
from core.ports import Historian

DEMO_PASSWORD = "energynet-demo"
DEMO_PARTICIPANTS = 5
ENC = 10**6
# The registrar of `chain up --participants`: account 10 of anvil's public mnemonic (anvil funds only 0-9, so
# chain up sends it REGISTRAR_FUNDS). Its own account, so its nonces never meet those of the console's gateway,
# which signs with the operator's key (DEV_KEYS[0]) while the world's participants are being registered.
REGISTRAR_KEY = "0xf214f2b2cd398c806f84e317254e0f0b801d0643303237d97a22a48e01628897"
REGISTRAR_FUNDS = 4_000 * 10**18  # gas money for participants and meters (20 ether each: 200 of them) and its gas
# The grid as a participant (docs/market.md "The grid's market-maker"): its account is anvil's dev key 8 in the
# demo (0 is the operator, 1–5 the demo houses, 9 the fee account); its supply meter is the community's point
# of connection, the MV/LV transformer: what it reads as export is the grid's supply into the community.
GRID_MAKER = "grid-maker"
GRID_SUPPLY_METER = "grid-supply"
GRID_MAKER_KEY = DEV_KEYS[8]
GRID_MAKER_CREDITS = 100_000 * ENC  # escrow for the grid's buys at the feed-in tariff


@dataclass(frozen=True, slots=True)
class ChainUp:
    anvil: Anvil
    deployment: Deployment
    deployment_path: Path
    keystore: Path
    maker_keystore: Path  # the grid-maker's, for [market.maker] keystore


def keystore_password(settings: ChainSettings) -> str:
    return keystore_password_env(settings.password_env)


def keystore_password_env(name: str) -> str:
    """The keystore password from the environment variable ``name`` (the demo's when unset)."""
    return os.environ.get(name, DEMO_PASSWORD)


def chain_up(port: int, directory: Path, password: str = DEMO_PASSWORD, state: Path | None = None,
             houses: bool = True) -> ChainUp:
    """Start anvil on `port`, deploy the suite with the demo token, seed demo participants (the five dev-key
    houses unless ``houses`` is False: the world's participants are registered by :func:`register_participants`),
    and the grid's market-maker account (:func:`_seed_grid_maker`), and write `<directory>/<chainId>.json`, the
    operator's and the grid-maker's encrypted keystores (``password``). The caller stops the anvil."""
    anvil = Anvil(port, state=state).start()
    try:
        operator = account_from_key(DEV_KEYS[0])
        w3 = signing_web3(anvil.url, operator)
        dep = deploy_suite(w3, fee_account=account_from_key(DEV_KEYS[9]).address)
        _seed_demo(anvil.url, dep, houses)
        _enable_registrar(w3, dep)
        path = write_deployment(dep, directory)
        keystore = write_keystore(directory / f"{dep.chain_id}-operator.keystore.json", DEV_KEYS[0], password)
        maker = write_keystore(maker_keystore_path(directory, dep.chain_id), GRID_MAKER_KEY, password)
    except BaseException:
        anvil.stop()
        raise
    return ChainUp(anvil, dep, path, keystore, maker)


def maker_keystore_path(directory: Path, chain_id: int) -> Path:
    """Where `chain up` writes the grid-maker's keystore (the default of [market.maker] keystore for 31337)."""
    return directory / f"{chain_id}-{GRID_MAKER}.keystore.json"


def _seed_demo(url: str, dep: Deployment, houses: bool = True) -> None:
    """Demo houses 1–5 as participants with a meter each (``houses``), credits, DR allowance for the operator."""
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
    for i in range(1, DEMO_PARTICIPANTS + 1 if houses else 1):
        house = accounts[i].address
        transact(w3, meter.functions.registerParticipant(house, f"house-{i:02d}"))
        transact(w3, meter.functions.registerMeter(Web3.keccak(text=f"house-{i:02d}"), house, house))
        transact(w3, token.functions.mint(house, 10_000 * ENC))
        # Each house's own (demo) key lets Settlement pull what it buys: signed orders settle in the demo market.
        receipt = w3.eth.wait_for_transaction_receipt(
            token.functions.approve(dep.addresses["Settlement"], 2**255).transact({"from": house}), timeout=60)
        if receipt["status"] != 1:
            raise RuntimeError(f"demo seeding: house-{i:02d}'s approval of Settlement reverted")
    _seed_grid_maker(w3, dep, Account.from_key(GRID_MAKER_KEY).address)


def _seed_grid_maker(w3: Any, dep: Deployment, grid: str) -> None:
    """The grid's market-maker as a participant: registered as ``grid-maker`` with its supply meter
    keccak("grid-supply") (read through the grid's own account, as each house's meter is through its
    wallet), credits for its buys, and Settlement allowed to pull them (its own key signs the approval:
    ``w3`` signs for the dev keys). Without the allowance a trade the grid buys in fails with EscrowFailed."""
    from web3 import Web3

    meter = contract_at(w3, "MeterReading", dep.addresses["MeterReading"])
    token = contract_at(w3, "EnergyNetCredit", dep.addresses["SettlementToken"])
    transact(w3, meter.functions.registerParticipant(grid, GRID_MAKER))
    transact(w3, meter.functions.registerMeter(Web3.keccak(text=GRID_SUPPLY_METER), grid, grid))
    transact(w3, token.functions.mint(grid, GRID_MAKER_CREDITS))
    receipt = w3.eth.wait_for_transaction_receipt(
        token.functions.approve(dep.addresses["Settlement"], 2**255).transact({"from": grid}), timeout=60)
    if receipt["status"] != 1:
        raise RuntimeError("demo seeding: the grid-maker's approval of Settlement reverted")


def _enable_registrar(w3: Any, dep: Deployment) -> None:
    """The registrar's roles and ether, sent by the operator before the deployment file exists (so before any
    console's gateway can send with the operator's key)."""
    from web3.types import Wei

    registrar = account_from_key(REGISTRAR_KEY).address
    grant_registrar(w3, dep, registrar)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"to": registrar, "value": Wei(REGISTRAR_FUNDS)}), timeout=60, poll_latency=0.05)
    if receipt["status"] != 1:
        raise RuntimeError("chain up: funding the registrar reverted")


PARTICIPANT_CREDITS = 10_000 * ENC  # EnergyNet Credit minted to each world participant
REGISTRATION_GAS = 400_000  # a cap, not a cost: registerParticipant with a 20-character id uses ~120k
PARTICIPANT_GAS_WEI = 10 * 10**18  # ether sent to each for its own transactions (orders, withdrawals)
METER_GAS_WEI = 10 * 10**18  # and to each meter's device account for its readings (~60k gas a batch)


def wait_for_file(path: Path, timeout_s: float, stopped: Callable[[], bool] = lambda: False,
                  poll_s: float = 0.2) -> bool:
    """True once ``path`` exists (the world writes it atomically); False after ``timeout_s`` or a stop."""
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline or stopped():
            return False
        time.sleep(poll_s)
    return True


def register_participants(url: str, dep: Deployment, participants: Path, out_dir: Path,
                          wait_s: float = 60.0, stopped: Callable[[], bool] = lambda: False) -> Path:
    """Register the world's participants (``participants.json``, written by ``energynet sim world``) on the
    demo chain: each wallet as a participant named by its id, its meter as keccak(id) read through the
    wallet, credits and gas money. Writes and returns ``<out_dir>/participants-registered.json``.
    Only addresses are used: the keys stay in the participants' keystores."""
    from web3 import Web3
    from web3.types import Nonce, Wei

    from drivers.sim.world.participants import load_participants

    if not wait_for_file(participants, wait_s, stopped):
        raise TimeoutError(f"{participants}: no participants file within {wait_s:.0f} s; is `energynet sim world "
                           f"--participants-out {participants}` running?")
    book = load_participants(participants)
    registrar = account_from_key(REGISTRAR_KEY)
    w3 = signing_web3(url, registrar)
    meter = contract_at(w3, "MeterReading", dep.addresses["MeterReading"])
    token = contract_at(w3, "EnergyNetCredit", dep.addresses["SettlementToken"])
    registered: list[dict[str, str]] = []
    # Five transactions per participant (four without a meter key), sent back to back with explicit gas (no
    # estimate, no receipt wait between them: ~120 round trips of waiting made the demo register too late on a
    # loaded machine); every receipt is checked once all are sent, so a revert still stops the registration. The
    # registrar is the only sender with its key (chain up granted it the roles): its nonces are counted here.
    nonce = int(w3.eth.get_transaction_count(registrar.address, "pending"))
    need = len(book.participants) * (PARTICIPANT_GAS_WEI + METER_GAS_WEI + 5 * REGISTRATION_GAS * int(w3.eth.gas_price))
    if (has := int(w3.eth.get_balance(registrar.address))) < need:
        raise RuntimeError(f"the registrar {registrar.address} has {has / 1e18:,.0f} ether; registering "
                           f"{len(book.participants)} participants takes up to {need / 1e18:,.0f}")
    sent: list[tuple[str, Any]] = []
    for p in book.participants:
        if stopped():
            raise RuntimeError(f"stopped after registering {len(registered)} of {len(book.participants)} participants")
        wallet = Web3.to_checksum_address(p.wallet)
        # the meter signs its own readings with its device key (docs/decisions.md, "Meter reporter"); a file
        # without meter keys falls back to the wallet
        device = Web3.to_checksum_address(p.meter_device) if p.meter_device else wallet
        for call in (meter.functions.registerParticipant(wallet, p.id),
                     meter.functions.registerMeter(Web3.keccak(text=p.id), wallet, device),
                     token.functions.mint(wallet, PARTICIPANT_CREDITS)):
            sent.append((p.id, call.transact({"nonce": Nonce(nonce), "gas": REGISTRATION_GAS})))
            nonce += 1
        gas_money = [(wallet, PARTICIPANT_GAS_WEI)] + ([(device, METER_GAS_WEI)] if device != wallet else [])
        for to, value in gas_money:
            sent.append((p.id, w3.eth.send_transaction({"from": registrar.address, "to": to, "nonce": Nonce(nonce),
                                                        "gas": 21_000, "value": Wei(value)})))
            nonce += 1
        meter_id = Web3.keccak(text=p.id).hex().removeprefix("0x")
        registered.append({"id": p.id, "wallet": wallet, "meter_id": f"0x{meter_id}", "meter_device": device})
    for pid, tx in sent:
        if stopped():
            raise RuntimeError(f"stopped while registering {len(book.participants)} participants (sent, not all "
                               "confirmed)")
        receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=60, poll_latency=0.05)
        if receipt["status"] != 1:
            raise RuntimeError(f"registering participant {pid!r}: transaction {receipt['transactionHash'].hex()} "
                               "reverted (is it registered already on this chain?)")
    path = out_dir / "participants-registered.json"
    path.write_text(json.dumps({"chainId": dep.chain_id, "block": int(w3.eth.block_number),
                                "participants_file": str(participants), "credits": PARTICIPANT_CREDITS,
                                "gas_wei": PARTICIPANT_GAS_WEI, "registered": registered}, indent=1) + "\n")
    return path


def start_meter_reporter(up: ChainUp, participants: Path, interval_s: float,
                         stopped: Callable[[], bool]) -> threading.Thread:
    """The world's meters put their readings on chain with their own keys, in a thread of their own
    (drivers/sim/agents/meter_reporter.py) that ends once ``stopped()``; the grid's supply meter (the
    transformer, keccak("grid-supply")) with the grid-maker's key, its registered reading device, so the
    maker's trades settle against metered delivery too."""
    from drivers.sim.agents.meter_reporter import grid_supply_meter, run_reporter
    from drivers.sim.world.participants import load_participants

    book = load_participants(participants)
    extra = [grid_supply_meter(GRID_MAKER_KEY, GRID_SUPPLY_METER)]
    thread = threading.Thread(target=run_reporter, args=(up.anvil.url, up.deployment, book, interval_s, stopped,
                                                         extra),
                              name="meter-reporter", daemon=True)
    thread.start()
    return thread


def start_dr_fleet(up: ChainUp, participants: Path, stopped: Callable[[], bool]) -> threading.Thread:
    """The world's households answer demand response with their own keys (drivers/sim/agents/dr_fleet.py), in
    a thread of their own that ends once ``stopped()``."""
    from drivers.sim.agents.dr_fleet import run_dr_fleet
    from drivers.sim.world.participants import load_participants

    book = load_participants(participants)
    thread = threading.Thread(target=run_dr_fleet, args=(up.anvil.url, up.deployment, book, stopped),
                              name="dr-fleet", daemon=True)
    thread.start()
    return thread


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
                        historian: Historian | None, user: User | None = None) -> ChainService:
    """The chain service of a console run; raises with a clear message when the deployment or key is missing.

    Called by :func:`console.bootstrap.build`, which turns that error into the console's "chain off" notice."""
    dep = Deployment.read(settings.deployment)
    account = load_keystore(settings.keystore, keystore_password(settings))
    outbox_path = settings.outbox or Path(user_data_dir("energynet", "EnergyNet")) / f"chain-outbox-{dep.chain_id}.db"
    gateway = ChainGateway(settings.rpc, account, dep, Outbox(outbox_path), confirmations=settings.confirmations)
    # The demo and `chain deploy` use the default DR notice period; a DR request expires at its start.
    return ChainService(gateway, snapshot, historian, publish_every_s=settings.publish_status_s,
                        dr_notice_s=SuiteParameters().dr_notice_s, user=user)
