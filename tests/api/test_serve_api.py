"""`energynet serve` runs the participant API headless: no Qt imported, the API answers, SIGTERM stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import _trader
from tests.api.test_bootstrap_api import _config
from tests.conftest import ServerProcess, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SERVE_AND_REPORT_QT = """
import sys
from console.cli import main
code = main(sys.argv[1:])
print("QT_IMPORTED=" + str(any(m == "PySide6" or m.startswith("PySide6.") for m in sys.modules)))
sys.exit(code)
"""


def test_serve_answers_the_api_without_qt(plant_server: ServerProcess, tmp_path: Path) -> None:
    port = free_port()
    traders = {"alice": _trader("alice")}
    cfg = _config(tmp_path, plant_server.endpoint, port, traders)
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    proc = subprocess.Popen([sys.executable, "-c", SERVE_AND_REPORT_QT, "serve", "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        spec = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                spec = httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert spec is not None and spec["openapi"].startswith("3.1"), proc.stderr.read() if proc.stderr else ""
        mine = httpx.get(f"http://127.0.0.1:{port}/api/v1/orders", headers=traders["alice"].auth, timeout=5)
        assert mine.status_code == 200 and mine.json() == []
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert "QT_IMPORTED=False" in out, out
