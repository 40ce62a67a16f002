"""Alarm-system performance (ISA-18.2 §16, EEMUA 191) computed from the event journal alone.

Counted "alarms" are annunciated activations: shelved, suppressed and
out-of-service alarms do not reach the operator, so they do not load them.
Periods are fixed 10-minute intervals from ``t0`` (a shorter last one counts
as a period), as ISA-18.2 defines "percentage of 10-minute periods in flood".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from core.alarms.definitions import Priority
from core.alarms.flood import FLOOD_LIMIT
from core.alarms.state import AlarmEvent, AlarmState, EventKind

PERIOD_S = 600.0
STALE_AFTER_S = 24 * 3600.0
CHATTER_COUNT = 3  # activations …
CHATTER_WINDOW_S = 60.0  # … within a minute make an alarm chattering (EEMUA 191)
TOP_N = 10

# ISA-18.2 / EEMUA 191 targets the KPI panel compares against.
TARGET_PER_HOUR = 6.0  # average alarms per operator per hour ("very likely acceptable")
TARGET_PER_10MIN = 1.0
TARGET_TIME_IN_FLOOD = 0.01  # < 1 % of periods
# Critical alarms are rare and counted within high's 5 %.
TARGET_PRIORITY_SHARE = {Priority.LOW: 0.80, Priority.MEDIUM: 0.15, Priority.HIGH: 0.05}


@dataclass(frozen=True, slots=True)
class AlarmKpis:
    """The alarm system's health over ``[t0, t1)`` for one operator position (``None``: all)."""

    t0: float
    t1: float
    position: str | None
    alarms: int
    per_10min: float
    per_hour: float
    peak_10min: int  # most alarms in one 10-minute period
    periods: int
    flood_periods: int  # periods with more than 10 alarms
    stale: tuple[str, ...]  # active at t1 for more than 24 h
    chattering: tuple[str, ...]  # ≥ 3 activations within 60 s at some time in the period
    top: tuple[tuple[str, int], ...]  # the 10 most frequent alarms, most frequent first
    priority_counts: tuple[tuple[Priority, int], ...]  # every priority, most urgent first
    shelved: int  # shelved at t1
    longest_shelved_s: float  # longest shelving that overlapped the period (an ongoing one up to t1)

    @property
    def time_in_flood(self) -> float:
        """Fraction of 10-minute periods in flood (target below 1 %)."""
        return self.flood_periods / self.periods if self.periods else 0.0

    @property
    def top_share(self) -> float:
        """Fraction of all alarms that the top-10 bad actors produced."""
        return sum(n for _, n in self.top) / self.alarms if self.alarms else 0.0

    def priority_share(self, p: Priority) -> float:
        counts = dict(self.priority_counts)
        return counts[p] / self.alarms if self.alarms else 0.0


def alarm_kpis(events: Iterable[AlarmEvent], t0: float, t1: float, position: str | None = None) -> AlarmKpis:
    """KPIs of ``[t0, t1)``. Give events from before ``t0`` too (e.g. the last day): standing, stale
    and shelved alarms depend on what happened earlier."""
    if not t1 > t0:
        raise ValueError(f"the period must end after it starts, got t0={t0}, t1={t1}")
    ordered = sorted((e for e in events if position is None or e.position == position), key=lambda e: e.ts)
    periods = max(1, math.ceil((t1 - t0) / PERIOD_S - 1e-9))
    per_period = [0] * periods
    per_alarm: Counter[str] = Counter()
    per_priority: Counter[Priority] = Counter()
    activations: dict[str, list[float]] = {}
    last: dict[str, AlarmState] = {}
    shelved_since: dict[str, float] = {}
    longest = 0.0
    for e in ordered:
        if e.ts >= t1:
            break
        was = last.get(e.alarm)
        last[e.alarm] = e.state
        if e.state.shelved and not (was is not None and was.shelved):
            shelved_since[e.alarm] = e.ts
        elif not e.state.shelved and e.alarm in shelved_since:
            start = shelved_since.pop(e.alarm)
            if e.ts >= t0:
                longest = max(longest, e.ts - start)
        if e.kind is not EventKind.ACTIVATED or e.ts < t0 or not e.state.annunciated:
            continue
        per_period[min(int((e.ts - t0) // PERIOD_S), periods - 1)] += 1
        per_alarm[e.alarm] += 1
        per_priority[e.priority] += 1
        activations.setdefault(e.alarm, []).append(e.ts)
    for start in shelved_since.values():
        longest = max(longest, t1 - start)
    total = sum(per_period)
    span = t1 - t0
    stale = tuple(sorted(a for a, s in last.items() if s.active and not s.out_of_service
                         and s.active_since is not None and t1 - s.active_since > STALE_AFTER_S))
    chattering = tuple(sorted(a for a, ts in activations.items() if _chatters(ts)))
    top = tuple(sorted(per_alarm.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N])
    return AlarmKpis(
        t0=t0, t1=t1, position=position, alarms=total,
        per_10min=total / (span / PERIOD_S), per_hour=total / (span / 3600.0),
        peak_10min=max(per_period), periods=periods,
        flood_periods=sum(1 for n in per_period if n > FLOOD_LIMIT),
        stale=stale, chattering=chattering, top=top,
        priority_counts=tuple((p, per_priority[p]) for p in Priority),
        shelved=sum(1 for s in last.values() if s.shelved),
        longest_shelved_s=longest,
    )


def _chatters(ts: list[float]) -> bool:
    return any(ts[i + CHATTER_COUNT - 1] - ts[i] <= CHATTER_WINDOW_S for i in range(len(ts) - CHATTER_COUNT + 1))
