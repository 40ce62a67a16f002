"""When the community is in an emergency, and what its load-shedding stages have done.

ENTSO-E (NC ER, Continental Europe): outside 49.2–50.8 Hz the system is in the emergency state; islanded
(the transformer breaker open) the community runs on its own whatever its frequency, so the operator is
guided through the emergency from the moment the breaker opens. The under-frequency load-shedding stages
are the world's relays (NC DCC: from 49.0 Hz down to 48.0 Hz, 7.5 % of load each after 100 ms); the console
only sees how many have tripped and stamps each with the time it first saw it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EMERGENCY_LOW_HZ = 49.2
EMERGENCY_HIGH_HZ = 50.8


@dataclass(frozen=True, slots=True)
class UflsStage:
    threshold_hz: float
    share: float
    delay_s: float


# NC DCC's six stages as the world's relays are set (drivers.sim.world.frequency.default_ufls)
UFLS_STAGES = tuple(UflsStage(round(49.0 - 0.2 * k, 1), 0.075, 0.1) for k in range(6))


def emergency_reason(breaker_closed: bool | None, frequency_hz: float | None) -> str | None:
    """Why the emergency panel shows (None: it does not). Unknown inputs are no emergency by themselves:
    a lost source is the stale-data alarm's business, not a reason to claim the community islanded."""
    reasons = []
    if breaker_closed is False:
        reasons.append("ISLANDED: transformer breaker open")
    if frequency_hz is not None and frequency_hz < EMERGENCY_LOW_HZ:
        reasons.append(f"frequency {frequency_hz:.3f} Hz below {EMERGENCY_LOW_HZ} Hz")
    elif frequency_hz is not None and frequency_hz > EMERGENCY_HIGH_HZ:
        reasons.append(f"frequency {frequency_hz:.3f} Hz above {EMERGENCY_HIGH_HZ} Hz")
    return "; ".join(reasons) or None


class StageLog:
    """The stages tripped, in order, each with the time the console first saw it (source time, POSIX s)."""

    def __init__(self, stages: tuple[UflsStage, ...] = UFLS_STAGES) -> None:
        self.stages = stages
        self.tripped_at: list[float] = []

    def update(self, tripped: int, ts: float) -> None:
        """``tripped`` stages are down at ``ts``; a drop (restore, reconnection) clears the later ones."""
        tripped = max(0, min(tripped, len(self.stages)))
        del self.tripped_at[tripped:]
        while len(self.tripped_at) < tripped:
            self.tripped_at.append(ts)

    @property
    def count(self) -> int:
        return len(self.tripped_at)

    def next_stage(self) -> UflsStage | None:
        """The stage a manual shed would trip next (None: all shed)."""
        return self.stages[self.count] if self.count < len(self.stages) else None

    def shed_share(self) -> float:
        """Share of the community's load shed so far (e.g. 2 stages: 2 × 7.5 % = 15 %)."""
        return sum(s.share for s in self.stages[:self.count])


def droop_share(deviation_hz: float, deadband_hz: float = 0.01, full_hz: float = 0.2) -> float:
    """FCR-like droop: the share of a battery's power asked for at ``deviation_hz`` (− discharge below f0),
    none within the deadband, all of it at ``full_hz`` (ENTSO-E FCR: ±200 mHz)."""
    excess = max(0.0, abs(deviation_hz) - deadband_hz)
    share = min(excess / (full_hz - deadband_hz), 1.0)
    return share if deviation_hz > 0 else -share


F0_HZ = 50.0
GRID_FORMING_DROOP_PU = 0.04  # islanded: the community battery's droop R (drivers.sim.world.frequency.IslandConfig)


def battery_ask_w(frequency_hz: float, breaker_closed: bool | None, soc_pct: float, rating_w: float,
                  setpoint_w: float = 0.0) -> float:
    """What the community battery's frequency response asks of it at ``frequency_hz`` (W, + discharge; nan
    without a frequency or a breaker state).

    Grid-connected: FCR (ENTSO-E, Continental Europe) on its rating — nothing within ±10 mHz, all of it at
    ±200 mHz (:func:`droop_share`). Islanded it delivers no FCR (that is the synchronous area's reserve, and
    the area is gone): it is grid-forming, and its droop R = 4 % sets the power, P_ref − S·(Δf/f0)/R, within
    ±S — e.g. 49.902 Hz: 250 kW · (0.098 / 50) / 0.04 = 12.25 kW, where the FCR rule would say 115.8 kW.
    Either way an empty battery (SoC ≤ 0 %) cannot discharge and a full one (≥ 100 %) cannot charge; an
    unknown SoC limits nothing."""
    if not math.isfinite(frequency_hz) or breaker_closed is None:
        return math.nan
    deviation = frequency_hz - F0_HZ
    if breaker_closed:
        ask = -droop_share(deviation) * rating_w
    else:
        ask = min(max(setpoint_w - rating_w * (deviation / F0_HZ) / GRID_FORMING_DROOP_PU, -rating_w), rating_w)
    if math.isfinite(soc_pct) and ((soc_pct <= 0.0 and ask > 0) or (soc_pct >= 100.0 and ask < 0)):
        return 0.0
    return ask
