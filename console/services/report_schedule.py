"""Scheduled reports: after each day, week or month, write its report into a folder and keep the newest N.

Runs on the service's loop (the report itself goes to its worker), checks what is due every
``check_every_s``; a report already written is not written again, so a restart or a second check
is harmless. A period without data is skipped and logged once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from console.services.reports import NoData, ReportFormat, ReportKind, ReportService
from core.reports.schedule import ReportSchedule, file_name, last_period, to_delete
from core.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class ReportScheduler:
    def __init__(self, service: ReportService, schedules: Sequence[ReportSchedule],
                 clock: Callable[[], float] = time.time, check_every_s: float = 300.0) -> None:
        self.service, self.schedules, self._clock, self.check_every_s = service, list(schedules), clock, check_every_s
        self._task: asyncio.Task[None] | None = None
        self._empty: set[str] = set()

    async def run_due(self) -> list[Path]:
        """Write every schedule's last whole period that is not written yet; returns the files written."""
        written: list[Path] = []
        for s in self.schedules:
            t0, t1 = last_period(s.every, self._clock())
            folder = Path(s.folder)
            out = folder / file_name(s, t0)
            if out.exists() or out.name in self._empty:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            try:
                await self.service.run(ReportKind.parse(s.kinds), t0, t1, ReportFormat(s.fmt), out)
            except NoData:
                log.info("scheduled report %s: no data in its period, skipped", out.name)
                self._empty.add(out.name)
                continue
            written.append(out)
            for old in to_delete(s, (p.name for p in folder.iterdir())):
                (folder / old).unlink(missing_ok=True)
        return written

    async def start(self) -> None:
        if self._task is None and self.schedules:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="report-schedule")

    async def stop(self) -> None:
        """Stop checking (a report being written is cancelled) and release the service's database."""
        await cancel_and_wait(self._task)
        self._task = None
        self.service.close()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception:  # a failed report must not stop the others or the next check
                log.exception("scheduled reports failed; next check in %.0f s", self.check_every_s)
            await asyncio.sleep(self.check_every_s)
