"""Chain use cases: publish the grid status, request demand response, show what happened."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import time
import uuid
from collections.abc import Callable

from core.chain import ChainCommand, ChainStatus, TxRecord
from core.grid import GridSnapshot, Reading
from core.ports import ChainPort, Historian
from core.units import UnitRangeError, hz_to_mhz, seconds_to_uint, volt_to_mv, watt_to_uint

log = logging.getLogger(__name__)


def status_command(snap: GridSnapshot) -> ChainCommand | None:
    """`updateStatus` from a snapshot, or None when a value is missing or not usable (never publish guesses).

    The voltage published is the lowest bus voltage: the one an operator watches during a shortage."""

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
                        f"grid status {args[0] / 1000:.3f} Hz, {args[2] / 1e6:.1f} MW demand")


class ChainService:
    """Owns the chain gateway's lifecycle; every operator command is audited."""

    def __init__(self, gateway: ChainPort, snapshot: Callable[[], GridSnapshot] | None = None,
                 historian: Historian | None = None, publish_every_s: float = 10.0, user: str | None = None) -> None:
        self.gateway = gateway
        self.snapshot = snapshot
        self.historian = historian
        self.publish_every_s = publish_every_s
        self.user = user or getpass.getuser()
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

    async def request_demand_response(self, reduction_w: float, duration_s: float, compensation: int) -> str:
        """Queue a demand-response request (compensation in token base units); returns the command key."""
        args = (watt_to_uint(reduction_w), seconds_to_uint(duration_s), int(compensation))
        if min(args) <= 0:
            raise ValueError("reduction, duration and compensation must all be above zero")
        key = f"dr-{uuid.uuid4().hex[:12]}"
        text = f"demand response: -{reduction_w / 1000:.0f} kW for {duration_s / 60:.0f} min"
        self.gateway.submit(ChainCommand(key, "GridBalance", "requestDemandResponse", args, text))
        await self._audit("chain.requestDemandResponse", f"GridBalance {key}", f"{args}", "queued")
        task = asyncio.create_task(self._audit_outcome(key, "chain.requestDemandResponse", f"{args}"))
        self._followers.add(task)
        task.add_done_callback(self._followers.discard)
        return key

    async def _audit_outcome(self, key: str, action: str, new: str, timeout_s: float = 600.0) -> None:
        """Journal how an operator's chain command ended: confirmed, failed with the reason, or still open."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while (rec := self.gateway.record(key)) is not None and not rec.state.done:
            if asyncio.get_running_loop().time() > deadline:
                await self._audit(action, f"GridBalance {key}", new, f"{rec.state.value} after {timeout_s:.0f} s")
                return
            await asyncio.sleep(0.5)
        if rec is not None:
            result = rec.state.value + (f": {rec.error}" if rec.error else f" in block {rec.block}")
            await self._audit(action, f"GridBalance {key}", new, result)

    async def _publish_loop(self) -> None:
        assert self.snapshot is not None
        while True:
            await asyncio.sleep(self.publish_every_s)
            if not self.gateway.status().up:
                continue  # a status is news only while it is current: none pile up during an outage
            cmd = status_command(self.snapshot())
            if cmd is not None:
                self.gateway.submit(cmd)

    async def _audit(self, action: str, target: str, new: str, result: str) -> None:
        if self.historian is None:
            return
        try:
            await asyncio.to_thread(self.historian.record_audit, time.time(), self.user, action, target, None, new,
                                    result)
        except Exception:
            log.exception("audit entry for %s could not be stored", action)
