"""The world's participants on the demo chain: registered from participants.json, keys only in keystores."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eth_account import Account
from hexbytes import HexBytes
from web3 import Web3
from web3.types import Nonce, Wei

from console.bootstrap_chain import (
    GRID_MAKER_KEY,
    METER_GAS_WEI,
    PARTICIPANT_CREDITS,
    PARTICIPANT_GAS_WEI,
    REGISTRAR_KEY,
    chain_up,
    register_participants,
)
from contracts.anvil import DEV_KEYS
from contracts.deploy import account_from_key, contract_at, signing_web3, transact
from drivers.sim.world.modbus_face import world_layout
from drivers.sim.world.model import World
from drivers.sim.world.participants import load_participants, write_participants
from tests.conftest import free_port

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(120)]


def test_chain_up_registers_the_worlds_participants_who_sign_with_their_own_keystores(tmp_path: Path) -> None:
    world = World()
    devices = world_layout(world.participants, 2, world.network.feeder_ends)
    path = tmp_path / "participants.json"
    book = write_participants(path, world.participants, devices, host="127.0.0.1", modbus_port=5020, seed=1,
                              start=datetime(2026, 6, 22, 10, tzinfo=UTC), scrypt_n=2**4)
    assert len(book.participants) == 21  # 6 businesses, 3 farms, 10 feeder ends, 2 households
    up = chain_up(free_port(), tmp_path, houses=False)
    try:
        out = register_participants(up.anvil.url, up.deployment, path, tmp_path, wait_s=1)
        w3 = Web3(Web3.HTTPProvider(up.anvil.url))
        meter = contract_at(w3, "MeterReading", up.deployment.addresses["MeterReading"])
        token = contract_at(w3, "EnergyNetCredit", up.deployment.addresses["SettlementToken"])
        for p in book.participants:
            assert meter.functions.participants(p.wallet).call()[0] is True, p.id
            # the meter reads through its own device account, not the participant's wallet
            assert p.meter_device is not None and p.meter_device != p.wallet
            assert meter.functions.meters(Web3.keccak(text=p.id)).call()[:2] == [p.wallet, p.meter_device], p.id
            assert token.functions.balanceOf(p.wallet).call() == PARTICIPANT_CREDITS == 10_000 * 10**6
            assert w3.eth.get_balance(p.wallet) == PARTICIPANT_GAS_WEI
            assert w3.eth.get_balance(p.meter_device) == METER_GAS_WEI
        # not the dev-key houses of the plain `chain up`
        assert meter.functions.participants(Account.from_key(DEV_KEYS[1]).address).call()[0] is False
        record = json.loads(out.read_text())
        assert [r["wallet"] for r in record["registered"]] == [p.wallet for p in book.participants]

        # a participant signs its own transaction with the key from its keystore: 25 credits to another
        a, b = book.participants[0], book.participants[1]
        key = Account.decrypt(json.loads(a.keystore.read_text()), "energynet-demo")
        as_a = signing_web3(up.anvil.url, Account.from_key(key))
        transact(as_a, contract_at(as_a, "EnergyNetCredit", token.address).functions.transfer(b.wallet, 25 * 10**6))
        assert token.functions.balanceOf(b.wallet).call() == PARTICIPANT_CREDITS + 25 * 10**6
        # that key is in its keystore only (encrypted): no other file of the demo folder holds it
        for f in tmp_path.rglob("*"):
            if f.is_file() and f.parent.name != "keys":
                text = f.read_bytes().hex() + f.read_text(errors="replace")
                assert key.hex().removeprefix("0x") not in text, f
    finally:
        up.anvil.stop()


def test_registration_and_the_operators_gateway_never_share_a_nonce(tmp_path: Path) -> None:
    """The console's gateway sends with the operator's key, counting its nonces itself, while chain up registers
    the world: the registrar has its own account, so neither sender sees a nonce error and each participant is
    registered exactly once."""
    world = World()
    devices = world_layout(world.participants, 2, world.network.feeder_ends)
    path = tmp_path / "participants.json"
    book = write_participants(path, world.participants, devices, host="127.0.0.1", modbus_port=5020, seed=1,
                              start=datetime(2026, 6, 22, 10, tzinfo=UTC), scrypt_n=2**4)
    n = len(book.participants)
    up = chain_up(free_port(), tmp_path, houses=False)
    try:
        operator = account_from_key(DEV_KEYS[0])
        gateway = signing_web3(up.anvil.url, operator)
        first = int(gateway.eth.get_transaction_count(operator.address, "pending"))
        sent: list[HexBytes] = []
        errors: list[BaseException] = []
        registering = threading.Event()
        registering.set()

        def operator_sender() -> None:  # as contracts/gateway.py does: its own nonce count, no re-reads
            nonce = first
            while registering.is_set() or len(sent) < 20:
                try:
                    sent.append(gateway.eth.send_transaction({"to": operator.address, "value": Wei(0),
                                                              "nonce": Nonce(nonce), "gas": 21_000}))
                except BaseException as exc:  # any failure of this sender fails the test
                    errors.append(exc)
                    return
                nonce += 1

        other = threading.Thread(target=operator_sender)
        other.start()
        try:
            register_participants(up.anvil.url, up.deployment, path, tmp_path, wait_s=1)
        finally:
            registering.clear()
            other.join(60)
        assert errors == []
        assert len(sent) >= 20
        assert all(gateway.eth.wait_for_transaction_receipt(h, timeout=60)["status"] == 1 for h in sent)
        w3 = Web3(Web3.HTTPProvider(up.anvil.url))
        meter = contract_at(w3, "MeterReading", up.deployment.addresses["MeterReading"])
        grid = Account.from_key(GRID_MAKER_KEY).address  # registered by chain up itself, before the world
        admitted = [e for e in meter.events.ParticipantRegistered().get_logs(from_block=0)
                    if e["args"]["account"] != grid]
        assert sorted(e["args"]["account"] for e in admitted) == sorted(p.wallet for p in book.participants)
        assert len(meter.events.MeterRegistered().get_logs(from_block=0)) == n + 1 == 22  # + the grid's supply
        registrar = account_from_key(REGISTRAR_KEY).address
        assert {w3.eth.get_transaction(e["transactionHash"])["from"] for e in admitted} == {registrar}
        assert w3.eth.get_transaction_count(registrar) == 5 * n  # 3 calls + gas to wallet and meter key; nothing twice
        assert w3.eth.get_transaction_count(operator.address) == first + len(sent)
    finally:
        up.anvil.stop()


def test_no_participants_file_is_a_clear_error_and_a_broken_one_names_its_entry(tmp_path: Path) -> None:
    from console.bootstrap_chain import wait_for_file

    missing = tmp_path / "participants.json"
    assert wait_for_file(missing, 0.3) is False
    with pytest.raises(TimeoutError, match=r"participants\.json: no participants file within 0 s; is "
                                           r"`energynet sim world --participants-out"):
        register_participants("http://127.0.0.1:9", None, missing, tmp_path, wait_s=0.2)  # type: ignore[arg-type]
    missing.write_text(json.dumps({"format": "energynet.participants/1", "start": "2026-06-22T12:00:00+02:00",
                                   "modbus": {"host": "h", "port": 1}, "participants": [{"id": "x"}]}))
    with pytest.raises(ValueError, match=r"participants\[0\]\.wallet: expected str, got None"):
        load_participants(missing)
