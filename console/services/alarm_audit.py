"""Operator actions on alarms into the audit log (who acknowledged, shelved… what, when, why).

The alarm journal already keeps every event with its user; the audit log is
the console's one place for every operator action (field writes, chain
commands, alarms), so an auditor reads one table. Writes run off the loop;
a failure is logged, never raised into the alarm service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from core.alarms import AlarmEvent
from core.ports import Historian

log = logging.getLogger(__name__)


class AlarmAudit:
    """``AlarmService.subscribe`` listener: each operator event → ``Historian.record_audit``."""

    def __init__(self, historian: Historian) -> None:
        self.historian = historian
        self._pending: set[asyncio.Task[None]] = set()

    def __call__(self, events: Sequence[AlarmEvent]) -> None:
        rows = [e for e in events if e.kind.operator and e.user is not None]
        if rows:
            task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._write, rows))
            self._pending.add(task)
            task.add_done_callback(self._done)

    def _write(self, rows: Sequence[AlarmEvent]) -> None:
        for e in rows:
            assert e.user is not None
            self.historian.record_audit(e.ts, e.user, f"alarm.{e.kind.value}", e.alarm, None, e.state.isa.value,
                                        e.comment or "ok")

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("alarm action not written to the audit log: %s", task.exception())

    async def drain(self) -> None:
        """Wait for the writes under way (stop, tests)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
