"""Committed artifacts match the sources; the seed functions have exactly their specified selectors."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest
from eth_utils import function_signature_to_4byte_selector

from contracts.artifacts import load
from tests.conftest import ROOT

pytestmark = pytest.mark.contracts

SEEDS = {
    ("EnergyTrade", "createOffer(uint256,uint256,uint256,bool)"): "createOffer",
    ("EnergyTrade", "executeTrade(uint256,uint256)"): "executeTrade",
    ("GridBalance", "updateStatus(uint256,uint256,uint256,uint256)"): "updateStatus",
    ("GridBalance", "requestDemandResponse(uint256,uint256,uint256)"): "requestDemandResponse",
}


@pytest.mark.parametrize(("contract", "signature"), list(SEEDS))
def test_seed_function_selectors_match_their_exact_signatures(contract: str, signature: str) -> None:
    art = load(contract)
    expected = function_signature_to_4byte_selector(signature).hex()
    ids = json.loads((ROOT / "contracts" / "artifacts" / f"{contract}.json").read_text())["methodIdentifiers"]
    assert ids[signature] == expected
    (fn,) = [f for f in art.abi if f.get("name") == SEEDS[(contract, signature)]]
    outputs = [o["type"] for o in fn["outputs"]]
    assert outputs == (["uint256"] if "Offer" in signature or "Demand" in signature else ["bool"])


def test_committed_artifacts_match_a_fresh_compile() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the artifacts cannot be recompiled here")
    result = subprocess.run([node, "contracts/compile.mjs", "--check"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout


def test_artifacts_record_compiler_and_source_hash() -> None:
    for name in ("EnergyTrade", "GridBalance", "MeterReading", "Settlement", "AchievementNFT"):
        data = json.loads((ROOT / "contracts" / "artifacts" / f"{name}.json").read_text())
        assert data["compiler"]["version"].startswith("0.8.28+")
        assert data["settings"]["optimizer"] == {"enabled": True, "runs": 200}
        source = (ROOT / data["sourceName"]).read_bytes()
        assert data["sourceSha256"] == hashlib.sha256(source).hexdigest()
