"""`energynet chain up` and `chain status` as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import energynet

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_chain_up_deploys_and_status_reports_it(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "console", "--log-level", "warning", "chain", "up", "--port",
                             str(port), "--dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ})
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # the JSON summary, then it keeps running
            lines.append(line)
            if line.startswith("}"):
                break
        info = json.loads("".join(lines))
        assert info["chainId"] == 31337
        assert set(info["contracts"]) >= {"EnergyTrade", "GridBalance", "MeterReading", "Settlement",
                                          "AchievementNFT", "SettlementToken"}
        deployment = Path(info["deployment"])
        assert deployment.exists() and Path(info["keystore"]).exists()
        st = energynet("chain", "status", "--rpc", info["rpc"], "--deployment", str(deployment))
        assert st.returncode == 0, st.stderr
        status = json.loads(st.stdout)
        assert status["up"] and all(status["deployed"].values())
        assert status["adminTokenBalance"] == 1_000_000 * 10**6
        taken = energynet("chain", "up", "--port", str(port), "--dir", str(tmp_path / "other"))
        assert taken.returncode == 1 and f"port {port} is in use" in taken.stderr
    finally:
        proc.terminate()
        proc.wait(10)
    down = energynet("chain", "status", "--rpc", f"http://127.0.0.1:{port}", "--deployment", str(deployment))
    assert down.returncode == 1 and json.loads(down.stdout)["up"] is False
    missing = energynet("chain", "status", "--deployment", str(tmp_path / "nope.json"))
    assert missing.returncode == 1 and "nope.json" in missing.stderr and "chain up" in missing.stderr
