"""Typed conditions for conditional orders, and the grid state they read.

A condition is a value (:class:`GridCondition` or :class:`PriceCondition`),
never a string evaluated at run time. :func:`parse_condition` turns the text
form used in configuration and the API (``"frequency < 49.9 Hz"``,
``"voltage(feeder_3) > 1.08 pu"``, ``"imbalance < -5 kW"``,
``"last_price <= 180"``) into one, with an error naming what is wrong.

All values are integers so that evaluation is exact and replayable:
frequency in mHz, voltage in micro-per-unit (1.08 pu = 1_080_000),
imbalance (supply − demand) in W, prices in base units per kWh.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True, slots=True)
class GridView:
    """The grid as the market sees it at one instant (a pure value passed to ``tick``).

    ``imbalance_w`` is community supply minus demand: positive is a surplus,
    negative a deficit. ``voltages_upu`` holds (feeder or bus id, voltage in
    micro-per-unit) pairs sorted by id. ``None`` means unknown.
    """

    frequency_mhz: int | None = None
    imbalance_w: int | None = None
    voltages_upu: tuple[tuple[str, int], ...] = ()

    @staticmethod
    def of(
        frequency_mhz: int | None = None, imbalance_w: int | None = None, voltages_upu: Mapping[str, int] | None = None
    ) -> GridView:
        """Build a view from a mapping of voltages (sorted, so equal states compare equal)."""
        return GridView(frequency_mhz, imbalance_w, tuple(sorted((voltages_upu or {}).items())))

    def voltage(self, feeder: str) -> int | None:
        for name, value in self.voltages_upu:
            if name == feeder:
                return value
        return None


class Op(enum.Enum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    def holds(self, value: int, threshold: int) -> bool:
        if self is Op.LT:
            return value < threshold
        if self is Op.LE:
            return value <= threshold
        if self is Op.GT:
            return value > threshold
        return value >= threshold


class GridMetric(enum.Enum):
    FREQUENCY = "frequency"  # mHz
    VOLTAGE = "voltage"  # micro-per-unit of one feeder / bus
    IMBALANCE = "imbalance"  # W, supply - demand


class PriceMetric(enum.Enum):
    """A price of the order's own product."""

    LAST_PRICE = "last_price"
    BEST_BID = "best_bid"
    BEST_ASK = "best_ask"


@dataclass(frozen=True, slots=True)
class GridCondition:
    """``metric op threshold`` on the grid; never holds while the metric is unknown."""

    metric: GridMetric
    op: Op
    threshold: int
    feeder: str = ""  # only for VOLTAGE

    def holds(self, grid: GridView | None) -> bool:
        if grid is None:
            return False
        if self.metric is GridMetric.FREQUENCY:
            value = grid.frequency_mhz
        elif self.metric is GridMetric.IMBALANCE:
            value = grid.imbalance_w
        else:
            value = grid.voltage(self.feeder)
        return value is not None and self.op.holds(value, self.threshold)


@dataclass(frozen=True, slots=True)
class PriceCondition:
    """``metric op threshold`` on the order's own product; never holds while there is no such price."""

    metric: PriceMetric
    op: Op
    threshold: int

    def holds_for(self, price: int | None) -> bool:
        return price is not None and self.op.holds(price, self.threshold)


Condition = GridCondition | PriceCondition


class ConditionSyntaxError(ValueError):
    """A condition's text form cannot be read; the message says what was expected."""


_FORM = re.compile(
    r"^\s*(?P<metric>[a-z_]+)\s*(?:\(\s*(?P<feeder>[A-Za-z0-9_.\-]+)\s*\))?\s*"
    r"(?P<op><=|>=|<|>)\s*(?P<value>[+-]?\d+(?:\.\d+)?)\s*(?P<unit>[A-Za-z]*)\s*$"
)
_GRID_UNITS: dict[GridMetric, dict[str, int]] = {
    GridMetric.FREQUENCY: {"hz": 1000, "mhz": 1},
    GridMetric.VOLTAGE: {"pu": 1_000_000, "upu": 1},
    GridMetric.IMBALANCE: {"w": 1, "kw": 1000, "mw": 1_000_000},
}
_EXAMPLES = "e.g. 'frequency < 49.9 Hz', 'voltage(feeder_3) > 1.08 pu', 'imbalance < -5 kW', 'last_price <= 180'"


def parse_condition(text: str) -> Condition:
    """Read the text form of a condition into its typed value.

    Grid metrics need a unit (Hz/mHz, pu/upu, W/kW/MW); prices are integers
    in base units per kWh and take no unit. The value must convert to a whole
    number of the integer unit (49.9 Hz = 49900 mHz; 49.9995 Hz is refused).
    """
    m = _FORM.match(text)
    if m is None:
        raise ConditionSyntaxError(f"cannot read condition {text!r}: expected 'metric op value unit', {_EXAMPLES}")
    name, feeder, op, raw, unit = m["metric"], m["feeder"], Op(m["op"]), m["value"], m["unit"].lower()
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise ConditionSyntaxError(f"condition {text!r}: {raw!r} is not a number") from exc
    if name in {g.value for g in GridMetric}:
        metric = GridMetric(name)
        if (metric is GridMetric.VOLTAGE) != (feeder is not None):
            need = "needs a feeder, e.g. voltage(feeder_3)" if metric is GridMetric.VOLTAGE else "takes no feeder"
            raise ConditionSyntaxError(f"condition {text!r}: {name} {need}")
        units = _GRID_UNITS[metric]
        if unit not in units:
            raise ConditionSyntaxError(
                f"condition {text!r}: unit {unit or '(none)'!r} for {name}; use one of {sorted(units)}"
            )
        return GridCondition(metric, op, _whole(value * units[unit], text), feeder or "")
    if name in {p.value for p in PriceMetric}:
        if feeder is not None or unit:
            raise ConditionSyntaxError(
                f"condition {text!r}: {name} is in base units per kWh of the order's product; no feeder or unit"
            )
        return PriceCondition(PriceMetric(name), op, _whole(value, text))
    known = sorted([g.value for g in GridMetric] + [p.value for p in PriceMetric])
    raise ConditionSyntaxError(f"condition {text!r}: unknown metric {name!r}; known: {', '.join(known)}")


def _whole(value: Decimal, text: str) -> int:
    if value != value.to_integral_value():
        raise ConditionSyntaxError(f"condition {text!r}: {value} is finer than the integer unit")
    return int(value)
