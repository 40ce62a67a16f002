"""Chain use cases: publish the grid status, request demand response, show what happened."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.access import Action, PermissionDenied, Role, User, require
from core.chain import ChainCommand, ChainStatus, TxRecord
from core.grid import GridSnapshot, Reading
from core.ports import ChainPort, Historian
from core.units import UnitRangeError, hz_to_mhz, seconds_to_uint, volt_to_mv, watt_to_uint

log = logging.getLogger(__name__)


GRID_STATUS = "grid-status"  # the supersedes group of grid statuses: only the newest unsent one is sent


def status_command(snap: GridSnapshot, valid_s: float = 60.0) -> ChainCommand | None:
    """`updateStatus` from a snapshot, or None when a value is missing or not usable (never publish guesses).

    The voltage published is the lowest bus voltage: the one an operator watches during a shortage. A status
    is superseded by the next one and is not news `valid_s` after its snapshot: never sent after that."""

    def usable(r: Reading | None) -> bool:
        return r is not None and r.quality.usable

    volts = [r for r in snap.voltages if usable(r)]
    if not (usable(snap.frequency) and usable(snap.demand) and usable(snap.supply) and volts):
        return None
    assert snap.frequency and snap.demand and snap.supply
    try:
        args = (hz_to_mhz(snap.frequency.value), volt_to_mv(min(r.value for r in volts)),
                watt_to_uint(max(snap.demand.value, 0.0)), watt_to_uint(max(snap.supply.value, 0.0)))
    except UnitRangeError as exc:
        log.warning("grid status not published: %s", exc)
        return None
    stamp = round(snap.ts)
    return ChainCommand(f"status-{stamp}", "GridBalance", "updateStatus", args,
                        f"grid status {args[0] / 1000:.3f} Hz, {args[2] / 1e6:.1f} MW demand",
                        valid_until=snap.ts + valid_s, supersedes=GRID_STATUS)


@dataclass(frozen=True, slots=True)
class StatusCadence:
    """When a grid status is worth a transaction: every ``every_s`` seconds, and sooner when it changed
    significantly since the last one published: frequency by ``frequency_mhz``, the lowest voltage by
    ``voltage_pct`` % of the last, demand or supply by ``power_pct`` % of the larger of the two last published
    (and at least ``power_floor_w``, so a quiet night's few watts do not count). A change is published at most once per
    ``min_gap_s``: a frequency swinging around a threshold is not a transaction a second."""

    every_s: float = 10.0
    frequency_mhz: int = 50
    voltage_pct: float = 2.0
    power_pct: float = 10.0
    power_floor_w: int = 1_000
    min_gap_s: float = 1.0

    def due(self, now: float, last_at: float | None, last: tuple[int, ...] | None, args: tuple[int, ...]) -> str | None:
        """Why a status with ``args`` (mHz, mV, W, W) is due now, or None when it is not."""
        if last_at is None or last is None:
            return "first"
        if now - last_at >= self.every_s:
            return "interval"
        if now - last_at < self.min_gap_s:
            return None
        f, v, d, s = args
        f0, v0, d0, s0 = last
        if abs(f - f0) >= self.frequency_mhz:
            return "frequency"
        if v0 > 0 and abs(v - v0) * 100.0 >= self.voltage_pct * v0:
            return "voltage"
        scale = max(d0, s0, 1)  # of the last published figures
        limit = max(self.power_pct * scale / 100.0, self.power_floor_w)
        if abs(d - d0) >= limit or abs(s - s0) >= limit:
            return "power"
        return None


class ChainService:
    """Owns the chain gateway's lifecycle; every operator command is audited."""

    def __init__(self, gateway: ChainPort, snapshot: Callable[[], GridSnapshot] | None = None,
                 historian: Historian | None = None, publish_every_s: float = 10.0, user: str | User | None = None,
                 dr_notice_s: float = 60.0, clock: Callable[[], float] = time.time,
                 cadence: StatusCadence | None = None, check_every_s: float = 1.0) -> None:
        self.gateway = gateway
        self.snapshot = snapshot
        self.historian = historian
        self.publish_every_s = publish_every_s
        self.cadence = cadence or StatusCadence(every_s=publish_every_s)
        self.check_every_s = min(check_every_s, publish_every_s) if publish_every_s > 0 else check_every_s
        self._published_at: float | None = None
        self._published: tuple[int, ...] | None = None
        # The acting user when a call names none (the desktop app until its login dialog: an operator).
        self.actor = user if isinstance(user, User) else User(user or getpass.getuser(), Role.OPERATOR)
        self.user = self.actor.name
        # A DR request starts `dr_notice_s` after it is executed (GridBalance.noticePeriod): asked for now, it
        # expires at the start the operator had in mind; sent later it would be a different request.
        self.dr_notice_s = dr_notice_s
        self.clock = clock
        self._publisher: asyncio.Task[None] | None = None
        self._followers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.gateway.start()
        if self.snapshot is not None and self.publish_every_s > 0:
            self._publisher = asyncio.create_task(self._publish_loop(), name="chain-status-publisher")

    async def stop(self) -> None:
        for task in [self._publisher, *self._followers]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.gateway.stop()

    def status(self) -> ChainStatus:
        return self.gateway.status()

    def record(self, key: str) -> TxRecord | None:
        return self.gateway.record(key)

    async def request_demand_response(self, reduction_w: float, duration_s: float, compensation: int, *,
                                      by: User | None = None) -> str:
        """Queue a demand-response request (compensation in token base units); returns the command key.
        Raises PermissionDenied (audited) when ``by`` may not request it."""
        actor = by or self.actor
        await self._require(actor, Action.DR_REQUEST, "GridBalance",
                            f"reduce {reduction_w:g} W for {duration_s:g} s, compensation {compensation}")
        args = (watt_to_uint(reduction_w), seconds_to_uint(duration_s), int(compensation))
        if min(args) <= 0:
            raise ValueError("reduction, duration and compensation must all be above zero")
        key = f"dr-{uuid.uuid4().hex[:12]}"
        text = f"demand response: reduce {reduction_w / 1000:.0f} kW for {duration_s / 60:.0f} min"
        self.gateway.submit(ChainCommand(key, "GridBalance", "requestDemandResponse", args, text,
                                         valid_until=self.clock() + self.dr_notice_s))
        await self._audit("chain.requestDemandResponse", f"GridBalance {key}", f"{args}", "queued", actor.name)
        self._follow(key, "chain.requestDemandResponse", f"{args}", actor.name)
        return key

    async def publish_demand(self, demand_w: float, supply_w: float, *, by: User | None = None) -> str:
        """Publish the grid status now with the operator's demand and supply figures (the measured frequency
        and lowest voltage with them): for when the measured demand is missing or wrong. Returns the command
        key; ValueError when frequency or voltage has no usable measurement; PermissionDenied (audited)."""
        actor = by or self.actor
        await self._require(actor, Action.GRID_STATUS, "GridBalance", f"demand {demand_w:g} W, supply {supply_w:g} W")
        if demand_w < 0 or supply_w < 0:
            raise ValueError("demand and supply are 0 W or more")
        snap = self.snapshot() if self.snapshot is not None else None
        volts = [r for r in (snap.voltages if snap else ()) if r.quality.usable]
        if snap is None or snap.frequency is None or not snap.frequency.quality.usable or not volts:
            raise ValueError("no usable frequency and voltage measurement to publish with the demand; check the "
                             "field sources")
        args = (hz_to_mhz(snap.frequency.value), volt_to_mv(min(r.value for r in volts)), watt_to_uint(demand_w),
                watt_to_uint(supply_w))
        key = f"status-op-{uuid.uuid4().hex[:12]}"
        self.gateway.submit(ChainCommand(key, "GridBalance", "updateStatus", args,
                                         f"grid status by {actor.name}: {demand_w / 1e6:.3f} MW demand",
                                         valid_until=self.clock() + 60.0, supersedes=GRID_STATUS))
        await self._audit("chain.updateStatus", f"GridBalance {key}", f"{args}", "queued", actor.name)
        self._follow(key, "chain.updateStatus", f"{args}", actor.name)
        return key

    async def record_delivery(self, request_id: int, participant: str, verified_wh: int, valid_until: float,
                              *, by: User | None = None) -> str:
        """Queue the oracle's statement of a participant's verified reduction (M&V, whole Wh) for a DR request
        (GridBalance.recordDelivery, which delivers it capped at the target); the key is fixed per request and
        participant, so it is sent once however often M&V runs. Returns the key; PermissionDenied (audited)
        when ``by`` may not."""
        actor = by or self.actor
        target = f"GridBalance request {request_id} {participant}"
        await self._require(actor, Action.DR_REQUEST, target, f"verified {verified_wh} Wh")
        if request_id <= 0 or verified_wh < 0:
            raise ValueError(f"request {request_id}, verified {verified_wh} Wh: both must be >= 0 (request > 0)")
        key = f"drv-{request_id}-{participant.lower()}"
        cmd = ChainCommand(key, "GridBalance", "recordDelivery", (int(request_id), participant, int(verified_wh)),
                           f"DR {request_id}: verified {verified_wh / 1000:.3f} kWh for {participant[:10]}…",
                           valid_until=valid_until)
        if self.gateway.submit(cmd):
            await self._audit("chain.recordDelivery", target, f"verified {verified_wh} Wh", "queued", actor.name)
            self._follow(key, "chain.recordDelivery", f"verified {verified_wh} Wh", actor.name)
        return key

    # ---- a different chain: the operator decides ------------------------------------------

    def undecided(self) -> list[TxRecord]:
        """Open commands to decide about (resend or discard) while the chain is a different one; else empty."""
        return self.gateway.undecided()

    async def resend(self, keys: Sequence[str], *, by: User | None = None) -> list[str]:
        """Send these open commands to the new chain; each decision is audited. Raises ValueError (with the
        reason) when nothing can be sent there; PermissionDenied (audited) when ``by`` may not decide."""
        actor = by or self.actor
        await self._require(actor, Action.CHAIN_RESEND, ", ".join(keys), None)
        chosen = self.gateway.resend(list(keys))
        for key in chosen:
            rec = self.gateway.record(key)
            await self._audit("chain.resend", key, rec.description if rec else None, "queued for the new chain",
                              actor.name)
            self._follow(key, "chain.resend", rec.description if rec else None, actor.name)
        return chosen

    async def discard(self, keys: Sequence[str], *, by: User | None = None) -> list[str]:
        """Never send these open commands; each decision is audited. PermissionDenied (audited) when ``by``
        may not decide."""
        actor = by or self.actor
        await self._require(actor, Action.CHAIN_DISCARD, ", ".join(keys), None)
        chosen = self.gateway.discard(list(keys))
        for key in chosen:
            rec = self.gateway.record(key)
            await self._audit("chain.discard", key, rec.description if rec else None, "discarded: different chain",
                              actor.name)
        return chosen

    def _follow(self, key: str, action: str, new: str | None, user: str | None = None) -> None:
        task = asyncio.create_task(self._audit_outcome(key, action, new, user=user))
        self._followers.add(task)
        task.add_done_callback(self._followers.discard)

    async def _audit_outcome(self, key: str, action: str, new: str | None, timeout_s: float = 600.0,
                             user: str | None = None) -> None:
        """Journal how an operator's chain command ended: confirmed, failed, expired or superseded with the
        reason, or still open."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while (rec := self.gateway.record(key)) is not None and not rec.state.done:
            if asyncio.get_running_loop().time() > deadline:
                await self._audit(action, f"GridBalance {key}", new, f"{rec.state.value} after {timeout_s:.0f} s",
                                  user)
                return
            await asyncio.sleep(0.5)
        if rec is not None:
            result = rec.state.value + (f": {rec.error}" if rec.error else f" in block {rec.block}")
            await self._audit(action, f"GridBalance {key}", new, result, user)

    async def _publish_loop(self) -> None:
        assert self.snapshot is not None
        while True:
            await asyncio.sleep(self.check_every_s)
            self.publish_tick()

    def publish_tick(self) -> ChainCommand | None:
        """One check of the status cadence (the loop calls it every ``check_every_s``): the command submitted,
        or None. Nothing is submitted while the chain is not up - a status is news only while it is current,
        so none pile up during an outage - and the first one after it goes out at once."""
        if self.snapshot is None or not self.gateway.status().up:
            return None
        cmd = status_command(self.snapshot())
        if cmd is None:
            return None
        now = self.clock()
        args = tuple(int(a) for a in cmd.args if isinstance(a, int))
        if self.cadence.due(now, self._published_at, self._published, args) is None:
            return None
        if not self.gateway.submit(cmd):
            return None  # the same snapshot second again: already queued, never sent twice
        self._published_at, self._published = now, args
        return cmd

    async def _require(self, actor: User, action: Action, target: str, new: str | None) -> None:
        try:
            require(actor, action)
        except PermissionDenied as exc:
            await self._audit(action.value, target, new, f"refused: {exc}", actor.name)
            raise

    async def _audit(self, action: str, target: str, new: str | None, result: str, user: str | None = None) -> None:
        if self.historian is None:
            return
        try:
            await asyncio.to_thread(self.historian.record_audit, time.time(), user or self.user, action, target,
                                    None, new, result)
        except Exception:
            log.exception("audit entry for %s could not be stored", action)
