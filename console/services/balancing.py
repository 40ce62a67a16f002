"""The balancing and emergency picture from the acquisition's samples (no Qt).

Kept per sample, not per UI frame, so the moment the island signal *arrived* (its ``recv_ts``) is known
exactly: the emergency panel's latency is measured from there. The two emergency commands (shed the next
stage, restore) are OPC-UA writes to the world's ``Control.ShedStage``, each through the one command path
(:meth:`CommandService.execute`: permission ``grid.load_shed``, one audit entry in the words confirmed) and
confirmed only when ``Ufls.Stages`` comes back changed. One at a time: a second command while the first
waits for its result is refused (audited), so a double click never sheds two stages.

The islanding procedure (core/balancing/procedure.py) adds three commands on the same path: suspend the
market (its own ``suspend``), dispatch the Modbus batteries (a discharge setpoint each, read back), and
close the breaker (``Control.BreakerClose``) only while the synchrocheck is within limits.

Times are the data's (``source_ts``: the world's clock, which the field stamps its values with), never the
console's wall clock: the stage times and the command results say when it happened in the grid.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from console.services.commands import CommandService
from core.access import Action, User
from core.balancing.emergency import StageLog, battery_ask_w, emergency_reason
from core.balancing.procedure import STEPS, Step, StepState, StepStatus, SyncCheck, sync_check
from core.commands import CommandOutcome, Outcome, WriteError
from core.points import Quality, Sample

if TYPE_CHECKING:
    from console.services.market import MarketService

BREAKER, FREQUENCY, ROCOF, STAGES = "breaker.main", "grid.frequency", "grid.rocof", "ufls.stages"
BATTERY_P, BATTERY_SOC, IMPORT = "community_battery.power", "community_battery.soc", "grid.import"
DEMAND, SUPPLY = "grid.demand", "grid.supply"
SYSTEM_FREQUENCY = "grid.system_frequency"  # the grid side of the breaker (the synchrocheck's other frequency)
_WATCHED = {BREAKER, FREQUENCY, ROCOF, STAGES, BATTERY_P, BATTERY_SOC, IMPORT, DEMAND, SUPPLY, SYSTEM_FREQUENCY}
_POWERS = {BATTERY_P, IMPORT, DEMAND, SUPPLY}
SHED_NODE = "ns=2;s=World.Control.ShedStage"
BREAKER_NODE = "ns=2;s=World.Control.BreakerClose"  # writable Boolean: True closes (the world's synchrocheck)
# SunSpec basic storage controls (model 124): discharge (StorCtl_Mod bit 1) at OutWRte % of WChaMax
MODE_POINT, DISCHARGE_RATE_POINT = "storage_basic.StorCtl_Mod", "storage_basic.OutWRte"
MARKET_REASON = "community islanded: emergency procedure (trades assume the interconnection's balancing)"
SHED_TARGET = "ufls"  # the audit log's target of the load-shedding commands
BATTERY_RATING_W = 250e3  # the community battery's inverter (the world's IslandConfig.battery_rating_w)
VERIFY_S = 10.0  # how long a command waits to see Ufls.Stages change (the world applies it within a tick)
COMMAND_TIMEOUT_S = 25.0  # connect (5 s) + write (5 s) + VERIFY_S, and some slack on a loaded machine


@dataclass(frozen=True, slots=True)
class EmergencyCommand:
    """What the operator confirms: the words before (``consequence``) and after (``done``)."""

    label: str  # "Shed stage 2 (48.8 Hz relay)"
    consequence: str
    done: str


@dataclass(frozen=True, slots=True)
class BalancingState:
    """What the balancing and emergency panels show (nan / None: not received)."""

    reason: str | None  # why the emergency panel shows; None: normal
    since_recv_ts: float | None  # when the sample that started the emergency arrived (console clock)
    breaker_closed: bool | None
    frequency_hz: float
    rocof_hz_s: float
    stages_tripped_at: tuple[float, ...]  # source (world) time of each stage, in order
    next_stage_hz: float | None
    shed_share: float
    battery_kw: float  # + discharge
    battery_soc_pct: float
    import_kw: float  # over the transformer, − export
    demand_kw: float
    supply_kw: float
    battery_ask_kw: float = math.nan  # what the battery's frequency response asks (+ discharge; core.balancing)
    data_ts: float = math.nan  # the newest source (world) time received: "now" in the grid

    @property
    def imbalance_kw(self) -> float:
        """Demand − local supply: what the import (or, islanded, the battery) must cover."""
        return self.demand_kw - self.supply_kw


class BalancingService:
    def __init__(self, commands: CommandService, write: Callable[[str, float], Awaitable[None]] | None = None,
                 verify_s: float = VERIFY_S, *, switch: Callable[[str, bool], Awaitable[None]] | None = None,
                 market: MarketService | None = None, batteries: Sequence[str] = ()) -> None:
        """``commands``: the one command path (permission, audit); ``write(node_id, value)``: the OPC-UA
        write (None: no writable source — every command is refused, audited, with that reason);
        ``switch(node_id, closed)``: the OPC-UA Boolean write that closes the breaker (None: reconnection
        is a manual step); ``market``: the market the procedure suspends; ``batteries``: the Modbus devices
        (SunSpec model 124) the procedure dispatches."""
        self.commands = commands
        self._write = write
        self._switch = switch
        self.market = market
        self.batteries = tuple(batteries)
        self.verify_s = verify_s
        self._done: dict[Step, StepState] = {}  # the procedure's steps the operator took, this island
        self._shedding: tuple[int, User | None, str] | None = None  # a shed in flight: stages before, by, words
        self.busy = False  # a command is waiting for its result
        self._data_ts = math.nan
        self._values: dict[str, float] = {}
        self._stages = StageLog()
        self._reason: str | None = None
        self._since: float | None = None

    def on_samples(self, batch: Sequence[Sample]) -> None:
        for s in batch:
            if s.point not in _WATCHED or s.quality is not Quality.GOOD:
                continue
            if not s.source_ts <= self._data_ts:  # nan at first
                self._data_ts = s.source_ts
            # powers arrive in W (the acquisition keeps SI whatever the display unit): the panels show kW
            self._values[s.point] = s.value / 1000 if s.point in _POWERS else s.value
            if s.point == STAGES:
                self._stages.update(round(s.value), s.source_ts)
                if self._shedding is not None and self._stages.count > self._shedding[0]:
                    # the operator's shed arrived: step 3 is theirs from this very sample (never shown as the
                    # relays' for a frame while the command waits for its next look)
                    _, by, done = self._shedding
                    self._shedding = None
                    self._record(Step.SHED, CommandOutcome(Outcome.CONFIRMED, ""), by, done)
            if s.point in (BREAKER, FREQUENCY):
                reason = emergency_reason(self._breaker(), self._values.get(FREQUENCY))
                if reason is not None and self._reason is None:
                    self._since = s.recv_ts
                    self._done.clear()  # a new emergency: its procedure starts again
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
            demand_kw=v(DEMAND, math.nan), supply_kw=v(SUPPLY, math.nan),
            battery_ask_kw=battery_ask_w(v(FREQUENCY, math.nan), self._breaker(), v(BATTERY_SOC, math.nan),
                                         BATTERY_RATING_W) / 1000,
            data_ts=self._data_ts)

    @property
    def can_command(self) -> bool:
        return self._write is not None

    def shed_command(self) -> EmergencyCommand | None:
        """The words of "shed the next stage" as things stand (None: all stages are shed)."""
        nxt = self._stages.next_stage()
        if nxt is None:
            return None
        k = self._stages.count + 1
        total = (self._stages.shed_share() + nxt.share) * 100
        label = f"Shed stage {k} ({nxt.threshold_hz:.1f} Hz relay)"
        return EmergencyCommand(
            label, f"{label}: open the relays of its connections, about {nxt.share * 100:.1f} % of the "
            f"community's mean load ({total:.1f} % shed in all)", f"stage {k} shed, {total:.1f} % of load")

    def restore_command(self) -> EmergencyCommand | None:
        """The words of "restore shed load" (None: nothing is shed)."""
        n = self._stages.count
        if n == 0:
            return None
        return EmergencyCommand(
            "Restore shed load", f"Restore shed load: reconnect the {n} stage{'s' if n > 1 else ''} shed "
            f"({self._stages.shed_share() * 100:.1f} % of load); with the deficit still there the relays trip "
            "again", "shed load restored, no stage tripped")

    async def shed_next_stage(self, by: User | None = None) -> CommandOutcome:
        """Shed the next stage, through the command path; confirmed when Ufls.Stages comes back one higher."""
        cmd = self.shed_command()
        words = cmd.consequence if cmd is not None else "Shed the next stage (all stages are shed)"
        done = cmd.done if cmd is not None else ""
        return await self.commands.execute(SHED_TARGET, words, lambda: self._send(1.0, cmd is not None, by, done),
                                           action=Action.LOAD_SHED, by=by, timeout_s=COMMAND_TIMEOUT_S)

    async def restore(self, by: User | None = None) -> CommandOutcome:
        """Restore the shed load, through the command path; confirmed when Ufls.Stages comes back 0."""
        cmd = self.restore_command()
        words = cmd.consequence if cmd is not None else "Restore shed load (none is shed)"
        return await self.commands.execute(SHED_TARGET, words, lambda: self._send(-1.0, cmd is not None),
                                           action=Action.LOAD_SHED, by=by, timeout_s=COMMAND_TIMEOUT_S)

    async def _send(self, value: float, applicable: bool, by: User | None = None, done: str = "") -> CommandOutcome:
        """Write ``Control.ShedStage`` once and wait for ``Ufls.Stages`` to show it (never written twice)."""
        if self.busy:
            raise WriteError("the previous load-shedding command is still waiting for its result; nothing sent")
        if not applicable:
            raise WriteError("all stages are shed already; nothing sent" if value > 0 else
                             "no load is shed; nothing sent")
        if self._write is None:
            raise WriteError("no OPC-UA command path for load shedding (the source with breaker.main has "
                             "security on, or is not configured); nothing sent")
        self.busy = True
        try:
            before = self._stages.count
            if value > 0:
                self._shedding = (before, by, done)
            try:
                await self._write(SHED_NODE, value)
            except RuntimeError as exc:
                raise WriteError(str(exc)) from exc
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.verify_s
            while True:
                now = self._stages.count
                if (now > before) if value > 0 else (now == 0):
                    return CommandOutcome(Outcome.CONFIRMED, f"Ufls.Stages {before} → {now}")
                if loop.time() >= deadline:
                    return CommandOutcome(Outcome.NOT_CONFIRMED, f"written, but Ufls.Stages still {now} after "
                                          f"{self.verify_s:g} s")
                await asyncio.sleep(0.05)
        finally:
            self.busy = False
            self._shedding = None

    # ---- the islanding procedure ---------------------------------------------------------------------

    def sync(self) -> SyncCheck:
        """Both sides of the breaker as measured: the community's frequency against the system's (the world
        publishes no grid-side voltage and no phase angle: ΔV and Δφ are not measured)."""
        v = self._values.get
        return sync_check(v(FREQUENCY, math.nan), v(SYSTEM_FREQUENCY, math.nan))

    def procedure(self) -> tuple[StepState, ...]:
        """Each step's state as things stand: done (by whom, when: the world's time), pending (and whether it
        can be taken now, or why not) or not applicable."""
        return tuple(self._step_state(step) for step in STEPS)

    def _step_state(self, step: Step) -> StepState:
        done = self._done.get(step)
        if step is Step.MARKET:
            if self.market is None:
                return StepState(step, StepStatus.NOT_APPLICABLE, detail="no market in this console")
            halt = self.market.suspension()
            if halt is not None:
                return done or StepState(step, StepStatus.DONE, halt.by, float(halt.ts), "trading suspended")
            return StepState(step, StepStatus.PENDING, detail="trading open", enabled=not self.busy)
        if step is Step.BATTERIES:
            if not self.batteries:
                return StepState(step, StepStatus.NOT_APPLICABLE, detail="no battery takes setpoints here")
            if done is not None:
                return done
            return StepState(step, StepStatus.PENDING, enabled=self.commands.writer is not None and not self.busy,
                             detail=f"{len(self.batteries)} batter{'y' if len(self.batteries) == 1 else 'ies'}"
                             " over Modbus")
        if step is Step.SHED:
            if self._stages.count:
                by = done.by if done is not None else "UFLS relays"
                return StepState(step, StepStatus.DONE, by, self._stages.tripped_at[0],
                                 f"{self._stages.count} stage{'s' if self._stages.count > 1 else ''}, "
                                 f"{self._stages.shed_share() * 100:.1f} %")
            return StepState(step, StepStatus.PENDING, detail="no load shed",
                             enabled=self.can_command and not self.busy)
        breaker = self._breaker()
        if breaker is not False:
            if done is not None:
                return done
            return StepState(step, StepStatus.NOT_APPLICABLE,
                             detail="breaker closed: not islanded" if breaker else "breaker state unknown")
        check = self.sync()
        if self._switch is None:
            return StepState(step, StepStatus.PENDING, detail=f"manual, on site · {check.text()}")
        return StepState(step, StepStatus.PENDING, detail=check.text(), enabled=check.in_limits and not self.busy)

    def step_command(self, step: Step) -> EmergencyCommand | None:
        """The words the operator confirms for ``step`` (None: nothing to do; the shed's: :meth:`shed_command`)."""
        if step is Step.SHED:
            return self.shed_command()
        if step is Step.MARKET:
            return EmergencyCommand("Suspend market", "Suspend market: halt trading in every product (new orders "
                                    "and modifications refused, cancels allowed) until resumed; reason: "
                                    f"{MARKET_REASON}", "trading suspended")
        if step is Step.BATTERIES:
            n = len(self.batteries)
            names = ", ".join(self.batteries)
            return EmergencyCommand("Dispatch batteries", f"Dispatch batteries: discharge {n} batter"
                                    f"{'y' if n == 1 else 'ies'} ({names}) at 100 % of rated power until changed",
                                    f"{n} discharging at 100 %")
        check = self.sync()
        return EmergencyCommand("Reconnect", "Reconnect: close the transformer breaker (Control.BreakerClose); "
                                f"synchrocheck {check.text()}", "breaker closed, community grid-connected")

    async def suspend_market(self, by: User | None = None) -> CommandOutcome:
        """Step 1: the market's own suspension (audited there too, as ``market.suspend``), through the
        command path; confirmed when the market reports the suspension."""
        cmd = self.step_command(Step.MARKET)
        assert cmd is not None
        actor = by or self.commands.actor

        async def send() -> CommandOutcome:
            if self.market is None:
                raise WriteError("no market in this console; nothing to suspend")
            if self.market.suspension() is not None:
                raise WriteError(f"{self.market.suspension().describe()}; nothing sent")  # type: ignore[union-attr]
            halt = await self.market.suspend(MARKET_REASON, by=actor)
            return CommandOutcome(Outcome.CONFIRMED, halt.describe())

        outcome = await self.commands.execute("market", cmd.consequence, send, action=Action.MARKET_SUSPEND,
                                              by=actor)
        self._record(Step.MARKET, outcome, actor, cmd.done)
        return outcome

    async def dispatch_batteries(self, by: User | None = None) -> CommandOutcome:
        """Step 2: every battery discharges at 100 % of its rating (OutWRte, then StorCtl_Mod = 2), each
        battery a command of its own (read back, audited) under this one."""
        cmd = self.step_command(Step.BATTERIES)
        assert cmd is not None
        actor = by or self.commands.actor

        async def send() -> CommandOutcome:
            if not self.batteries:
                raise WriteError("no battery takes setpoints in this console; nothing sent")
            if self.busy:
                raise WriteError("the previous emergency command is still waiting for its result; nothing sent")
            self.busy = True
            try:
                results = [(d, await self.commands.run(
                    d, f"{d}: discharge at 100 % of rated power until changed (emergency procedure)",
                    ((DISCHARGE_RATE_POINT, 100.0, None), (MODE_POINT, 2.0, None)), by=actor)) for d in self.batteries]
            finally:
                self.busy = False
            ok = [d for d, o in results if o.outcome is Outcome.CONFIRMED]
            text = "; ".join(f"{d} {o.outcome.value}" + ("" if o.outcome is Outcome.CONFIRMED else f": {o.message}")
                             for d, o in results)
            if len(ok) == len(results):
                return CommandOutcome(Outcome.CONFIRMED, text)
            if all(o.outcome is Outcome.REJECTED for _, o in results):
                return CommandOutcome(Outcome.REJECTED, text)
            return CommandOutcome(Outcome.NOT_CONFIRMED, f"{len(ok)} of {len(results)} confirmed: {text}")

        outcome = await self.commands.execute("batteries", cmd.consequence, send, action=Action.DEVICE_SETPOINT,
                                              by=actor, timeout_s=COMMAND_TIMEOUT_S * max(1, len(self.batteries)))
        self._record(Step.BATTERIES, outcome, actor, cmd.done)
        return outcome

    async def reconnect(self, by: User | None = None) -> CommandOutcome:
        """Step 4: close the breaker over OPC-UA, refused (nothing sent) unless the synchrocheck is in limits;
        confirmed when Breaker.Closed comes back 1. The emergency panel's permission (``grid.load_shed``)."""
        cmd = self.step_command(Step.RECONNECT)
        assert cmd is not None
        actor = by or self.commands.actor

        async def send() -> CommandOutcome:
            if self._breaker() is not False:
                raise WriteError("the breaker is not open; nothing sent")
            if self._switch is None:
                raise WriteError("no OPC-UA command path to the breaker; close it on site")
            check = self.sync()
            if not check.in_limits:
                raise WriteError(f"synchrocheck out of limits ({check.text()}); nothing sent")
            if self.busy:
                raise WriteError("the previous emergency command is still waiting for its result; nothing sent")
            self.busy = True
            try:
                try:
                    await self._switch(BREAKER_NODE, True)
                except RuntimeError as exc:
                    raise WriteError(str(exc)) from exc
                loop = asyncio.get_running_loop()
                deadline = loop.time() + self.verify_s
                while self._breaker() is not True:
                    if loop.time() >= deadline:
                        return CommandOutcome(Outcome.NOT_CONFIRMED, f"written, but Breaker.Closed still 0 after "
                                              f"{self.verify_s:g} s (the breaker's synchrocheck refused?)")
                    await asyncio.sleep(0.05)
                return CommandOutcome(Outcome.CONFIRMED, f"Breaker.Closed 0 → 1 ({check.text()})")
            finally:
                self.busy = False

        outcome = await self.commands.execute(BREAKER, cmd.consequence, send, action=Action.LOAD_SHED, by=actor,
                                              timeout_s=COMMAND_TIMEOUT_S)
        self._record(Step.RECONNECT, outcome, actor, cmd.done)
        return outcome

    def _record(self, step: Step, outcome: CommandOutcome, by: User | None, done: str) -> None:
        if outcome.outcome is Outcome.CONFIRMED:
            who = (by or self.commands.actor).name
            self._done[step] = StepState(step, StepStatus.DONE, who, self._data_ts, done)
