"""The dynamic reference price: base × time of use × peak × grid balance, capped and floored.

A pure function of the configuration, the time and the community's demand and
supply; every published price carries its components (:class:`PriceComponents`)
so that the UI can show where it comes from. Factors are integers in parts
per million (``1_000_000`` = 1.0) and the arithmetic is exact (fractions),
rounded once, half up, to the price tick: the same inputs give the same price
everywhere.

* time of use: the factor of the band that contains the local minute of day
  (``utc_offset_s`` shifts UTC to the community's clock); 1.0 outside bands;
* peak: ``peak_factor`` while demand is at or above ``peak_threshold_w``;
* grid balance: ``1 + sensitivity × (demand − supply) / max(demand, supply)``,
  clamped to [``grid_factor_min``, ``grid_factor_max``]: a deficit raises the
  price, a surplus lowers it; 1.0 when both are zero or either is unknown.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

PPM = 1_000_000


class PricingConfigError(ValueError):
    """The pricing configuration is inconsistent; the message names the field."""


@dataclass(frozen=True, slots=True)
class TouBand:
    """``factor_ppm`` applies from ``start_min`` (inclusive) to ``end_min`` (exclusive), minutes of the local day."""

    start_min: int
    end_min: int
    factor_ppm: int


@dataclass(frozen=True, slots=True)
class PricingConfig:
    base: int  # base units per kWh
    tou: tuple[TouBand, ...] = ()
    utc_offset_s: int = 0
    peak_threshold_w: int | None = None
    peak_factor_ppm: int = PPM
    sensitivity_ppm: int = 0
    grid_factor_min_ppm: int = PPM
    grid_factor_max_ppm: int = PPM
    floor: int = 0
    cap: int | None = None
    tick: int = 1

    def __post_init__(self) -> None:
        if self.base <= 0:
            raise PricingConfigError(f"pricing.base must be a positive price, got {self.base}")
        if self.tick <= 0:
            raise PricingConfigError(f"pricing.tick must be positive, got {self.tick}")
        for i, band in enumerate(self.tou):
            if not 0 <= band.start_min < band.end_min <= 1440:
                raise PricingConfigError(
                    f"pricing.tou[{i}]: start {band.start_min} and end {band.end_min} "
                    "must satisfy 0 <= start < end <= 1440 (minutes of the day)"
                )
            if band.factor_ppm <= 0:
                raise PricingConfigError(f"pricing.tou[{i}].factor must be positive, got {band.factor_ppm} ppm")
        ordered = sorted(self.tou, key=lambda b: b.start_min)
        for a, b in itertools.pairwise(ordered):
            if b.start_min < a.end_min:
                raise PricingConfigError(
                    f"pricing.tou bands overlap: {a.start_min}-{a.end_min} and {b.start_min}-{b.end_min}"
                )
        if self.peak_factor_ppm <= 0:
            raise PricingConfigError(f"pricing.peak_factor must be positive, got {self.peak_factor_ppm} ppm")
        if not 0 < self.grid_factor_min_ppm <= PPM <= self.grid_factor_max_ppm:
            raise PricingConfigError(
                "pricing.grid_factor_min must be in (0, 1] and grid_factor_max >= 1, got "
                f"{self.grid_factor_min_ppm} and {self.grid_factor_max_ppm} ppm"
            )
        if self.floor < 0 or (self.cap is not None and self.cap < self.floor):
            raise PricingConfigError(f"pricing: need 0 <= floor <= cap, got floor {self.floor}, cap {self.cap}")


@dataclass(frozen=True, slots=True)
class PriceComponents:
    """A published price and what it is made of (factors in ppm)."""

    ts: int
    base: int
    tou_ppm: int
    peak_ppm: int
    grid_ppm: int
    unclamped: Fraction  # base × factors, before rounding, floor and cap
    price: int  # rounded half up to the tick, then floored and capped
    floored: bool
    capped: bool


def tou_factor_ppm(cfg: PricingConfig, ts: int) -> int:
    minute = ((ts + cfg.utc_offset_s) % 86_400) // 60
    for band in cfg.tou:
        if band.start_min <= minute < band.end_min:
            return band.factor_ppm
    return PPM


def peak_factor_ppm(cfg: PricingConfig, demand_w: int | None) -> int:
    if cfg.peak_threshold_w is None or demand_w is None or demand_w < cfg.peak_threshold_w:
        return PPM
    return cfg.peak_factor_ppm


def grid_factor(cfg: PricingConfig, demand_w: int | None, supply_w: int | None) -> Fraction:
    """The grid-balance factor (exact, clamped); see the module docstring."""
    if demand_w is None or supply_w is None:
        return Fraction(1)
    scale = max(demand_w, supply_w)
    if scale <= 0:
        return Fraction(1)
    raw = 1 + Fraction(cfg.sensitivity_ppm, PPM) * Fraction(demand_w - supply_w, scale)
    return min(max(raw, Fraction(cfg.grid_factor_min_ppm, PPM)), Fraction(cfg.grid_factor_max_ppm, PPM))


def reference_price(cfg: PricingConfig, ts: int, demand_w: int | None, supply_w: int | None) -> PriceComponents:
    """The reference price at ``ts`` for the given community demand and supply (W)."""
    tou = tou_factor_ppm(cfg, ts)
    peak = peak_factor_ppm(cfg, demand_w)
    grid = grid_factor(cfg, demand_w, supply_w)
    unclamped = cfg.base * Fraction(tou, PPM) * Fraction(peak, PPM) * grid
    ticks = unclamped / cfg.tick
    rounded = int(ticks + Fraction(1, 2)) * cfg.tick  # half up (all values are >= 0)
    price = max(rounded, cfg.floor)
    floored = price > rounded
    capped = cfg.cap is not None and price > cfg.cap
    if capped:
        assert cfg.cap is not None
        price = cfg.cap
    grid_ppm = int(grid * PPM + Fraction(1, 2))
    return PriceComponents(ts, cfg.base, tou, peak, grid_ppm, unclamped, price, floored, capped)
