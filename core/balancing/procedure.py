"""The islanding procedure the emergency panel guides the operator through, and the reconnection's
synchrocheck (pure rules; the commands are the console's).

Four steps, in order (the operator may take them in any order; the next one is the first still pending):

1. suspend the market — trades between participants assume the interconnection's balancing;
2. dispatch the batteries — the participants' batteries discharge into the island's deficit;
3. shed flexible load — the next under-frequency load-shedding stage;
4. reconnect when synchronised — close the transformer breaker once both sides are in step.

Synchrocheck (IEC 60255-125 style, ANSI 25): the breaker may close when the two sides' frequencies are within
``SYNC_DF_HZ`` (the world's relay: 0.2 Hz), their voltages within ``SYNC_DV_PCT`` and their phase angles
within ``SYNC_DPHI_DEG``. A quantity that is not measured (the simulated world publishes neither the grid
side's voltage nor either phase angle) is shown as such and checked by the breaker's own relay only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

SYNC_DF_HZ = 0.2  # drivers.sim.world.frequency.IslandConfig.sync_tolerance_hz
SYNC_DV_PCT = 10.0
SYNC_DPHI_DEG = 10.0


class Step(Enum):
    MARKET = "suspend market"
    BATTERIES = "dispatch batteries"
    SHED = "shed flexible load"
    RECONNECT = "reconnect when synchronised"

    @property
    def title(self) -> str:
        return self.value[0].upper() + self.value[1:]


STEPS = (Step.MARKET, Step.BATTERIES, Step.SHED, Step.RECONNECT)


class StepStatus(Enum):
    PENDING = "pending"
    DONE = "done"
    NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True, slots=True)
class StepState:
    step: Step
    status: StepStatus
    by: str = ""  # who did it ("UFLS relays" when the relays shed by themselves)
    ts: float = math.nan  # when, the data's (world) time
    detail: str = ""  # what it did, or why it is not applicable / not yet possible
    enabled: bool = False  # the operator can take it now


@dataclass(frozen=True, slots=True)
class SyncCheck:
    """Both sides of the open breaker; nan: not measured."""

    df_hz: float  # community − system
    dv_pct: float  # community − grid side, % of nominal
    dphi_deg: float

    @property
    def in_limits(self) -> bool:
        """Frequency measured and within limits, and every measured quantity within its limit."""
        return (math.isfinite(self.df_hz) and abs(self.df_hz) <= SYNC_DF_HZ
                and not (math.isfinite(self.dv_pct) and abs(self.dv_pct) > SYNC_DV_PCT)
                and not (math.isfinite(self.dphi_deg) and abs(self.dphi_deg) > SYNC_DPHI_DEG))

    def text(self) -> str:
        """"Δf −0.090 Hz (≤ 0.2) · ΔV, Δφ not measured"; a quantity outside its limit says OUT."""
        measured, missing = [], []
        for name, value, unit, limit in (("Δf", self.df_hz, " Hz", SYNC_DF_HZ), ("ΔV", self.dv_pct, " %", SYNC_DV_PCT),
                                         ("Δφ", self.dphi_deg, "°", SYNC_DPHI_DEG)):
            if not math.isfinite(value):
                missing.append(name)
                continue
            digits = 3 if name == "Δf" else 1
            out = "" if abs(value) <= limit else " OUT"
            measured.append(f"{name} {value:+.{digits}f}{unit} (≤ {limit:g}){out}".replace("-", "−"))
        if missing:
            measured.append(f"{', '.join(missing)} not measured")
        return " · ".join(measured)


def sync_check(f_own_hz: float, f_system_hz: float, v_own_v: float = math.nan, v_grid_v: float = math.nan,
               v_nominal_v: float = 230.0) -> SyncCheck:
    """The synchrocheck's differences from what is measured (nan where a side is missing)."""
    dv = (v_own_v - v_grid_v) / v_nominal_v * 100
    return SyncCheck(f_own_hz - f_system_hz, dv, math.nan)


def next_step(states: tuple[StepState, ...]) -> Step | None:
    """The first step still pending (None: the procedure is through)."""
    return next((s.step for s in states if s.status is StepStatus.PENDING), None)
