"""The community's own frequency while islanded: swing equation, grid-forming droop, UFLS, LFSM-O, FCR.

The equations and parameters are in :mod:`drivers.sim.world.frequency` and docs/world.md;
this module holds their state and one 10 ms sub-step of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drivers.sim.world.frequency import IslandConfig, UflsStage

FCR_DEADBAND_HZ = 0.01
FCR_FULL_HZ = 0.2  # full battery power at 200 mHz, as FCR in Continental Europe
LFSM_O_START_HZ = 50.2


def fcr_response(deviation_hz: float, battery_max_w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Home batteries' frequency response (+ charge above f0, − discharge below), within their headroom."""
    excess = math.copysign(max(0.0, abs(deviation_hz) - FCR_DEADBAND_HZ), deviation_hz)
    share = min(max(excess / (FCR_FULL_HZ - FCR_DEADBAND_HZ), -1.0), 1.0)
    return np.clip(share * battery_max_w, lo, hi)


def lfsm_o(frequency_hz: float) -> float:
    """Share of their power inverter generators keep in over-frequency (VDE-AR-N 4105 / NC RfG LFSM-O):
    40 % of the momentary power less per Hz above 50.2 Hz, nothing left at 52.7 Hz."""
    return min(1.0, max(0.0, 1.0 - 0.4 * (frequency_hz - LFSM_O_START_HZ)))


class Ufls:
    """Under-frequency load-shedding relays: which connections each stage sheds, and what has tripped."""

    def __init__(self, stages: tuple[UflsStage, ...], mean_load_w: np.ndarray, rng: np.random.Generator) -> None:
        self.stages = stages
        self.stage_of = np.full(len(mean_load_w), -1)
        # each stage gets connections worth its share of the community's mean consumption (seeded order)
        order = rng.permutation(len(mean_load_w))
        mean = mean_load_w[order]
        cumulative = (np.cumsum(mean) - mean / 2) / mean.sum()
        edge = 0.0
        for k, s in enumerate(stages):
            self.stage_of[order[(cumulative >= edge) & (cumulative < edge + s.share)]] = k
            edge += s.share
        self.shed = np.zeros(len(mean_load_w), dtype=bool)
        self.tripped = [False] * len(stages)
        self._timer = [0.0] * len(stages)

    def reset(self) -> None:
        """Reconnect everything shed (with the breaker's reconnection) and re-arm every stage."""
        self.shed[:] = False
        self.tripped = [False] * len(self.stages)
        self._timer = [0.0] * len(self.stages)

    def shed_next(self) -> int:
        """The operator sheds the next stage by hand (in order, as the relays would); its index, −1 if none left."""
        for k in range(len(self.stages)):
            if not self.tripped[k]:
                self.tripped[k] = True
                self.shed |= self.stage_of == k
                return k
        return -1

    @property
    def stages_tripped(self) -> int:
        return sum(self.tripped)

    def run(self, frequency_hz: float, h: float) -> bool:
        """One sub-step of the relays; True when a stage tripped."""
        tripped = False
        for k, stage in enumerate(self.stages):
            if self.tripped[k]:
                continue
            self._timer[k] = self._timer[k] + h if frequency_hz < stage.threshold_hz else 0.0
            if self._timer[k] >= stage.delay_s - 1e-9:
                self.tripped[k] = True
                self.shed |= self.stage_of == k
                tripped = True
        return tripped


@dataclass(slots=True)
class Balance:
    """Sums over the connected connections for one tick (W; + drawn from the network)."""

    consumption: float
    generation: float
    battery: float
    line_loss: float

    @classmethod
    def of(cls, consumption: np.ndarray, generation: np.ndarray, battery: np.ndarray, connected: np.ndarray,
           line_loss_w: float) -> Balance:
        return cls(float(consumption[connected].sum()), float(generation[connected].sum()),
                   float(battery[connected].sum()), line_loss_w)


class IslandFrequency:
    """Δf (pu), its rate and the grid-forming battery's output P_m while islanded."""

    def __init__(self, config: IslandConfig, f0_hz: float) -> None:
        self.config = config
        self.f0_hz = f0_hz
        self.df = 0.0
        self.dfdt = 0.0
        self.pm = 0.0

    def start(self, df: float, pm_w: float) -> None:
        """The breaker opened at deviation ``df`` with the battery delivering ``pm_w``."""
        self.df, self.dfdt, self.pm = df, 0.0, pm_w

    @property
    def frequency_hz(self) -> float:
        return self.f0_hz * (1 + self.df)

    def substep(self, h: float, balance: Balance, fcr_w: float, setpoint_w: float, p_min: float,
                p_max: float) -> float:
        """Advance ``h`` seconds; ``fcr_w`` the home batteries' response at the present Δf. Returns Hz."""
        c = self.config
        p_e = balance.consumption * (1 + c.load_damping_pu * self.df) \
            - balance.generation * lfsm_o(self.frequency_hz) + balance.battery + fcr_w + balance.line_loss
        target = setpoint_w - c.battery_rating_w * self.df / c.droop_pu
        self.pm += (min(max(target, p_min), p_max) - self.pm) * (h / c.response_tc_s)
        self.dfdt = (self.pm - p_e) / (2 * c.inertia_h_s * c.battery_rating_w)
        self.df = min(max(self.df + self.dfdt * h, -0.1), 0.1)
        return self.frequency_hz
