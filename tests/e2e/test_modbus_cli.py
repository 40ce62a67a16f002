"""`energynet probe modbus` decodes a meter defined only by a profile file
written from docs/modbus-profiles.md; `probe sunspec` lists models."""

from __future__ import annotations

import asyncio
import json
import os
import socket
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


async def serve_device(tmp_path: Path, holding: list[int], name: str,
                       profile: str) -> tuple[ModbusTcpServer, Path, int]:
    """Device id 5 with these holding registers and a single input register (0), and a config naming it."""
    bits = [SimData(0, count=16, values=False, datatype=SimType.BITS)]
    device = SimDevice(id=5, simdata=(bits, bits, [SimData(0, values=holding, datatype=SimType.REGISTERS)],
                                      [SimData(0, count=1, values=0, datatype=SimType.REGISTERS)]))
    port = free_port()
    server = ModbusTcpServer([device], address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    (tmp_path / "profile.toml").write_text(profile)
    cfg = tmp_path / "site.toml"
    cfg.write_text(f'[[modbus]]\nname = "{name}"\nhost = "127.0.0.1"\nport = {port}\ndevice_id = 5\n'
                   'profile = "profile.toml"\n')
    return server, cfg, port


async def test_meter_from_profile_file_only(tmp_path: Path) -> None:
    regs = [0] * 110
    regs[0:2] = encode(2317, DataType.INT32, WordOrder.LITTLE)  # 231.7 V
    regs[10] = encode(-1500, DataType.INT16)[0]  # exporting 1.5 kW
    regs[11] = encode(None, DataType.INT16)[0]  # not implemented
    regs[20:22] = encode(123_456, DataType.UINT32, WordOrder.LITTLE)  # × 10 Wh
    regs[100:104] = encode("EM24-77", DataType.STRING, ByteOrder.BIG, words=4)
    server, cfg, _ = await serve_device(tmp_path, regs, "em24", PROFILE)
    try:
        rc, out, err = await energynet("probe", "modbus", "--config", str(cfg), "--seconds", "1.5", "--json")
    finally:
        await server.shutdown()
    assert rc == 0, err
    rows = {r["point"]: r for r in json.loads(out)}
    # 2317 × 0.1 shown as 231.7, not 231.70000000000002
    assert rows["voltage"] == {"device": "em24", "point": "voltage", "value": 231.7, "unit": "V",
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


PM3 = """
[profile]
name = "Acme PM3"
kind = "meter"

[[points]]
id = "voltage"
address = 0
type = "float32"
unit = "V"

[[points]]
id = "current"
address = 2
type = "int16"
unit = "A"
scale = 0.1

[[points]]
id = "power"
address = 52
type = "float32"
table = "input"
unit = "W"
"""


async def test_failed_point_is_named_with_exception_and_registers_and_exits_1(tmp_path: Path) -> None:
    """The device has no input registers 52–53: it answers exception 0x02 for the power point."""
    regs = [0] * 10
    regs[0:2] = encode(231.4, DataType.FLOAT32)  # read back as 231.39999389648438
    regs[2] = encode(123, DataType.INT16)[0]  # 12.3 A
    server, cfg, port = await serve_device(tmp_path, regs, "house-03", PM3)
    try:
        rc, out, err = await energynet("probe", "modbus", "--config", str(cfg), "--seconds", "1.5", "--json")
        rc_text, out_text, _ = await energynet("probe", "modbus", "--config", str(cfg), "--seconds", "1.5")
    finally:
        await server.shutdown()
    assert rc == 1 and rc_text == 1
    assert err.splitlines() == [
        f"energynet probe: house-03.power: device 'house-03' (id 5 at 127.0.0.1:{port}) answered Modbus "
        "exception 2 (illegal data address) for input registers 52–53"]
    assert json.loads(out) == [
        {"device": "house-03", "point": "voltage", "value": 231.4, "unit": "V", "quality": "good"},
        {"device": "house-03", "point": "current", "value": 12.3, "unit": "A", "quality": "good"},
        {"device": "house-03", "point": "power", "value": None, "unit": "W", "quality": "bad"},
    ]
    assert out_text.splitlines() == [
        "house-03     voltage                                       231.4 V      good",
        "house-03     current                                        12.3 A      good",
        "house-03     power                                             — W      bad",
    ]


async def test_probe_sunspec_says_why_it_cannot_connect() -> None:
    port = free_port()  # nothing listens here
    rc, out, err = await energynet("probe", "sunspec", f"127.0.0.1:{port}", "--json")
    assert (rc, out) == (1, "")
    assert err.splitlines()[-1] == (f"energynet probe: cannot connect to 127.0.0.1:{port}: connection refused "
                                    "(nothing listens on that port; is the server running?)")
    rc, out, err = await energynet("probe", "sunspec", "nonexistent.invalid:502")
    assert (rc, out) == (1, "")
    assert err.splitlines()[-1] == ("energynet probe: cannot resolve host 'nonexistent.invalid' "
                                    "(check the host name, or use an IP address)")
    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        rc, out, err = await energynet("probe", "sunspec", f"127.0.0.1:{port}")
    assert (rc, out) == (1, "")
    assert err.splitlines()[-1] == f"energynet probe: no answer from 127.0.0.1:{port} (timed out)"


async def test_probe_modbus_unreachable_device_is_one_line_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "profile.toml").write_text(PM3)
    port = free_port()  # nothing listens here
    cfg = tmp_path / "site.toml"
    cfg.write_text(f'[[modbus]]\nname = "house-07"\nhost = "127.0.0.1"\nport = {port}\ndevice_id = 5\n'
                   'profile = "profile.toml"\n')
    rc, out, err = await energynet("probe", "modbus", "--config", str(cfg), "--seconds", "1", "--json")
    assert rc == 1
    assert [line for line in err.splitlines() if line.startswith("energynet probe: ")] == [
        f"energynet probe: house-07: cannot connect to 127.0.0.1:{port}: connection refused "
        "(nothing listens on that port; is the server running?)"]
    assert [(r["point"], r["value"], r["quality"]) for r in json.loads(out)] == [
        ("voltage", None, "comm-failure"), ("current", None, "comm-failure"), ("power", None, "comm-failure")]
