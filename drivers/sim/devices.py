"""A fleet of simulated Modbus TCP devices in one real pymodbus server.

Houses with a smart meter (Eastron SDM630 map: float32 input registers) and
PV inverters with a SunSpec map (models 1 and 103 at 40000). Values are
computed when a request arrives (PV follows a clear-sky curve with clouds,
loads wander, energy counters integrate), so every read sees the present.

Fault switches per device: ``no_answer`` (requests time out), ``exception``
(Modbus exception 4, device failure), ``garbage`` (random registers),
``counter_reset`` (energy counters restart from zero).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from dataclasses import dataclass, field
from functools import partial

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from drivers.modbus.codec import DataType, encode
from drivers.modbus.sunspec import SUNS, model_definition

log = logging.getLogger(__name__)

FAULTS = ("no_answer", "exception", "garbage", "counter_reset")
SDM630_SERIAL_ADDRESS = 0xFC00
_VALUE_TYPES = {t.value for t in DataType}


def _f32(value: float) -> list[int]:
    return encode(value, DataType.FLOAT32)


def _clear_sky(hour: float) -> float:
    return float(max(0.0, math.sin(math.pi * (hour - 6) / 12)) ** 1.5)


@dataclass
class House:
    """One participant: consumption, optional PV, energy counters."""

    device_id: int
    load_w: float
    pv_peak_w: float
    serial: int
    rng: random.Random
    imported_wh: float = 0.0
    exported_wh: float = 0.0
    produced_wh: float = 0.0
    last: float = field(default_factory=time.monotonic)
    start_hour: float = 12.0
    fault: str | None = None
    _cloud: float = 1.0

    def step(self) -> tuple[float, float]:
        """Advance to now; returns (pv W, net grid W: + import, − export)."""
        now = time.monotonic()
        dt = min(now - self.last, 60.0)
        self.last = now
        self._cloud = min(1.0, max(0.2, self._cloud + self.rng.gauss(0, 0.05)))
        hour = (self.start_hour + now / 3600) % 24
        pv = self.pv_peak_w * _clear_sky(hour) * self._cloud
        load = max(50.0, self.load_w * (1 + 0.2 * self.rng.gauss(0, 1)))
        net = load - pv
        self.produced_wh += pv * dt / 3600
        if net >= 0:
            self.imported_wh += net * dt / 3600
        else:
            self.exported_wh += -net * dt / 3600
        return pv, net


class Sdm630Map:
    """Register map of an Eastron SDM630 for one house."""

    input_size = 0x0050

    def __init__(self, house: House) -> None:
        self.house = house

    def input_registers(self) -> dict[int, list[int]]:
        _, net = self.house.step()
        volts = [230.0 + self.house.rng.gauss(0, 1.5) for _ in range(3)]
        amps = [abs(net) / 3 / v for v in volts]
        hz = 50.0 + self.house.rng.gauss(0, 0.01)
        return {0x00: _f32(volts[0]), 0x02: _f32(volts[1]), 0x04: _f32(volts[2]), 0x06: _f32(amps[0]),
                0x08: _f32(amps[1]), 0x0A: _f32(amps[2]), 0x34: _f32(net), 0x46: _f32(hz),
                0x48: _f32(self.house.imported_wh / 1000), 0x4A: _f32(self.house.exported_wh / 1000)}

    def holding_registers(self) -> dict[int, list[int]]:
        return {SDM630_SERIAL_ADDRESS: encode(self.house.serial, DataType.UINT32)}


class SunSpecInverterMap:
    """SunSpec map (common model 1 + three-phase inverter 103) of one house's PV."""

    base = 40000
    rated_w = 5000.0

    def __init__(self, house: House) -> None:
        self.house = house
        self.written: dict[int, int] = {}  # registers the operator set (controls)
        self.layout: dict[str, tuple[int, DataType, int]] = {}
        address = self.base + 2
        for model_id in (1, 103, 123):
            group = model_definition(model_id)["group"]
            offset = 0
            for p in group["points"]:
                size = int(p.get("size", 1))
                if p["type"] in _VALUE_TYPES:
                    self.layout[f"{group['name']}.{p['name']}"] = (address + offset, DataType(p["type"]), size)
                offset += size
            self.layout[f"{group['name']}.ID"] = (address, DataType.UINT16, 1)
            self.layout[f"{group['name']}.L"] = (address + 1, DataType.UINT16, 1)
            address += offset
        self.end = address

    def limit_pct(self) -> float:
        address = self.layout["controls.WMaxLimPct"][0]
        enabled = self.written.get(self.layout["controls.WMaxLim_Ena"][0], 0) == 1
        return float(self.written.get(address, 100)) if enabled else 100.0

    def holding_registers(self) -> dict[int, list[int]]:
        pv, _ = self.house.step()
        pv = min(pv, self.rated_w * self.limit_pct() / 100)  # the inverter obeys its power limit
        regs: dict[int, list[int]] = {self.base: list(SUNS), self.end: [0xFFFF, 0]}
        for address, dtype, size in self.layout.values():
            regs[address] = encode(None, dtype, words=size) if dtype is not DataType.STRING else [0] * size
        values: dict[str, float | str] = {
            "common.ID": 1, "common.L": 66, "common.Mn": "EnergyNet", "common.Md": "SimInverter 5k",
            "common.Vr": "1.0.0", "common.SN": f"INV{self.house.serial}", "common.DA": self.house.device_id,
            "inverter_three_phase.ID": 103, "inverter_three_phase.L": 50,
            "inverter_three_phase.W": round(pv), "inverter_three_phase.W_SF": 0,
            "inverter_three_phase.Hz": 5000, "inverter_three_phase.Hz_SF": -2,
            "inverter_three_phase.PhVphA": 2301, "inverter_three_phase.PhVphB": 2298,
            "inverter_three_phase.PhVphC": 2305, "inverter_three_phase.V_SF": -1,
            "inverter_three_phase.A": round(pv / 230 * 100 / 3), "inverter_three_phase.A_SF": -2,
            "inverter_three_phase.AphA": 0, "inverter_three_phase.AphB": 0, "inverter_three_phase.AphC": 0,
            "inverter_three_phase.WH": max(1, round(self.house.produced_wh)), "inverter_three_phase.WH_SF": 0,
            "inverter_three_phase.TmpCab": 412, "inverter_three_phase.Tmp_SF": -1,
            "inverter_three_phase.St": 4 if pv > 0 else 2, "inverter_three_phase.Evt1": 0,
            "controls.ID": 123, "controls.L": 24, "controls.WMaxLimPct": 100,
            "controls.WMaxLimPct_SF": 0, "controls.WMaxLim_Ena": 0, "controls.Conn": 1,
        }
        for key, value in values.items():
            address, dtype, size = self.layout[key]
            regs[address] = encode(value, dtype, words=size)
        for address, word in self.written.items():
            regs[address] = [word]
        return regs


