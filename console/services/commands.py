"""Operator commands: validated, sent once, verified, audited, reported."""

from __future__ import annotations

import asyncio
import getpass
import logging
import time

from core.commands import CommandOutcome, Outcome, WriteError
from core.ports import DeviceWriter, Historian

log = logging.getLogger(__name__)


class CommandService:
    """Sends setpoints to devices and keeps an audit entry for every attempt."""

    def __init__(self, writer: DeviceWriter, historian: Historian | None = None, user: str | None = None,
                 timeout_s: float = 5.0) -> None:
        self.writer = writer
        self.historian = historian
        self.user = user or getpass.getuser()
        self.timeout_s = timeout_s

    async def set_value(self, device: str, point: str, value: float, old: float | None = None) -> CommandOutcome:
        """Write ``value``; the outcome says confirmed / not confirmed / rejected / timed out.

        Never retried automatically: a write that timed out may still have
        reached the device, and the operator decides what to do next.
        """
        target = f"{device}.{point}"
        try:
            result = await asyncio.wait_for(self.writer.write(device, point, value), self.timeout_s)
        except WriteError as exc:
            outcome = CommandOutcome(Outcome.REJECTED, str(exc))
        except TimeoutError:
            outcome = CommandOutcome(Outcome.TIMED_OUT, f"{target}: no answer within {self.timeout_s:g} s; the "
                                     "device may or may not have taken the value — check it before trying again")
        else:
            old = result.old if result.old is not None else old
            outcome = CommandOutcome(Outcome.CONFIRMED if result.confirmed else Outcome.NOT_CONFIRMED, result.message)
        log.warning("command by %s: %s := %g → %s: %s", self.user, target, value, outcome.outcome.value,
                    outcome.message)
        if self.historian is not None:
            try:
                await asyncio.to_thread(self.historian.record_audit, time.time(), self.user, "write", target,
                                        None if old is None else f"{old:g}", f"{value:g}",
                                        f"{outcome.outcome.value}: {outcome.message}")
            except Exception:
                log.exception("could not write the audit entry for %s", target)
        return outcome
