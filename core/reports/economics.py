"""What local energy is worth: savings against the grid tariff, carbon avoided, efficiency ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.reports.energy import EnergyTotals
from core.reports.energy import _z as _z


@dataclass(frozen=True, slots=True)
class Tariff:
    """Flat grid tariff: what a kWh from the grid costs and what a kWh sent to it earns (currency/kWh)."""

    import_per_kwh: float = 0.30
    export_per_kwh: float = 0.08
    currency: str = "EUR"

    def __post_init__(self) -> None:
        if self.import_per_kwh < 0 or self.export_per_kwh < 0:
            raise ValueError(f"tariffs must not be negative, got import {self.import_per_kwh}, "
                             f"export {self.export_per_kwh}")


@dataclass(frozen=True, slots=True)
class Savings:
    """The bill with and without the participant's own generation and storage."""

    participant: str
    cost_without: float  # all consumption bought from the grid
    cost_with: float  # imports bought less exports sold
    currency: str

    @property
    def saved(self) -> float:
        return self.cost_without - self.cost_with


def savings(e: EnergyTotals, tariff: Tariff) -> Savings:
    """Savings = consumption × import tariff − (import × import tariff − export × export tariff)."""
    consumption = _z(e.consumption_wh) / 1000.0
    cost_with = _z(e.imported_wh) / 1000.0 * tariff.import_per_kwh - _z(e.exported_wh) / 1000.0 * tariff.export_per_kwh
    return Savings(e.participant, consumption * tariff.import_per_kwh, cost_with, tariff.currency)


@dataclass(frozen=True, slots=True)
class EmissionFactor:
    """Grid emission factor in g CO2e/kWh: one figure, or 24 (one per hour of the day, UTC)."""

    g_per_kwh: float = 380.0
    hourly: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.hourly and len(self.hourly) != 24:
            raise ValueError(f"an hourly emission profile needs 24 values (hour 0–23 UTC), got {len(self.hourly)}")
        if self.g_per_kwh < 0 or any(g < 0 for g in self.hourly):
            raise ValueError("emission factors must not be negative")


def carbon_avoided_kg(generation_wh_by_hour: Sequence[float], factor: EmissionFactor) -> float:
    """CO2e (kg) the grid did not emit because local generation replaced its energy: each hour's local
    generation (kWh, hour of day UTC) times that hour's factor (the flat factor without a profile)."""
    if len(generation_wh_by_hour) != 24:
        raise ValueError("generation per hour needs 24 values")
    g = factor.hourly or (factor.g_per_kwh,) * 24
    return math.fsum(wh / 1000.0 * gh for wh, gh in zip(generation_wh_by_hour, g, strict=True)) / 1000.0


@dataclass(frozen=True, slots=True)
class Efficiency:
    """Shares (0–1) over the period; ``nan`` where the denominator is zero or unknown."""

    participant: str
    self_consumption: float  # of the local generation, the share used locally (not exported)
    self_sufficiency: float  # of the consumption, the share not imported
    battery_round_trip: float  # energy out of the batteries / energy into them


def efficiency(e: EnergyTotals) -> Efficiency:
    gen, cons = e.generation_wh, e.consumption_wh
    sc = 1.0 - _z(e.exported_wh) / gen if gen > 0 else math.nan
    ss = 1.0 - _z(e.imported_wh) / cons if math.isfinite(cons) and cons > 0 else math.nan
    rt = e.discharged_wh / e.charged_wh if math.isfinite(e.charged_wh) and e.charged_wh > 0 else math.nan
    return Efficiency(e.participant, _clip(sc), _clip(ss), rt)


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x)) if math.isfinite(x) else x
