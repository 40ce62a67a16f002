"""Issue 16 scope 6 against a real anvil, through the console as built (its alarm service polling the chain
service): an operator's chain command that fails raises an alarm, and one caught by a chain outage is sent
once when the node is back — one transaction on chain, not two.

- A demand-response request for 2 days: GridBalance refuses any duration above 1 day
  (``ValueOutOfRange("duration", 172800)``), so the gateway's gas estimate reverts, the command is FAILED
  with that reason, nothing is sent — and ``chain.tx_failed`` (medium, latching) is raised.
- A request queued and anvil killed at once (mid-command: queued, perhaps signed and broadcast, not saved by
  anvil): ``chain.down`` (high, 5 s on-delay) is raised; anvil back, the command confirms, the alarm
  clears, and the chain holds exactly one ``DemandResponseRequested`` for it (the outbox key and the signed
  bytes: a resend is the same transaction).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from console.bootstrap import FieldSources, build
from console.bootstrap_chain import ChainUp
from console.config import default_config_path, load
from console.services.alarm_sources import CHAIN_DOWN, CHAIN_TX_FAILED
from console.store.schema import alarm_events
from core.chain import TxState
from tests.conftest import until
from tests.e2e.test_chain_console import chain, dr_requests_on_chain, settings_for

pytestmark = pytest.mark.e2e
__all__ = ["chain"]  # the anvil fixture, shared with the chain tab's test


async def test_a_failed_chain_command_raises_an_alarm_and_an_outage_sends_it_once(
        chain: ChainUp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENERGYNET_TEST_KEYSTORE_PASSWORD", "pw")
    settings = load(default_config_path())
    settings = dataclasses.replace(settings, chain=settings_for(chain, tmp_path), historian=dataclasses.replace(
        settings.historian, enabled=True, url=f"sqlite:///{tmp_path / 'audit.sqlite'}", spool=str(tmp_path / "spool")))
    app = build(settings, sources=lambda _settings, _acq: FieldSources([]))  # the chain and its alarms only
    assert app.chain is not None and app.historian is not None, app.chain_error
    service, alarms = app.chain, app.alarms

    def active() -> set[str]:
        return {a.id for a in alarms.snapshot().alarms if a.state.active}

    await app.start()
    try:
        await until(lambda: service.status().up)
        await asyncio.sleep(2.0)  # a few alarm ticks with the chain up: nothing raised
        assert not active() & {CHAIN_DOWN, CHAIN_TX_FAILED}

        refused = await service.request_demand_response(100_000, 2 * 86_400, 100 * 10**6)
        await until(lambda: (r := service.record(refused)) is not None and r.state.done)
        rec = service.record(refused)
        assert rec is not None and rec.state is TxState.FAILED and rec.nonce is None, rec
        assert "would revert" in (rec.error or "") and "duration" in (rec.error or ""), rec.error
        await until(lambda: CHAIN_TX_FAILED in active(), timeout=10)
        assert dr_requests_on_chain(chain) == 0  # refused at the estimate: nothing on chain

        await asyncio.sleep(1.5)  # anvil saves its state every second: the chain so far survives the kill
        key = await service.request_demand_response(200_000, 1800, 500 * 10**6)
        chain.anvil.kill()  # mid-command: queued, perhaps sent, not confirmed
        await until(lambda: CHAIN_DOWN in active(), timeout=20)  # 5 s on-delay
        assert not service.record(key).state.done  # type: ignore[union-attr]  # kept, not failed

        chain.anvil.start()
        await until(lambda: (r := service.record(key)) is not None and r.state.done, timeout=60)
        assert service.record(key).state is TxState.CONFIRMED  # type: ignore[union-attr]
        await until(lambda: CHAIN_DOWN not in active(), timeout=20)
        await asyncio.sleep(3.0)  # a resend, were there one, would be mined by now (anvil mines at once)
    finally:
        await app.stop()
    assert dr_requests_on_chain(chain) == 1  # the outage's request once; the refused one never
    engine = app.historian.historian.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        raised = {r.alarm for r in conn.execute(select(alarm_events).where(alarm_events.c.kind == "activated"))}
    assert {CHAIN_DOWN, CHAIN_TX_FAILED} <= raised, raised
