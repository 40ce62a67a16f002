"""The ``energynet`` command end to end, as an operator or a script runs it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from console.store.database import head_revision
from tests.conftest import ServerProcess
from tests.support.cli import energynet, plant_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


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
    assert probe_lines(out.stderr) == [
        "energynet probe: plant7.ghost: source 'plant7', point 'plant7.ghost', node 'ns=3;i=4242': "
        "BadNodeIdUnknown (the server has no node with this id) — check this point's address in the config"]
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
    assert probe_lines(out.stderr) == [
        f"energynet probe: plant7: cannot connect to {endpoint}: connection refused "
        "(nothing listens on that port; is the server running?)"]  # one line for the source, none per point
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
    assert out.returncode == 0 and f"at revision {head_revision()}" in out.stdout
    engine = make_engine(url)
    upgrade(engine)
    t0 = 1_795_600_000  # 2026-11-25T09:46:40Z
    SampleStore(engine).insert([("grid.frequency", (t0 + s) * 1_000_000, 50.0 + s / 1000, 0) for s in range(10)]
                               + [("grid.frequency", (t0 + 10) * 1_000_000, None, 3)])
    engine.dispose()
    status = json.loads(energynet("db", "status", "--url", url).stdout)
    assert status["revision"] == status["head"] == head_revision() and status["samples"] == 11
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


def probe_lines(stderr: str) -> list[str]:
    """The probe's own report lines (stderr also carries the log)."""
    return [line for line in stderr.splitlines() if line.startswith("energynet probe: ")]


def substation_config(endpoint: str, extra: str = "") -> str:
    return f"""
[[sources]]
name = "sub"
endpoint = "{endpoint}"
  [[sources.points]]
  id = "sub.frequency"
  node = "nsu=urn:acme:substation;i=5001"   # a Double
  unit = "Hz"
  kind = "frequency"
  [[sources.points]]
  id = "sub.bay1.voltage"
  node = "nsu=urn:acme:substation;s=Bay1.U"   # a Float, in kV
  unit = "V"
  kind = "voltage"
  nominal = 20000
  scale = 1000
{extra}"""


def test_probe_reads_nsu_ids_and_rounds_a_float_to_its_precision(tmp_path: Path) -> None:
    from tests.conftest import free_port

    server = ServerProcess(free_port(), layout="substation-renumbered").start()  # the substation is ns=3
    try:
        cfg = tmp_path / "sub.toml"
        cfg.write_text(substation_config(server.endpoint))
        out = energynet("probe", "opcua", "--config", str(cfg), "--seconds", "2", "--json")
    finally:
        server.kill()
    assert out.returncode == 0, out.stderr
    rows = {r["point"]: (r["value"], r["unit"], r["quality"]) for r in json.loads(out.stdout)}
    # Float 20.4 reads back as 20.399999618530273: × 1000 and to 7 digits, 20400.0.
    assert rows == {"sub.frequency": (49.95, "Hz", "good"), "sub.bay1.voltage": (20400.0, "V", "good")}


def test_probe_names_an_unknown_namespace_and_exits_1(tmp_path: Path) -> None:
    from tests.conftest import free_port

    server = ServerProcess(free_port(), layout="substation").start()
    try:
        cfg = tmp_path / "sub.toml"
        cfg.write_text(substation_config(server.endpoint, extra=(
            '  [[sources.points]]\n  id = "sub.ghost"\n  node = "nsu=urn:acme:nowhere;i=5001"\n  unit = "W"\n')))
        out = energynet("probe", "opcua", "--config", str(cfg), "--seconds", "2", "--json")
    finally:
        server.kill()
    assert out.returncode == 1
    assert probe_lines(out.stderr) == [
        "energynet probe: sub.ghost: source 'sub', point 'sub.ghost', node 'nsu=urn:acme:nowhere;i=5001': the "
        "server has no namespace 'urn:acme:nowhere' (it has 0: 'http://opcfoundation.org/UA/', "
        "1: 'urn:freeopcua:python:server', 2: 'urn:acme:substation') — check this point's address in the config"]
    rows = {r["point"]: (r["value"], r["quality"]) for r in json.loads(out.stdout)}
    assert rows == {"sub.frequency": (49.95, "good"), "sub.bay1.voltage": (20400.0, "good"),
                    "sub.ghost": (None, "bad")}


def test_probe_unresolvable_host_says_so(tmp_path: Path) -> None:
    cfg = tmp_path / "dns.toml"
    cfg.write_text(substation_config("opc.tcp://nonexistent.invalid:4840/x"))
    out = energynet("probe", "opcua", "--config", str(cfg), "--seconds", "1.5", "--json")
    assert out.returncode == 1
    assert probe_lines(out.stderr) == [
        "energynet probe: sub: cannot resolve host 'nonexistent.invalid' (check the host name, or use an IP address)"]
    assert [r["quality"] for r in json.loads(out.stdout)] == ["comm-failure", "comm-failure"]
