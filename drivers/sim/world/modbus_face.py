"""The world's Modbus face: every simulated participant's field devices in one real pymodbus server.

Same register maps as the device fleet (``drivers.sim.devices``): SDM630
meters (float32 input registers), SunSpec PV inverters and wind turbines
(models 1, 103, 123), SunSpec batteries (1, 802, 124). The values are not
drawn here: every read answers from the runner's latest
:class:`~drivers.sim.world.snapshot.WorldSnapshot`, so a meter shows its own
bus voltage, the community's frequency and the net power the load flow was
solved with. Writes are commands to the world (run in its thread):

- battery (124): ``StorCtl_Mod`` bit 0 charge at ``InWRte`` % / bit 1
  discharge at ``OutWRte`` % of ``WChaMax``; 0 = self-consumption;
- PV / wind inverter (123): ``WMaxLim_Ena`` = 1 caps PV at ``WMaxLimPct`` % of
  the rated power (kWp);
- flexible load (a meter of a house with an EV charger or heat pump, profile
  ``energynet_flex_meter.toml``): holding 0x1000 relay (1 closed, 0 open),
  0x1001 EV / heat-pump limit in % (curtailment).

``--households N`` serves N households (spread evenly over the network) and
every business and farm; the other connections are background load, summed
into one more SDM630 meter (``background``) so that the meters still add up to
the transformer flow less the losses.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from drivers.modbus.codec import DataType, encode
from drivers.sim.devices import (
    SDM630_SERIAL_ADDRESS,
    SunSpecLayout,
    fill_registers,
    sunspec_layout,
    sunspec_registers,
)
from drivers.sim.world.community import Kind, Participant
from drivers.sim.world.runner import WorldRunner
from drivers.sim.world.snapshot import WorldSnapshot, grid_supply_reading

if TYPE_CHECKING:
    from drivers.sim.world.model import World

log = logging.getLogger(__name__)

FLEX_RELAY_ADDRESS = 0x1000  # holding: 1 = closed, 0 = open (the whole connection)
FLEX_LIMIT_ADDRESS = 0x1001  # holding: EV charger / heat pump limit, % of their power
MAX_DEVICE_ID = 247
# The grid's supply meter at the transformer (on chain keccak("grid-supply"), the grid-maker's meter): one more
# SDM630 on the face at the last unit id, outside the participants' layout (the console does not poll it; the
# meter reporter puts its counters on chain). Its import / export are the grid's (grid_supply_reading).
GRID_SUPPLY_UNIT = MAX_DEVICE_ID
GRID_SUPPLY_CONNECTION = -2
TRANSFORMER_RATING_W = 630e3  # the network's 630 kVA MV/LV transformer (drivers/sim/world/network.py)
WORLD_FAULTS = ("no_answer", "exception", "garbage")
SDM630_INPUT_SIZE = 0x0050


@dataclass(frozen=True, slots=True)
class WorldDevice:
    """One Modbus device of the world: its unit id, what it is, whose it is (connection −1: background)."""

    device_id: int
    kind: str  # meter | pv | wind | battery
    connection: int
    participant: str
    flexible: bool = False  # a meter with the writable relay / limit registers
    # what the device can carry (W): a meter its connection's rating (fuse; the background: the sum of its
    # connections'; grid-supply: the transformer), PV its kWp, wind its turbine, a battery its inverter
    rated_w: float = 0.0

    @property
    def name(self) -> str:
        return self.participant.replace(" ", "-") + ("" if self.kind == "meter" else f"-{self.kind}")


def served_connections(participants: Sequence[Participant], households: int | None,
                       always: Sequence[int] = ()) -> list[int]:
    """Every business and farm, the connections in ``always`` (the feeder ends: their voltages are the
    ones to watch), and ``households`` households spread evenly over the network (all if None)."""
    homes = [p.connection for p in participants if p.kind is Kind.HOUSEHOLD and p.connection not in always]
    others = [p.connection for p in participants if p.kind is not Kind.HOUSEHOLD] + list(always)
    if households is None or households >= len(homes):
        chosen = homes
    elif households < 0:
        raise ValueError(f"world: --households must be ≥ 0, got {households}")
    else:
        chosen = [homes[int(i)] for i in np.linspace(0, len(homes) - 1, households).round()] if households else []
    return sorted(set(chosen) | set(others))


def world_layout(participants: Sequence[Participant], households: int | None,
                 always: Sequence[int] = ()) -> list[WorldDevice]:
    """Unit ids 1… in connection order: each participant's meter, then its PV, wind and battery; the
    background meter last when some connections are not served."""
    served = served_connections(participants, households, always)
    out: list[WorldDevice] = []
    for c in served:
        p = participants[c]
        out.append(WorldDevice(len(out) + 1, "meter", c, p.name, flexible=p.ev_charger_kw > 0 or p.heat_pump_kw > 0,
                               rated_w=_w(p.connection_kw)))
        for kind, size, kw in (("pv", p.pv_kwp, p.pv_kwp), ("wind", p.wind_kw, p.wind_kw),
                               ("battery", p.battery_kwh, p.battery_kw)):
            if size > 0:
                out.append(WorldDevice(len(out) + 1, kind, c, p.name, rated_w=_w(kw)))
    rest = [p for p in participants if p.connection not in set(served)]
    if rest:
        # the background: one meter for their net power, and their PV, wind and batteries summed into one
        # device each, so a console's consumption (grid + generation − charging) holds for them too
        out.append(WorldDevice(len(out) + 1, "meter", -1, "background",
                               rated_w=_w(sum(p.connection_kw for p in rest))))
        pv, wind = sum(p.pv_kwp for p in rest), sum(p.wind_kw for p in rest)
        for kind, size, kw in (("pv", pv, pv), ("wind", wind, wind),
                               ("battery", sum(p.battery_kwh for p in rest), sum(p.battery_kw for p in rest))):
            if size > 0:
                out.append(WorldDevice(len(out) + 1, kind, -1, "background", rated_w=_w(kw)))
    if len(out) >= GRID_SUPPLY_UNIT:
        raise ValueError(
            f"world: {len(served)} participants need {len(out)} Modbus devices, but one Modbus TCP port serves "
            f"unit ids 1–{GRID_SUPPLY_UNIT - 1}; ask for fewer with --households N (e.g. {len(served) // 2})")
    return out


def _w(kw: float) -> float:
    """kW → W, rounded to the watt (sums of kWp carry float noise)."""
    return float(round(kw * 1000))


def _power_sf(rating_w: float) -> int:
    """SunSpec scale factor for a power of up to ``rating_w`` in an int16 register (W ≤ 32,767 × 10^sf)."""
    sf = 0
    while rating_w > 32_000 * 10**sf:
        sf += 1
    return sf


def _f32(value: float) -> list[int]:
    return encode(value, DataType.FLOAT32)


@dataclass
class _SunSpec:
    """A SunSpec device's layout and the control registers the operator wrote."""

    models: tuple[int, ...]
    base: int = 40000
    written: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.layout: SunSpecLayout
        self.layout, self.end = sunspec_layout(self.models, self.base)

    def setting(self, point: str, default: float) -> float:
        word = self.written.get(self.layout[point][0])
        if word is None:
            return default
        return float(word - 0x10000 if self.layout[point][1] is DataType.INT16 and word >= 0x8000 else word)

    def touches(self, address: int, count: int, *points: str) -> bool:
        return any(address <= self.layout[p][0] < address + count for p in points)


