"""Config validation: every error names the file, the key path and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.config import ConfigError, default_config_path, load, parse
from core.points import PointKind

pytestmark = pytest.mark.unit

BASE = """
[[sources]]
name = "plant"
endpoint = "opc.tcp://127.0.0.1:4840/x"
  [[sources.points]]
  id = "f"
  node = "ns=2;s=F"
  unit = "Hz"
  kind = "frequency"
"""


def test_default_config_loads() -> None:
    s = load(default_config_path())
    assert s.sources[0].name == "grid-sim"
    kinds = {p.kind for p in s.points}
    assert {PointKind.FREQUENCY, PointKind.VOLTAGE, PointKind.DEMAND, PointKind.SUPPLY} <= kinds
    assert s.console.rocof_window_s == 0.5


def test_unknown_key_is_rejected_with_its_path(tmp_path: Path) -> None:
    f = tmp_path / "site.toml"
    f.write_text(BASE + '  nominall = 50\n')
    with pytest.raises(ConfigError) as exc:
        load(f)
    msg = str(exc.value)
    assert str(f) in msg and "sources[0 'plant'].points[0 'f'].nominall" in msg and "unknown key" in msg


def test_bad_node_id_names_point_and_value() -> None:
    with pytest.raises(ConfigError) as exc:
        parse(BASE.replace('node = "ns=2;s=F"', 'node = "ns=2;x=F"'), Path("a.toml"))
    msg = str(exc.value)
    assert "a.toml: sources[0 'plant'].points[0 'f'].node" in msg and "'ns=2;x=F'" in msg


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('endpoint = "opc.tcp://127.0.0.1:4840/x"', 'endpoint = "http://x"'), "sources[0 'plant'].endpoint"),
        (('unit = "Hz"', 'unit = ""'), "points[0 'f'].unit"),
        (('node = "ns=2;s=F"', 'browse_path = []'), "must not be empty"),
        (('node = "ns=2;s=F"', 'node = "ns=2;s=F"\n  browse_path = ["2:F"]'), "exactly one of 'node'"),
        (('kind = "frequency"', 'kind = "voltage"'), "needs 'nominal'"),
        (('name = "plant"', 'name = "plant"\npublishing_interval_ms = -1'), "publishing_interval_ms"),
    ],
)
def test_specific_errors(change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=None) as exc:
        parse(BASE.replace(*change), Path("c.toml"))
    assert expected in str(exc.value)


def test_toml_syntax_error_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"c.toml: not valid TOML: .*line 3"):
        parse('[[sources]]\nname = "x"\nendpoint = \n', Path("c.toml"))


def test_duplicate_points_and_second_frequency_point() -> None:
    dup = BASE + BASE.replace('name = "plant"', 'name = "other"')
    with pytest.raises(ConfigError, match="point id 'f' appears in sources 'plant' and 'other'"):
        parse(dup)
    two = BASE + '  [[sources.points]]\n  id = "f2"\n  node = "ns=2;s=F2"\n  unit = "Hz"\n  kind = "frequency"\n'
    with pytest.raises(ConfigError, match="only one frequency point"):
        parse(two)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load(tmp_path / "nope.toml")


@pytest.mark.parametrize(("extra", "expected"), [
    ('\n[chain]\nrpc = "localhost:8545"\n', "chain.rpc"),
    ('\n[chain]\nconfirmations = -1\n', "chain.confirmations"),
    ('\n[chain]\nenable = true\n', "chain.enable"),
    ('\n[[modbus]]\nname = "m"\nhost = "h"\nprofile = "sunspec"\nasset = "solar"\n', "asset"),
])
def test_chain_and_device_settings_are_checked(extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse(BASE + extra, Path("c.toml"))
    assert expected in str(exc.value) and "c.toml" in str(exc.value)


def test_chain_and_device_defaults() -> None:
    s = parse(BASE + '\n[[modbus]]\nname = "inv"\nhost = "h"\nprofile = "sunspec"\n', Path("c.toml"))
    assert not s.chain.enabled and s.chain.confirmations == 0
    (inv,) = s.modbus
    assert inv.kind == "pv" and inv.owner == "inv"
