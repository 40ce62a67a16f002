"""A chain reset under a running console (`energynet chain up` again on the same port: same addresses, new
genesis): no earlier command is sent, the chain tab offers the open ones, resend and discard are audited."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import select
from web3 import Web3

from console.bootstrap_chain import ChainUp, chain_up
from console.services.chain import GRID_STATUS, ChainService
from console.store.historian import SqlHistorian
from console.store.schema import audit_log
from console.ui.chain_view import ChainView, confirmation
from contracts.anvil import DEV_KEYS
from contracts.deploy import account_from_key, contract_at
from contracts.gateway import ChainGateway
from contracts.outbox import Outbox
from core.chain import ChainCommand, ChainState, TxState
from tests.conftest import free_port, until

pytestmark = pytest.mark.e2e
OPERATOR = account_from_key(DEV_KEYS[0])
SCREENSHOT = os.environ.get("ENERGYNET_SCREENSHOT_DIR")


@pytest.fixture
def first(tmp_path: Path) -> Iterator[ChainUp]:
    up = chain_up(free_port(), tmp_path / "first", "pw")
    yield up
    up.anvil.stop()


async def off_loop[T](fn: Callable[[], T]) -> T:
    """A blocking web3 call from the test, in a thread: web3's session cache lock may be held by the
    gateway's async provider across an await, and a blocking call on the loop's thread would wait forever."""
    return await asyncio.to_thread(fn)


async def dr_reductions(url: str, up: ChainUp) -> list[int]:
    grid = contract_at(Web3(Web3.HTTPProvider(url)), "GridBalance", up.deployment.addresses["GridBalance"])
    return await off_loop(lambda: [int(e.args.reductionW)
                                   for e in grid.events.DemandResponseRequested().get_logs(from_block=0)])


async def operator_nonce(url: str) -> int:
    return await off_loop(lambda: Web3(Web3.HTTPProvider(url)).eth.get_transaction_count(OPERATOR.address))


def audits(historian: SqlHistorian) -> list[tuple[str, str, str, str]]:
    with historian.engine.connect() as conn:
        return [(str(u), str(a), str(t), str(r)) for u, a, t, r in conn.execute(select(
            audit_log.c.user, audit_log.c.action, audit_log.c.target, audit_log.c.result).order_by(audit_log.c.id))]


async def test_reset_chain_sends_nothing_until_the_operator_resends_or_discards(
        first: ChainUp, tmp_path: Path, qapp) -> None:  # type: ignore[no-untyped-def]
    url = first.anvil.url
    historian = SqlHistorian(f"sqlite:///{tmp_path / 'audit.sqlite'}", tmp_path / "spool")
    historian.start()
    gateway = ChainGateway(url, OPERATOR, first.deployment, Outbox(tmp_path / "outbox.db"), health_interval=0.2,
                           max_backoff=0.8)
    service = ChainService(gateway, historian=historian, publish_every_s=0, user="op-anna", dr_notice_s=3600)
    view = ChainView(service)
    await service.start()
    second: ChainUp | None = None
    try:
        await until(lambda: service.status().up)
        done = await service.request_demand_response(200_000, 1800, 500 * 10**6)
        assert (await gateway.wait(done)).state is TxState.CONFIRMED
        gateway.submit(ChainCommand("status-1", "GridBalance", "updateStatus", (49_971, 230_000, 1, 1), "grid status",
                                    supersedes=GRID_STATUS))
        assert (await gateway.wait("status-1")).state is TxState.CONFIRMED

        first.anvil.stop()
        await until(lambda: service.status().state is ChainState.DOWN, timeout=5)
        late = await service.request_demand_response(100_000, 900, 100 * 10**6)  # the operator keeps working
        gateway.submit(ChainCommand("status-2", "GridBalance", "updateStatus", (49_950, 230_000, 1, 1),
                                    "grid status", supersedes=GRID_STATUS))
        # The chain is set up again on the same port: a fresh chain, the suite at the same addresses.
        second = await off_loop(lambda: chain_up(first.anvil.port, tmp_path / "second", "pw"))
        assert second.deployment.addresses == first.deployment.addresses
        seeded = await operator_nonce(url)
        await until(lambda: service.status().state is ChainState.DIFFERENT_CHAIN, timeout=10)
        await asyncio.sleep(2.0)  # ten health rounds: still nothing may be sent
        assert await operator_nonce(url) == seeded
        assert await dr_reductions(url, second) == []  # neither the confirmed request nor the late one
        st = service.status()
        assert "genesis" in (st.error or "") and "the chain was reset" in (st.error or "")
        assert [r.key for r in service.undecided()] == [late, "status-2"]
        assert all(r.created > 0 for r in service.undecided())

        view.refresh()
        assert view.panel.banner.isVisibleTo(view) and view.decide.isVisibleTo(view)
        assert view.panel.state_label.text().startswith("◐ DIFFERENT CHAIN")
        assert view.panel.state_label.property("state") == "alert"
        assert view.panel.pending.rowCount() == 2
        assert view.panel.pending.item(0, 1).text() == "demand response: reduce 100 kW for 15 min"
        assert view.panel.pending.item(1, 0).text() == "queued"
        assert "(stale, " in view.panel.block_label.text() and "(stale, " in view.panel.balance_label.text()
        if SCREENSHOT:
            qapp.setStyleSheet(resources.files("resources").joinpath("theme.qss").read_text(encoding="utf-8"))
            view.resize(1500, 820)
            view.show()
            qapp.processEvents()
            view.grab().save(str(Path(SCREENSHOT) / "chain-different-chain.png"))
        box = confirmation(view, "Resend", "Resend 1 command?", "Resend")
        assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)  # Enter does not send
        box.deleteLater()

        assert await service.discard(["status-2"]) == ["status-2"]
        assert service.status().state is ChainState.DIFFERENT_CHAIN  # the DR is still undecided
        assert await service.resend([late]) == [late]
        await until(lambda: service.status().state is ChainState.UP)
        assert (await gateway.wait(late, timeout=20)).state is TxState.CONFIRMED
        assert gateway.record("status-2").state is TxState.DISCARDED  # type: ignore[union-attr]
        assert gateway.record(done).state is TxState.CONFIRMED  # type: ignore[union-attr]  # history of the old chain
        ident = gateway.outbox.identity()
        genesis = await off_loop(lambda: Web3(Web3.HTTPProvider(url)).eth.get_block(0)["hash"].to_0x_hex())
        assert ident is not None and ident.genesis == genesis
        await until(lambda: sum(a[1] == "chain.resend" for a in audits(historian)) == 2)  # decision and outcome
        view.refresh()
        assert not view.decide.isVisibleTo(view) and not view.panel.banner.isVisibleTo(view)
        assert await dr_reductions(url, second) == [100_000]  # the resent request once; the old one never again
    finally:
        view.close()
        view.deleteLater()  # a top-level widget left to interpreter exit can crash PySide6's teardown
        qapp.processEvents()
        qapp.setStyleSheet("")
        await service.stop()
        historian.stop()
        if second is not None:
            second.anvil.stop()
    rows = audits(historian)
    assert ("op-anna", "chain.discard", "status-2", "discarded: different chain") in rows
    assert ("op-anna", "chain.resend", late, "queued for the new chain") in rows
    assert any(a == "chain.resend" and t.endswith(late) and r.startswith("confirmed in block") for _, a, t, r in rows)


async def test_a_dr_request_that_expired_while_the_chain_was_down_is_audited_as_expired(tmp_path: Path) -> None:
    up = await off_loop(lambda: chain_up(free_port(), tmp_path / "dep", "pw", state=tmp_path / "state.json"))
    historian = SqlHistorian(f"sqlite:///{tmp_path / 'audit.sqlite'}", tmp_path / "spool")
    historian.start()
    gateway = ChainGateway(up.anvil.url, OPERATOR, up.deployment, Outbox(tmp_path / "outbox.db"),
                           health_interval=0.2, max_backoff=0.8)
    service = ChainService(gateway, historian=historian, publish_every_s=0, user="op-ben", dr_notice_s=1.0)
    await service.start()
    try:
        await until(lambda: service.status().up)
        await asyncio.sleep(1.5)  # anvil saves its state every second
        up.anvil.kill()
        await until(lambda: service.status().state is ChainState.DOWN, timeout=5)
        key = await service.request_demand_response(50_000, 600, 10 * 10**6)  # would start 1 s from now
        await asyncio.sleep(1.5)
        await off_loop(up.anvil.start)
        rec = await gateway.wait(key, timeout=20)
        assert rec.state is TxState.EXPIRED and rec.nonce is None
        await until(lambda: any(r.startswith("expired: valid until") for *_, r in audits(historian)))
        assert await dr_reductions(up.anvil.url, up) == []
    finally:
        await service.stop()
        historian.stop()
        up.anvil.stop()
    assert [(u, a, r.split(":")[0]) for u, a, _, r in audits(historian)] == [
        ("op-ben", "chain.requestDemandResponse", "queued"), ("op-ben", "chain.requestDemandResponse", "expired")]
