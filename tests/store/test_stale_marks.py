"""Marks of lost trust (stale, bad, comm-failure) are stored, at the time the console noticed them."""

from __future__ import annotations

import math
from pathlib import Path

from sqlalchemy import text

from console.store.historian import SqlHistorian
from core.points import Quality, Sample

# Quality codes as stored (console.store.samples.QUALITY_CODES): the order of core.points.Quality.
GOOD, BAD, STALE, COMM_FAILURE = 0, 2, 3, 4


def stored(h: SqlHistorian) -> list[tuple[str, int, float | None, int]]:
    with h.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(  # type: ignore[misc]
            "SELECT p.key, s.ts_us, s.value, s.quality FROM samples s JOIN points p ON p.id = s.point_id "
            "ORDER BY p.key, s.ts_us"))]


def test_stale_marks_that_reuse_the_last_values_time_are_all_stored_at_receive_time(tmp_path: Path) -> None:
    """The colleague's case: 4 points, one value each, then a connection loss marks all 4 stale with the
    last value's source time. 8 samples in, 8 rows out; the marks at the time the loss was noticed."""
    h = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool", flush_s=0.05)
    h.start()
    try:
        t = 1_700_000_000.0
        good = [Sample(f"p{i}", 10.0 + i, "V", Quality.GOOD, t + 0.1 * i, t + 0.1 * i + 0.02) for i in range(4)]
        lost_at = t + 2.5
        marks = [Sample(s.point, math.nan, "V", Quality.STALE, s.source_ts, lost_at) for s in good]
        h.record(good)
        h.record(marks)
        assert h.writer.wait_idle(10)
        rows = stored(h)
    finally:
        h.stop()
    assert rows == [
        ("p0", 1_700_000_000_000_000, 10.0, GOOD), ("p0", 1_700_000_002_500_000, None, STALE),
        ("p1", 1_700_000_000_100_000, 11.0, GOOD), ("p1", 1_700_000_002_500_000, None, STALE),
        ("p2", 1_700_000_000_200_000, 12.0, GOOD), ("p2", 1_700_000_002_500_000, None, STALE),
        ("p3", 1_700_000_000_300_000, 13.0, GOOD), ("p3", 1_700_000_002_500_000, None, STALE),
    ]


def test_a_bad_status_with_the_previous_source_time_is_stored_and_good_values_keep_source_time(
    tmp_path: Path,
) -> None:
    """A server that flags a sensor bad without a new source timestamp: the bad sample is stored at its
    receive time; good and uncertain values stay at their source time (not the receive time)."""
    h = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool", flush_s=0.05)
    h.start()
    try:
        h.record([Sample("f", 50.01, "Hz", Quality.GOOD, 100.0, 100.4),
                  Sample("f", 50.02, "Hz", Quality.UNCERTAIN, 101.0, 101.4),
                  Sample("f", math.nan, "Hz", Quality.BAD, 101.0, 102.25),
                  Sample("f", math.nan, "Hz", Quality.COMM_FAILURE, 101.0, 103.5)])
        assert h.writer.wait_idle(10)
        rows = stored(h)
    finally:
        h.stop()
    assert rows == [("f", 100_000_000, 50.01, GOOD), ("f", 101_000_000, 50.02, 1),
                    ("f", 102_250_000, None, BAD), ("f", 103_500_000, None, COMM_FAILURE)]
