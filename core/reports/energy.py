"""Energy over a period from power samples or energy counters, per participant and in total.

Participant accounting follows :mod:`core.participants` (assets by kind, values by role, its sign
conventions): consumption = grid import − export + PV + wind − battery charging + battery discharging.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np

from core.participants import TOTAL, AssetKind, Participant
from core.reports.series import Array, Series, clipped_trapezoids
from core.roles import Role

# (device, role) -> that device's samples in the period, or None when it has no such point.
SeriesLookup = Callable[[str, Role], Series | None]


def integrate_wh(power: Series, t0: float, t1: float, max_gap_s: float, sign: int = 0) -> float:
    """Energy (Wh) of power samples (W) over [t0, t1) by the trapezoid rule.

    Two samples further apart than ``max_gap_s`` are not bridged: that interval counts nothing (the value
    is not known there). An interval crossing the period's edge counts its part inside (interpolated).
    ``sign`` +1 integrates only the positive part, −1 only the negative part (as a
    positive number), 0 the signed power; the part is taken sample by sample, so an interval where the
    power changes sign is split approximately (both ends clipped at zero).
    """
    s = power.finite()
    w = s.values
    if sign > 0:
        w = np.maximum(w, 0.0)
    elif sign < 0:
        w = np.maximum(-w, 0.0)
    area, _ = clipped_trapezoids(s.ts, w, t0, t1, max_gap_s)
    return float(area.sum()) / 3600.0


def energy_by_hour(power: Series, t0: float, t1: float, max_gap_s: float) -> Array:
    """Energy (Wh) of the positive power in each hour of the day (24 values, UTC): each trapezoid counts
    in the hour where its interval (clipped to the period) starts (exact for samples aligned to the hour)."""
    s = power.finite()
    area, start = clipped_trapezoids(s.ts, np.maximum(s.values, 0.0), t0, t1, max_gap_s)
    parts = area / 3600.0
    if parts.size == 0:
        return np.zeros(24)
    hours = ((start // 3600) % 24).astype(np.int64)
    return np.bincount(hours, weights=parts, minlength=24).astype(np.float64)


def counter_wh(counter: Series, t0: float, t1: float) -> float | None:
    """What an energy counter (Wh) advanced over [t0, t1): last minus first value inside the period.
    None with fewer than two values; a counter that went backwards (reset or swapped meter) counts only
    its forward steps."""
    s = counter.finite()
    keep = (s.ts >= t0) & (s.ts < t1)
    v = s.values[keep]
    if v.size < 2:
        return None
    return float(np.maximum(np.diff(v), 0.0).sum())


@dataclass(frozen=True, slots=True)
class EnergyTotals:
    """Energy (Wh) of one participant (or all) over a period; ``nan`` where it has no such device."""

    participant: str
    imported_wh: float
    exported_wh: float
    pv_wh: float
    wind_wh: float
    charged_wh: float
    discharged_wh: float
    counters_used: bool = False  # import/export came from the meter's counters rather than its power

    @property
    def generation_wh(self) -> float:
        return _z(self.pv_wh) + _z(self.wind_wh)

    @property
    def consumption_wh(self) -> float:
        """What the participant used: from the grid plus what it made, less what it sent out, plus the
        battery's net discharge (``nan`` without a meter)."""
        if not math.isfinite(self.imported_wh):
            return math.nan
        return (self.imported_wh - _z(self.exported_wh) + self.generation_wh
                - _z(self.charged_wh) + _z(self.discharged_wh))


class EnergySource(Protocol):
    """One point's energy over the report's period, however it is stored (raw samples, rollups)."""

    def energy_wh(self, sign: int) -> float:
        """Energy of power (W) over the period: ``sign`` as :func:`integrate_wh`."""
        ...

    def advance_wh(self) -> float | None:
        """What an energy counter (Wh) advanced over the period, as :func:`counter_wh`."""
        ...


@dataclass(frozen=True, slots=True)
class RawSource:
    """:class:`EnergySource` on raw samples."""

    series: Series
    t0: float
    t1: float
    max_gap_s: float

    def energy_wh(self, sign: int) -> float:
        return integrate_wh(self.series, self.t0, self.t1, self.max_gap_s, sign)

    def advance_wh(self) -> float | None:
        return counter_wh(self.series, self.t0, self.t1)


def participant_energy(p: Participant, find: SeriesLookup, t0: float, t1: float, max_gap_s: float) -> EnergyTotals:
    """Energy of one participant from its devices' raw samples, found by role (see :func:`energy_of`)."""

    def source(device: str, role: Role) -> EnergySource | None:
        s = find(device, role)
        return None if s is None else RawSource(s, t0, t1, max_gap_s)

    return energy_of(p, source)


def energy_of(p: Participant, find: Callable[[str, Role], EnergySource | None]) -> EnergyTotals:
    """Energy of one participant from its devices' points, found by role.

    The meter's import and export come from its energy counters when both counters have at least two
    values in the period (a counter is what the bill is made from, and it misses nothing between
    samples); otherwise from its power (+ import / − export).
    """
    imported: list[float] = []
    exported: list[float] = []
    pv: list[float] = []
    wind: list[float] = []
    charged: list[float] = []
    discharged: list[float] = []
    counters = False
    for a in p.assets:
        power = find(a.device, Role.POWER)
        if a.kind is AssetKind.METER:
            ci, ce = find(a.device, Role.ENERGY_IMPORT), find(a.device, Role.ENERGY_EXPORT)
            di = ci.advance_wh() if ci is not None else None
            de = ce.advance_wh() if ce is not None else None
            if di is not None and de is not None:
                imported.append(di)
                exported.append(de)
                counters = True
            elif power is not None:
                imported.append(power.energy_wh(+1))
                exported.append(power.energy_wh(-1))
        elif power is None:
            continue
        elif a.kind is AssetKind.BATTERY:
            charged.append(power.energy_wh(+1))
            discharged.append(power.energy_wh(-1))
        else:
            (wind if a.kind is AssetKind.WIND else pv).append(power.energy_wh(+1))
    return EnergyTotals(p.name, _sum(imported), _sum(exported), _sum(pv), _sum(wind), _sum(charged),
                        _sum(discharged), counters)


def total_energy(rows: Sequence[EnergyTotals], name: str = TOTAL) -> EnergyTotals:
    """All participants as one: each energy is the sum of the rows (``nan`` when no row has it)."""
    sums = {f.name: _sum([getattr(r, f.name) for r in rows]) for f in fields(EnergyTotals)
            if f.name not in ("participant", "counters_used")}
    return EnergyTotals(name, counters_used=any(r.counters_used for r in rows), **sums)


def _sum(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return math.fsum(finite) if finite else math.nan


def _z(x: float) -> float:
    return x if math.isfinite(x) else 0.0
