"""A fleet of simulated Modbus TCP devices in one real pymodbus server.

Houses with a smart meter (Eastron SDM630 map: float32 input registers), PV
or wind inverters with a SunSpec map (models 1, 103 and 123 at 40000) and
batteries with a SunSpec map (models 1, 802 and 124). A house is simulated in
steps of :data:`STEP_S` on one clock shared by the fleet (PV follows a clear-sky
curve with clouds, wind a gusty speed through a turbine power curve, loads
wander, the battery follows its setpoint or, without one, covers the house's
deficit from its surplus, energy counters integrate); a request that arrives in
a new step first advances the house to it. Every device of a house answers
from the same step, as the meter and inverters of a real house measure the same
physical flows: a meter and an inverter read within one step give exactly
consumption = production − export. Random changes scale with the time stepped
(not with how often the house is read), so polling faster does not make the
weather gustier. A value beyond its register's range saturates at the
range's end, as a real device's register does.

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
STEP_S = 1.0  # simulation step: every register of a house holds one step's values (a meter's update rate)
# The register ranges values saturate at (the "not implemented" sentinels 0x8000 / 0xFFFF… excluded);
# accumulators roll over instead, as energy counters do.
_RANGES = {
    DataType.INT16: (-0x7FFF, 0x7FFF), DataType.UINT16: (0, 0xFFFE), DataType.ENUM16: (0, 0xFFFE),
    DataType.BITFIELD16: (0, 0xFFFE), DataType.SUNSSF: (-10, 10),
    DataType.INT32: (-0x7FFFFFFF, 0x7FFFFFFF), DataType.UINT32: (0, 0xFFFFFFFE), DataType.BITFIELD32: (0, 0xFFFFFFFE),
    DataType.INT64: (-0x7FFFFFFFFFFFFFFF, 0x7FFFFFFFFFFFFFFF), DataType.UINT64: (0, 0xFFFFFFFFFFFFFFFE),
}
_ACC_BITS = {DataType.ACC16: 16, DataType.ACC32: 32, DataType.ACC64: 64}


def saturate(value: float, dtype: DataType) -> float:
    """``value`` as a device's register of ``dtype`` can hold it: integers clamped to the type's range
    (without its "not implemented" sentinel), accumulators rolled over; floats and strings unchanged."""
    if dtype in _RANGES:
        lo, hi = _RANGES[dtype]
        return float(min(hi, max(lo, round(value))))
    if dtype in _ACC_BITS:
        return float(round(value) % (1 << _ACC_BITS[dtype]))
    return value


def power_sf(rated_w: float) -> int:
    """The smallest SunSpec power scale factor (10^sf W per count) at which ``rated_w`` fits an int16."""
    sf = 0
    while rated_w / 10**sf > 0x7FFF:
        sf += 1
    return sf


def _f32(value: float) -> list[int]:
    return encode(value, DataType.FLOAT32)


def _clear_sky(hour: float) -> float:
    return float(max(0.0, math.sin(math.pi * (hour - 6) / 12)) ** 1.5)


def _household_load(hour: float) -> float:
    """Typical household load shape (share of the day's mean): low at night, a morning and an evening peak."""
    morning = math.exp(-(((hour - 7.5) / 1.5) ** 2))
    evening = math.exp(-(((hour - 19.0) / 2.0) ** 2))
    return 0.55 + 0.6 * morning + 1.1 * evening


@dataclass
class Battery:
    """A house battery: energy, power limits, efficiency; the operator's setpoint (SunSpec model 124)."""

    capacity_wh: float = 10_000.0
    max_w: float = 5_000.0
    efficiency: float = 0.95  # each way
    soc_wh: float = 5_000.0
    mode: int = 0  # StorCtl_Mod: bit 0 charge, bit 1 discharge, 0 = self-consumption
    charge_pct: float = 100.0  # InWRte, % of max_w
    discharge_pct: float = 100.0  # OutWRte, % of max_w
    power_w: float = 0.0  # + charging, − discharging (AC side)

    def dispatch(self, surplus_w: float, dt: float) -> float:
        """Choose the AC power for the next `dt` s (+ charge) and integrate the energy."""
        if self.mode & 1:
            want = self.max_w * self.charge_pct / 100
        elif self.mode & 2:
            want = -self.max_w * self.discharge_pct / 100
        else:
            want = max(-self.max_w, min(self.max_w, surplus_w))  # self-consumption
        if want > 0:
            room = (self.capacity_wh - self.soc_wh) / self.efficiency * 3600 / max(dt, 1e-3)
            want = min(want, room)
            self.soc_wh += want * self.efficiency * dt / 3600
        else:
            floor = 0.05 * self.capacity_wh
            avail = max(0.0, self.soc_wh - floor) * self.efficiency * 3600 / max(dt, 1e-3)
            want = max(want, -avail)
            self.soc_wh += want / self.efficiency * dt / 3600
        self.power_w = want
        return want


@dataclass
class House:
    """One participant: consumption, optional PV, wind and battery, energy counters.

    :meth:`advance` brings the house to the simulation step that holds now (steps of ``step_s`` on the
    monotonic clock, the same instants for every house); between steps every value stays as it is, so
    all the house's devices answer from one consistent snapshot.
    """

    device_id: int
    load_w: float
    pv_peak_w: float
    serial: int
    rng: random.Random
    wind_rated_w: float = 0.0
    battery: Battery | None = None
    imported_wh: float = 0.0
    exported_wh: float = 0.0
    produced_wh: float = 0.0
    wind_wh: float = 0.0
    last: float = field(default_factory=time.monotonic)
    start_hour: float = 12.0
    step_s: float = STEP_S
    pv_w: float = 0.0
    wind_w: float = 0.0
    net_w: float = 0.0  # at the meter: + import, − export
    consumption_w: float = 0.0  # the load drawn in the last step: the truth the console reconstructs
    volts: tuple[float, float, float] = (230.0, 230.0, 230.0)
    hz: float = 50.0
    # The inverters' power limits (W, from their WMaxLimPct controls): the generation the step may deliver.
    pv_limit_w: float = math.inf
    wind_limit_w: float = math.inf
    steady: bool = False  # no wandering load, clouds or gusts: every device read sees the same house (tests)
    _cloud: float = 1.0
    _wind_ms: float = 7.0
    _load_factor: float = 1.0
    _step: int | None = None  # index of the step the values are of

    def advance(self, now: float | None = None) -> None:
        """Bring the house to the step holding ``now`` (monotonic s); nothing changes within a step."""
        now = time.monotonic() if now is None else now
        index = math.floor(now / self.step_s)
        if index == self._step:
            return
        self._step = index
        self._simulate(now)

    def restep(self) -> None:
        """Start a new step at the next read (a setpoint or limit changed: its effect is measured at once)."""
        self._step = None

    def step(self) -> tuple[float, float]:
        """Advance to the present step; returns (pv W, net grid W: + import, − export)."""
        self.advance()
        return self.pv_w, self.net_w

    def _simulate(self, now: float) -> None:
        dt = min(max(now - self.last, 0.0), 60.0)
        self.last = now
        noise = 0.0 if self.steady else math.sqrt(dt)  # a random walk's spread grows with √time
        rng = self.rng
        self._cloud = min(1.0, max(0.2, self._cloud + noise * rng.gauss(0, 0.05)))
        hour = (self.start_hour + now / 3600) % 24
        pv = min(self.pv_peak_w * _clear_sky(hour) * self._cloud, max(0.0, self.pv_limit_w))
        # Gusty wind around 7 m/s (mean-reverting), through a cut-in 3 / rated 12 / cut-out 25 m/s curve.
        self._wind_ms = max(0.0, self._wind_ms + min(1.0, 0.05 * dt) * (7.0 - self._wind_ms)
                            + noise * rng.gauss(0, 0.4))
        v = self._wind_ms
        wind = self.wind_rated_w * (0.0 if v < 3 or v > 25 else min(1.0, ((v - 3) / 9) ** 3))
        wind = min(wind, max(0.0, self.wind_limit_w))
        # The load wanders around its daily shape: ±20 % (1 σ), changing over about a minute.
        self._load_factor += -min(1.0, dt / 60) * (self._load_factor - 1.0) + noise * rng.gauss(0, 0.2 / math.sqrt(30))
        load = max(50.0, self.load_w * _household_load(hour) * (1.0 if self.steady else self._load_factor))
        battery = self.battery.dispatch(pv + wind - load, dt) if self.battery else 0.0
        net = load - pv - wind + battery
        self.pv_w, self.wind_w, self.consumption_w, self.net_w = pv, wind, load, net
        self.volts = (230.0, 230.0, 230.0) if self.steady else tuple(  # type: ignore[assignment]
            230.0 + rng.gauss(0, 1.5) for _ in range(3))
        self.hz = 50.0 + (0.0 if self.steady else rng.gauss(0, 0.01))
        self.produced_wh += pv * dt / 3600
        self.wind_wh += wind * dt / 3600
        if net >= 0:
            self.imported_wh += net * dt / 3600
        else:
            self.exported_wh += -net * dt / 3600


class Sdm630Map:
    """Register map of an Eastron SDM630 for one house."""

    input_size = 0x0050

    def __init__(self, house: House) -> None:
        self.house = house

    def input_registers(self) -> dict[int, list[int]]:
        self.house.advance()
        net, volts, hz = self.house.net_w, self.house.volts, self.house.hz
        amps = [abs(net) / 3 / v for v in volts]
        return {0x00: _f32(volts[0]), 0x02: _f32(volts[1]), 0x04: _f32(volts[2]), 0x06: _f32(amps[0]),
                0x08: _f32(amps[1]), 0x0A: _f32(amps[2]), 0x34: _f32(net), 0x46: _f32(hz),
                0x48: _f32(self.house.imported_wh / 1000), 0x4A: _f32(self.house.exported_wh / 1000)}

    def holding_registers(self) -> dict[int, list[int]]:
        return {SDM630_SERIAL_ADDRESS: encode(self.house.serial, DataType.UINT32)}


SunSpecLayout = dict[str, tuple[int, DataType, int]]  # "group.point" -> (address, type, words)


def sunspec_layout(models: tuple[int, ...], base: int = 40000) -> tuple[SunSpecLayout, int]:
    """Where each point of ``models`` (laid out one after the other after "SunS" at ``base``) lives;
    and the address of the end marker. Shared by the fleet and the world's Modbus face."""
    layout: SunSpecLayout = {}
    address = base + 2
    for model_id in models:
        group = model_definition(model_id)["group"]
        offset = 0
        for p in group["points"]:
            size = int(p.get("size", 1))
            if p["type"] in _VALUE_TYPES:
                layout[f"{group['name']}.{p['name']}"] = (address + offset, DataType(p["type"]), size)
            offset += size
        layout[f"{group['name']}.ID"] = (address, DataType.UINT16, 1)
        layout[f"{group['name']}.L"] = (address + 1, DataType.UINT16, 1)
        address += offset
    return layout, address


def sunspec_registers(layout: SunSpecLayout, base: int, end: int, values: dict[str, float | str],
                      written: dict[int, int]) -> dict[int, list[int]]:
    """The register words of a SunSpec map: "not implemented" everywhere, then ``values``, then what the
    operator wrote (read back as written)."""
    regs: dict[int, list[int]] = {base: list(SUNS), end: [0xFFFF, 0]}
    for address, dtype, size in layout.values():
        regs[address] = encode(None, dtype, words=size) if dtype is not DataType.STRING else [0] * size
    for key, value in values.items():
        address, dtype, size = layout[key]
        regs[address] = encode(value if isinstance(value, str) else saturate(value, dtype), dtype, words=size)
    for address, word in written.items():
        regs[address] = [word]
    return regs


class SunSpecMap:
    """A SunSpec register map at 40000 laid out from pysunspec2's model definitions."""

    base = 40000
    models: tuple[int, ...] = (1,)

    def __init__(self, house: House) -> None:
        self.house = house
        self.written: dict[int, int] = {}  # registers the operator set (controls)
        self.layout, self.end = sunspec_layout(self.models, self.base)

    def setting(self, point: str, default: float) -> float:
        """A control register as the operator last wrote it (or its default)."""
        word = self.written.get(self.layout[point][0])
        if word is None:
            return default
        return float(word - 0x10000 if self.layout[point][1] is DataType.INT16 and word >= 0x8000 else word)

    def values(self) -> dict[str, float | str]:
        raise NotImplementedError

    def apply_settings(self) -> None:
        """Hand the control registers' settings to the house (its next step follows them)."""

    def common(self, model: str, serial_prefix: str) -> dict[str, float | str]:
        return {"common.ID": 1, "common.L": 66, "common.Mn": "EnergyNet", "common.Md": model, "common.Vr": "1.0.0",
                "common.SN": f"{serial_prefix}{self.house.serial}", "common.DA": self.house.device_id}

    def holding_registers(self) -> dict[int, list[int]]:
        return sunspec_registers(self.layout, self.base, self.end, self.values(), self.written)


class SunSpecInverterMap(SunSpecMap):
    """SunSpec map (common 1, three-phase inverter 103, controls 123) of a house's PV or wind inverter."""

    models = (1, 103, 123)
    rated_w = 5000.0

    def __init__(self, house: House, source: str = "pv") -> None:
        super().__init__(house)
        self.source = source

    def limit_pct(self) -> float:
        enabled = self.setting("controls.WMaxLim_Ena", 0) == 1
        return self.setting("controls.WMaxLimPct", 100) if enabled else 100.0

    @property
    def rated(self) -> float:
        return self.house.wind_rated_w if self.source == "wind" else self.rated_w

    def apply_settings(self) -> None:
        # The inverter obeys its power limit; the house (and its meter) with it.
        setattr(self.house, "wind_limit_w" if self.source == "wind" else "pv_limit_w",
                self.rated * self.limit_pct() / 100)

    def values(self) -> dict[str, float | str]:
        wind = self.source == "wind"
        rated = self.rated
        self.apply_settings()
        self.house.advance()
        power = self.house.wind_w if wind else self.house.pv_w
        energy = self.house.wind_wh if wind else self.house.produced_wh
        w_sf = power_sf(rated)  # the 50 kW wind farm counts in 10 W
        return {
            **(self.common("SimWind 50k", "WND") if wind else self.common("SimInverter 5k", "INV")),
            "inverter_three_phase.ID": 103, "inverter_three_phase.L": 50,
            "inverter_three_phase.W": power / 10**w_sf, "inverter_three_phase.W_SF": w_sf,
            "inverter_three_phase.Hz": 5000, "inverter_three_phase.Hz_SF": -2,
            "inverter_three_phase.PhVphA": 2301, "inverter_three_phase.PhVphB": 2298,
            "inverter_three_phase.PhVphC": 2305, "inverter_three_phase.V_SF": -1,
            "inverter_three_phase.A": round(power / 230 * 100 / 3), "inverter_three_phase.A_SF": -2,
            "inverter_three_phase.AphA": 0, "inverter_three_phase.AphB": 0, "inverter_three_phase.AphC": 0,
            "inverter_three_phase.WH": max(1, round(energy)), "inverter_three_phase.WH_SF": 0,
            "inverter_three_phase.TmpCab": 412, "inverter_three_phase.Tmp_SF": -1,
            "inverter_three_phase.St": 4 if power > 0 else 2, "inverter_three_phase.Evt1": 0,
            "controls.ID": 123, "controls.L": 24, "controls.WMaxLimPct": 100,
            "controls.WMaxLimPct_SF": 0, "controls.WMaxLim_Ena": 0, "controls.Conn": 1,
        }


class SunSpecBatteryMap(SunSpecMap):
    """SunSpec map (common 1, battery 802, storage controls 124) of a house battery."""

    models = (1, 802, 124)

    def apply_settings(self) -> None:
        b = self.house.battery
        assert b is not None
        b.mode = int(self.setting("storage_basic.StorCtl_Mod", 0))
        b.charge_pct = self.setting("storage_basic.InWRte", 100)
        b.discharge_pct = self.setting("storage_basic.OutWRte", 100)

    def values(self) -> dict[str, float | str]:
        b = self.house.battery
        assert b is not None
        self.apply_settings()
        self.house.advance()
        soc = 100 * b.soc_wh / b.capacity_wh
        status = 4 if b.power_w > 1 else 3 if b.power_w < -1 else 5 if soc > 99.5 else 2 if soc < 5.5 else 6
        return {
            **self.common("SimBattery 10k", "BAT"),
            "battery.ID": 802, "battery.L": 62, "battery.AHRtg": round(b.capacity_wh / 48), "battery.AHRtg_SF": 0,
            "battery.WHRtg": round(b.capacity_wh / 10), "battery.WHRtg_SF": 1,
            "battery.WChaRteMax": round(b.max_w), "battery.WDisChaRteMax": round(b.max_w),
            "battery.WChaDisChaMax_SF": 0, "battery.SoCMax": 1000, "battery.SoCMin": 50, "battery.SoC_SF": -1,
            "battery.SoC": round(soc * 10), "battery.SoH": 98, "battery.SoH_SF": 0, "battery.ChaSt": status,
            "battery.State": 3, "battery.V": 512, "battery.V_SF": -1,
            "battery.W": round(b.power_w), "battery.W_SF": 0,
            "storage_basic.ID": 124, "storage_basic.L": 24, "storage_basic.WChaMax": round(b.max_w),
            "storage_basic.WChaMax_SF": 0, "storage_basic.StorCtl_Mod": 0, "storage_basic.ChaState": round(soc),
            "storage_basic.ChaState_SF": 0, "storage_basic.ChaSt": status, "storage_basic.InWRte": 100,
            "storage_basic.OutWRte": 100, "storage_basic.InOutWRte_SF": 0,
        }


@dataclass(frozen=True, slots=True)
class FleetDevice:
    """One simulated device: its Modbus id, what it is, and the house (participant) it belongs to."""

    device_id: int
    kind: str  # meter | pv | wind | battery
    house: int


def demo_layout(houses: int = 12) -> list[FleetDevice]:
    """Houses with a meter each (ids 1…); every house but each third has rooftop PV (ids 100 + h), each
    third a battery (ids 150 + h); the last house is a small wind farm (id 200 + h)."""
    if not 1 <= houses <= 46:
        raise ValueError(f"the demo layout holds 1–46 houses; asked for {houses}")
    out = []
    for h in range(1, houses + 1):
        out.append(FleetDevice(h, "meter", h))
        if h == houses and houses > 1:
            out.append(FleetDevice(200 + h, "wind", h))
            continue
        if h % 3 != 2:
            out.append(FleetDevice(100 + h, "pv", h))
        if h % 3 == 0:
            out.append(FleetDevice(150 + h, "battery", h))
    return out


def basic_layout(count: int, inverter_every: int = 3) -> list[FleetDevice]:
    """One device per id 1…count: SDM630 meters, every `inverter_every`-th a SunSpec PV inverter."""
    return [FleetDevice(i, "pv" if inverter_every > 0 and i % inverter_every == 0 else "meter", i)
            for i in range(1, count + 1)]


class DeviceFleet:
    """Many simulated devices behind one Modbus TCP port (device ids 1..count)."""

    def __init__(self, count: int = 10, host: str = "127.0.0.1", port: int = 5020, seed: int = 1,
                 inverter_every: int = 3, layout: list[FleetDevice] | None = None) -> None:
        layout = layout if layout is not None else basic_layout(count, inverter_every)
        bad = [d.device_id for d in layout if not 1 <= d.device_id <= 247]
        if bad:
            raise ValueError(f"a Modbus TCP port serves device ids 1–247; the layout asks for {bad}")
        self.host, self.port = host, port
        rng = random.Random(seed)
        self.houses: dict[int, House] = {}
        self.maps: dict[int, Sdm630Map | SunSpecMap] = {}
        self.layout = layout
        kinds: dict[int, set[str]] = {}
        for d in layout:
            kinds.setdefault(d.house, set()).add(d.kind)
        for h, ks in kinds.items():
            wind = "wind" in ks
            self.houses[h] = House(
                h, load_w=rng.uniform(300, 2500) * (4 if wind else 1),
                pv_peak_w=rng.choice([3000, 5000, 8000]) if "pv" in ks else 0.0,
                serial=10_000_000 + h, rng=random.Random(seed * 1000 + h),
                wind_rated_w=50_000.0 if wind else 0.0, battery=Battery() if "battery" in ks else None)
        for d in layout:
            house = self.houses[d.house]
            self.maps[d.device_id] = (Sdm630Map(house) if d.kind == "meter" else
                                      SunSpecBatteryMap(house) if d.kind == "battery" else
                                      SunSpecInverterMap(house, d.kind))
        self.faults: dict[int, str | None] = {}  # per device: one faulty device leaves its house's others alone
        self._server: ModbusTcpServer | None = None

    def set_fault(self, device_id: int, fault: str | None) -> None:
        """Switch a fault on (one of FAULTS) or off (None)."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        house = self.houses[self._house_of(device_id)]
        self.faults[device_id] = fault
        if fault == "counter_reset":
            house.imported_wh = house.exported_wh = house.produced_wh = 0.0

    def _house_of(self, device_id: int) -> int:
        return next(d.house for d in self.layout if d.device_id == device_id)

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
        house = self.houses[self._house_of(device_id)]
        fault = self.faults.get(device_id)
        if fault == "no_answer":
            await asyncio.sleep(3600)  # the client times out; other devices are unaffected
        if fault == "exception":
            return ExcCodes.DEVICE_FAILURE
        m = self.maps[device_id]
        if set_values is not None:
            if not isinstance(m, SunSpecMap):
                return ExcCodes.ILLEGAL_ADDRESS  # meters here have nothing writable
            for i, word in enumerate(set_values):
                m.written[address + i] = int(word)
            m.apply_settings()
            house.restep()  # the house's devices measure the new setting's effect from the next read on
            return None
        if function_code == 4 and isinstance(m, Sdm630Map):
            regs = m.input_registers()
        elif function_code == 3:
            regs = m.holding_registers()
        else:
            return None
        fill_registers(current_registers, start_address, regs, address, count,
                       house.rng if fault == "garbage" else None)
        return None


async def run_device_fleet(host: str, port: int, count: int, stop: asyncio.Event | None = None,
                           inverter_every: int = 3, layout: list[FleetDevice] | None = None) -> None:
    """Serve the fleet until ``stop`` is set or the task is cancelled."""
    fleet = DeviceFleet(count, host, port, inverter_every=inverter_every, layout=layout)
    await fleet.start()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        await fleet.stop()


def fill_registers(current: list[int], start: int, regs: dict[int, list[int]], address: int, count: int,
                   garbage: random.Random | None = None) -> None:
    """Copy the device's register map into the block pymodbus is about to answer (``current`` starts at
    ``start``); with ``garbage``, overwrite the ``count`` registers read at ``address`` with random words."""
    for reg_address, words in regs.items():
        for i, word in enumerate(words):
            index = reg_address + i - start
            if 0 <= index < len(current):
                current[index] = word
    if garbage is not None:
        for i in range(count):
            current[address - start + i] = garbage.randrange(0x10000)
