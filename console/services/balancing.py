"""The balancing and emergency picture from the acquisition's samples (no Qt).

Kept per sample, not per UI frame, so the moment the island signal *arrived* (its ``recv_ts``) is known
exactly: the emergency panel's latency is measured from there. The two emergency commands (shed the next
stage, restore) are OPC-UA writes to the world's ``Control.ShedStage``.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.balancing.emergency import StageLog, emergency_reason
from core.points import Quality, Sample

BREAKER, FREQUENCY, ROCOF, STAGES = "breaker.main", "grid.frequency", "grid.rocof", "ufls.stages"
BATTERY_P, BATTERY_SOC, IMPORT = "community_battery.power", "community_battery.soc", "grid.import"
DEMAND, SUPPLY = "grid.demand", "grid.supply"
_WATCHED = {BREAKER, FREQUENCY, ROCOF, STAGES, BATTERY_P, BATTERY_SOC, IMPORT, DEMAND, SUPPLY}
_POWERS = {BATTERY_P, IMPORT, DEMAND, SUPPLY}
SHED_NODE = "ns=2;s=World.Control.ShedStage"


@dataclass(frozen=True, slots=True)
class BalancingState:
    """What the balancing and emergency panels show (nan / None: not received)."""

    reason: str | None  # why the emergency panel shows; None: normal
    since_recv_ts: float | None  # when the sample that started the emergency arrived (console clock)
    breaker_closed: bool | None
    frequency_hz: float
    rocof_hz_s: float
    stages_tripped_at: tuple[float, ...]  # source time of each stage, in order
    next_stage_hz: float | None
    shed_share: float
    battery_kw: float  # + discharge
    battery_soc_pct: float
    import_kw: float  # over the transformer, − export
    demand_kw: float
    supply_kw: float

    @property
    def imbalance_kw(self) -> float:
        """Demand − local supply: what the import (or, islanded, the battery) must cover."""
        return self.demand_kw - self.supply_kw


class BalancingService:
    def __init__(self, write: Callable[[str, float], Awaitable[None]] | None = None) -> None:
        """``write(node_id, value)``: the OPC-UA command path (None: the commands are unavailable)."""
        self._write = write
        self._values: dict[str, float] = {}
        self._stages = StageLog()
        self._reason: str | None = None
        self._since: float | None = None

    def on_samples(self, batch: Sequence[Sample]) -> None:
        for s in batch:
            if s.point not in _WATCHED or s.quality is not Quality.GOOD:
                continue
            # powers arrive in W (the acquisition keeps SI whatever the display unit): the panels show kW
            self._values[s.point] = s.value / 1000 if s.point in _POWERS else s.value
            if s.point == STAGES:
                self._stages.update(round(s.value), s.source_ts)
            if s.point in (BREAKER, FREQUENCY):
                reason = emergency_reason(self._breaker(), self._values.get(FREQUENCY))
                if reason is not None and self._reason is None:
                    self._since = s.recv_ts
                self._reason = reason

    def _breaker(self) -> bool | None:
        v = self._values.get(BREAKER)
        return None if v is None else v >= 0.5

    def state(self) -> BalancingState:
        v = self._values.get
        nxt = self._stages.next_stage()
        return BalancingState(
            reason=self._reason, since_recv_ts=self._since if self._reason else None,
            breaker_closed=self._breaker(), frequency_hz=v(FREQUENCY, math.nan), rocof_hz_s=v(ROCOF, math.nan),
            stages_tripped_at=tuple(self._stages.tripped_at), next_stage_hz=None if nxt is None else nxt.threshold_hz,
            shed_share=self._stages.shed_share(), battery_kw=v(BATTERY_P, math.nan),
            battery_soc_pct=v(BATTERY_SOC, math.nan), import_kw=v(IMPORT, math.nan),
            demand_kw=v(DEMAND, math.nan), supply_kw=v(SUPPLY, math.nan))

    @property
    def can_command(self) -> bool:
        return self._write is not None

    async def shed_next_stage(self) -> None:
        if self._write is None:
            raise RuntimeError("balancing: no OPC-UA command path configured for load shedding")
        await self._write(SHED_NODE, 1.0)

    async def restore(self) -> None:
        if self._write is None:
            raise RuntimeError("balancing: no OPC-UA command path configured for load shedding")
        await self._write(SHED_NODE, -1.0)
