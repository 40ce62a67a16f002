"""The ``energynet`` command end to end, as an operator or a script runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def energynet(*args: str, timeout: float = 90, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    if data_dir is not None:
        env["XDG_DATA_HOME"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def plant_config(endpoint: str, extra: str = "") -> str:
    """A vendor layout unlike the simulator's, mapped only through the config."""
    return f"""
[[sources]]
name = "plant7"
endpoint = "{endpoint}"
  [[sources.points]]
  id = "plant7.frequency"
  node = "ns=3;i=1001"       # published in mHz
  unit = "Hz"
  kind = "frequency"
  scale = 0.001
  [[sources.points]]
  id = "plant7.bay_a.voltage"
  browse_path = ["3:Plant7", "3:Bay_A", "3:U_kV"]   # published in kV
  unit = "V"
  kind = "voltage"
  nominal = 20000
  scale = 1000
  [[sources.points]]
  id = "plant7.bay_a.power"
  node = "ns=3;i=1102"       # published in kW
  unit = "W"
  scale = 1000
  [[sources.points]]
  id = "plant7.breaker"
  node = "ns=3;s=Bay_A.Breaker"
  unit = "1"
{extra}"""


def test_probe_maps_a_foreign_layout_through_config_only(plant_server: ServerProcess, tmp_path: Path) -> None:
    cfg = tmp_path / "plant.toml"
    cfg.write_text(plant_config(plant_server.endpoint))
    started = time.time()
    out = energynet("probe", "opcua", "--config", str(cfg), "--seconds", "2", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["point"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {"plant7.frequency", "plant7.bay_a.voltage", "plant7.bay_a.power", "plant7.breaker"}
    expected = {"plant7.frequency": (49.987, "Hz"), "plant7.bay_a.voltage": (20_600, "V"),
                "plant7.bay_a.power": (1_234_500, "W")}
    for point, (value, unit) in expected.items():
        assert rows[point]["value"] == pytest.approx(value) and rows[point]["unit"] == unit
    assert rows["plant7.breaker"]["value"] == 1.0
    for r in rows.values():
        assert r["quality"] == "good"
        assert started - 5 < r["source_ts"] < time.time() + 1
        assert set(r) == {"point", "value", "unit", "quality", "source_ts"}


def test_probe_reports_a_bad_node_and_still_reads_the_rest(plant_server: ServerProcess, tmp_path: Path) -> None:
    cfg = tmp_path / "plant.toml"
    cfg.write_text(plant_config(plant_server.endpoint, extra=(
        '  [[sources.points]]\n  id = "plant7.ghost"\n  node = "ns=3;i=4242"\n  unit = "W"\n')))
    out = energynet("probe", "opcua", "--config", str(cfg), "--seconds", "2", "--json")
    assert out.returncode == 1  # not every point has a value
    assert "point 'plant7.ghost', node 'ns=3;i=4242': BadNodeIdUnknown" in out.stderr
    rows = {r["point"]: r for r in json.loads(out.stdout)}
    assert rows["plant7.ghost"]["value"] is None and rows["plant7.ghost"]["quality"] == "bad"
    assert rows["plant7.frequency"]["quality"] == "good"


def test_probe_unreachable_endpoint_says_so(tmp_path: Path) -> None:
    from tests.conftest import free_port

    cfg = tmp_path / "dead.toml"
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/x"
    cfg.write_text(plant_config(endpoint))
    out = energynet("probe", "opcua", "--config", str(cfg), "--seconds", "1.5", "--json")
    assert out.returncode == 1
    assert f"cannot connect to {endpoint}: connection refused" in out.stderr
    assert all(r["quality"] == "comm-failure" for r in json.loads(out.stdout))


def test_invalid_config_is_refused_with_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "broken.toml"
    cfg.write_text(plant_config("opc.tcp://127.0.0.1:1/x").replace('unit = "Hz"', 'unit = "Hz"\n  colour = "red"'))
    out = energynet("run", "--config", str(cfg), "--quit-after", "1", data_dir=tmp_path)
    assert out.returncode == 2
    assert f"{cfg}: sources[0 'plant7'].points[0 'plant7.frequency'].colour: unknown key" in out.stderr


def test_db_upgrade_status_and_csv_export(tmp_path: Path) -> None:
    from console.store.database import make_engine, upgrade
    from console.store.samples import SampleStore

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    out = energynet("db", "upgrade", "--url", url)
    assert out.returncode == 0 and "at revision 0003" in out.stdout
    engine = make_engine(url)
    upgrade(engine)
    t0 = 1_795_600_000  # 2026-11-25T09:46:40Z
    SampleStore(engine).insert([("grid.frequency", (t0 + s) * 1_000_000, 50.0 + s / 1000, 0) for s in range(10)]
                               + [("grid.frequency", (t0 + 10) * 1_000_000, None, 3)])
    engine.dispose()
    status = json.loads(energynet("db", "status", "--url", url).stdout)
    assert status["revision"] == status["head"] == "0003" and status["samples"] == 11
    csv_path = tmp_path / "f.csv"
    out = energynet("db", "export", "--url", url, "--point", "grid.frequency",
                    "--from", "2026-11-25T09:46:42Z", "--to", "2026-11-25T09:46:51Z", "--out", str(csv_path))
    assert out.returncode == 0, out.stderr
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "time_utc,point,value,quality"
    assert lines[1] == "2026-11-25T09:46:42.000000+00:00,grid.frequency,50.002,good"
    assert lines[-1] == "2026-11-25T09:46:50.000000+00:00,grid.frequency,,stale"
    assert len(lines) == 1 + 9
    bad = energynet("db", "export", "--url", url, "--point", "x", "--from", "yesterday", "--to", "now")
    assert bad.returncode != 0 and "'yesterday' is not an ISO time" in bad.stderr