class WorldModbusServer:
    """A real Modbus TCP server whose devices read the world (and whose writes command it)."""

    def __init__(self, runner: WorldRunner, host: str = "127.0.0.1", port: int = 5020,
                 households: int | None = None) -> None:
        self.runner = runner
        self.host, self.port = host, port
        self.participants = runner.world.participants
        self.devices = world_layout(self.participants, households, runner.world.network.feeder_ends)
        self._by_id = {d.device_id: d for d in self.devices}
        self.grid_supply = WorldDevice(GRID_SUPPLY_UNIT, "meter", GRID_SUPPLY_CONNECTION, "grid-supply",
                                       rated_w=TRANSFORMER_RATING_W)
        served = {d.connection for d in self.devices if d.connection >= 0}
        self.background = np.array([p.connection not in served for p in self.participants])
        self.battery_kwh = np.array([p.battery_kwh for p in self.participants])
        self._sunspec: dict[int, _SunSpec] = {
            d.device_id: _SunSpec((1, 802, 124) if d.kind == "battery" else (1, 103, 123))
            for d in self.devices if d.kind != "meter"}
        self._flex: dict[int, tuple[int, int]] = {d.device_id: (1, 100) for d in self.devices if d.flexible}
        self.faults: dict[int, str | None] = {}
        self._maps: dict[int, tuple[WorldSnapshot, dict[int, list[int]]]] = {}  # SunSpec maps of a snapshot
        self.tamper: dict[int, float] = {}  # meter id -> share of the truth it reports (a tampered meter)
        self._rng = random.Random(runner.world.config.seed)
        self._server: ModbusTcpServer | None = None

    def device(self, device_id: int) -> WorldDevice:
        try:
            return self._by_id[device_id]
        except KeyError:
            raise KeyError(f"world Modbus face: no device {device_id} (ids 1–{len(self.devices)})") from None

    def set_fault(self, device_id: int, fault: str | None) -> None:
        """``no_answer`` (silent), ``exception`` (device failure), ``garbage``; None clears it."""
        self.device(device_id)
        if fault is not None and fault not in WORLD_FAULTS:
            raise ValueError(f"world Modbus face: unknown fault {fault!r}; one of {', '.join(WORLD_FAULTS)}")
        self.faults[device_id] = fault

    def set_tamper(self, device_id: int, share: float) -> None:
        """The meter ``device_id`` reports only ``share`` of its power and energy (1.0: honest again)."""
        if self.device(device_id).kind != "meter":
            raise ValueError(f"world Modbus face: device {device_id} is not a meter; only meters can be tampered")
        self.tamper[device_id] = share

    async def start(self) -> None:
        logging.getLogger("pymodbus").setLevel(logging.WARNING)
        # off the loop: pymodbus builds each device's register blocks in Python (a second for 67 of them on a
        # loaded machine), and the OPC-UA face beside it keeps publishing meanwhile
        sims = await asyncio.to_thread(lambda: [self._sim_device(d) for d in (*self.devices, self.grid_supply)])
        self._server = ModbusTcpServer(sims, address=(self.host, self.port), ignore_missing_devices=True)
        await self._server.serve_forever(background=True)
        log.info("world Modbus face: %d devices of %d participants on %s:%d", len(self.devices),
                 len({d.participant for d in self.devices}), self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None

    def _sim_device(self, d: WorldDevice) -> SimDevice:
        bits = [SimData(0, count=16, values=False, datatype=SimType.BITS)]
        if d.kind == "meter":
            holding = [SimData(SDM630_SERIAL_ADDRESS, count=2, values=0, datatype=SimType.REGISTERS)]
            if d.flexible:
                holding.insert(0, SimData(FLEX_RELAY_ADDRESS, count=2, values=0, datatype=SimType.REGISTERS))
            inputs = [SimData(0, count=SDM630_INPUT_SIZE, values=0, datatype=SimType.REGISTERS)]
        else:
            m = self._sunspec[d.device_id]
            holding = [SimData(m.base, count=m.end + 2 - m.base, values=0, datatype=SimType.REGISTERS)]
            inputs = [SimData(0, count=1, values=0, datatype=SimType.REGISTERS)]
        return SimDevice(id=d.device_id, simdata=(bits, bits, holding, inputs), action=partial(self._action, d))

    # ---- register values from the snapshot ------------------------------------------------------

    def meter_input_registers(self, d: WorldDevice, s: WorldSnapshot) -> dict[int, list[int]]:
        if d.connection == GRID_SUPPLY_CONNECTION:  # the grid's side of the transformer: its import is our export
            p, v = -s.trafo_p_w, s.busbar_v
            imp, exp = (float(x) for x in grid_supply_reading(s))
        elif d.connection < 0:
            mask = self.background
            p = float(s.p_w[mask].sum())
            v = s.busbar_v
            imp, exp = float(s.import_wh[mask].sum()), float(s.export_wh[mask].sum())
        else:
            c = d.connection
            p, v = float(s.p_w[c]), float(s.v_v[c])
            imp, exp = float(s.import_wh[c]), float(s.export_wh[c])
        share = self.tamper.get(d.device_id, 1.0)
        p, imp, exp = p * share, imp * share, exp * share
        amps = abs(p) / 3 / v if v > 1 else 0.0
        return {0x00: _f32(v), 0x02: _f32(v), 0x04: _f32(v), 0x06: _f32(amps), 0x08: _f32(amps),
                0x0A: _f32(amps), 0x34: _f32(p), 0x46: _f32(s.frequency_hz),
                0x48: _f32(imp / 1000), 0x4A: _f32(exp / 1000)}

    def meter_holding_registers(self, d: WorldDevice) -> dict[int, list[int]]:
        regs = {SDM630_SERIAL_ADDRESS: encode(30_000_000 + d.device_id, DataType.UINT32)}
        if d.flexible:
            relay, limit = self._flex[d.device_id]
            regs[FLEX_RELAY_ADDRESS] = [relay, limit]
        return regs

    def sunspec_values(self, d: WorldDevice, s: WorldSnapshot) -> dict[str, float | str]:
        c = d.connection
        common: dict[str, float | str] = {
            "common.ID": 1, "common.L": 66, "common.Mn": "EnergyNet", "common.DA": d.device_id,
            "common.Vr": "1.0.0", "common.SN": f"{d.kind[:3].upper()}{c % 1000:03d}{d.device_id:03d}"}
        rest = self.background
        if d.kind == "battery":
            if c < 0:  # the background's batteries as one: summed power and energy, their mean state of charge
                kwh = sum(p.battery_kwh for p in self.participants if rest[p.connection])
                kw = sum(p.battery_kw for p in self.participants if rest[p.connection])
                stored = float((s.battery_soc[rest] * self.battery_kwh[rest]).sum())
                soc, w = 100 * stored / kwh if kwh > 0 else 0.0, float(s.battery_w[rest].sum())
            else:
                p = self.participants[c]
                kwh, kw = p.battery_kwh, p.battery_kw
                soc, w = 100 * float(s.battery_soc[c]), float(s.battery_w[c])
            status = 4 if w > 1 else 3 if w < -1 else 5 if soc > 99.5 else 2 if soc < 5.5 else 6
            max_w = round(kw * 1000)
            return {
                **common, "common.Md": f"SimBattery {kwh:g}k",
                "battery.ID": 802, "battery.L": 62, "battery.AHRtg": round(kwh * 1000 / 48),
                "battery.AHRtg_SF": 0, "battery.WHRtg": round(kwh * 100), "battery.WHRtg_SF": 1,
                "battery.WChaRteMax": max_w, "battery.WDisChaRteMax": max_w, "battery.WChaDisChaMax_SF": 0,
                "battery.SoCMax": 1000, "battery.SoCMin": 0, "battery.SoC_SF": -1, "battery.SoC": round(soc * 10),
                "battery.SoH": 98, "battery.SoH_SF": 0, "battery.ChaSt": status, "battery.State": 3,
                "battery.V": 512, "battery.V_SF": -1, "battery.W": round(w / 10**_power_sf(kw * 1000)),
                "battery.W_SF": _power_sf(kw * 1000),
                "storage_basic.ID": 124, "storage_basic.L": 24, "storage_basic.WChaMax": max_w,
                "storage_basic.WChaMax_SF": 0, "storage_basic.StorCtl_Mod": 0, "storage_basic.ChaState": round(soc),
                "storage_basic.ChaState_SF": 0, "storage_basic.ChaSt": status, "storage_basic.InWRte": 100,
                "storage_basic.OutWRte": 100, "storage_basic.InOutWRte_SF": 0,
            }
        wind = d.kind == "wind"
        if c < 0:  # the background's PV (or wind) as one inverter at the busbar
            w = float((s.wind_w if wind else s.pv_w)[rest].sum())
            wh = float((s.wind_wh if wind else s.pv_wh)[rest].sum())
            v = s.busbar_v
            size = sum(p.wind_kw if wind else p.pv_kwp for p in self.participants if rest[p.connection])
        else:
            w = float(s.wind_w[c] if wind else s.pv_w[c])
            wh = float(s.wind_wh[c] if wind else s.pv_wh[c])
            v = float(s.v_v[c])
            size = self.participants[c].wind_kw if wind else self.participants[c].pv_kwp
        w_sf, a_sf = _power_sf(size * 1000), -2 + _power_sf(size * 1000)
        return {
            **common, "common.Md": f"SimWind {size:g}k" if wind else f"SimInverter {size:g}k",
            "inverter_three_phase.ID": 103, "inverter_three_phase.L": 50,
            "inverter_three_phase.W": round(w / 10**w_sf), "inverter_three_phase.W_SF": w_sf,
            "inverter_three_phase.Hz": round(s.frequency_hz * 1000), "inverter_three_phase.Hz_SF": -3,
            "inverter_three_phase.PhVphA": round(v * 10), "inverter_three_phase.PhVphB": round(v * 10),
            "inverter_three_phase.PhVphC": round(v * 10), "inverter_three_phase.V_SF": -1,
            "inverter_three_phase.A": round(w / 3 / max(v, 1.0) * 10**-a_sf), "inverter_three_phase.A_SF": a_sf,
            "inverter_three_phase.WH": max(1, round(wh)), "inverter_three_phase.WH_SF": 0,
            "inverter_three_phase.TmpCab": 412, "inverter_three_phase.Tmp_SF": -1,
            "inverter_three_phase.St": 4 if w > 0 else 2, "inverter_three_phase.Evt1": 0,
            "controls.ID": 123, "controls.L": 24, "controls.WMaxLimPct": 100, "controls.WMaxLimPct_SF": 0,
            "controls.WMaxLim_Ena": 0, "controls.Conn": 1,
        }

    # ---- requests ---------------------------------------------------------------------------------

    async def _action(self, d: WorldDevice, function_code: int, start_address: int, address: int, count: int,
                      current_registers: list[int], set_values: list[int] | list[bool] | None) -> ExcCodes | None:
        fault = self.faults.get(d.device_id)
        if fault == "no_answer":
            await asyncio.sleep(3600)  # the client times out; the other devices answer
        if fault == "exception":
            return ExcCodes.DEVICE_FAILURE
        if set_values is not None:
            return await self._write(d, address, [int(w) for w in set_values])
        s = self.runner.snapshot
        if function_code == 4 and d.kind == "meter":
            regs = self.meter_input_registers(d, s)
        elif function_code == 3:
            if d.kind == "meter":
                regs = self.meter_holding_registers(d)
            else:
                # one map per device and snapshot: a console reads it in several chunks a poll, and it is the
                # face's costliest work (every point encoded in Python); a write clears it
                cached = self._maps.get(d.device_id)
                if cached is not None and cached[0] is s:
                    regs = cached[1]
                else:
                    m = self._sunspec[d.device_id]
                    regs = sunspec_registers(m.layout, m.base, m.end, self.sunspec_values(d, s), m.written)
                    self._maps[d.device_id] = (s, regs)
        else:
            return None
        fill_registers(current_registers, start_address, regs, address, count,
                       self._rng if fault == "garbage" else None)
        return None

    async def _write(self, d: WorldDevice, address: int, words: list[int]) -> ExcCodes | None:
        c = d.connection
        if d.kind == "meter":
            if not d.flexible or not all(FLEX_RELAY_ADDRESS <= address + i <= FLEX_LIMIT_ADDRESS
                                         for i in range(len(words))):
                return ExcCodes.ILLEGAL_ADDRESS
            relay, limit = self._flex[d.device_id]
            for i, word in enumerate(words):
                if address + i == FLEX_RELAY_ADDRESS:
                    relay = 1 if word else 0
                else:
                    limit = min(word, 100)
            self._flex[d.device_id] = (relay, limit)
            closed, share = relay == 1, limit / 100

            def flex(w: World) -> None:
                w.set_relay(c, closed)
                w.set_flex_limit(c, share)
            await self.runner.call(flex)
            return None
        if c < 0:
            return ExcCodes.ILLEGAL_FUNCTION  # the background's summed devices are read-only
        self._maps.pop(d.device_id, None)
        m = self._sunspec[d.device_id]
        for i, word in enumerate(words):
            m.written[address + i] = word
        p = self.participants[c]
        if d.kind == "battery" and m.touches(address, len(words), "storage_basic.StorCtl_Mod",
                                              "storage_basic.InWRte", "storage_basic.OutWRte"):
            mode = int(m.setting("storage_basic.StorCtl_Mod", 0))
            max_w = p.battery_kw * 1000
            setpoint = (max_w * m.setting("storage_basic.InWRte", 100) / 100 if mode & 1 else
                        -max_w * m.setting("storage_basic.OutWRte", 100) / 100 if mode & 2 else None)
            log.info("world: %s battery setpoint %s W over Modbus", p.name, setpoint)
            await self.runner.call(lambda w: w.set_battery_setpoint(c, setpoint))
        elif d.kind == "pv" and m.touches(address, len(words), "controls.WMaxLimPct", "controls.WMaxLim_Ena"):
            enabled = m.setting("controls.WMaxLim_Ena", 0) == 1
            cap = p.pv_kwp * 1000 * m.setting("controls.WMaxLimPct", 100) / 100 if enabled else None
            await self.runner.call(lambda w: w.set_pv_cap(c, cap))
        return None
