"""Who lives on the network and what they own, as arrays over the connection points.

Every connection of the benchmark net is a participant: mostly households, a
few businesses and larger prosumers (farms). Their assets are drawn once from
the seed, sized for a European suburb:

- household consumption 2,500–5,500 kWh/a, a weekday and a weekend shape
  (morning and evening peaks) with per-house noise;
- businesses 15,000–60,000 kWh/a with opening hours (closed on Sundays);
- rooftop PV on 40 % of houses (4–10 kWp), half the businesses (20–40 kWp),
  every farm (50–100 kWp); a small wind turbine on two farms (30 kW, 50 kW);
- home batteries on a third of the PV houses (5–10 kWh, 2.5–5 kW, 95 % each way);
- EV chargers (11 kW) on 15 % of houses and heat pumps (1.5–3 kW electric) on 20 %,
  both flexible: the operator can cap them (curtailment).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np


class Kind(Enum):
    HOUSEHOLD = "household"
    BUSINESS = "business"
    PROSUMER = "prosumer"  # a farm with a large roof and maybe a turbine


@dataclass(frozen=True, slots=True)
class CommunityConfig:
    """How the community is drawn (counts, shares and sizes; see the module docstring)."""

    businesses: int = 6
    prosumers: int = 3
    pv_share_households: float = 0.40
    pv_share_businesses: float = 0.5
    battery_share_pv_households: float = 1 / 3
    ev_share: float = 0.15
    heat_pump_share: float = 0.20
    wind_turbines_kw: tuple[float, ...] = (30.0, 50.0)
    power_factor: float = 0.95  # consumption cos φ (inductive); PV, wind and batteries at unity


@dataclass(slots=True)
class Assets:
    """Per-connection parameters (index = connection index) and the batteries' state."""

    kind: list[Kind]
    mean_load_w: np.ndarray
    pv_kwp: np.ndarray
    wind_kw: np.ndarray
    battery_wh: np.ndarray  # capacity, 0 = none
    battery_max_w: np.ndarray
    battery_soc_wh: np.ndarray  # state
    ev_max_w: np.ndarray
    ev_arrival_h: np.ndarray  # local hour the car plugs in on weekdays
    ev_need_wh: np.ndarray  # energy wanted per day
    heat_pump_w: np.ndarray

    @property
    def size(self) -> int:
        return len(self.kind)


@dataclass(frozen=True, slots=True)
class Participant:
    """One connection's participant and devices, as data (sizes 0 where a device is absent)."""

    connection: int
    name: str  # e.g. "household 3-12": kind, feeder and position on it
    kind: Kind
    bus: str
    feeder: int
    pv_kwp: float
    battery_kwh: float
    battery_kw: float
    ev_charger_kw: float
    heat_pump_kw: float
    wind_kw: float
    # the connection's rating (3 phases × its fuse × 230 V): the most its meter can count (connection_rating_w)
    connection_kw: float = 0.0


# Standard low-voltage fuse ratings (A per phase) for a connection: a house's main fuse is 3 × 35 A; larger
# connections (shops, farms with a large roof or a turbine) take the next size that carries their flow.
CONNECTION_FUSES_A = (35, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630)
PHASE_VOLTAGE_V = 230.0
# A connection's load stays below this × its annual mean: the daily shape peaks at 2.35 × (a shop at noon)
# and the load noise (σ ≈ 0.34) stays within 6 σ.
PEAK_LOAD_FACTOR = 7.0


def connection_rating_w(peak_import_w: float, peak_export_w: float) -> tuple[float, int]:
    """The connection's rating (W) and fuse (A per phase): the smallest standard fuse that carries the larger
    of the most the connection can draw and the most it can feed in."""
    need = max(peak_import_w, peak_export_w)
    for amps in CONNECTION_FUSES_A:
        if 3 * amps * PHASE_VOLTAGE_V >= need:
            return 3 * amps * PHASE_VOLTAGE_V, amps
    raise ValueError(f"community: a connection of {need / 1000:.0f} kW is larger than a low-voltage connection")


def fuse_of(connection_kw: float) -> int:
    """The fuse (A per phase) of a connection rated ``connection_kw``."""
    return round(connection_kw * 1000 / 3 / PHASE_VOLTAGE_V)


