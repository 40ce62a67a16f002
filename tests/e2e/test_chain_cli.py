"""`energynet chain up` and `chain status` as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.support.cli import energynet

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
        assert info["maker_keystore"] == str(tmp_path / "31337-grid-maker.keystore.json")  # [market.maker]'s
        assert Path(info["maker_keystore"]).exists()
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


def test_chain_deploy_to_an_existing_chain_with_a_keystore(tmp_path: Path) -> None:
    from contracts.anvil import DEV_KEYS, Anvil
    from contracts.gateway import write_keystore

    key = write_keystore(tmp_path / "deployer.json", DEV_KEYS[3], "s3cret")
    with Anvil(free_port()) as node:
        env_var = "ENERGYNET_TEST_DEPLOY_PASSWORD"
        os.environ[env_var] = "s3cret"
        try:
            out = energynet("chain", "deploy", "--rpc", node.url, "--keystore", str(key), "--password-env", env_var,
                            "--dir", str(tmp_path / "dep"))
            assert out.returncode == 0, out.stderr
            info = json.loads(out.stdout)
            dep = json.loads(Path(info["deployment"]).read_text())
            assert dep["admin"] == "0x90F79bf6EB2c4f870365E785982E1f101E93b906"  # the keystore's account
            assert "EnergyNetCredit" in dep["contracts"]
            os.environ[env_var] = "wrong"
            bad = energynet("chain", "deploy", "--rpc", node.url, "--keystore", str(key), "--password-env", env_var)
            assert bad.returncode == 1 and "deployer.json" in bad.stderr
        finally:
            os.environ.pop(env_var, None)
    gone = energynet("chain", "deploy", "--rpc", node.url, "--keystore", str(key), "--password-env", "HOME")
    assert gone.returncode == 1 and "no JSON-RPC answer" in gone.stderr
