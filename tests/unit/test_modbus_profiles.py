"""Profiles as data: loading, clear errors, block planning, SunSpec models."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from drivers.modbus.codec import DataType, encode
from drivers.modbus.profile import (
    MAX_BLOCK,
    PROFILE_DIR,
    ProfileError,
    Table,
    load_profile,
    parse_profile,
    plan_blocks,
)
from drivers.modbus.sunspec import SUNS, ModelHeader, SunSpecError, discover, model_points, sunspec_profile

pytestmark = pytest.mark.unit


def test_sdm630_profile_loads_and_plans_merged_reads() -> None:
    p = load_profile("eastron_sdm630.toml")
    assert p.name == "Eastron SDM630" and p.point("voltage_l1").dtype is DataType.FLOAT32
    blocks = plan_blocks(p)
    power = [b for b in blocks if b.poll == "power"]
    assert power[0].start == 0 and power[0].count == 12 and len(power[0].points) == 6
    assert all(b.count <= MAX_BLOCK for b in blocks)
    assert {b.table for b in blocks if b.poll == "identity"} == {Table.HOLDING}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[profile]\nname="x"\n[[points]]\nid="a"\naddress=1\ntype="flaot32"\n',
         "points[0 'a'].type: 'flaot32' is not a data type"),
        ('[profile]\nname="x"\n[[points]]\nid="a"\naddress=70000\ntype="int16"\n',
         "points[0 'a'].address: must be a register address"),
        ('[profile]\nname="x"\n[[points]]\nid="a"\naddress=1\ntype="int16"\ncolour=1\n',
         "points[0 'a'].colour: unknown key"),
        ('[profile]\nname="x"\n[[points]]\nid="a"\naddress=1\ntype="int16"\nsf="b"\n',
         "points[0 'a'].sf: no point 'b' holds this scale factor"),
        ('[profile]\nname="x"\n[[points]]\nid="a"\naddress=1\ntype="int16"\ntable="input"\naccess="rw"\n',
         "input registers are read-only"),
        ('[profile]\nname="x"\n[[points]]\nid="a"\naddress=1\ntype="int16"\npoll="slow"\n',
         "no poll group 'slow'"),
        ('[profile\nname="x"\n', "not valid TOML"),
    ],
)
def test_malformed_profile_names_file_key_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ProfileError) as exc:
        load_profile(f)
    assert str(f) in str(exc.value) and expected in str(exc.value)


def _profile(*points: str, head: str = "") -> dict[str, object]:
    return tomllib.loads('[profile]\nname = "x"\n' + head + "".join(f"[[points]]\n{p}\n" for p in points))


def test_points_of_one_table_may_not_share_a_register() -> None:
    with pytest.raises(ProfileError) as exc:
        parse_profile(_profile('id = "u"\naddress = 100\ntype = "float32"', 'id = "p"\naddress = 104\ntype = "int16"',
                               'id = "i"\naddress = 101\ntype = "int16"'), "m.toml")
    assert str(exc.value) == ("m.toml: points[2 'i'].address: register 101 (holding) is also read by points[0 'u'] "
                              "(registers 100–101); two points cannot share a register")


def test_the_same_address_in_two_tables_is_two_registers() -> None:
    p = parse_profile(_profile('id = "a"\naddress = 0\ntype = "int32"\ntable = "input"',
                               'id = "b"\naddress = 1\ntype = "int16"'), "m.toml")
    assert [(q.id, q.table) for q in p.points] == [("a", Table.INPUT), ("b", Table.HOLDING)]


def test_a_value_may_not_run_past_the_last_register() -> None:
    parse_profile(_profile('id = "last"\naddress = 65534\ntype = "uint32"'), "m.toml")  # 65534–65535: fits
    with pytest.raises(ProfileError, match=r"m.toml: points\[0 'e'\].address: uint32 at 65535 needs registers "
                                           r"65535–65536, past the last register 65535"):
        parse_profile(_profile('id = "e"\naddress = 65535\ntype = "uint32"'), "m.toml")


@pytest.mark.parametrize(("point", "key", "problem"), [
    ('unit = "KW"', "unit", "'KW' is not a unit EnergyNet knows; did you mean 'kW'?"),
    ('unit = "kWh"\nrole = "power"', "unit", "'kWh' is a unit of energy; a point of role 'power' takes 'W' or 'kW'"),
    ('unit = "Wh"\nrole = "energy"', "role", "'energy' is not a role; use one of power, energy_import"),
    ('unit = 230', "unit", "must be text, got 230"),
    ("min = 10\nmax = 1", "min", "min (10) is above max (1)"),
])
def test_units_and_roles_are_checked(point: str, key: str, problem: str) -> None:
    with pytest.raises(ProfileError) as exc:
        parse_profile(_profile(f'id = "p"\naddress = 0\ntype = "int16"\n{point}'), "m.toml")
    assert str(exc.value).startswith(f"m.toml: points[0 'p'].{key}: {problem}")


def test_every_problem_is_listed_each_under_its_key() -> None:
    with pytest.raises(ProfileError) as exc:
        parse_profile(_profile('id = "a"\naddress = 0\ntype = "int99"', 'id = "b"\naddress = 1\ntype = "int16"\n'
                               'table = "coil"', head='word_order = "mixed"\nbyte_order = 1\n'), "m.toml")
    assert exc.value.problems == (
        "m.toml: profile.word_order: 'mixed' is not a word order; use 'big' or 'little'",
        "m.toml: profile.byte_order: 1 is not a byte order; use 'big' or 'little'",
        "m.toml: points[0 'a'].type: 'int99' is not a data type; use one of " + ", ".join(t.value for t in DataType),
        "m.toml: points[1 'b'].table: 'coil' is not a table; use 'holding' or 'input'",
    )


def test_a_broken_scale_factor_point_is_one_problem_not_two() -> None:
    with pytest.raises(ProfileError) as exc:
        parse_profile(_profile('id = "w_sf"\naddress = 0\ntype = "sunsf"', 'id = "w"\naddress = 1\ntype = "int16"\n'
                               'sf = "w_sf"'), "m.toml")
    assert len(exc.value.problems) == 1 and exc.value.problems[0].startswith("m.toml: points[0 'w_sf'].type: ")


def test_a_missing_profile_names_both_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProfileError) as exc:
        load_profile("sdm360.toml")
    assert str(exc.value) == (f"sdm360.toml: no such profile in the working directory ({tmp_path}) "
                              f"nor among the shipped profiles ({PROFILE_DIR})")


def test_sunspec_inverter_model_points_come_from_the_official_definition() -> None:
    points = {p.id: p for p in model_points(ModelHeader(103, 40069, 50))}
    w = points["inverter_three_phase.W"]
    assert w.address == 40069 + 14 and w.dtype is DataType.INT16 and w.unit == "W"
    assert w.sf == "inverter_three_phase.W_SF" and points[w.sf].dtype is DataType.SUNSSF
    assert points["inverter_three_phase.WH"].dtype is DataType.ACC32 and points["inverter_three_phase.WH"].words == 2


async def test_discovery_walks_the_model_chain() -> None:
    regs: dict[int, int] = {}

    def put(address: int, values: list[int]) -> None:
        for i, v in enumerate(values):
            regs[address + i] = v

    put(40000, list(SUNS))
    put(40002, [1, 66])
    put(40002 + 2 + 66, [103, 50])
    put(40002 + 2 + 66 + 2 + 50, [0xFFFF, 0])

    async def read(address: int, count: int) -> list[int]:
        if address not in regs:
            raise OSError("illegal data address")
        return [regs.get(address + i, 0) for i in range(count)]

    headers = await discover(read)
    assert [(h.model_id, h.start, h.length) for h in headers] == [(1, 40002, 66), (103, 40070, 50)]
    profile = sunspec_profile(headers)
    assert profile.kind == "inverter" and profile.point("common.Mn").dtype is DataType.STRING

    async def nothing(address: int, count: int) -> list[int]:
        return encode(0, DataType.UINT32)

    with pytest.raises(SunSpecError, match="no SunSpec marker"):
        await discover(nothing)
