"""The composition root wires the market alarms: with [market] on, the built-in market alarms are defined
and the alarm tick polls the running market (a suspension raises market.suspended within a tick)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from console.bootstrap import FieldSources, build
from console.config import default_config_path, load
from core.access import Role, User
from tests.conftest import until

pytestmark = pytest.mark.store


async def test_market_alarms_are_defined_and_polled(tmp_path: Path) -> None:
    settings = load(default_config_path())
    settings = dataclasses.replace(
        settings,
        historian=dataclasses.replace(settings.historian, enabled=True, url=f"sqlite:///{tmp_path / 'h.sqlite'}",
                                      spool=str(tmp_path / "spool")),
        market=dataclasses.replace(settings.market, enabled=True))
    app = build(settings, sources=lambda _s, _a: FieldSources([]))
    assert app.alarms is not None and app.market is not None
    ids = {d.id for d in app.alarms.engine.definitions}
    assert {"market.stopped", "market.suspended", "market.price_spike"} <= ids
    assert not {"settlement.failed", "settlement.disputed"} & ids  # no settlement service to report yet
    await app.start()
    try:
        await app.market.suspend("feeder 3 meters offline", by=User("ann", Role.OPERATOR))
        await until(lambda: app.alarms.engine.state("market.suspended").active, timeout=5)  # type: ignore[union-attr]
        assert not app.alarms.engine.state("market.stopped").active
        await app.market.resume(by=User("ann", Role.OPERATOR))
        await until(lambda: not app.alarms.engine.state("market.suspended").active, timeout=5)  # type: ignore[union-attr]
    finally:
        await app.stop()
