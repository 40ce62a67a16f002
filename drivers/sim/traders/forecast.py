"""A household's own forecast of its net energy in one delivery product: clear-sky PV minus its load
(a base profile by kind, plus its heat pump and EV charger), with a small per-product error, in Wh."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

from drivers.sim.traders.households import Household
from drivers.sim.world.solar import ClearSky, Site

PERFORMANCE_RATIO = 0.85
BASE_W = {"household": 350.0, "business": 2500.0, "prosumer": 1200.0}


def _profile(kind: str, hour: float) -> float:
    """Load relative to the kind's base at a local hour: households peak in the morning and evening,
    businesses in working hours."""
    if kind == "business":
        return 1.6 if 8 <= hour < 18 else 0.5
    return 1.0 + 0.8 * math.exp(-((hour - 7.5) ** 2) / 2) + 1.4 * math.exp(-((hour - 19.0) ** 2) / 3)


class Forecaster:
    """Net Wh (surplus positive) of each household in each 15-minute product."""

    def __init__(self, site: Site | None = None, seed: int = 1) -> None:
        self.sky = ClearSky(site or Site())
        self.seed = seed

    def net_wh(self, h: Household, product: int, period_s: int = 900) -> int:
        mid = datetime.fromtimestamp(product + period_s / 2, UTC)
        local_hour = mid.astimezone(self.sky.timezone).hour + mid.minute / 60
        pv_w = self.sky.poa_w_m2(mid) / 1000.0 * h.pv_kwp * 1000.0 * PERFORMANCE_RATIO
        load_w = BASE_W.get(h.kind, 350.0) * _profile(h.kind, local_hour)
        charging = local_hour >= 17 or local_hour < 7 or h.pv_kwp == 0  # EVs charge at home in the evening
        load_w += 0.3 * h.heat_pump_kw * 1000.0 + (0.5 * h.ev_charger_kw * 1000.0 if charging else 0.0)
        error = random.Random(f"{self.seed}/{h.id}/{product}").uniform(0.9, 1.1)
        return round((pv_w - load_w) * error * period_s / 3600.0)
