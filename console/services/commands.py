"""Operator commands: validated, sent once, verified, audited, reported."""

from __future__ import annotations

import asyncio
import getpass
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.access import Action, PermissionDenied, Role, User, require
from core.commands import CommandOutcome, Outcome, WriteError
from core.ports import DeviceWriter, Historian

log = logging.getLogger(__name__)
# The audit action of an operator command as the operator saw it (its register writes are audited apart,
# as action "write").
COMMAND_ACTION = "command"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log."""

    ts: float  # POSIX s
    user: str
    action: str  # "command" (what the operator confirmed, in words) or "write" (one register)
    target: str  # the device ("command") or device.point ("write")
    old: str | None
    new: str | None  # the value written, or the command in words
    result: str


# The newest ``limit`` audit entries, newest first (blocking: a database read).
AuditReader = Callable[[int], list[AuditEntry]]


class CommandService:
    """Sends setpoints to devices and keeps an audit entry for every attempt; the one path of every operator
    command (the emergency panel's through :meth:`execute`)."""

    def __init__(self, writer: DeviceWriter | None, historian: Historian | None = None, user: str | User | None = None,
                 timeout_s: float = 5.0, audit_reader: AuditReader | None = None) -> None:
        self.writer = writer
        self.audit_reader = audit_reader
        self.historian = historian
        # The acting user when a call names none (the desktop app until its login dialog: an operator).
        self.actor = user if isinstance(user, User) else User(user or getpass.getuser(), Role.OPERATOR)
        self.user = self.actor.name
        self.timeout_s = timeout_s

    async def set_value(self, device: str, point: str, value: float, old: float | None = None, *,
                        by: User | None = None) -> CommandOutcome:
        """Write ``value`` to one register (engineers and admins: a raw write); the outcome says confirmed /
        not confirmed / rejected (also: not permitted) / timed out.

        Never retried automatically: a write that timed out may still have
        reached the device, and the operator decides what to do next.
        """
        actor = by or self.actor
        refused = await self._refused(actor, Action.REGISTER_WRITE, f"{device}.{point}", f"{value:g}")
        return refused or await self._write(actor, device, point, value, old)

    async def _write(self, actor: User, device: str, point: str, value: float, old: float | None) -> CommandOutcome:
        target = f"{device}.{point}"
        try:
            if self.writer is None:
                raise WriteError(f"{target}: no device writer configured (no Modbus source takes setpoints)")
            result = await asyncio.wait_for(self.writer.write(device, point, value), self.timeout_s)
        except WriteError as exc:
            outcome = CommandOutcome(Outcome.REJECTED, str(exc))
        except TimeoutError:
            outcome = CommandOutcome(Outcome.TIMED_OUT, f"{target}: no answer within {self.timeout_s:g} s; the "
                                     "device may or may not have taken the value — check it before trying again")
        else:
            old = result.old if result.old is not None else old
            outcome = CommandOutcome(Outcome.CONFIRMED if result.confirmed else Outcome.NOT_CONFIRMED, result.message)
        log.warning("command by %s: %s := %g → %s: %s", actor.name, target, value, outcome.outcome.value,
                    outcome.message)
        if self.historian is not None:
            try:
                await asyncio.to_thread(self.historian.record_audit, time.time(), actor.name, "write", target,
                                        None if old is None else f"{old:g}", f"{value:g}",
                                        f"{outcome.outcome.value}: {outcome.message}")
            except Exception:
                log.exception("could not write the audit entry for %s", target)
        return outcome

    async def run(self, device: str, description: str, steps: Sequence[tuple[str, float, float | None]], *,
                  by: User | None = None, action: Action = Action.DEVICE_SETPOINT) -> CommandOutcome:
        """The writes of one operator command in order, stopping at the first that is not confirmed; the
        command is audited once more as a whole, in the words the operator confirmed (``description``).
        ``action`` is what the command is (a setpoint, a power limit) for the permission check."""
        if not steps:
            raise ValueError(f"{device}: a command needs at least one write")
        actor = by or self.actor
        refused = await self._refused(actor, action, device, description)
        if refused is not None:
            return refused
        outcome = CommandOutcome(Outcome.REJECTED, "nothing sent")
        for point, value, old in steps:
            outcome = await self._write(actor, device, point, value, old)
            if outcome.outcome is not Outcome.CONFIRMED:
                break
        await self._audit(actor, device, description, outcome)
        return outcome

    async def execute(self, target: str, description: str, send: Callable[[], Awaitable[CommandOutcome]], *,
                      action: Action, by: User | None = None, timeout_s: float | None = None) -> CommandOutcome:
        """One operator command that is not a register write (the emergency panel's load shedding): the
        permission check, ``send()`` once — it does the command and says whether it took effect — and one
        audit entry in the words the operator confirmed (``description``). ``send`` raising
        :class:`WriteError` is a refusal (nothing changed); no answer within ``timeout_s`` (default: the
        service's) is "timed out" — it may or may not have acted — and, like every command, never retried."""
        actor = by or self.actor
        refused = await self._refused(actor, action, target, description)
        if refused is not None:
            return refused
        limit = self.timeout_s if timeout_s is None else timeout_s
        try:
            outcome = await asyncio.wait_for(send(), limit)
        except WriteError as exc:
            outcome = CommandOutcome(Outcome.REJECTED, str(exc))
        except TimeoutError:
            outcome = CommandOutcome(Outcome.TIMED_OUT, f"{target}: no answer within {limit:g} s; it may or may "
                                     "not have acted — check before trying again")
        log.warning("command by %s: %s: %s → %s: %s", actor.name, target, description, outcome.outcome.value,
                    outcome.message)
        await self._audit(actor, target, description, outcome)
        return outcome

    async def _audit(self, actor: User, target: str, description: str, outcome: CommandOutcome) -> None:
        """The command's one audit entry, in the words the operator confirmed; a failing audit store is logged,
        never turned into a failed command (the command has already acted)."""
        if self.historian is None:
            return
        try:
            await asyncio.to_thread(self.historian.record_audit, time.time(), actor.name, COMMAND_ACTION, target,
                                    None, description, f"{outcome.outcome.value}: {outcome.message}")
        except Exception:
            log.exception("could not write the audit entry for the command to %s", target)

    async def _refused(self, actor: User, action: Action, target: str, new: str | None) -> CommandOutcome | None:
        """None when ``actor`` may do ``action``; else the refusal as a rejected outcome, audited."""
        try:
            require(actor, action)
        except PermissionDenied as exc:
            log.warning("refused: %s", exc)
            if self.historian is not None:
                try:
                    await asyncio.to_thread(self.historian.record_audit, time.time(), actor.name, action.value,
                                            target, None, new, f"refused: {exc}")
                except Exception:
                    log.exception("could not write the audit entry for the refusal of %s", target)
            return CommandOutcome(Outcome.REJECTED, str(exc))
        return None

    async def history(self, limit: int = 200) -> list[AuditEntry]:
        """The newest audit entries, newest first; empty without an audit log to read."""
        if self.audit_reader is None:
            return []
        return await asyncio.to_thread(self.audit_reader, limit)
