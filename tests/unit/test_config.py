"""Config validation: every error names the file, the key path and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.config import SHIPPED_PROFILES, ConfigError, default_config_path, load, parse
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
        (('unit = "Hz"\n  kind = "frequency"', 'unit = "V"\n  kind = "voltage"'), "needs 'nominal'"),
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


def test_points_are_named_by_id_not_display_name() -> None:
    text = BASE.replace('id = "f"', 'id = "bay1.f"\n  name = "Bay 1 F"') + '  colour = "red"\n'
    with pytest.raises(ConfigError) as exc:
        parse(text, Path("c.toml"))
    assert str(exc.value) == ("c.toml: sources[0 'plant'].points[0 'bay1.f'].colour: unknown key (check the "
                              "spelling; see resources/energynet.toml for all keys)")


@pytest.mark.parametrize("endpoint", ["opc.tcp//10.0.0.7:4840", "http://10.0.0.7:4840", "opc.tcp://10.0.0.7:70000/x",
                                      "opc.tcp://", "opc.tcp://host name:4840"])
def test_a_bad_endpoint_is_explained_with_an_example(endpoint: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse(BASE.replace("opc.tcp://127.0.0.1:4840/x", endpoint), Path("c.toml"))
    assert str(exc.value) == (f"c.toml: sources[0 'plant'].endpoint: {endpoint!r} is not an OPC-UA endpoint; write it "
                              "like opc.tcp://10.0.0.7:4840/path (host name or address, optional port 1–65535, "
                              "optional path)")


def test_a_profile_next_to_the_config_wins_over_the_shipped_one(tmp_path: Path) -> None:
    device = '\n[[modbus]]\nname = "m"\nhost = "h"\nprofile = "eastron_sdm630.toml"\n'
    (tmp_path / "site.toml").write_text(BASE + device)
    shipped = load(tmp_path / "site.toml").modbus[0].profile
    assert shipped == str(SHIPPED_PROFILES / "eastron_sdm630.toml")
    (tmp_path / "eastron_sdm630.toml").write_text("# a site's own variant\n")
    assert load(tmp_path / "site.toml").modbus[0].profile == str((tmp_path / "eastron_sdm630.toml").resolve())


# ---- units: checked against the kind, converted to SI once at load -----------------------

def test_a_unit_that_does_not_fit_the_kind_names_the_key_and_the_allowed_units() -> None:
    with pytest.raises(ConfigError) as exc:
        parse(BASE.replace('unit = "Hz"', 'unit = "kV"'), Path("c.toml"))
    assert str(exc.value) == ("c.toml: sources[0 'plant'].points[0 'f'].unit: 'kV' is a unit of voltage; "
                              "a frequency point takes 'mHz' or 'Hz'")


def test_an_unknown_unit_suggests_the_right_case() -> None:
    with pytest.raises(ConfigError) as exc:
        parse(BASE.replace('unit = "Hz"', 'unit = "hz"'), Path("c.toml"))
    msg = str(exc.value)
    assert "points[0 'f'].unit: 'hz' is not a unit EnergyNet knows; did you mean 'Hz'?" in msg


POWER_AND_BUS = BASE + """
  [[sources.points]]
  id = "p"
  node = "ns=2;s=P"
  unit = "MW"
  kind = "demand"
  low_limit = 5
  high_limit = 20
  scale = 0.5
  offset = 1
  [[sources.points]]
  id = "u"
  node = "ns=2;s=U"
  unit = "kV"
  kind = "voltage"
  nominal = 20
"""


def test_nominal_limits_and_scale_are_in_the_configured_unit_and_become_si() -> None:
    s = parse(POWER_AND_BUS)
    f, p, u = s.sources[0].points
    assert (p.point.unit, p.point.si_unit, p.point.factor) == ("MW", "W", 1e6)
    assert (p.point.low_limit, p.point.high_limit) == (5e6, 20e6)
    # raw 10 (server units) -> 10 * 0.5 + 1 = 6 MW -> 6,000,000 W in one multiply-add
    assert p.scale * 10 + p.offset == 6_000_000.0
    assert (u.point.unit, u.point.nominal, u.point.factor) == ("kV", 20_000.0, 1e3)
    assert (u.scale, u.offset) == (1e3, 0.0)
    assert (f.point.unit, f.point.si_unit, f.scale) == ("Hz", "Hz", 1.0)


def test_a_voltage_point_without_nominal_is_told_its_unit() -> None:
    with pytest.raises(ConfigError, match=r"points\[2 'u'\]: a voltage point needs 'nominal' \(in its unit, kV\)"):
        parse(POWER_AND_BUS.replace("  nominal = 20\n", ""))


@pytest.mark.parametrize("nominal", ["0", "-20", "inf"])
def test_a_voltage_nominal_must_be_positive(nominal: str) -> None:
    with pytest.raises(ConfigError, match=r"points\[2 'u'\]: a voltage point's 'nominal' must be positive \(in kV\)"):
        parse(POWER_AND_BUS.replace("nominal = 20", f"nominal = {nominal}"))


ALARM = """
[[alarms]]
id = "f.high"
point = "f"
type = "high"
limit = 50200
deadband = 50
on_delay = 2
priority = "high"
message = "Frequency high"
"""


def test_alarms_are_loaded_in_si_from_the_points_unit() -> None:
    s = parse(BASE.replace('unit = "Hz"', 'unit = "mHz"') + ALARM)
    (a,) = s.alarms
    assert (a.id, a.condition.limit, a.deadband, a.on_delay_s) == ("f.high", 50.2, 0.05, 2.0)  # type: ignore[union-attr]


@pytest.mark.parametrize(("change", "expected"), [
    (('point = "f"', 'point = "g"'), "alarms[0 'f.high'].point: 'g' is not a configured point"),
    (("on_delay = 2", "on_dealy = 2"), "alarms[0 'f.high'].on_dealy: is not a key of a 'high' alarm"),
    (('priority = "high"', 'priority = "urgent"'), "alarms[0 'f.high'].priority:"),
    (("on_delay = 2", "suppress_when = [{ alarm = \"x\" }, { pointt = \"f\" }]"),
     "alarms[0 'f.high'].suppress_when[1]: {'pointt': 'f'} is not a rule"),
])
def test_an_alarm_error_names_the_file_the_entry_and_the_field(change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(BASE + ALARM.replace(*change), Path("site.toml"))
    assert str(err.value).startswith(f"site.toml: {expected}"), str(err.value)


def test_the_shipped_alarm_set_covers_the_bands_rocof_feeders_balance_and_stale_data() -> None:
    ids = {a.id for a in load(default_config_path()).alarms}
    assert {"grid.frequency.high", "grid.frequency.low", "grid.frequency.hh", "grid.frequency.ll", "grid.rocof",
            "grid.balance.dev", "grid-sim.data.stale"} <= ids
    assert {f"feeder{n}.voltage.{k}" for n in range(1, 5) for k in ("high", "low", "hh", "ll")} <= ids
