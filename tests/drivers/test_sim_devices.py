"""The device fleet simulator (drivers/sim/devices.py) against a real pymodbus client: values beyond a
register's range saturate instead of failing the read, and a house's devices answer from one simulation
step, so consumption = production − export holds between a meter and its inverter."""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient

from core.participants import CONSUMPTION_TOLERANCE_SHARE, CONSUMPTION_TOLERANCE_W
from drivers.modbus.codec import DataType, decode
from drivers.sim.devices import DeviceFleet, FleetDevice, power_sf, saturate, sunspec_layout, sunspec_registers
from tests.conftest import free_port

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(60)]

METER_POWER = 0x34  # SDM630 total system power, float32, W (+ import)
LAYOUT, _END = sunspec_layout((1, 103, 123))
W_ADDRESS = LAYOUT["inverter_three_phase.W"][0]
W_SF_ADDRESS = LAYOUT["inverter_three_phase.W_SF"][0]


def test_saturate_clamps_to_the_register_range_without_its_sentinel() -> None:
    assert saturate(40_000, DataType.INT16) == 32_767  # 0x7FFF
    assert saturate(-40_000, DataType.INT16) == -32_767  # −32 768 = 0x8000 means "not implemented"
    assert saturate(1234.4, DataType.INT16) == 1234
    assert saturate(70_000, DataType.UINT16) == 65_534  # 0xFFFF is the sentinel
    assert saturate(-5, DataType.UINT16) == 0
    assert saturate(2**32 + 5, DataType.ACC32) == 5  # an energy counter rolls over
    assert saturate(1.5e6, DataType.FLOAT32) == 1.5e6
    assert power_sf(5_000) == 0 and power_sf(50_000) == 1 and power_sf(32_767) == 0 and power_sf(400_000) == 2


def test_sunspec_registers_saturate_a_value_beyond_int16() -> None:
    # the map every simulated SunSpec device (the fleet's and the world's) answers from
    regs = sunspec_registers(LAYOUT, 40000, _END, {"inverter_three_phase.W": 60_000.0,
                                                   "inverter_three_phase.VAr": -50_000.0,
                                                   "inverter_three_phase.A": -3.0, "inverter_three_phase.WH": 12.0}, {})
    assert decode(regs[W_ADDRESS], DataType.INT16) == 32_767
    assert decode(regs[LAYOUT["inverter_three_phase.VAr"][0]], DataType.INT16) == -32_767
    assert decode(regs[LAYOUT["inverter_three_phase.A"][0]], DataType.UINT16) == 0
    assert decode(regs[LAYOUT["inverter_three_phase.WH"][0]], DataType.ACC32) == 12


@pytest.fixture
async def client_and_fleet() -> AsyncIterator[tuple[AsyncModbusTcpClient, DeviceFleet]]:
    # house 1: a meter and a PV inverter; house 2: the wind farm (a meter and a 50 kW wind inverter)
    layout = [FleetDevice(1, "meter", 1), FleetDevice(101, "pv", 1), FleetDevice(2, "meter", 2),
              FleetDevice(202, "wind", 2)]
    fleet = DeviceFleet(port=free_port(), layout=layout)
    await fleet.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=fleet.port, timeout=2)
    await client.connect()
    try:
        yield client, fleet
    finally:
        client.close()
        await fleet.stop()


async def meter_power(client: AsyncModbusTcpClient, device_id: int) -> float:
    r = await client.read_input_registers(METER_POWER, count=2, device_id=device_id)
    assert not r.isError(), r
    return float(struct.unpack(">f", struct.pack(">HH", *r.registers))[0])


async def inverter_power(client: AsyncModbusTcpClient, device_id: int) -> float:
    r = await client.read_holding_registers(W_ADDRESS, count=W_SF_ADDRESS - W_ADDRESS + 1, device_id=device_id)
    assert not r.isError(), r
    w = decode(r.registers[:1], DataType.INT16)
    sf = decode(r.registers[-1:], DataType.SUNSSF)
    assert isinstance(w, float) and isinstance(sf, float)
    return w * 10**sf


