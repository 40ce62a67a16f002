"""The BUILT bundle (dist/energynet) passes its smoke test: installer/smoke.py run against the frozen program.

Slow (the demo runs until its chain, participant API and trader fleet are seen working: ~140 s at load 12-15 on
2026-12-03, at most 240 s) and it needs `make dist` first, so it runs only when asked: ENERGYNET_TEST_BUNDLE=1
(optionally ENERGYNET_BUNDLE=path). A dist/ folder left from an earlier build is not enough on its own, since
it may be stale and `make test` must stay fast.
Asked for but missing, the test fails rather than skips, so a CI job that asks for it cannot pass vacuously.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from installer import smoke

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.e2e,
    pytest.mark.timeout(600),
    pytest.mark.skipif(os.environ.get("ENERGYNET_TEST_BUNDLE") != "1",
                       reason="the built bundle is tested only with ENERGYNET_TEST_BUNDLE=1 after `make dist`"),
]


def test_built_bundle_passes_its_smoke_test() -> None:
    bundle = Path(os.environ.get("ENERGYNET_BUNDLE", ROOT / "dist" / "energynet"))
    assert (bundle / "energynet").is_file(), f"{bundle}/energynet missing: build it with `make dist`"
    result = smoke.smoke(bundle)
    assert result.failures == []
