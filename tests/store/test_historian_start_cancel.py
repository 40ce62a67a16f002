"""A historian start cancelled while its worker thread migrates leaves no writer running behind."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from console.services.historian import HistorianService
from console.store.historian import SqlHistorian

pytestmark = [pytest.mark.store, pytest.mark.timeout(60)]


class GatedHistorian(SqlHistorian):
    """The real SQLite historian whose start (migrations, writer) waits for the test to let it go on."""

    def __init__(self, url: str, spool: Path) -> None:
        super().__init__(url, spool)
        self.entered = threading.Event()
        self.go_on = threading.Event()

    def start(self) -> None:
        self.entered.set()
        assert self.go_on.wait(30)
        super().start()


async def test_cancelled_start_stops_the_historian_its_thread_started(tmp_path: Path) -> None:
    # writer threads of other tests' historians still ending are not this test's concern (seen in the suite)
    before = {t for t in threading.enumerate() if t.name == "historian-writer"}
    historian = GatedHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool")
    service = HistorianService(historian)
    start = asyncio.ensure_future(service.start())
    await asyncio.to_thread(historian.entered.wait, 30)  # the worker thread is inside start()
    start.cancel()
    await asyncio.sleep(0.05)
    assert not start.done()  # the cancel waits for the thread instead of abandoning it
    historian.go_on.set()  # the thread now migrates and starts the writer, after the cancel
    with pytest.raises(asyncio.CancelledError):
        await start
    assert historian.writer._thread is None  # stopped again: no writer thread left running
    assert not [t for t in threading.enumerate() if t.name == "historian-writer" and t not in before]


async def test_samples_queued_before_a_start_are_written_on_stop(tmp_path: Path) -> None:
    from core.points import Quality, Sample

    historian = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool")
    historian.start()
    historian.stop()  # migrated, writer ended
    late = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool")
    # Three samples reach a historian whose writer never ran (a start cut short): stop still writes them.
    late.record([Sample("grid.frequency", 50.0 + i / 100, "Hz", Quality.GOOD, 1_790_000_000.0 + i, 0.0)
                 for i in range(3)])
    late.stop()
    check = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool")
    try:
        assert check.store.count("grid.frequency") == 3
    finally:
        check.engine.dispose()
