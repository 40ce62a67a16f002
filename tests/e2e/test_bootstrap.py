"""The composition root: one build, an ordered start, the reverse stop, safe to repeat."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.bootstrap import AlarmService, FieldSources, HistorianService, LoopMonitor, build
from console.config import load
from console.services.participants_admin import ParticipantsAdmin
from tests.conftest import ServerProcess, until
from tests.support.cli import plant_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


async def test_every_sample_acquired_is_stored_because_the_historian_stops_after_the_sources(
        plant_server: ServerProcess, tmp_path: Path) -> None:
    from console.store.database import make_engine
    from console.store.samples import SampleStore

    db = tmp_path / "h.sqlite"
    cfg = tmp_path / "plant.toml"
    cfg.write_text(plant_config(plant_server.endpoint,
                                f'[historian]\nurl = "sqlite:///{db}"\nspool = "{tmp_path / "spool"}"\n'))
    app = build(load(cfg))
    # alarms after the historian (its journal uses the historian's migrated database), before the sources
    # (the participant register after them: it reads the migrated database; the API, when on, reads it)
    assert [type(p) for p in app.parts()] == [LoopMonitor, HistorianService, AlarmService, FieldSources,
                                              ParticipantsAdmin]
    assert app.commands is None and app.chain is None and app.chain_error is None  # none configured
    assert app.historian is not None
    await app.start()
    await app.start()  # a second start does not start anything twice
    try:
        await until(lambda: app.acquisition.stats().samples >= 4)
    finally:
        await app.stop()
    await app.stop()  # safe to repeat
    stats = app.historian.stats()
    acquired = app.acquisition.stats().samples
    # The sources' last samples (stale marks written on stop) arrived before the historian stopped.
    assert stats.queued == 0 and stats.written == acquired, (stats, acquired)
    engine = make_engine(f"sqlite:///{db}")
    try:
        store = SampleStore(engine)
        for point in ("plant7.frequency", "plant7.bay_a.voltage", "plant7.bay_a.power", "plant7.breaker"):
            assert store.count(point) >= 1, point
    finally:
        engine.dispose()
    assert app.monitor.p99_ms() >= 0 and app.monitor._task is None  # the watchdog stopped too
