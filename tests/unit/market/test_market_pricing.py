"""Reference price: each factor by hand, caps and floors, rounding, bad configuration."""

from __future__ import annotations

from fractions import Fraction

import pytest

from core.market.pricing import PricingConfig, PricingConfigError, TouBand, reference_price

pytestmark = pytest.mark.unit

DAY = 1_800_057_600  # 2027-01-16 00:00 UTC (a multiple of 86400)
CFG = PricingConfig(
    base=200,
    tou=(TouBand(0, 360, 800_000), TouBand(18 * 60, 21 * 60, 1_500_000)),  # night 0.8, evening 1.5
    peak_threshold_w=40_000,
    peak_factor_ppm=1_200_000,
    sensitivity_ppm=500_000,
    grid_factor_min_ppm=700_000,
    grid_factor_max_ppm=1_300_000,
    floor=120,
    cap=400,
)


def test_evening_peak_deficit_is_capped() -> None:
    # 19:00, demand 50 kW >= 40 kW, supply 30 kW: grid 1 + 0.5 × 20/50 = 1.2
    # 200 × 1.5 × 1.2 × 1.2 = 432 → cap 400
    p = reference_price(CFG, DAY + 19 * 3600, 50_000, 30_000)
    assert (p.tou_ppm, p.peak_ppm, p.grid_ppm) == (1_500_000, 1_200_000, 1_200_000)
    assert p.unclamped == 432 and p.price == 400 and p.capped and not p.floored


def test_night_surplus_is_clamped_then_floored() -> None:
    # 03:00, demand 10 kW, supply 30 kW: 1 + 0.5 × (−20/30) = 0.667 → min 0.7; 200 × 0.8 × 0.7 = 112 → floor 120
    p = reference_price(CFG, DAY + 3 * 3600, 10_000, 30_000)
    assert (p.tou_ppm, p.peak_ppm, p.grid_ppm) == (800_000, 1_000_000, 700_000)
    assert p.unclamped == 112 and p.price == 120 and p.floored and not p.capped


def test_midday_rounding_half_up_to_the_tick() -> None:
    # 12:00 (no band), demand 30 kW, supply 33 kW: 1 + 0.5 × (−3/33) = 21/22; 200 × 21/22 = 190.909… → tick 5 → 190
    cfg = PricingConfig(base=200, sensitivity_ppm=500_000, grid_factor_min_ppm=500_000, tick=5)
    p = reference_price(cfg, DAY + 12 * 3600, 30_000, 33_000)
    assert p.unclamped == Fraction(4200, 22) and p.price == 190
    # unknown demand: every grid-driven factor is 1.0
    assert reference_price(cfg, DAY + 12 * 3600, None, 33_000).price == 200


def test_utc_offset_moves_the_bands() -> None:
    cfg = PricingConfig(base=100, tou=(TouBand(18 * 60, 21 * 60, 1_500_000),), utc_offset_s=3600)
    assert reference_price(cfg, DAY + 17 * 3600, None, None).price == 150  # 17:00 UTC = 18:00 local
    assert reference_price(cfg, DAY + 20 * 3600, None, None).price == 100  # 21:00 local: band ended


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base": 0}, "pricing.base"),
        ({"base": 1, "tou": (TouBand(60, 30, 1),)}, "pricing.tou[0]"),
        ({"base": 1, "tou": (TouBand(0, 60, PPM := 1_000_000), TouBand(30, 90, PPM))}, "overlap"),
        ({"base": 1, "grid_factor_min_ppm": 1_100_000}, "grid_factor_min"),
        ({"base": 1, "floor": 50, "cap": 10}, "floor"),
    ],
)
def test_bad_configuration_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(PricingConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        PricingConfig(**kwargs)  # type: ignore[arg-type]
