"""The alarm journal (a :class:`JournalQuery` result) as CSV or XLSX, for the journal tab and the CLI.

One row per event, oldest first, with the same columns in both formats; times
in UTC ISO 8601 (the journal's seconds as text) so a spreadsheet and a script
read them alike. XLSX keeps numbers as numbers and freezes the header row.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from core.alarms import AlarmEvent

COLUMNS = ("time (UTC)", "alarm", "priority", "event", "state after", "value", "user", "comment", "point",
           "position")
FORMATS = ("csv", "xlsx")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rows(events: Sequence[AlarmEvent]) -> list[tuple[str, str, str, str, str, float | None, str, str, str, str]]:
    """The export's rows: value ``None`` where the event carries none (operator actions)."""
    return [(_iso(e.ts), e.alarm, e.priority.name.lower(), e.kind.value, e.state.isa.value,
             None if math.isnan(e.value) else e.value, e.user or "", e.comment, e.point, e.position)
            for e in events]


def write_csv(events: Sequence[AlarmEvent], path: Path) -> int:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in rows(events):
            w.writerow(["" if v is None else (repr(v) if isinstance(v, float) else v) for v in r])
    return len(events)


def write_xlsx(events: Sequence[AlarmEvent], path: Path) -> int:
    import xlsxwriter  # only for this export; ships no type hints

    with xlsxwriter.Workbook(str(path)) as book:
        sheet = book.add_worksheet("Alarm journal")
        bold = book.add_format({"bold": True})
        sheet.write_row(0, 0, COLUMNS, bold)
        sheet.freeze_panes(1, 0)
        for i, r in enumerate(rows(events), start=1):
            for j, v in enumerate(r):
                if v is None:
                    continue
                if isinstance(v, float):
                    sheet.write_number(i, j, v)
                else:
                    sheet.write_string(i, j, v)
        for j, width in enumerate((24, 28, 9, 20, 24, 12, 12, 40, 22, 10)):
            sheet.set_column(j, j, width)
        sheet.autofilter(0, 0, max(len(events), 1), len(COLUMNS) - 1)
    return len(events)


def export(events: Sequence[AlarmEvent], path: Path, fmt: str) -> int:
    """Write ``events`` to ``path`` as ``fmt`` (csv or xlsx); returns the number of events written."""
    if fmt == "csv":
        return write_csv(events, path)
    if fmt == "xlsx":
        return write_xlsx(events, path)
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
