"""Physical quantities and the units an operator may configure for them.

The config loader looks a point's unit up here once, checks that it fits the
point's kind and folds the factor to SI into the point's scale; samples then
carry SI values (Hz, V, W, var, Wh, ...) and nothing converts on the sample
path. Displays divide by the same factor to show the configured unit.

A short table rather than pint: the console needs some thirty symbols of
electrical engineering, exact factors and error messages in the operator's
words; pint would add a registry of thousands of units, parsing of free text
("megawatt") that we do not want to accept, and a dependency (docs/decisions.md).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from core.points import PointKind


class Quantity(enum.Enum):
    """What a value measures; each has one SI (or SI-derived) unit used inside core and services."""

    FREQUENCY = "frequency"
    ROCOF = "rate of change of frequency"
    VOLTAGE = "voltage"
    CURRENT = "current"
    ACTIVE_POWER = "active power"
    REACTIVE_POWER = "reactive power"
    APPARENT_POWER = "apparent power"
    ENERGY = "energy"
    REACTIVE_ENERGY = "reactive energy"
    PERCENT = "percentage"
    DIMENSIONLESS = "dimensionless number"
    TEMPERATURE = "temperature"
    DURATION = "duration"
    ANGLE = "angle"
    SPEED = "speed"
    IRRADIANCE = "irradiance"

    @property
    def si(self) -> str:
        """The unit values of this quantity carry inside core and services."""
        return _SI[self]


_SI = {
    Quantity.FREQUENCY: "Hz", Quantity.ROCOF: "Hz/s", Quantity.VOLTAGE: "V", Quantity.CURRENT: "A",
    Quantity.ACTIVE_POWER: "W", Quantity.REACTIVE_POWER: "var", Quantity.APPARENT_POWER: "VA",
    Quantity.ENERGY: "Wh", Quantity.REACTIVE_ENERGY: "varh", Quantity.PERCENT: "%", Quantity.DIMENSIONLESS: "",
    Quantity.TEMPERATURE: "°C", Quantity.DURATION: "s", Quantity.ANGLE: "°", Quantity.SPEED: "m/s",
    Quantity.IRRADIANCE: "W/m²",
}


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit symbol, the quantity it measures and its factor: SI value = value × factor."""

    symbol: str
    quantity: Quantity
    factor: float

    def to_si(self, value: float) -> float:
        return value * self.factor

    def from_si(self, value: float) -> float:
        return value / self.factor


def _units(quantity: Quantity, **prefixed: float) -> dict[str, Unit]:
    return {symbol: Unit(symbol, quantity, factor) for symbol, factor in prefixed.items()}


_TABLE: dict[str, Unit] = {}
for _q, _symbols in (
    (Quantity.FREQUENCY, {"Hz": 1.0, "mHz": 1e-3}),
    (Quantity.ROCOF, {"Hz/s": 1.0, "mHz/s": 1e-3}),
    (Quantity.VOLTAGE, {"V": 1.0, "kV": 1e3, "mV": 1e-3}),
    (Quantity.CURRENT, {"A": 1.0, "kA": 1e3, "mA": 1e-3}),
    (Quantity.ACTIVE_POWER, {"W": 1.0, "kW": 1e3, "MW": 1e6, "GW": 1e9}),
    (Quantity.REACTIVE_POWER, {"var": 1.0, "kvar": 1e3, "Mvar": 1e6}),
    (Quantity.APPARENT_POWER, {"VA": 1.0, "kVA": 1e3, "MVA": 1e6}),
    (Quantity.ENERGY, {"Wh": 1.0, "kWh": 1e3, "MWh": 1e6, "GWh": 1e9}),
    (Quantity.REACTIVE_ENERGY, {"varh": 1.0, "kvarh": 1e3, "Mvarh": 1e6}),
    (Quantity.PERCENT, {"%": 1.0}),
    (Quantity.DIMENSIONLESS, {"": 1.0, "1": 1.0, "pu": 1.0}),  # "1": UCUM and OPC-UA EUInformation
    (Quantity.TEMPERATURE, {"°C": 1.0}),
    (Quantity.DURATION, {"s": 1.0, "ms": 1e-3, "min": 60.0, "h": 3600.0}),
    (Quantity.ANGLE, {"°": 1.0}),
    (Quantity.SPEED, {"m/s": 1.0}),
    (Quantity.IRRADIANCE, {"W/m²": 1.0, "W/m2": 1.0}),
):
    _TABLE.update(_units(_q, **_symbols))

UNITS: Mapping[str, Unit] = MappingProxyType(_TABLE)

# The quantities a point of each grid-view kind may measure (OTHER: any).
KIND_QUANTITIES: Mapping[PointKind, frozenset[Quantity]] = MappingProxyType({
    PointKind.FREQUENCY: frozenset({Quantity.FREQUENCY}),
    PointKind.VOLTAGE: frozenset({Quantity.VOLTAGE}),
    PointKind.DEMAND: frozenset({Quantity.ACTIVE_POWER}),
    PointKind.SUPPLY: frozenset({Quantity.ACTIVE_POWER}),
    PointKind.OTHER: frozenset(Quantity),
})


class UnitError(ValueError):
    """A unit is unknown or does not fit what the point measures; the message says what would."""


def symbols_of(quantity: Quantity) -> list[str]:
    """The symbols accepted for a quantity, smallest first (for error messages)."""
    return [u.symbol for u in sorted((u for u in _TABLE.values() if u.quantity is quantity), key=lambda u: u.factor)]


def parse_unit(symbol: str) -> Unit:
    """The unit with exactly this symbol (case matters: mW is not MW)."""
    unit = _TABLE.get(symbol)
    if unit is not None:
        return unit
    near = [s for s in _TABLE if s.lower() == symbol.lower()]
    hint = f"; did you mean {' or '.join(repr(s) for s in near)}?" if near else ""
    raise UnitError(f"{symbol!r} is not a unit EnergyNet knows{hint} "
                    f"(known: {', '.join(repr(s) for s in _TABLE if s)})")


def unit_for(kind: PointKind, symbol: str) -> Unit:
    """The unit of a point of ``kind``; raises :class:`UnitError` if unknown or of the wrong quantity."""
    unit = parse_unit(symbol)
    allowed = KIND_QUANTITIES[kind]
    if unit.quantity not in allowed:
        options = [s for q in sorted(allowed, key=lambda q: q.value) for s in symbols_of(q)]
        raise UnitError(f"{symbol!r} is a unit of {unit.quantity.value}; a {kind.value} point takes "
                        f"{' or '.join(repr(s) for s in options)}")
    return unit


# Prefixes tried by auto_unit, largest first: a total of 12,400 W reads best as 12.4 kW.
def auto_unit(quantity: Quantity, magnitude_si: float) -> Unit:
    """A readable unit for values around ``magnitude_si`` (in SI): the largest whose value is ≥ 1."""
    candidates = sorted((u for u in _TABLE.values() if u.quantity is quantity and u.symbol not in ("1", "pu", "W/m2")),
                        key=lambda u: u.factor, reverse=True)
    if not candidates:
        raise UnitError(f"no unit for {quantity.value}")
    base = next(u for u in candidates if u.factor == 1.0)
    if not math.isfinite(magnitude_si) or magnitude_si == 0:
        return base
    for u in candidates:
        if u.factor >= 1.0 and abs(magnitude_si) >= u.factor:
            return u
    return base