class _ConnectionLike(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def feeder(self) -> int: ...


def participants_of(connections: Sequence[_ConnectionLike], assets: Assets) -> tuple[Participant, ...]:
    """The participants, one per connection, named by kind and place ("business 4-7")."""
    return tuple(
        Participant(
            connection=c.index,
            name=f"{assets.kind[c.index].value} {c.name.removeprefix('loadbus_').replace('_', '-')}",
            kind=assets.kind[c.index], bus=c.name, feeder=c.feeder,
            pv_kwp=float(assets.pv_kwp[c.index]),
            battery_kwh=float(assets.battery_wh[c.index]) / 1000,
            battery_kw=float(assets.battery_max_w[c.index]) / 1000,
            ev_charger_kw=float(assets.ev_max_w[c.index]) / 1000,
            heat_pump_kw=round(float(assets.heat_pump_w[c.index]) / 1000, 2),
            wind_kw=float(assets.wind_kw[c.index]),
            connection_kw=_connection_kw(assets, c.index),
        )
        for c in connections
    )


def _connection_kw(a: Assets, i: int) -> float:
    """The most connection ``i`` can draw (peak load, EV charger, heat pump, battery charging) or feed in (PV
    at its kWp, wind at its rating, battery discharging), rounded up to a standard fuse (kW)."""
    draw = a.mean_load_w[i] * PEAK_LOAD_FACTOR + a.ev_max_w[i] + a.heat_pump_w[i] + a.battery_max_w[i]
    feed = a.pv_kwp[i] * 1000 + a.wind_kw[i] * 1000 + a.battery_max_w[i]
    rating, _ = connection_rating_w(float(draw), float(feed))
    return rating / 1000


def draw_assets(n: int, config: CommunityConfig, rng: np.random.Generator) -> Assets:
    """Draw the community's assets for ``n`` connections from ``rng`` (same seed, same community)."""
    order = rng.permutation(n)
    kind = [Kind.HOUSEHOLD] * n
    for i in order[: config.businesses]:
        kind[int(i)] = Kind.BUSINESS
    for i in order[config.businesses: config.businesses + config.prosumers]:
        kind[int(i)] = Kind.PROSUMER
    house = np.array([k is Kind.HOUSEHOLD for k in kind])
    business = np.array([k is Kind.BUSINESS for k in kind])
    farm = np.array([k is Kind.PROSUMER for k in kind])

    annual_kwh = np.where(house, rng.uniform(2_500, 5_500, n), 0.0)
    annual_kwh += np.where(business, rng.uniform(15_000, 60_000, n), 0.0)
    annual_kwh += np.where(farm, rng.uniform(8_000, 20_000, n), 0.0)
    mean_load_w = annual_kwh * 1000 / 8760

    u = rng.uniform(size=n)
    pv = np.where(house & (u < config.pv_share_households), rng.uniform(4, 10, n), 0.0)
    pv += np.where(business & (u < config.pv_share_businesses), rng.uniform(20, 40, n), 0.0)
    pv += np.where(farm, rng.uniform(50, 100, n), 0.0)
    pv = np.round(pv, 1)

    wind = np.zeros(n)
    for farm_index, kw in zip(np.flatnonzero(farm), config.wind_turbines_kw, strict=False):
        wind[farm_index] = kw

    has_battery = house & (pv > 0) & (rng.uniform(size=n) < config.battery_share_pv_households)
    battery_wh = np.where(has_battery, rng.choice([5_000.0, 7_500.0, 10_000.0], n), 0.0)
    battery_max_w = np.where(has_battery, battery_wh / 2, 0.0)
    soc = battery_wh * rng.uniform(0.3, 0.7, n)

    has_ev = house & (rng.uniform(size=n) < config.ev_share)
    has_hp = house & (rng.uniform(size=n) < config.heat_pump_share)
    return Assets(
        kind=kind,
        mean_load_w=mean_load_w,
        pv_kwp=pv,
        wind_kw=wind,
        battery_wh=battery_wh,
        battery_max_w=battery_max_w,
        battery_soc_wh=soc,
        ev_max_w=np.where(has_ev, 11_000.0, 0.0),
        ev_arrival_h=rng.uniform(16.5, 19.5, n),
        ev_need_wh=rng.uniform(8_000, 25_000, n),
        heat_pump_w=np.where(has_hp, rng.uniform(1_500, 3_000, n), 0.0),
    )


def household_shape(hour: float, weekend: bool) -> float:
    """A household's load as a share of its annual mean at local ``hour`` (integrates to ~1 over a day)."""
    if weekend:
        morning = math.exp(-(((hour - 9.5) / 2.0) ** 2))
        evening = math.exp(-(((hour - 19.0) / 2.5) ** 2))
        midday = math.exp(-(((hour - 13.0) / 2.0) ** 2))
        return 0.45 + 0.55 * morning + 0.35 * midday + 0.80 * evening
    morning = math.exp(-(((hour - 7.0) / 1.2) ** 2))
    evening = math.exp(-(((hour - 19.0) / 2.0) ** 2))
    return 0.50 + 0.70 * morning + 1.05 * evening


def business_shape(hour: float, weekday: int) -> float:
    """A shop's or office's load as a share of its annual mean (weekday 0 = Monday)."""
    if weekday == 6:
        return 0.35
    close = 14.0 if weekday == 5 else 18.5
    open_ = 1.0 / (1 + math.exp(-(hour - 7.0) * 3)) - 1.0 / (1 + math.exp(-(hour - close) * 3))
    return 0.35 + 2.0 * open_


def heat_demand(outdoor_c: float) -> float:
    """A heat pump's share of its rated electric power: heating below 15 °C, full at −10 °C; hot water above."""
    return min(1.0, max(0.08, (15.0 - outdoor_c) / 25.0))


def outdoor_temperature_c(day_of_year: int, hour: float) -> float:
    """A Central European temperature: seasonal mean 9 ± 10 °C, daily swing ± 4 °C peaking at 15:00."""
    seasonal = 9.0 - 10.0 * math.cos(2 * math.pi * (day_of_year - 15) / 365)
    return seasonal + 4.0 * math.cos(2 * math.pi * (hour - 15) / 24)


def wind_power_share(speed_m_s: float) -> float:
    """A small turbine's power curve: cut-in 3 m/s, rated at 12 m/s (cubic between), cut-out 25 m/s."""
    if speed_m_s < 3.0 or speed_m_s >= 25.0:
        return 0.0
    if speed_m_s >= 12.0:
        return 1.0
    return (speed_m_s**3 - 27.0) / (12.0**3 - 27.0)
