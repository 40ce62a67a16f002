"""SunSpec: discovery of the model chain and profiles built from the official
model definitions shipped with pysunspec2 (not typed in by hand)."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from drivers.errors import connect_failure, describe_connection_error
from drivers.modbus.codec import DataType
from drivers.modbus.profile import Profile, ProfilePoint, Table

SUNS = (0x5375, 0x6E53)  # "SunS"
BASE_ADDRESSES = (40000, 50000, 0)
END_MODEL = 0xFFFF
SUPPORTED = (1, 101, 102, 103, 120, 123, 201, 202, 203, 204, 124, 802)
NAMEPLATES = (1, 120)  # read once an hour (identity): what the device is and its ratings

Reader = Callable[[int, int], Awaitable[list[int]]]


class SunSpecError(Exception):
    """No SunSpec map where one was expected, or a broken model chain."""


@dataclass(frozen=True, slots=True)
class ModelHeader:
    """One model found on a device: id, start address (of its ID register), length."""

    model_id: int
    start: int
    length: int


def model_definition(model_id: int) -> dict[str, Any]:
    """The SunSpec JSON definition of a model, from pysunspec2's package data."""
    try:
        text = resources.files("sunspec2").joinpath(f"models/json/model_{model_id}.json").read_text()
    except FileNotFoundError:
        raise SunSpecError(f"SunSpec model {model_id} is not defined in pysunspec2") from None
    data: dict[str, Any] = json.loads(text)
    return data


async def discover(read: Reader, max_models: int = 64) -> list[ModelHeader]:
    """Find ``SunS`` at 40000, 50000 or 0 and walk the model chain."""
    for base in BASE_ADDRESSES:
        try:
            marker = await read(base, 2)
        except TimeoutError:
            raise  # a silent device: no other base will answer either
        except Exception:
            continue  # an illegal address here is normal: try the next base
        if tuple(marker) != SUNS:
            continue
        models: list[ModelHeader] = []
        address = base + 2
        for _ in range(max_models):
            model_id, length = await read(address, 2)
            if model_id == END_MODEL:
                return models
            models.append(ModelHeader(model_id, address, length))
            address += 2 + length
        raise SunSpecError(f"SunSpec chain at {base} has more than {max_models} models or no end marker")
    raise SunSpecError(f"no SunSpec marker 'SunS' at addresses {', '.join(map(str, BASE_ADDRESSES))}")


@dataclass(frozen=True, slots=True)
class AnnouncedModel:
    """A model a device announces, with its name from the SunSpec definitions."""

    model: int
    address: int
    length: int
    name: str


async def probe(host: str, port: int, device_id: int, timeout_s: float = 2.0) -> list[AnnouncedModel]:
    """Connect to a device and list the SunSpec models it announces.

    Raises :class:`ConnectionError` (the cause said as what it is) or
    :class:`SunSpecError` (no SunSpec map, broken chain).
    """
    client = AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0)
    if not await client.connect():  # pymodbus says only that it failed: find out why
        raise ConnectionError(describe_connection_error(await connect_failure(host, port, timeout_s), host, port))
    try:
        async def read(address: int, count: int) -> list[int]:
            try:
                rr = await client.read_holding_registers(address, count=count, device_id=device_id)
            except ModbusIOException as exc:  # pymodbus's words for no response in time
                raise TimeoutError(str(exc)) from exc
            if rr.isError():
                raise OSError(f"{host}:{port} device id {device_id} answered Modbus exception "
                              f"{getattr(rr, 'exception_code', '?')} at holding register {address}")
            return list(rr.registers)

        headers = await discover(read)
    except TimeoutError as exc:
        raise ConnectionError(describe_connection_error(exc, host, port)) from exc
    finally:
        client.close()
    return [AnnouncedModel(h.model_id, h.start, h.length, _model_name(h.model_id)) for h in headers]


def _model_name(model_id: int) -> str:
    try:
        return str(model_definition(model_id)["group"].get("label") or "")
    except SunSpecError:
        return "(not defined in pysunspec2)"


def model_points(header: ModelHeader, poll: str = "fast") -> list[ProfilePoint]:
    """Profile points of one model at its discovered address."""
    group = model_definition(header.model_id)["group"]
    prefix = group["name"]
    points: list[ProfilePoint] = []
    offset = 0
    for p in group["points"]:
        size = int(p.get("size", 1))
        address = header.start + offset
        offset += size
        if p["name"] in ("ID", "L") or p["type"] == "pad":
            continue
        try:
            dtype = DataType(p["type"])
        except ValueError:
            continue  # types without a numeric value (ipaddr, eui48...) are not polled
        sf = p.get("sf")
        points.append(ProfilePoint(
            id=f"{prefix}.{p['name']}",
            name=p.get("label", p["name"]),
            address=address,
            dtype=dtype,
            unit=_unit(p.get("units")),
            table=Table.HOLDING,
            words=size,
            scale=10.0 ** sf if isinstance(sf, int) else 1.0,
            sf=f"{prefix}.{sf}" if isinstance(sf, str) else None,
            poll="identity" if header.model_id in NAMEPLATES else poll,
            writable=p.get("access") == "RW",
            minimum=0.0 if "%" in str(p.get("units") or "") else -math.inf,
            maximum=100.0 if "%" in str(p.get("units") or "") else math.inf,
            role=_role(header.model_id, p["name"]),
        ))
    return points


def sunspec_profile(headers: list[ModelHeader], name: str = "SunSpec device") -> Profile:
    """A profile of every supported model found on a device."""
    points = [pt for h in headers if h.model_id in SUPPORTED for pt in model_points(h)]
    if not points:
        found = ", ".join(str(h.model_id) for h in headers) or "none"
        raise SunSpecError(f"no supported SunSpec model on the device (found: {found}; supported: {SUPPORTED})")
    ids = {h.model_id for h in headers}
    kind = ("inverter" if ids & {101, 102, 103} else "meter" if ids & {201, 202, 203, 204}
            else "battery" if ids & {124, 802} else "device")
    return Profile(name, kind, tuple(points), {"fast": 1.0, "identity": 3600.0}, max_gap=0,
                   source="SunSpec discovery")


def _unit(units: str | None) -> str:
    # "% WMax", "%WHRtg", "% AhrRtg": a percentage of a rating the point's label names.
    units = (units or "").strip()
    if units == "Pct" or units.startswith("%"):
        return "%"
    return {"C": "°C", "WH": "Wh", "Secs": "s"}.get(units, units)


# What SunSpec points mean to the console (core.roles.Role values), by model family. Sign conventions are
# SunSpec's: a meter's W is + import, an inverter's W + production, a battery's W (802) + charging.
_METER_ROLES = {"TotWhImp": "energy_import", "TotWhExp": "energy_export", "W": "power"}
_INVERTER_ROLES = {"W": "power", "WH": "energy_export"}  # 101-103: an inverter's yield leaves it
_ROLES = {
    1: {"SN": "serial"},
    123: {"WMaxLimPct": "power_limit"},  # immediate controls
    124: {"ChaState": "state_of_charge"},  # basic storage controls
    802: {"W": "power", "SoC": "state_of_charge"},  # lithium-ion battery bank
}


def _role(model_id: int, point: str) -> str | None:
    if 200 <= model_id < 300:
        return _METER_ROLES.get(point)
    if 101 <= model_id <= 103:
        return _INVERTER_ROLES.get(point)
    return _ROLES.get(model_id, {}).get(point)
