"""The console's chain tab against a real anvil: requests confirm, a killed chain shows as down, commands
made meanwhile are kept and sent once when it is back."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from web3 import Web3

from console.bootstrap import FieldSources, build, build_acquisition
from console.bootstrap_chain import ChainUp, chain_up
from console.config import ChainSettings, default_config_path, load
from console.services.chain import status_command
from console.store.historian import SqlHistorian
from console.store.schema import audit_log
from console.ui.chain_view import ChainView
from contracts.deploy import contract_at
from core.chain import TxState
from core.points import Quality, Sample
from tests.conftest import free_port, until

pytestmark = pytest.mark.e2e


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[ChainUp]:
    up = chain_up(free_port(), tmp_path / "deployments", "pw", state=tmp_path / "anvil-state.json")
    yield up
    up.anvil.stop()


def settings_for(up: ChainUp, tmp_path: Path) -> ChainSettings:
    return ChainSettings(enabled=True, rpc=up.anvil.url, deployment=up.deployment_path, keystore=up.keystore,
                         password_env="ENERGYNET_TEST_KEYSTORE_PASSWORD", outbox=tmp_path / "outbox.db",
                         publish_status_s=0)


def dr_requests_on_chain(up: ChainUp) -> int:
    w3 = Web3(Web3.HTTPProvider(up.anvil.url))
    grid = contract_at(w3, "GridBalance", up.deployment.addresses["GridBalance"])
    return len(grid.events.DemandResponseRequested().get_logs(from_block=0))



async def test_chain_tab_shows_requests_outage_and_recovery(
        chain: ChainUp, tmp_path: Path, qapp, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ENERGYNET_TEST_KEYSTORE_PASSWORD", "pw")
    settings = load(default_config_path())
    settings = dataclasses.replace(settings, chain=settings_for(chain, tmp_path), historian=dataclasses.replace(
        settings.historian, enabled=True, url=f"sqlite:///{tmp_path / 'audit.sqlite'}", spool=str(tmp_path / "spool")))
    app = build(settings, sources=lambda _settings, _acq: FieldSources([]))  # the chain tab is all this test uses
    assert app.chain is not None and app.historian is not None, app.chain_error
    service, historian = app.chain, app.historian.historian
    assert isinstance(historian, SqlHistorian)
    view = ChainView(service)
    await app.start()
    try:
        await until(lambda: service.status().up)
        first = await service.request_demand_response(200_000, 1800, 500 * 10**6)
        await until(lambda: (r := service.record(first)) is not None and r.state.done)
        assert service.record(first).state is TxState.CONFIRMED  # type: ignore[union-attr]
        view.refresh()
        assert "connected" in view.panel.state_label.text()
        assert view.panel.log.item(0, 0).text() == "confirmed"
        assert "demand response: reduce 200 kW for 30 min" in view.panel.log.item(0, 1).text()
        await until(lambda: any(e.name == "DemandResponseRequested" for e in service.status().events))

        await asyncio.sleep(1.5)  # anvil saves its state every second
        chain.anvil.kill()
        await until(lambda: not service.status().up, timeout=5)
        second = await service.request_demand_response(100_000, 900, 100 * 10**6)
        await asyncio.sleep(0.5)
        view.refresh()
        assert "DOWN" in view.panel.state_label.text()
        assert view.panel.pending.rowCount() == 1
        assert "sent when back" in view.panel.queue_label.text()

        chain.anvil.start()
        await until(lambda: (r := service.record(second)) is not None and r.state.done, timeout=30)
        assert service.record(second).state is TxState.CONFIRMED  # type: ignore[union-attr]
        view.refresh()
        assert "connected" in view.panel.state_label.text() and view.panel.pending.rowCount() == 0
        # Every request is audited when queued and again with its outcome.
        await until(lambda: len(audit_results(historian)) >= 4)
    finally:
        await app.stop()
    assert dr_requests_on_chain(chain) == 2  # each request exactly once
    results = audit_results(historian)
    assert [r for r in results if r == "queued"] == ["queued", "queued"]
    assert sum(r.startswith("confirmed in block") for r in results) == 2, results


def audit_results(historian: SqlHistorian) -> list[str]:
    with historian.engine.connect() as conn:
        return [r for (r,) in conn.execute(select(audit_log.c.result).where(
            audit_log.c.action == "chain.requestDemandResponse").order_by(audit_log.c.id))]


def test_status_command_publishes_only_usable_values() -> None:
    settings = load(default_config_path())
    acq = build_acquisition(settings)
    now = time.time()
    values = {"grid.frequency": 49.95, "grid.demand": 8.0e6, "grid.supply": 8.1e6}
    volts = [p.id for p in settings.points if p.kind.value == "voltage"]
    batch = [Sample(k, v, "", Quality.GOOD, now, now) for k, v in values.items()]
    batch += [Sample(k, 231.0 - i, "V", Quality.GOOD, now, now) for i, k in enumerate(volts)]
    acq.on_samples(batch)
    cmd = status_command(acq.snapshot())
    assert cmd is not None and cmd.function == "updateStatus"
    assert cmd.args == (49_950, round((231.0 - (len(volts) - 1)) * 1000), 8_000_000, 8_100_000)
    acq.on_samples([Sample("grid.frequency", 49.95, "Hz", Quality.STALE, now + 1, now + 1)])
    assert status_command(acq.snapshot()) is None  # never publish a stale frequency