class DeviceFleet:
    """Many simulated devices behind one Modbus TCP port (device ids 1..count)."""

    def __init__(self, count: int = 10, host: str = "127.0.0.1", port: int = 5020, seed: int = 1,
                 inverter_every: int = 3) -> None:
        if not 1 <= count <= 247:
            raise ValueError(f"a Modbus TCP port serves device ids 1–247; asked for {count} devices")
        self.host, self.port = host, port
        rng = random.Random(seed)
        self.houses: dict[int, House] = {}
        self.maps: dict[int, Sdm630Map | SunSpecInverterMap] = {}
        for device_id in range(1, count + 1):
            house = House(device_id, load_w=rng.uniform(300, 2500), pv_peak_w=rng.choice([0, 3000, 5000, 8000]),
                          serial=10_000_000 + device_id, rng=random.Random(seed * 1000 + device_id))
            self.houses[device_id] = house
            is_inverter = inverter_every > 0 and device_id % inverter_every == 0
            self.maps[device_id] = SunSpecInverterMap(house) if is_inverter else Sdm630Map(house)
        self._server: ModbusTcpServer | None = None

    def set_fault(self, device_id: int, fault: str | None) -> None:
        """Switch a fault on (one of FAULTS) or off (None)."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        house = self.houses[device_id]
        house.fault = fault
        if fault == "counter_reset":
            house.imported_wh = house.exported_wh = house.produced_wh = 0.0

    async def start(self) -> None:
        logging.getLogger("pymodbus").setLevel(logging.WARNING)
        devices = [self._device(device_id) for device_id in self.maps]
        self._server = ModbusTcpServer(devices, address=(self.host, self.port), ignore_missing_devices=True)
        await self._server.serve_forever(background=True)
        log.info("device fleet: %d devices on %s:%d", len(devices), self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None

    def _device(self, device_id: int) -> SimDevice:
        m = self.maps[device_id]
        bits = [SimData(0, count=16, values=False, datatype=SimType.BITS)]
        if isinstance(m, Sdm630Map):
            holding = [SimData(SDM630_SERIAL_ADDRESS, count=2, values=0, datatype=SimType.REGISTERS)]
            inputs = [SimData(0, count=m.input_size, values=0, datatype=SimType.REGISTERS)]
        else:
            holding = [SimData(m.base, count=m.end + 2 - m.base, values=0, datatype=SimType.REGISTERS)]
            inputs = [SimData(0, count=1, values=0, datatype=SimType.REGISTERS)]
        return SimDevice(id=device_id, simdata=(bits, bits, holding, inputs),
                         action=partial(self._action, device_id))

    async def _action(self, device_id: int, function_code: int, start_address: int, address: int, count: int,
                      current_registers: list[int], set_values: list[int] | list[bool] | None) -> ExcCodes | None:
        house = self.houses[device_id]
        if house.fault == "no_answer":
            await asyncio.sleep(3600)  # the client times out; other devices are unaffected
        if house.fault == "exception":
            return ExcCodes.DEVICE_FAILURE
        m = self.maps[device_id]
        if set_values is not None:
            if not isinstance(m, SunSpecInverterMap):
                return ExcCodes.ILLEGAL_ADDRESS  # meters here have nothing writable
            for i, word in enumerate(set_values):
                m.written[address + i] = int(word)
            return None
        if function_code == 4 and isinstance(m, Sdm630Map):
            regs = m.input_registers()
        elif function_code == 3:
            regs = m.holding_registers()
        else:
            return None
        for reg_address, words in regs.items():
            for i, word in enumerate(words):
                index = reg_address + i - start_address
                if 0 <= index < len(current_registers):
                    current_registers[index] = word
        if house.fault == "garbage":
            for i in range(count):
                current_registers[address - start_address + i] = house.rng.randrange(0x10000)
        return None


async def run_device_fleet(host: str, port: int, count: int, stop: asyncio.Event | None = None,
                           inverter_every: int = 3) -> None:
    """Serve the fleet until ``stop`` is set or the task is cancelled."""
    fleet = DeviceFleet(count, host, port, inverter_every=inverter_every)
    await fleet.start()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        await fleet.stop()
