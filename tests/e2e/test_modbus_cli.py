"""`energynet probe modbus` decodes a meter defined only by a profile file
written from docs/modbus-profiles.md; `probe sunspec` lists models."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from drivers.modbus.codec import ByteOrder, DataType, WordOrder, encode
from drivers.sim.devices import DeviceFleet
from tests.conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PROFILE = """
[profile]
name = "Acme EM24"
kind = "meter"
word_order = "little"
table = "holding"

[poll_groups]
power = 0.5

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

[[points]]
id = "energy"
address = 20
type = "uint32"
unit = "Wh"
scale = 10

[[points]]
id = "reactive"
address = 11
type = "int16"
unit = "var"

[[points]]
id = "serial"
address = 100
type = "string"
words = 4
"""


async def energynet(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_meter_from_profile_file_only(tmp_path: Path) -> None:
    regs = [0] * 110
    regs[0:2] = encode(2317, DataType.INT32, WordOrder.LITTLE)  # 231.7 V
    regs[10] = encode(-1500, DataType.INT16)[0]  # exporting 1.5 kW
    regs[11] = encode(None, DataType.INT16)[0]  # not implemented
    regs[20:22] = encode(123_456, DataType.UINT32, WordOrder.LITTLE)  # × 10 Wh
    regs[100:104] = encode("EM24-77", DataType.STRING, ByteOrder.BIG, words=4)
    bits = [SimData(0, count=16, values=False, datatype=SimType.BITS)]
    device = SimDevice(id=5, simdata=(bits, bits, [SimData(0, values=regs, datatype=SimType.REGISTERS)],
                                      [SimData(0, count=1, values=0, datatype=SimType.REGISTERS)]))
    port = free_port()
    server = ModbusTcpServer([device], address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    (tmp_path / "acme_em24.toml").write_text(PROFILE)
    cfg = tmp_path / "site.toml"
    cfg.write_text(f'[[modbus]]\nname = "em24"\nhost = "127.0.0.1"\nport = {port}\ndevice_id = 5\n'
                   f'profile = "acme_em24.toml"\n')
    try:
        rc, out, err = await energynet("probe", "modbus", "--config", str(cfg), "--seconds", "1.5", "--json")
    finally:
        await server.shutdown()
    assert rc == 0, err
    rows = {r["point"]: r for r in json.loads(out)}
    assert rows["voltage"] == {"device": "em24", "point": "voltage", "value": pytest.approx(231.7), "unit": "V",
                               "quality": "good"}
    assert rows["power"]["value"] == -1500 and rows["power"]["unit"] == "W"
    assert rows["energy"]["value"] == 1_234_560 and rows["energy"]["unit"] == "Wh"
    assert rows["reactive"]["value"] is None and rows["reactive"]["quality"] == "bad"  # not implemented
    assert rows["serial"]["value"] == "EM24-77"


async def test_probe_sunspec_lists_models() -> None:
    fleet = DeviceFleet(count=3, port=free_port())
    await fleet.start()
    try:
        rc, out, err = await energynet("probe", "sunspec", f"127.0.0.1:{fleet.port}", "--device-id", "3", "--json")
    finally:
        await fleet.stop()
    assert rc == 0, err
    models = json.loads(out)
    assert [(m["model"], m["address"]) for m in models] == [(1, 40002), (103, 40070), (123, 40122)]
    assert models[1]["length"] == 50
