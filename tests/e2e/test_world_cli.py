"""`energynet check-config resources/world.toml` passes; `energynet sim world` refuses a broken scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.cli import main

ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.e2e


def test_the_world_console_config_passes_check_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(ROOT / "resources" / "world.toml")]) == 0
    out = capsys.readouterr().out
    assert "1 OPC-UA source (24 points), 69 Modbus devices (44 from 2 profiles" in out


def test_sim_world_refuses_a_broken_scenario_before_starting(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[events]]\nat_s = 5\nkind = "island"\nwhen = 3\n', encoding="utf-8")
    assert main(["sim", "world", "--scenario", str(bad), "--opcua-port", "0", "--modbus-port", "0"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: events[0].when: an island event has no key 'when' (its keys: none)" in err