async def test_the_wind_farm_at_full_power_reads_without_an_overflow(
        client_and_fleet: tuple[AsyncModbusTcpClient, DeviceFleet], caplog: pytest.LogCaptureFixture) -> None:
    """50 kW did not fit the int16 of W at W_SF 0: the read failed with a traceback in the simulator."""
    client, fleet = client_and_fleet
    wind = fleet.houses[2]
    wind.steady, wind._wind_ms = True, 20.0  # above rated wind (12 m/s), below cut-out
    wind.restep()
    with caplog.at_level(logging.ERROR):
        assert await inverter_power(client, 202) == pytest.approx(50_000, abs=10)  # W_SF 1: counts of 10 W
        load = wind.consumption_w
        assert await meter_power(client, 2) == pytest.approx(load - 50_000, abs=1)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_pv_beyond_the_inverter_rating_is_clipped_for_the_meter_too(
        client_and_fleet: tuple[AsyncModbusTcpClient, DeviceFleet]) -> None:
    """8 kW of panels on a 5 kW inverter: the inverter delivers 5 kW and the meter sees those 5 kW (it
    used to see 8 kW while the inverter reported 5 kW: 3 kW of negative consumption)."""
    client, fleet = client_and_fleet
    house = fleet.houses[1]
    house.steady = True
    house.pv_peak_w = 8_000.0
    house.start_hour = (12.0 - time.monotonic() / 3600) % 24  # simulated noon: the clear-sky curve's top
    house.step_s = 3600.0
    house.restep()
    production = await inverter_power(client, 101)
    net = await meter_power(client, 1)
    assert production == pytest.approx(5_000, abs=1)
    assert net + production == pytest.approx(house.consumption_w, abs=1)


async def test_the_wind_farm_meter_and_inverter_agree_within_a_step(
        client_and_fleet: tuple[AsyncModbusTcpClient, DeviceFleet]) -> None:
    """Gusty wind on the steep part of the power curve (9 m/s: ~7 kW per m/s) and a wandering load: read
    meter, inverter, meter again, many times over many steps. Where both meter reads are of one step, the
    inverter read between them is too, and consumption = meter + production must be the house's load
    (never negative beyond the console's measurement tolerance)."""
    client, fleet = client_and_fleet
    house = fleet.houses[2]
    house.step_s = 0.2  # many steps in a short test; the demo's step is 1 s
    house._wind_ms = 9.0
    house.restep()
    same_step, straddling = [], 0
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:
        before = await meter_power(client, 2)
        production = await inverter_power(client, 202)
        after = await meter_power(client, 2)
        if before != after:
            straddling += 1  # a step began between the reads: the console aligns those (PowerAlignment)
            continue
        same_step.append((before + production, production, abs(before) + production))
    assert len(same_step) >= 20 and len(same_step) > 2 * straddling, (len(same_step), straddling)
    assert len({p for _, p, _ in same_step}) > 5  # the gusts really did vary the production
    for consumption, _, flows in same_step:
        assert consumption >= -(CONSUMPTION_TOLERANCE_W + CONSUMPTION_TOLERANCE_SHARE * flows)
        # in fact the load itself (≥ 50 W), to within the inverter's counts of 10 W (W_SF 1)
        assert consumption >= 40


async def test_a_power_limit_written_to_the_inverter_is_measured_by_the_meter_at_once(
        client_and_fleet: tuple[AsyncModbusTcpClient, DeviceFleet]) -> None:
    client, fleet = client_and_fleet
    house = fleet.houses[1]
    house.steady = True
    house.pv_peak_w = 5_000.0
    house.start_hour = (12.0 - time.monotonic() / 3600) % 24
    house.step_s = 3600.0  # one long step: only the write can start a new one
    house.restep()
    full = await inverter_power(client, 101)
    net_full = await meter_power(client, 1)
    assert full == pytest.approx(5_000, abs=1)
    ena, pct = LAYOUT["controls.WMaxLim_Ena"][0], LAYOUT["controls.WMaxLimPct"][0]
    assert not (await client.write_register(pct, 40, device_id=101)).isError()
    assert not (await client.write_register(ena, 1, device_id=101)).isError()
    limited = await inverter_power(client, 101)
    net_limited = await meter_power(client, 1)
    assert limited == pytest.approx(2_000, abs=1)  # 40 % of 5 kW
    # the 3 kW the inverter no longer delivers now come from the grid (a steady load: same consumption)
    assert net_limited - net_full == pytest.approx(3_000, abs=1)
    assert net_limited + limited == pytest.approx(net_full + full, abs=1)
