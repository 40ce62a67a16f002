"""The world's two faces agree: meters over Modbus add up to the transformer over OPC-UA, a battery setpoint
written over Modbus moves the transformer, meters see the system frequency and their bus voltage."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from asyncua.client.client import Client
from pymodbus.client import AsyncModbusTcpClient

from drivers.sim.world.clock import WorldClock, utc
from drivers.sim.world.community import CommunityConfig
from drivers.sim.world.modbus_face import WorldModbusServer
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.opcua_face import WorldOpcUaServer
from drivers.sim.world.runner import WorldRunner
from drivers.sim.world.snapshot import WorldSnapshot
from tests.conftest import free_port

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(120)]


@dataclass
class Faces:
    runner: WorldRunner
    modbus: WorldModbusServer
    opcua: Client
    meters: AsyncModbusTcpClient
    ticks: asyncio.Queue[WorldSnapshot]

    async def node(self, name: str) -> float:
        return float(await self.opcua.get_node(f"ns=2;s=World.{name}").read_value())

    async def f32(self, device_id: int, address: int) -> float:
        r = await self.meters.read_input_registers(address, count=2, device_id=device_id)
        assert not r.isError(), r
        return float(struct.unpack(">f", struct.pack(">HH", *r.registers))[0])

    async def next_tick(self) -> WorldSnapshot:
        while not self.ticks.empty():
            self.ticks.get_nowait()
        return await self.ticks.get()


@pytest.fixture
async def faces() -> AsyncIterator[Faces]:
    # 03:00 on a December weekday: no sun, every car charged; no wind, no load noise and no frequency response
    # of the home batteries, so between two ticks only what the test does changes the flow
    config = WorldConfig(clock=WorldClock(start=utc(2026, 12, 2, 2)), load_noise=0.0, battery_fcr=False,
                         community=CommunityConfig(wind_turbines_kw=()))
    runner = WorldRunner(World(config), speed=0.5)  # one tick every 2 s: time to read every meter in one tick
    modbus = WorldModbusServer(runner, port=free_port(), households=24)
    opcua = WorldOpcUaServer(runner, port=free_port(), rate_hz=20)
    ticks: asyncio.Queue[WorldSnapshot] = asyncio.Queue()
    runner.subscribe(ticks.put_nowait)
    await modbus.start()
    await opcua.start()
    await runner.start()
    client = Client(opcua.endpoint, timeout=5)
    await client.connect()
    meters = AsyncModbusTcpClient("127.0.0.1", port=modbus.port, timeout=2)
    await meters.connect()
    try:
        yield Faces(runner, modbus, client, meters, ticks)
    finally:
        meters.close()
        await client.disconnect()
        await runner.stop()
        await opcua.stop()
        await modbus.stop()


async def test_the_meters_over_modbus_add_up_to_the_transformer_over_opcua(faces: Faces) -> None:
    await faces.next_tick()
    await asyncio.sleep(0.1)  # the OPC-UA face publishes the tick within 50 ms
    flow = await faces.node("Transformer.P")
    losses = await faces.node("Transformer.Losses") + await faces.node("Lines.Losses")
    meter_ids = [d.device_id for d in faces.modbus.devices if d.kind == "meter"]
    metered = sum([await faces.f32(i, 0x34) for i in meter_ids])
    assert await faces.node("Transformer.P") == flow, "the world ticked while the meters were read"
    assert flow > 30e3, "a December night: the suburb imports"
    assert losses > 1180, "at least the transformer's iron losses"
    assert abs(flow - (metered + losses)) < 0.02 * flow


async def test_a_battery_setpoint_over_modbus_moves_the_transformer_import_by_as_much(faces: Faces) -> None:
    battery = next(d for d in faces.modbus.devices if d.kind == "battery")
    p = faces.modbus.participants[battery.connection]
    layout = faces.modbus._sunspec[battery.device_id].layout
    mode, in_rate, out_rate = (layout[f"storage_basic.{k}"][0] for k in ("StorCtl_Mod", "InWRte", "OutWRte"))
    # first hold it at 0 W (charge at 0 %) so the step is from a known point
    await faces.meters.write_registers(in_rate, [0], device_id=battery.device_id)
    await faces.meters.write_registers(mode, [1], device_id=battery.device_id)
    await faces.next_tick()
    s0 = await faces.next_tick()
    await asyncio.sleep(0.1)
    before = await faces.node("Transformer.P")
    assert before == s0.trafo_p_w
    assert s0.battery_w[battery.connection] == 0.0
    # discharge at 80 % of its rating: X = 0.8 × battery kW
    x = 0.8 * p.battery_kw * 1000
    await faces.meters.write_registers(out_rate, [80], device_id=battery.device_id)
    await faces.meters.write_registers(mode, [2], device_id=battery.device_id)
    await faces.next_tick()
    s1 = await faces.next_tick()
    await asyncio.sleep(0.1)
    after = await faces.node("Transformer.P")
    assert after == s1.trafo_p_w
    r = await faces.meters.read_holding_registers(layout["battery.W"][0], count=1, device_id=battery.device_id)
    assert struct.unpack(">h", struct.pack(">H", r.registers[0]))[0] == round(-x)
    assert abs((before - after) - x) <= 0.05 * x


async def test_every_meter_sees_the_system_frequency_and_its_feeder_end_voltage(faces: Faces) -> None:
    ends = faces.runner.world.network.feeder_ends
    await faces.next_tick()
    await asyncio.sleep(0.1)
    system_hz = await faces.node("SystemFrequency")
    end_v = [await faces.node(f"Feeder{i}.EndVoltage") for i in range(1, len(ends) + 1)]
    by_connection = {d.connection: d.device_id for d in faces.modbus.devices if d.kind == "meter"}
    for feeder, connection in enumerate(ends):
        meter = by_connection[connection]
        hz = await faces.f32(meter, 0x46)
        volts = [await faces.f32(meter, a) for a in (0x00, 0x02, 0x04)]
        # float32 keeps 24 bits: 50 Hz to ~4e-6 Hz, 230 V to ~2e-5 V
        assert hz == pytest.approx(system_hz, abs=1e-5)
        assert volts == pytest.approx([end_v[feeder]] * 3, abs=1e-4)
    assert await faces.node("SystemFrequency") == system_hz, "the world ticked while the meters were read"
