"""The one way a service checks a permission: :func:`core.access.require`, and a refusal audited.

Every use case that acts (the market's suspension, report export, configuration changes, participant
administration) calls :func:`permit` first, so the window, the API and the CLI meet the same rule and
every refusal leaves the same kind of audit entry: ``(user, action, target, "refused: <why>")``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from core.access import Action, AuditWriter, PermissionDenied, User, require

log = logging.getLogger(__name__)


async def permit(user: User, action: Action, target: str, audit: AuditWriter | None,
                 clock: Callable[[], float] = time.time) -> None:
    """Return when ``user`` may do ``action``; else audit the refusal and raise :class:`PermissionDenied`."""
    try:
        require(user, action)
    except PermissionDenied as exc:
        await record(audit, user.name, action.value, target, f"refused: {exc}", clock=clock)
        raise


async def record(audit: AuditWriter | None, user: str, action: str, target: str, result: str,
                 old: str | None = None, new: str | None = None, clock: Callable[[], float] = time.time) -> None:
    """One audit entry, written off the loop; a failure to write it is logged, never raised (the action is
    done or refused either way, and the audit log's own alarm tells the operator it is failing)."""
    if audit is None:
        return
    try:
        await asyncio.to_thread(audit.record_audit, clock(), user, action, target, old, new, result)
    except Exception:
        log.exception("audit entry for %s of %s could not be stored", action, target)
