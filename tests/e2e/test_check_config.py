"""`energynet check-config` through the real CLI entry: every mistake a console
run would trip over, found before anything runs, each naming file, key and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.cli import main
from console.config import SHIPPED_PROFILES
from drivers.modbus.profile import PROFILE_DIR

pytestmark = pytest.mark.e2e

PROFILE = """\
[profile]
name = "Acme EM24"
kind = "meter"
word_order = "little"

[poll_groups]
power = 0.5
energy = 60.0

[[points]]
id = "voltage"
address = 0
type = "int32"
unit = "V"
scale = 0.1

[[points]]
id = "power"
address = 10
type = "int16"
unit = "W"
role = "power"

[[points]]
id = "energy"
address = 20
type = "uint32"
unit = "Wh"
poll = "energy"
role = "energy_import"

[[points]]
id = "soc"
address = 30
type = "uint16"
unit = "%"

[[points]]
id = "serial"
address = 100
type = "string"
words = 4
role = "serial"
"""

CONFIG = """\
[historian]
url = "sqlite:///{tmp}/h.db"

[[sources]]
name = "plant"
endpoint = "opc.tcp://127.0.0.1:4840/x"
  [[sources.points]]
  id = "plant.f"
  name = "Frequency"
  node = "ns=2;s=F"
  unit = "Hz"
  kind = "frequency"
  [[sources.points]]
  id = "plant.u1"
  name = "Bay 1 U_L1"
  node = "ns=2;s=U1"
  unit = "V"
  kind = "voltage"
  nominal = 230

[[modbus]]
name = "em24"
host = "127.0.0.1"
profile = "acme_em24.toml"

[[modbus]]
name = "em24b"
host = "127.0.0.1"
device_id = 2
profile = "acme_em24.toml"

[[modbus]]
name = "house-01"
host = "127.0.0.1"
device_id = 3
profile = "eastron_sdm630.toml"

