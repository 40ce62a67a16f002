"""Run one test in a pytest process of its own.

Tests that drive a whole MainWindow on their own qasync loop leave Qt objects behind whose deletion order
at teardown broke later tests' plots and crashed Python at exit. Such a test runs in a child pytest
process; the parent test's outcome is the child's.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ISOLATED = "ENERGYNET_TEST_ISOLATED"

# Mark for the scenario itself: it runs only inside the child process.
only_isolated = pytest.mark.skipif(not os.environ.get(ISOLATED), reason="runs in its own process")


def run_isolated(test_file: str, test_name: str, timeout_s: float = 240) -> None:
    """Run ``test_file::test_name`` in a fresh pytest process and fail with its output if it fails."""
    if os.environ.get(ISOLATED):
        pytest.skip("already isolated: the scenario itself runs in this process")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{test_file}::{test_name}"],
        env={**os.environ, ISOLATED: "1"}, capture_output=True, text=True, timeout=timeout_s)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "1 passed" in out.stdout, out.stdout[-4000:]
