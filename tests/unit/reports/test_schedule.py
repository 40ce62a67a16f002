"""Which period a scheduled report covers, its file name, and what keep-N deletes (dates worked out by hand)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.reports.schedule import Every, ReportSchedule, file_name, last_period, to_delete


def _ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


NOW = _ts(2026, 12, 2, 0, 5)  # Wednesday 2 December 2026, 00:05 UTC


def test_the_last_whole_day_week_and_month() -> None:
    assert last_period(Every.DAILY, NOW) == (_ts(2026, 12, 1), _ts(2026, 12, 2))
    # 30 Nov 2026 is a Monday: the last whole ISO week is Mon 23 – Mon 30 Nov (week 48).
    assert last_period(Every.WEEKLY, NOW) == (_ts(2026, 11, 23), _ts(2026, 11, 30))
    assert last_period(Every.MONTHLY, NOW) == (_ts(2026, 11, 1), _ts(2026, 12, 1))
    assert last_period(Every.MONTHLY, _ts(2027, 1, 15)) == (_ts(2026, 12, 1), _ts(2027, 1, 1))


def test_file_names_sort_in_time_and_keep_n_drops_the_oldest() -> None:
    weekly = ReportSchedule("grid", "stability", Every.WEEKLY, "pdf", "/r", keep=2)
    assert file_name(weekly, _ts(2026, 11, 23)) == "grid-2026-W48.pdf"
    monthly = ReportSchedule("bill", "savings", Every.MONTHLY, "xlsx", "/r", keep=1)
    assert file_name(monthly, _ts(2026, 11, 1)) == "bill-2026-11.xlsx"
    names = ["grid-2026-W46.pdf", "grid-2026-W48.pdf", "grid-2026-W47.pdf", "grid-notes.pdf", "bill-2026-11.xlsx",
             "grid-2026-W45.xlsx"]
    assert to_delete(weekly, names) == ["grid-2026-W46.pdf"]
    assert to_delete(monthly, names) == []


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match="keep must be at least 1"):
        ReportSchedule("x", "all", Every.DAILY, "pdf", "/r", keep=0)
    with pytest.raises(ValueError, match="letters, digits"):
        ReportSchedule("../x", "all", Every.DAILY, "pdf", "/r")
