"""A transaction whose nonce is used while its receipt is absent (issue 11, found in a soak): on a loaded anvil
the account's nonce counted a mined batch a moment before its receipt was served, and the gateway marked the
batch failed ("nonce used by another transaction") although it was mined; the settlement then reported its
OrderSettled events as mismatches. Against a real anvil: behind a JSON-RPC proxy that withholds receipts for a
while the command is confirmed, never failed; a transaction that really took our nonce still fails it, with
the nonce named."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from web3 import Web3

from contracts.anvil import DEV_KEYS, Anvil
from contracts.deploy import Deployment, account_from_key, deploy_suite, signing_web3
from contracts.gateway import ChainGateway
from contracts.outbox import Outbox
from core.chain import ChainCommand, TxState
from tests.conftest import free_port, until

pytestmark = pytest.mark.contracts
OPERATOR = account_from_key(DEV_KEYS[0])
WITHHELD_S = 1.5  # how long the proxy answers "no receipt" for a transaction, from the first time it is asked


def status_cmd(i: int) -> ChainCommand:
    return ChainCommand(f"status-{i}", "GridBalance", "updateStatus", (49_000 + i, 230_000, 1_000, 1_000),
                        f"grid status #{i}")


@pytest.fixture
def node() -> Iterator[tuple[Anvil, Deployment]]:
    with Anvil(free_port()) as a:
        yield a, deploy_suite(signing_web3(a.url, OPERATOR))


class ReceiptsLate:
    """A JSON-RPC proxy in front of the node that answers ``eth_getTransactionReceipt`` with null for the first
    ``WITHHELD_S`` after a hash is first asked for (everything else, the nonce count included, passes through):
    a node that counts the nonce before it serves the receipt."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.first_asked: dict[str, float] = {}
        self.withheld = 0

    def _late(self, call: dict[str, Any]) -> bool:
        if call.get("method") != "eth_getTransactionReceipt":
            return False
        first = self.first_asked.setdefault(call["params"][0], time.monotonic())
        return time.monotonic() - first < WITHHELD_S

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        async with aiohttp.ClientSession() as session, session.post(self.upstream, json=body) as up:
            answer = await up.json()
        calls, answers = (body, answer) if isinstance(body, list) else ([body], [answer])
        for call, ans in zip(calls, answers, strict=True):
            if self._late(call) and ans.get("result") is not None:
                ans["result"] = None
                self.withheld += 1
        return web.Response(text=json.dumps(answer), content_type="application/json")


@pytest.fixture
async def late_receipts(node: tuple[Anvil, Deployment]) -> AsyncIterator[tuple[str, ReceiptsLate]]:
    proxy = ReceiptsLate(node[0].url)
    app = web.Application()
    app.router.add_post("/", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", proxy
    finally:
        await runner.cleanup()


async def test_a_mined_transaction_whose_receipt_comes_late_is_confirmed_not_failed(
        node: tuple[Anvil, Deployment], late_receipts: tuple[str, ReceiptsLate], tmp_path: Path) -> None:
    _anvil, dep = node
    url, proxy = late_receipts
    gw = ChainGateway(url, OPERATOR, dep, Outbox(tmp_path / "outbox.db"), nonce_taken_grace_s=5.0)
    await gw.start()
    try:
        for i in range(3):
            assert gw.submit(status_cmd(i))
        records = [await gw.wait(f"status-{i}", timeout=20) for i in range(3)]
    finally:
        await gw.stop()
    assert proxy.withheld > 0  # the receipts were asked for while the nonce already counted them
    assert [(r.state, r.error) for r in records] == [(TxState.CONFIRMED, None)] * 3


async def test_a_transaction_that_took_our_nonce_still_fails_the_command(
        node: tuple[Anvil, Deployment], tmp_path: Path) -> None:
    anvil, dep = node
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    gw = ChainGateway(anvil.url, OPERATOR, dep, Outbox(tmp_path / "outbox.db"), nonce_taken_grace_s=0.5)
    await gw.start()
    try:
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        assert gw.submit(status_cmd(1))
        await until(lambda: (r := gw.record("status-1")) is not None and r.state is TxState.SENT, timeout=10)
        rec = gw.record("status-1")
        assert rec is not None and rec.nonce is not None
        # another transaction of the same account with the same nonce and higher fees replaces ours in the pool
        block = w3.eth.get_block("latest")
        base = int(block["baseFeePerGas"])  # type: ignore[typeddict-item]
        other = OPERATOR.sign_transaction({
            "to": OPERATOR.address, "value": 0, "nonce": rec.nonce, "gas": 21_000, "chainId": w3.eth.chain_id,
            "maxFeePerGas": 10 * base + 10**10, "maxPriorityFeePerGas": 10**10})
        w3.eth.send_raw_transaction(other.raw_transaction)
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        failed = await gw.wait("status-1", timeout=20)
    finally:
        await gw.stop()
    assert failed.state is TxState.FAILED
    assert failed.error == f"nonce {rec.nonce} was used by another transaction"
    assert w3.eth.get_transaction_receipt(other.hash)["status"] == 1
