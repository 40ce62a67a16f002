"""Command validity and chain identity against a real anvil: lost blocks are sent again only within validity,
nothing expired or superseded ever reaches the chain, and an anvil restarted without state is a different
chain (a state with one message), not a traceback loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from console.bootstrap_chain import ChainUp, chain_up
from contracts.anvil import DEV_KEYS, Anvil
from contracts.deploy import Deployment, account_from_key, contract_at
from contracts.gateway import ChainGateway
from contracts.outbox import Outbox
from core.chain import ChainCommand, ChainState, TxState
from tests.conftest import free_port, until

pytestmark = pytest.mark.contracts
OPERATOR = account_from_key(DEV_KEYS[0])
ENC = 10**6


def status(i: int) -> ChainCommand:
    """A grid status whose frequency encodes `i`; like the console's, each supersedes the one before."""
    return ChainCommand(f"st-{i}", "GridBalance", "updateStatus", (49_000 + i, 230_000, 1_000, 1_000),
                        f"grid status #{i}", supersedes="grid-status")


def dr(key: str, reduction_w: int, valid_until: float) -> ChainCommand:
    return ChainCommand(key, "GridBalance", "requestDemandResponse", (reduction_w, 900, 10 * ENC),
                        f"DR {reduction_w} W", valid_until=valid_until)


def on_chain(url: str, dep: Deployment) -> tuple[list[int], list[int]]:
    """(status numbers, DR reductions in W) as logged by GridBalance on the chain at `url`."""
    grid = contract_at(Web3(Web3.HTTPProvider(url)), "GridBalance", dep.addresses["GridBalance"])
    statuses = sorted(int(e.args.frequencyMhz) - 49_000 for e in grid.events.StatusUpdated().get_logs(from_block=0))
    drs = sorted(int(e.args.reductionW) for e in grid.events.DemandResponseRequested().get_logs(from_block=0))
    return statuses, drs


@pytest.fixture
def node(tmp_path: Path) -> Iterator[ChainUp]:
    up = chain_up(free_port(), tmp_path / "deployments", "pw", state=tmp_path / "anvil-state.json")
    yield up
    up.anvil.stop()


def state_of(gw: ChainGateway, key: str) -> TxState | None:
    rec = gw.record(key)
    return None if rec is None else rec.state


async def test_lost_blocks_are_sent_again_only_within_validity(node: ChainUp, tmp_path: Path) -> None:
    url, dep = node.anvil.url, node.deployment
    w3 = Web3(Web3.HTTPProvider(url))
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    gw = ChainGateway(url, OPERATOR, dep, Outbox(tmp_path / "outbox.db"), health_interval=0.2)
    await gw.start()
    try:
        await until(lambda: gw.status().up)
        t0 = time.time()
        gw.submit(dr("dr-long", 300_000, t0 + 600))
        gw.submit(dr("dr-short", 100_000, t0 + 2))
        assert (await gw.wait("dr-long")).state is TxState.CONFIRMED
        assert (await gw.wait("dr-short")).state is TxState.CONFIRMED
        for i in (1, 2, 3):  # one after the other: each is on chain before the next supersedes it
            gw.submit(status(i))
            assert (await gw.wait(f"st-{i}")).state is TxState.CONFIRMED
        assert await asyncio.to_thread(on_chain, url, dep) == ([1, 2, 3], [100_000, 300_000])
        await asyncio.sleep(max(0.0, t0 + 2.5 - time.time()))  # dr-short's validity ends
        # The chain loses every block since the snapshot (a reorg on the same chain: same genesis, same code).
        # (Blocking web3 calls go to a thread while the gateway runs: web3's session cache lock may be held by
        # its async provider across an await.)
        revert = await asyncio.to_thread(w3.provider.make_request, "evm_revert", [snapshot])  # type: ignore[arg-type]
        assert revert["result"]
        await until(lambda: state_of(gw, "dr-short") is TxState.EXPIRED and state_of(gw, "st-2") is
                    TxState.SUPERSEDED, timeout=10)
        await until(lambda: state_of(gw, "dr-long") is TxState.CONFIRMED and state_of(gw, "st-3") is
                    TxState.CONFIRMED and not gw.status().pending, timeout=20)
        assert state_of(gw, "st-1") is TxState.SUPERSEDED
        assert "valid until" in (gw.record("dr-short").error or "")  # type: ignore[union-attr]
        assert "superseded by st-3" in (gw.record("st-1").error or "")  # type: ignore[union-attr]
        assert gw.status().state is ChainState.UP
    finally:
        await gw.stop()
    # Within validity: dr-long and the newest status again, once each; never the expired or superseded ones.
    assert on_chain(url, dep) == ([3], [300_000])


