"""The gateway's health round reads both balances (ETH and settlement token) in one JSON-RPC batch, on a
real anvil with the suite deployed, and follows a transfer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from console.bootstrap_chain import ChainUp, chain_up
from contracts.anvil import DEV_KEYS
from contracts.deploy import account_from_key, contract_at
from contracts.gateway import ChainGateway
from contracts.outbox import Outbox
from tests.conftest import free_port, until

pytestmark = pytest.mark.contracts
OPERATOR = account_from_key(DEV_KEYS[0])


@pytest.fixture
def node(tmp_path: Path) -> Iterator[ChainUp]:
    up = chain_up(free_port(), tmp_path / "deployments", "pw")
    yield up
    up.anvil.stop()


async def test_balances_are_read_in_the_health_round_and_follow_a_transfer(node: ChainUp, tmp_path: Path) -> None:
    url, dep = node.anvil.url, node.deployment
    w3 = Web3(Web3.HTTPProvider(url))
    token = contract_at(w3, "EnergyNetCredit", dep.addresses["SettlementToken"])
    gw = ChainGateway(url, OPERATOR, dep, Outbox(tmp_path / "outbox.db"), health_interval=0.2)
    await gw.start()
    try:
        await until(lambda: gw.status().token_balance is not None, timeout=10)
        tokens = await asyncio.to_thread(lambda: int(token.functions.balanceOf(OPERATOR.address).call()))
        wei = await asyncio.to_thread(w3.eth.get_balance, OPERATOR.address)
        st = gw.status()
        assert st.token_balance == tokens and tokens > 0
        assert st.eth_balance_wei == wei
        other = account_from_key(DEV_KEYS[5]).address
        tx = token.functions.transfer(other, 1234).transact({"from": OPERATOR.address})
        await asyncio.to_thread(w3.eth.wait_for_transaction_receipt, tx)
        await until(lambda: gw.status().token_balance == tokens - 1234, timeout=10)
    finally:
        await gw.stop()
