"""Aggregated frequency dynamics of a grid area, with feeder voltages.

Per-unit on the system base ``base_mw`` (Δf in pu of f0):

    2H · dΔf/dt = ΔPm − P_lost − ΔP_net − D · Δf         (swing equation, load damping D)
    Tg · dΔPm/dt = P_agc − Δf / R − ΔPm                  (governor droop R with turbine lag Tg)
    dP_agc/dt   = −Δf · β / T_agc,   β = 1/R + D         (secondary control restores f0)

ΔP_net is the net-load deviation: stochastic load (Ornstein–Uhlenbeck) minus the
PV deviation (irradiance × clouds). A generator trip adds to P_lost; when
``restore_after_s`` is set the unit re-synchronises later and ramps back.

The model has no clock of its own: the caller steps it with ``dt``. Same seed,
same trajectory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class FeederConfig:
    """One LV feeder: its share of load and PV and how its voltage responds."""

    name: str
    nominal_v: float = 230.0
    load_share: float = 0.25
    pv_share: float = 0.25
    offset_pu: float = 0.025  # tap position / distance from the substation
    load_drop_pu: float = 0.06  # voltage drop at scheduled load
    pv_rise_pu: float = 0.05  # voltage rise at full PV output


@dataclass(frozen=True, slots=True)
class GeneratorTrip:
    """Loss of ``lost_mw`` of generation at simulation time ``at_s``."""

    at_s: float
    lost_mw: float


def _default_feeders() -> tuple[FeederConfig, ...]:
    return (
        FeederConfig("Feeder 1", offset_pu=0.030, load_drop_pu=0.05, pv_rise_pu=0.03),
        FeederConfig("Feeder 2", offset_pu=0.035, load_drop_pu=0.07, pv_rise_pu=0.07),
        FeederConfig("Feeder 3", offset_pu=0.020, load_drop_pu=0.04, pv_rise_pu=0.04),
        FeederConfig("Feeder 4", offset_pu=0.025, load_drop_pu=0.06, pv_rise_pu=0.05),
    )


@dataclass(frozen=True, slots=True)
class GridSimConfig:
    """Parameters of the simulated area (defaults: a 10 GW area, H = 5 s)."""

    f0_hz: float = 50.0
    base_mw: float = 10_000.0
    load_mw: float = 8_000.0
    pv_capacity_mw: float = 1_500.0
    inertia_h_s: float = 5.0
    damping_pu: float = 1.0
    droop_pu: float = 0.05
    governor_tc_s: float = 4.0
    agc_tc_s: float = 60.0  # 0 disables secondary control
    load_noise_pu: float = 0.0008  # stationary std of the slow load noise
    load_noise_tc_s: float = 20.0
    fast_noise_pu: float = 0.0003
    cloud_noise: float = 0.04  # std of the cloud factor
    cloud_tc_s: float = 30.0
    voltage_noise_pu: float = 0.002
    start_hour: float = 12.0  # local solar time at t = 0 (PV follows a clear-sky bell)
    feeders: tuple[FeederConfig, ...] = _default_feeders()
    trips: tuple[GeneratorTrip, ...] = ()
    trip_period_s: float | None = None  # repeat a trip of ``periodic_trip_mw`` this often
    periodic_trip_mw: float = 300.0
    first_periodic_trip_s: float = 20.0
    restore_after_s: float | None = None  # a tripped unit returns after this long...
    restore_ramp_mw_s: float = 5.0  # ...ramping back at this rate
    noise: bool = True
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("base_mw", "inertia_h_s", "droop_pu", "governor_tc_s", "f0_hz"):
            if getattr(self, name) <= 0:
                raise ValueError(f"grid simulator: {name} must be positive")


@dataclass(frozen=True, slots=True)
class GridSimState:
    """What the area looks like at ``t_s``."""

    t_s: float
    frequency_hz: float
    rocof_hz_s: float
    demand_w: float
    supply_w: float
    pv_w: float
    bus_voltages_v: tuple[float, ...]


class GridModel:
    """Steps the area's physics; see the module docstring for the equations."""

    SUBSTEP_S = 0.01

    def __init__(self, config: GridSimConfig | None = None) -> None:
        self.config = c = config or GridSimConfig()
        self._rng = np.random.default_rng(c.seed)
        self.t = 0.0
        self.df = 0.0  # frequency deviation, pu
        self.dfdt = 0.0  # pu/s
        self.pm = 0.0  # governor response, pu
        self.pagc = 0.0  # secondary control, pu
        self.lost = 0.0  # tripped generation still off, pu
        self._restores: list[tuple[float, float]] = []  # (return time, pu)
        self._slow = 0.0
        self._fast = 0.0
        self._cloud = 0.0
        self._v_noise = [0.0] * len(c.feeders)
        self._pending = sorted(c.trips, key=lambda trip: trip.at_s)
        self._next_periodic = c.first_periodic_trip_s if c.trip_period_s else math.inf
        self._pv0 = self._pv_pu()
        self.trip_log: list[tuple[float, float]] = []

    # ---- control ------------------------------------------------------------

    def trip(self, lost_mw: float) -> None:
        """Trip ``lost_mw`` of generation now."""
        if lost_mw <= 0:
            raise ValueError(f"a trip must lose a positive amount of generation, got {lost_mw} MW")
        pu = lost_mw / self.config.base_mw
        self.lost += pu
        self.trip_log.append((self.t, lost_mw))
        if self.config.restore_after_s is not None:
            self._restores.append((self.t + self.config.restore_after_s, pu))

    # ---- physics --------------------------------------------------------------

    def step(self, dt_s: float) -> GridSimState:
        """Advance by ``dt_s`` seconds (integrated in 10 ms sub-steps)."""
        n = max(1, math.ceil(dt_s / self.SUBSTEP_S))
        h = dt_s / n
        for _ in range(n):
            self._substep(h)
        return self.state

    def _substep(self, h: float) -> None:
        c = self.config
        self.t += h
        while self._pending and self._pending[0].at_s <= self.t:
            self.trip(self._pending.pop(0).lost_mw)
        if self.t >= self._next_periodic:
            self.trip(c.periodic_trip_mw)
            self._next_periodic += c.trip_period_s or math.inf
        self._restore(h)
        if c.noise:
            self._slow = _ou(self._slow, c.load_noise_pu, c.load_noise_tc_s, h, self._rng)
            self._fast = _ou(self._fast, c.fast_noise_pu, 1.0, h, self._rng)
            self._cloud = _ou(self._cloud, c.cloud_noise, c.cloud_tc_s, h, self._rng)
        net = self._slow + self._fast - (self._pv_pu() - self._pv0)
        beta = 1 / c.droop_pu + c.damping_pu
        self.dfdt = (self.pm - self.lost - net - c.damping_pu * self.df) / (2 * c.inertia_h_s)
        self.df += self.dfdt * h
        self.pm += (self.pagc - self.df / c.droop_pu - self.pm) / c.governor_tc_s * h
        if c.agc_tc_s > 0:
            self.pagc += -self.df * beta / c.agc_tc_s * h

    def _restore(self, h: float) -> None:
        if not self._restores:
            return
        ramp = self.config.restore_ramp_mw_s / self.config.base_mw * h
        remaining = []
        for at, pu in self._restores:
            if self.t >= at:
                step = min(ramp, pu, self.lost)
                self.lost -= step
                pu -= step
            if pu > 1e-12:
                remaining.append((at, pu))
        self._restores = remaining

    def _pv_pu(self) -> float:
        c = self.config
        hour = (c.start_hour + self.t / 3600) % 24
        clear_sky = max(0.0, math.sin(math.pi * (hour - 6) / 12)) ** 1.5
        clouds = min(1.0, max(0.2, 0.85 + self._cloud))
        return float(c.pv_capacity_mw / c.base_mw * clear_sky * clouds)

    # ---- outputs ----------------------------------------------------------------

    @property
    def state(self) -> GridSimState:
        c = self.config
        base_w = c.base_mw * 1e6
        load_pu = c.load_mw / c.base_mw + self._slow + self._fast
        pv_pu = self._pv_pu()
        # Demand includes the load's frequency dependence; supply = conventional + PV.
        demand_pu = load_pu + c.damping_pu * self.df
        supply_pu = demand_pu + 2 * c.inertia_h_s * self.dfdt
        return GridSimState(
            t_s=self.t,
            frequency_hz=c.f0_hz * (1 + self.df),
            rocof_hz_s=c.f0_hz * self.dfdt,
            demand_w=demand_pu * base_w,
            supply_w=supply_pu * base_w,
            pv_w=pv_pu * base_w,
            bus_voltages_v=self._voltages(load_pu / (c.load_mw / c.base_mw), pv_pu * c.base_mw / c.pv_capacity_mw
                                          if c.pv_capacity_mw > 0 else 0.0),
        )

    def _voltages(self, load_ratio: float, pv_ratio: float) -> tuple[float, ...]:
        c = self.config
        out = []
        for i, f in enumerate(c.feeders):
            if c.noise:
                self._v_noise[i] = _ou(self._v_noise[i], c.voltage_noise_pu, 5.0, 0.05, self._rng)
            pu = 1 + f.offset_pu - f.load_drop_pu * load_ratio + f.pv_rise_pu * pv_ratio + self._v_noise[i]
            out.append(f.nominal_v * pu)
        return tuple(out)


def _ou(x: float, sigma: float, tau: float, h: float, rng: np.random.Generator) -> float:
    """One exact Ornstein–Uhlenbeck step with stationary std ``sigma``."""
    a = math.exp(-h / tau)
    return x * a + sigma * math.sqrt(1 - a * a) * float(rng.standard_normal())