async def test_while_down_an_expired_dr_is_never_sent_and_only_the_newest_status(
        node: ChainUp, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url, dep = node.anvil.url, node.deployment
    gw = ChainGateway(url, OPERATOR, dep, Outbox(tmp_path / "outbox.db"), health_interval=0.2, max_backoff=0.8)
    caplog.set_level(logging.DEBUG, logger="contracts.gateway")
    await gw.start()
    try:
        await until(lambda: gw.status().up)
        await asyncio.sleep(1.5)  # anvil saves its state every second: the deployment survives the kill
        node.anvil.kill()
        await until(lambda: gw.status().state is ChainState.DOWN, timeout=5)
        gw.submit(dr("dr-late", 200_000, time.time() + 1.0))  # starts in 1 s: later it would be another request
        for i in range(10):
            gw.submit(status(i))
        counts = gw.outbox.counts()
        assert counts[TxState.SUPERSEDED] == 9 and counts[TxState.QUEUED] == 2
        await asyncio.sleep(2.5)  # down for a few backoff rounds
        node.anvil.start()
        assert (await gw.wait("st-9", timeout=30)).state is TxState.CONFIRMED
        rec = await gw.wait("dr-late", timeout=10)
        assert rec.state is TxState.EXPIRED and rec.nonce is None and "valid until" in (rec.error or "")
    finally:
        await gw.stop()
    assert on_chain(url, dep) == ([9], [])
    gateway_logs = [r for r in caplog.records if r.name == "contracts.gateway"]
    assert next(r.getMessage() for r in gateway_logs if "is down" in r.getMessage()).startswith(f"chain at {url}")
    # Up at start, down once (not once per retry), up once on recovery.
    assert ["down" if "is down" in r.getMessage() else "up" for r in gateway_logs
            if "is down" in r.getMessage() or "is up" in r.getMessage()] == ["up", "down", "up"]
    assert not [r for r in gateway_logs if r.exc_info]


async def test_anvil_restarted_without_state_is_a_different_chain_not_a_traceback_loop(
        node: ChainUp, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url, dep = node.anvil.url, node.deployment
    gw = ChainGateway(url, OPERATOR, dep, Outbox(tmp_path / "outbox.db"), health_interval=0.2, max_backoff=0.8)
    caplog.set_level(logging.DEBUG)
    await gw.start()
    fresh = Anvil(node.anvil.port)  # same port, no state: a new chain with nothing deployed
    try:
        gw.submit(status(1))
        assert (await gw.wait("st-1")).state is TxState.CONFIRMED
        recorded = gw.outbox.identity()
        assert recorded is not None and recorded.chain_id == dep.chain_id and all(h for _, h in recorded.code)
        await asyncio.sleep(0.5)  # a health round reads the block after st-1
        before = gw.status()
        t_stop = time.time()
        node.anvil.stop()
        fresh.start()
        await until(lambda: gw.status().state is ChainState.DIFFERENT_CHAIN, timeout=10)
        gw.submit(status(2))
        await asyncio.sleep(3.0)  # many health rounds on the wrong chain
        st = gw.status()
        assert st.state is ChainState.DIFFERENT_CHAIN and not st.up
        assert "the chain was reset" in (st.error or "")
        assert "GridBalance, MeterReading, OrderSettlement, Settlement, SettlementToken: no code" in (st.error or "")
        assert [r.key for r in st.pending] == ["st-2"]  # what the operator decides about; st-1 stays history
        # Block and balances are the recorded chain's, last read before the restart (the panel marks them stale).
        assert st.block == before.block and st.token_balance == before.token_balance
        assert st.block_at is not None and st.block_at <= t_stop
        with pytest.raises(ValueError, match="no contract at"):
            gw.resend(["st-2"])
        nonce = await asyncio.to_thread(Web3(Web3.HTTPProvider(url)).eth.get_transaction_count, OPERATOR.address)
        assert nonce == 0  # nothing sent
        assert state_of(gw, "st-1") is TxState.CONFIRMED and state_of(gw, "st-2") is TxState.QUEUED
    finally:
        await gw.stop()
        fresh.stop()
    assert gw.outbox.identity() == recorded  # not adopted: the suite is not there
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    different = [r for r in caplog.records if "not the chain recorded" in r.getMessage()]
    assert len(different) == 1 and different[0].levelno == logging.WARNING
