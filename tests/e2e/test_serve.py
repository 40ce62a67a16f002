"""`energynet serve`: the services headless, built by the same composition root as the desktop app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, free_port
from tests.support.cli import plant_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# Runs the CLI in this interpreter, then says whether anything imported Qt on the way.
SERVE_AND_REPORT_QT = """
import sys
from console.cli import main
code = main(sys.argv[1:])
print("QT_IMPORTED=" + str(any(m == "PySide6" or m.startswith("PySide6.") for m in sys.modules)))
sys.exit(code)
"""


def test_serve_stores_samples_without_importing_qt(plant_server: ServerProcess, tmp_path: Path) -> None:
    from console.store.database import make_engine
    from console.store.samples import SampleStore

    db = tmp_path / "serve.sqlite"
    cfg = tmp_path / "plant.toml"
    cfg.write_text(plant_config(plant_server.endpoint,
                                f'[historian]\nurl = "sqlite:///{db}"\nspool = "{tmp_path / "spool"}"\n'))
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    out = subprocess.run([sys.executable, "-c", SERVE_AND_REPORT_QT, "serve", "--config", str(cfg),
                          "--quit-after", "4"], capture_output=True, text=True, timeout=90, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "QT_IMPORTED=False" in out.stdout, out.stdout
    assert "plant7=connected" in out.stderr, out.stderr[-3000:]
    engine = make_engine(f"sqlite:///{db}")
    try:
        store = SampleStore(engine)
        # Every configured point was stored: the first value of each passes any deadband.
        for point in ("plant7.frequency", "plant7.bay_a.voltage", "plant7.bay_a.power", "plant7.breaker"):
            assert store.count(point) >= 1, point
    finally:
        engine.dispose()


def test_serve_names_a_missing_config(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "console", "serve", "--config", str(tmp_path / "none.toml"),
                          "--quit-after", "1"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert "none.toml" in out.stderr


FREQUENCY_HIGH = """
[[alarms]]
id = "plant7.frequency.high"
point = "plant7.frequency"
type = "high"
limit = 50.2
deadband = 0.05
on_delay = 0.5
priority = "high"
message = "Frequency high"
"""


def test_serve_evaluates_alarms_headless_into_the_journal(tmp_path: Path) -> None:
    """A plant publishing 50.3 Hz against a 50.2 Hz high alarm: `energynet serve` (no Qt) journals it."""
    from console.store.alarm_journal import SqlAlarmJournal
    from core.alarms import EventKind, IsaState, JournalQuery

    server = ServerProcess(free_port(), layout="plant", args=("--frequency-mhz", "50300")).start()
    try:
        db = tmp_path / "serve.sqlite"
        cfg = tmp_path / "plant.toml"
        cfg.write_text(plant_config(server.endpoint, f'[historian]\nurl = "sqlite:///{db}"\n'
                                                     f'spool = "{tmp_path / "spool"}"\n' + FREQUENCY_HIGH))
        env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
        out = subprocess.run([sys.executable, "-c", SERVE_AND_REPORT_QT, "serve", "--config", str(cfg),
                              "--quit-after", "4"], capture_output=True, text=True, timeout=90, env=env)
    finally:
        server.kill()
    assert out.returncode == 0, out.stderr[-3000:]
    assert "QT_IMPORTED=False" in out.stdout, out.stdout
    journal = SqlAlarmJournal.open(f"sqlite:///{db}")
    try:
        events = journal.query(JournalQuery(0.0, 4e9, alarms=frozenset({"plant7.frequency.high"})))
        states = journal.latest_states()
    finally:
        journal.engine.dispose()
    assert [e.kind for e in events][:1] == [EventKind.ACTIVATED], events
    assert events[0].value == pytest.approx(50.3, abs=1e-9)  # 50300 mHz * 0.001, the value that tripped it
    assert states["plant7.frequency.high"].isa is IsaState.UNACK_ACTIVE
    # The console's own alarm for the source was defined too, and stayed quiet: the source was up.
    assert "source.plant7.lost" not in states or not states["source.plant7.lost"].active