[[modbus]]
name = "house-01-pv"
host = "127.0.0.1"
device_id = 101
profile = "sunspec"
"""


def check(tmp_path: Path, capsys: pytest.CaptureFixture[str], profile: str = PROFILE,
          config: str = CONFIG) -> tuple[int, str, str]:
    (tmp_path / "acme_em24.toml").write_text(profile, encoding="utf-8")
    (tmp_path / "site.toml").write_text(config.replace("{tmp}", str(tmp_path)), encoding="utf-8")
    rc = main(["check-config", str(tmp_path / "site.toml")])
    out, err = capsys.readouterr()
    return rc, out, err


def test_valid_mixed_config_is_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = check(tmp_path, capsys)
    assert rc == 0, err
    # 2 devices × 5 Acme points + 1 × 11 SDM630 points = 21; the SunSpec device is only counted.
    assert out.strip() == (f"{tmp_path / 'site.toml'}: OK — 1 OPC-UA source (2 points), 4 Modbus devices "
                           "(3 from 2 profiles, 21 points; 1 SunSpec, discovered at run time), historian sqlite, "
                           "chain off")


def test_a_file_of_modbus_devices_only_is_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    modbus_only = CONFIG[CONFIG.index("[[modbus]]"):]
    rc, out, err = check(tmp_path, capsys, config=modbus_only)
    assert rc == 0, err
    assert out.strip() == (f"{tmp_path / 'site.toml'}: OK — no OPC-UA sources, 4 Modbus devices (3 from 2 profiles, "
                           "21 points; 1 SunSpec, discovered at run time), historian sqlite (in the data directory), "
                           "chain off")


def test_the_shipped_demo_config_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(Path(__file__).parents[2] / "resources" / "energynet.toml")]) == 0
    assert "23 Modbus devices (12 from 1 profile, 132 points; 11 SunSpec" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (('type = "int16"', 'type = "float33"'), "points[1 'power'].type", "'float33' is not a data type"),
        (('address = 10\ntype = "int16"', 'address = 10\ntype = "int16"\ntable = "coils"'),
         "points[1 'power'].table", "'coils' is not a table; use 'holding' or 'input'"),
        (('word_order = "little"', 'word_order = "middle"'), "profile.word_order",
         "'middle' is not a word order; use 'big' or 'little'"),
        (("address = 10", "address = 1"), "points[1 'power'].address",
         "register 1 (holding) is also read by points[0 'voltage'] (registers 0–1)"),
        (("address = 100", "address = 65534"), "points[4 'serial'].address",
         "string at 65534 needs registers 65534–65537, past the last register 65535"),
        (('unit = "W"', 'unit = "kWh"'), "points[1 'power'].unit",
         "'kWh' is a unit of energy; a point of role 'power' takes 'W' or 'kW' or 'MW' or 'GW'"),
        (('unit = "%"', 'unit = "percent"'), "points[3 'soc'].unit", "'percent' is not a unit EnergyNet knows"),
        (('role = "power"', 'role = "active_power"'), "points[1 'power'].role", "'active_power' is not a role"),
        (("[[points]]\nid = \"voltage\"", "[[points]\nid = \"voltage\""), "not valid TOML", "line 10"),
    ],
)
def test_profile_mistakes_name_the_profile_file_and_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], key: str, problem: str) -> None:
    assert change[0] in PROFILE
    rc, out, err = check(tmp_path, capsys, profile=PROFILE.replace(*change, 1))
    assert rc == 2 and out == ""
    profile, config = tmp_path / "acme_em24.toml", tmp_path / "site.toml"
    lines = err.splitlines()
    assert any(line.startswith(f"{profile}: {key}") and problem in line for line in lines), err
    # The config line says which devices the broken profile stops.
    assert (f"{config}: modbus[0 'em24'].profile: {profile} cannot be used (1 problem above); "
            f"also used by modbus[1 'em24b']") in lines
    assert lines[-1].startswith(f"{config}: 2 problems — 1 OPC-UA source (2 points)")


def test_every_problem_of_a_profile_is_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = (PROFILE.replace('type = "int16"', 'type = "float33"').replace("address = 30", "address = 21")
              .replace('word_order = "little"', 'word_order = "middle"'))
    rc, _, err = check(tmp_path, capsys, profile=broken)
    profile = tmp_path / "acme_em24.toml"
    assert rc == 2
    assert f"{profile}: profile.word_order: 'middle' is not a word order; use 'big' or 'little'" in err
    assert f"{profile}: points[1 'power'].type: 'float33' is not a data type" in err
    assert (f"{profile}: points[3 'soc'].address: register 21 (holding) is also read by points[2 'energy'] "
            "(registers 20–21); two points cannot share a register") in err
    assert "(3 problems above)" in err


def test_missing_profile_names_both_places(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = CONFIG.replace('profile = "acme_em24.toml"', 'profile = "em42.toml"', 1)
    rc, _, err = check(tmp_path, capsys, config=config)
    assert rc == 2
    assert (f"{tmp_path / 'site.toml'}: modbus[0 'em24'].profile: no profile file 'em42.toml': looked next to the "
            f"config ({tmp_path / 'em42.toml'}) and among the profiles shipped with EnergyNet "
            f"({PROFILE_DIR / 'em42.toml'})") in err.splitlines()


def test_config_and_driver_agree_on_the_shipped_profiles() -> None:
    assert SHIPPED_PROFILES == PROFILE_DIR


@pytest.mark.parametrize(
    ("extra", "key", "problem"),
    [
        ('poll = { powr = 1.0 }\n', "modbus[3 'house-01-pv-x'].poll.powr",
         "the profile 'Acme EM24' has no poll group 'powr' (its groups: power, energy)"),
        ('', "modbus[3 'house-01-pv-x'].name", "the device's point 'house-01-pv-x.power' has the id of a point of "
         "sources[0 'plant']; rename the device or that point"),
    ],
)
def test_device_settings_are_checked_against_their_profile(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, key: str, problem: str) -> None:
    config = (CONFIG.replace('id = "plant.u1"', 'id = "house-01-pv-x.power"')
              .replace('name = "house-01-pv"\nhost = "127.0.0.1"\ndevice_id = 101\nprofile = "sunspec"\n',
                       f'name = "house-01-pv-x"\nhost = "127.0.0.1"\ndevice_id = 101\nprofile = "acme_em24.toml"\n'
                       f'{extra}'))
    rc, _, err = check(tmp_path, capsys, config=config)
    assert rc == 2
    assert f"{tmp_path / 'site.toml'}: {key}: {problem}" in err.splitlines()


def test_enabled_chain_needs_its_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = CONFIG + f'\n[chain]\nenabled = true\ndeployment = "{tmp_path}/31337.json"\n'
    (tmp_path / "key.json").write_text("{}")
    config += f'keystore = "{tmp_path}/key.json"\n'
    rc, _, err = check(tmp_path, capsys, config=config)
    assert rc == 2
    assert (f"{tmp_path / 'site.toml'}: chain.deployment: no deployment file at {tmp_path / '31337.json'}"
            in err) and "chain.keystore" not in err


def test_config_errors_name_points_by_id_and_explain_endpoints(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = (CONFIG.replace('nominal = 230', 'nominal = "230 V"')
              .replace('endpoint = "opc.tcp://127.0.0.1:4840/x"', 'endpoint = "opc.tcp//10.0.0.7:4840"'))
    rc, out, err = check(tmp_path, capsys, config=config)
    cfg = tmp_path / "site.toml"
    assert rc == 2 and out == ""
    lines = err.splitlines()
    assert (f"{cfg}: sources[0 'plant'].endpoint: 'opc.tcp//10.0.0.7:4840' is not an OPC-UA endpoint; write it "
            "like opc.tcp://10.0.0.7:4840/path (host name or address, optional port 1–65535, optional path)") in lines
    assert any(line.startswith(f"{cfg}: sources[0 'plant'].points[1 'plant.u1'].nominal: ") and "'230 V'" in line
               for line in lines), err
    assert lines[-1].startswith(f"energynet check-config: {cfg}: 2 problems")


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """README, exit codes: an option value the command cannot read is a usage error."""
    with pytest.raises(SystemExit) as exc:
        main(["db", "export", "--url", f"sqlite:///{tmp_path}/h.db", "--point", "x", "--from", "yesterday",
              "--to", "2026-11-25T09:00:00Z"])
    assert exc.value.code == 2 and "--from 'yesterday' is not an ISO time" in capsys.readouterr().err
    monkeypatch.delenv("ENERGYNET_TEST_NO_PASSWORD", raising=False)
    with pytest.raises(SystemExit) as exc:
        main(["chain", "deploy", "--rpc", "http://127.0.0.1:1", "--keystore", str(tmp_path / "k.json"),
              "--password-env", "ENERGYNET_TEST_NO_PASSWORD"])
    assert exc.value.code == 2 and "set ENERGYNET_TEST_NO_PASSWORD to the keystore password" in (
        capsys.readouterr().err)
