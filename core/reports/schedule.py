"""Scheduled reports: which period is due (the last whole day, ISO week or month, UTC), what its file is
called, and which older files a folder that keeps N of them drops."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


class Every(enum.Enum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class ReportSchedule:
    """One scheduled report: ``kinds`` as the CLI names them (``all``, ``stability``…), written as
    ``<name>-<period>.<fmt>`` into ``folder``, the newest ``keep`` files kept."""

    name: str
    kinds: str
    every: Every
    fmt: str
    folder: str
    keep: int = 12

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise ValueError(f"report schedule name {self.name!r}: use letters, digits, '_', '.', '-' only")
        if self.keep < 1:
            raise ValueError(f"report schedule {self.name!r}: keep must be at least 1, got {self.keep}")


def last_period(every: Every, now: float) -> tuple[float, float]:
    """[t0, t1) of the last whole period before ``now`` (UTC): yesterday, last ISO week (Monday to
    Monday), last calendar month."""
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if every is Every.DAILY:
        end = today
        start = end - timedelta(days=1)
    elif every is Every.WEEKLY:
        end = today - timedelta(days=today.weekday())
        start = end - timedelta(days=7)
    else:
        end = today.replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
    return start.timestamp(), end.timestamp()


def file_name(s: ReportSchedule, t0: float) -> str:
    """``<name>-2026-11-30.pdf`` (daily), ``<name>-2026-W48.pdf`` (weekly), ``<name>-2026-11.pdf`` (monthly):
    names that sort in time order."""
    d = datetime.fromtimestamp(t0, UTC)
    if s.every is Every.DAILY:
        stamp = d.strftime("%Y-%m-%d")
    elif s.every is Every.WEEKLY:
        year, week, _ = d.isocalendar()
        stamp = f"{year}-W{week:02d}"
    else:
        stamp = d.strftime("%Y-%m")
    return f"{s.name}-{stamp}.{s.fmt}"


def to_delete(s: ReportSchedule, names: Iterable[str]) -> list[str]:
    """Files of this schedule in a folder beyond the newest ``keep`` (other files are never touched)."""
    pattern = {Every.DAILY: r"\d{4}-\d{2}-\d{2}", Every.WEEKLY: r"\d{4}-W\d{2}", Every.MONTHLY: r"\d{4}-\d{2}"}
    mine = re.compile(rf"{re.escape(s.name)}-{pattern[s.every]}\.{re.escape(s.fmt)}")
    ours = sorted(n for n in names if mine.fullmatch(n))
    return ours[:-s.keep] if len(ours) > s.keep else []
