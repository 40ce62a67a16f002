"""Profiles as data: loading, clear errors, block planning, SunSpec models."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.modbus.codec import DataType, encode
from drivers.modbus.profile import MAX_BLOCK, ProfileError, Table, load_profile, plan_blocks
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
