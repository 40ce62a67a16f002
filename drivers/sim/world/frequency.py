"""Frequency: the interconnected system's while the breaker is closed, the community's own when islanded.

Interconnected (Continental Europe, per unit on ``s_base_w`` = 300 GW, Δf in pu of f0)::

    2H · dΔf/dt = ΔPm − P_lost − ΔP_load − D · Δf
    Tg · dΔPm/dt = P_agc − Δf / R − ΔPm
    dP_agc/dt   = −Δf · (1/R + D) / T_agc

with H = 5 s, D = 0.8, R = 0.4 (only part of the fleet provides FCR: the power
frequency characteristic 1/R + D = 3.2 pu ≈ 19 GW/Hz), Tg = 6 s, T_agc = 120 s.
ΔP_load is an Ornstein–Uhlenbeck imbalance (σ = 1e-3 pu, τ = 60 s), which keeps
the frequency within a calm ±20–40 mHz; a generator trip (rare: Poisson,
mean every ``trip_mean_interval_s``; or scripted) adds to P_lost and returns
after ``trip_restore_s``. The community (< 1 MW) does not move this frequency.

Islanded, on the grid-forming battery's rating S (W) with its virtual inertia H::

    2H · S · dΔf/dt = P_m + P_gen − P_cons · (1 + D_load · Δf) − P_loss
    T_gf · dP_m/dt  = P_ref − S · Δf / R_gf − P_m,    P_m limited to the battery's power and energy

so the first instant after the breaker opens with a deficit ΔP (the import
that just vanished) the frequency falls at ROCOF = −ΔP / (2H·S) · f0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SUBSTEP_S = 0.01  # the frequency's integration step within a tick


@dataclass(frozen=True, slots=True)
class InterconnectionConfig:
    """Parameters of the interconnected system (see the module docstring)."""

    f0_hz: float = 50.0
    s_base_w: float = 300e9
    inertia_h_s: float = 5.0
    damping_pu: float = 0.8
    droop_pu: float = 0.4
    governor_tc_s: float = 6.0
    agc_tc_s: float = 120.0
    imbalance_pu: float = 1e-3
    imbalance_tc_s: float = 60.0
    trip_mean_interval_s: float = 6 * 3600.0  # rare events; 0 disables random trips
    trip_w: tuple[float, float] = (0.5e9, 1.5e9)  # a random trip loses between these
    trip_restore_s: float = 900.0


@dataclass(frozen=True, slots=True)
class IslandConfig:
    """The community's own frequency dynamics (see the module docstring)."""

    inertia_h_s: float = 3.0  # virtual inertia of the grid-forming inverter, on its rating
    battery_rating_w: float = 250e3  # S: the community battery's inverter
    battery_capacity_wh: float = 500e3
    droop_pu: float = 0.04  # 4 %: full rating for a 2 Hz deviation
    response_tc_s: float = 0.3
    load_damping_pu: float = 1.0  # consumption changes 1 % per 1 % of frequency
    sync_tolerance_hz: float = 0.2  # the breaker closes only within this of the system frequency


