"""Measurement and verification: reduction against the baseline, and what it earns.

The load measured is the participant's **gross load**: its grid meter's net import plus what its metered
behind-the-meter generators (PV, wind inverters) produced, :func:`gross_load_kw`. A net-metered house with PV
otherwise has the sun in its load: the CAISO same-day adjustment (a ratio over the 3 hours before the event,
an afternoon for an evening event) would scale its baseline by that afternoon's sunshine against the history
days', and the PV's output during the event would count as a reduction the house never made. On gross load
neither happens: the baseline is of what the house draws, and the generator's actual output, which the event
does not change, cancels out of the reduction (baseline − actual, both gross).
This is how programmes with metered behind-the-meter generation settle (CAISO's "metered generator output"
option, the add-back of generator output in NYISO's and PJM's customer baselines). A battery is not added
back: its discharge during the event is the response, and the net meter shows it.

Per interval the reduction is baseline − actual (kW; negative when the participant drew more). The
verified energy is the sum over the event's intervals, never below zero, optionally capped at what was
committed. Compensation is paid in whole Wh and whole base units, both rounded down: the operator never
pays for energy that was not delivered, and two runs on the same data pay the same to the base unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.dr.baselines import Array, Baseline


@dataclass(frozen=True, slots=True)
class Performance:
    reduction_kw: Array      # per event interval: baseline − actual
    baseline_kw: Array       # per event interval
    actual_kw: Array         # per event interval
    verified_wh: int         # whole Wh, >= 0, capped where a cap was given

    @property
    def verified_kwh(self) -> float:
        return self.verified_wh / 1000.0

    @property
    def mean_reduction_kw(self) -> float:
        return float(self.reduction_kw.mean()) if len(self.reduction_kw) else 0.0


def measure(baseline: Baseline, actual_kw: Array, first: int, last: int, cap_kwh: float | None = None) -> Performance:
    """Reduction in intervals ``[first, last)`` of a day whose interval loads are ``actual_kw``."""
    n = len(actual_kw)
    if len(baseline.kw) != n:
        raise ValueError(f"baseline has {len(baseline.kw)} intervals, the measured day {n}")
    if not 0 <= first < last <= n:
        raise ValueError(f"event intervals [{first}, {last}) are not within the day's {n} intervals")
    if not np.all(np.isfinite(actual_kw[first:last])):
        missing = [first + i for i, v in enumerate(actual_kw[first:last]) if not np.isfinite(v)]
        raise ValueError(f"measured load missing in event interval(s) {missing}: cannot verify the reduction")
    interval_h = 24.0 / n
    base = baseline.kw[first:last]
    act = actual_kw[first:last]
    reduction = base - act
    wh = max(0.0, float(reduction.sum()) * interval_h * 1000.0)
    if cap_kwh is not None:
        wh = min(wh, cap_kwh * 1000.0)
    # 1e-6 Wh of slack: a sum that is 1999.9999999 Wh in floating point was 2000 Wh by hand.
    return Performance(reduction_kw=reduction, baseline_kw=base, actual_kw=act, verified_wh=int(wh + 1e-6))


def gross_load_kw(net_kw: Array, generation_kw: Sequence[Array] = ()) -> Array:
    """What the participant drew per interval: its grid meter's net import (− export) plus the output of
    each metered generator behind it (kW, + production). NaN where any of them has no reading."""
    gross = np.array(net_kw, dtype=np.float64)
    for g in generation_kw:
        if len(g) != len(gross):
            raise ValueError(f"generation has {len(g)} intervals, the grid meter {len(gross)}")
        gross = gross + g
    return gross


def compensation_base_units(verified_wh: int, price_per_kwh: int) -> int:
    """Whole base units for ``verified_wh`` at ``price_per_kwh`` base units per kWh, rounded down."""
    if verified_wh < 0 or price_per_kwh < 0:
        raise ValueError(f"verified energy and price must be >= 0, got {verified_wh} Wh at {price_per_kwh}")
    return verified_wh * price_per_kwh // 1000


def pro_rata_payment(compensation: int, delivered_wh: int, total_delivered_wh: int, target_wh: int) -> int:
    """A participant's share as GridBalance.claimCompensation pays it: compensation × delivered / basis,
    rounded down, where the basis is the requested energy or, when the participants together delivered
    more, what they delivered (so the escrow is never exceeded)."""
    basis = max(total_delivered_wh, target_wh)
    if basis <= 0:
        return 0
    return compensation * delivered_wh // basis
