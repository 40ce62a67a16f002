"""`energynet demo` end to end: simulator process + console, headless."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def test_demo_writes_a_screenshot_of_a_live_console(tmp_path: Path) -> None:
    from tests.conftest import free_port

    png = tmp_path / "demo.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_DATA_HOME": str(tmp_path / "data")}
    out = subprocess.run(
        [sys.executable, "-m", "console", "demo", "--port", str(free_port()),
         "--screenshot", str(png), "--quit-after", "12"],
        capture_output=True, text=True, timeout=150, env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    summary = re.search(r"session summary: frames=(\d+) samples=(\d+) loop_lag_p99_ms=(\d+) sources: (.*)", out.stderr)
    assert summary, out.stderr[-3000:]
    frames, samples = int(summary[1]), int(summary[2])
    assert frames >= 100  # ~20 Hz refresh for ~10 s
    assert samples >= 8 * 100  # 8 points at 20 Hz from the simulator
    assert "grid-sim=connected" in summary[4]
    stored = re.search(r"historian: HistorianStats\(queued=(\d+), written=(\d+)", out.stderr)
    assert stored and int(stored[1]) == 0 and int(stored[2]) >= samples * 0.9  # all stored at shutdown
    assert (tmp_path / "data" / "energynet" / "historian.sqlite").exists()
    image = QImage(str(png))
    assert image.width() >= 1200 and image.height() >= 700
    # A live frame is not a blank one: many distinct colours (text, curves, bands).
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 50