class Interconnection:
    """The interconnected system's frequency, stepped by the world's clock."""

    def __init__(self, config: InterconnectionConfig, rng: np.random.Generator) -> None:
        self.config = config
        self._rng = rng
        self.df = 0.0
        self.dfdt = 0.0
        self.pm = 0.0
        self.pagc = 0.0
        self.imbalance = 0.0
        self.lost = 0.0
        self._returns: list[tuple[float, float]] = []
        self.trips: list[tuple[float, float]] = []  # (t_s, W) for the record

    def trip(self, t_s: float, lost_w: float) -> None:
        """Lose ``lost_w`` of generation somewhere in the interconnection at ``t_s``."""
        pu = lost_w / self.config.s_base_w
        self.lost += pu
        self.trips.append((t_s, lost_w))
        self._returns.append((t_s + self.config.trip_restore_s, pu))

    def step(self, t_s: float, h_s: float) -> None:
        c = self.config
        if c.trip_mean_interval_s > 0 and self._rng.uniform() < h_s / c.trip_mean_interval_s:
            self.trip(t_s, float(self._rng.uniform(*c.trip_w)))
        if self._returns and self._returns[0][0] <= t_s:
            self.lost = max(0.0, self.lost - self._returns.pop(0)[1])
        self.imbalance = ou_step(self.imbalance, 0.0, c.imbalance_pu, c.imbalance_tc_s, h_s,
                                 float(self._rng.standard_normal()))
        self.dfdt = (self.pm - self.lost - self.imbalance - c.damping_pu * self.df) / (2 * c.inertia_h_s)
        self.df += self.dfdt * h_s
        self.pm += (self.pagc - self.df / c.droop_pu - self.pm) / c.governor_tc_s * h_s
        self.pagc -= self.df * (1 / c.droop_pu + c.damping_pu) / c.agc_tc_s * h_s

    def run(self, t0_s: float, h_s: float, steps: int) -> list[float]:
        """``steps`` of :meth:`step` from ``t0_s`` (the k-th at ``t0_s + k·h_s``); the frequency after each.

        The same arithmetic in the same order as calling :meth:`step` (so the same numbers, bit for bit,
        tested), with the loop's state in locals: about a quarter less time than 100 calls of step()."""
        c = self.config
        uniform, normal = self._rng.uniform, self._rng.standard_normal
        trips = c.trip_mean_interval_s > 0
        p_trip = h_s / c.trip_mean_interval_s if trips else 0.0
        a = math.exp(-h_s / c.imbalance_tc_s)
        noise = c.imbalance_pu * math.sqrt(1 - a * a)
        two_h, damping, droop, tg = 2 * c.inertia_h_s, c.damping_pu, c.droop_pu, c.governor_tc_s
        agc, f0 = c.agc_tc_s, c.f0_hz
        df, pm, pagc, imbalance = self.df, self.pm, self.pagc, self.imbalance
        dfdt = self.dfdt
        out = []
        for k in range(steps):
            t_s = t0_s + (k + 1) * h_s
            if trips and uniform() < p_trip:
                self.trip(t_s, float(uniform(*c.trip_w)))
            if self._returns and self._returns[0][0] <= t_s:
                self.lost = max(0.0, self.lost - self._returns.pop(0)[1])
            imbalance = 0.0 + imbalance * a + noise * float(normal())
            dfdt = (pm - self.lost - imbalance - damping * df) / two_h
            df += dfdt * h_s
            pm += (pagc - df / droop - pm) / tg * h_s
            pagc -= df * (1 / droop + damping) / agc * h_s
            out.append(f0 * (1 + df))
        self.df, self.pm, self.pagc, self.imbalance, self.dfdt = df, pm, pagc, imbalance, dfdt
        return out

    @property
    def frequency_hz(self) -> float:
        return self.config.f0_hz * (1 + self.df)

    @property
    def rocof_hz_s(self) -> float:
        return self.config.f0_hz * self.dfdt


@dataclass(frozen=True, slots=True)
class UflsStage:
    """An under-frequency load-shedding stage: below ``threshold_hz`` for ``delay_s``, shed ``share`` of load."""

    threshold_hz: float
    share: float
    delay_s: float = 0.1


def default_ufls() -> tuple[UflsStage, ...]:
    """ENTSO-E NC DCC for Continental Europe: start at 49.0 Hz, last stage 48.0 Hz, 45 % of load in six steps."""
    return tuple(UflsStage(49.0 - 0.2 * k, 0.075) for k in range(6))


def deviation_pu(frequency_hz: float, f0_hz: float) -> float:
    return frequency_hz / f0_hz - 1.0


def rocof_at_islanding(deficit_w: float, config: IslandConfig, f0_hz: float) -> float:
    """Hz/s in the first instant after islanding with ``deficit_w`` missing (for documentation and tests)."""
    return -deficit_w / (2 * config.inertia_h_s * config.battery_rating_w) * f0_hz


def ou_step(x: float, mean: float, sigma: float, tau_s: float, h_s: float, normal: float) -> float:
    """One exact Ornstein–Uhlenbeck step towards ``mean`` with stationary std ``sigma``."""
    a = math.exp(-h_s / tau_s)
    return mean + (x - mean) * a + sigma * math.sqrt(1 - a * a) * normal


def world_rngs(seed: int) -> list[np.random.Generator]:
    """The world's five random streams from its seed: assets, load noise, weather, interconnection, spare.
    Apart from the model so the start-up preview (drivers.sim.world.preview) draws the same interconnection."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
