"""The report service on a real historian database: raw reads with their neighbours, progress, cancel."""

from __future__ import annotations

import asyncio
import threading
from functools import partial
from pathlib import Path

import pytest

from console.services.reports import Cancelled, NoData, ReportFormat, ReportKind, ReportService, ReportSite, compute
from console.store.historian import SqlHistorian
from console.store.report_queries import SqlSampleReader
from core.points import Quality, Sample
from core.reports.series import Series

T0 = 1_764_547_200.0


def _write(url: str, tmp: Path, samples: list[Sample]) -> None:
    h = SqlHistorian(url, tmp / "spool")
    h.start()
    h.record(samples)
    h.stop()


def _s(value: float, ts: float, quality: Quality = Quality.GOOD) -> Sample:
    return Sample("grid.frequency", value, "Hz", quality, ts, ts)


def test_read_series_gives_the_period_and_its_neighbours(db_url: str, tmp_path: Path) -> None:
    # Samples at 0, 10, 20, 30, 40 s; 20 s is BAD. The period [15, 35) holds 30 s (20 s is bad), and its
    # neighbours are 10 s (the last usable one before) and 40 s (the first at or after the end).
    _write(db_url, tmp_path, [_s(50.0 + k / 100, T0 + 10 * k, Quality.BAD if k == 2 else Quality.GOOD)
                              for k in range(5)])
    reader = SqlSampleReader(db_url)
    try:
        s = reader.read_series("grid.frequency", T0 + 15, T0 + 35)
        assert (s.ts - T0).tolist() == [10.0, 30.0, 40.0]
        assert s.values.tolist() == [50.01, 50.03, 50.04]
        assert len(reader.read_series("no.such.point", T0, T0 + 100)) == 0
    finally:
        reader.close()


def _hour_of_frequency(url: str, tmp: Path) -> ReportSite:
    # 1 h at 1 s: 6 minutes at 49.7 Hz → 10 % alert.
    _write(url, tmp, [_s(49.7 if 600 <= k < 960 else 50.0, T0 + k) for k in range(3600)])
    return ReportSite("test site", "grid.frequency")


async def test_report_runs_off_the_loop_with_progress(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    site = _hour_of_frequency(url, tmp_path)
    service = ReportService(SqlSampleReader(url), site)
    seen: list[tuple[float, str]] = []
    loop_thread = threading.get_ident()
    threads: set[int] = set()

    def progress(share: float, what: str) -> None:
        threads.add(threading.get_ident())
        seen.append((share, what))

    out = tmp_path / "r.csv"
    try:
        report = await service.run([ReportKind.STABILITY], T0, T0 + 3600, ReportFormat.CSV, out, progress)
    finally:
        service.close()
    bands = report.sections[0].tables[0]
    assert bands.rows[1][0] == "alert" and bands.rows[1][3] == pytest.approx(10.0)
    assert seen[0] == (0.0, "reading grid.frequency") and seen[-1] == (1.0, f"written {out}")
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)
    assert threads == {loop_thread}  # progress arrives on the loop's thread, not the worker's
    assert out.read_text(encoding="utf-8").count("alert") == 1


class _CancelWhileReading:
    """The real reader; the operator presses cancel while the worker is inside its first read."""

    def __init__(self, url: str) -> None:
        self.inner = SqlSampleReader(url)
        self.service: ReportService | None = None

    def read_series(self, point: str, t0: float, t1: float) -> Series:
        assert self.service is not None
        self.service.cancel()
        return self.inner.read_series(point, t0, t1)

    def close(self) -> None:
        self.inner.close()


async def test_cancel_stops_the_report_and_leaves_no_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    site = _hour_of_frequency(url, tmp_path)
    out = tmp_path / "r.pdf"
    reader = _CancelWhileReading(url)
    service = reader.service = ReportService(reader, site)
    try:
        with pytest.raises(Cancelled):
            await service.run(list(ReportKind), T0, T0 + 3600, ReportFormat.PDF, out)
    finally:
        service.close()
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_an_empty_period_is_no_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    site = _hour_of_frequency(url, tmp_path)
    reader = SqlSampleReader(url)
    try:
        with pytest.raises(NoData):  # the day before: only the first sample after it exists
            compute([ReportKind.STABILITY], site, reader, T0 - 86400, T0 - 3600)
        compute([ReportKind.STABILITY], site, reader, T0, T0 + 60, cancel=threading.Event())
        stop = threading.Event()
        stop.set()
        with pytest.raises(Cancelled):
            compute([ReportKind.STABILITY], site, reader, T0, T0 + 60, cancel=stop)
    finally:
        reader.close()


async def test_cancelling_the_awaiting_task_stops_the_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    site = _hour_of_frequency(url, tmp_path)
    service = ReportService(SqlSampleReader(url), site)
    task = asyncio.create_task(service.run(list(ReportKind), T0, T0 + 3600, ReportFormat.PDF, tmp_path / "x.pdf"))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert service._cancel.is_set()
    service.close()


async def test_in_a_spawned_process_the_same_report_and_its_progress_come_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    site = _hour_of_frequency(url, tmp_path)
    service = ReportService(SqlSampleReader(url), site, reader_factory=partial(SqlSampleReader, url))
    seen: list[str] = []
    out = tmp_path / "r.xlsx"
    try:
        report = await service.run([ReportKind.STABILITY], T0, T0 + 3600, ReportFormat.XLSX, out,
                                   lambda share, what: seen.append(what))
        with pytest.raises(NoData):
            await service.run([ReportKind.STABILITY], T0 - 86400, T0 - 3600, ReportFormat.XLSX, out)
    finally:
        service.close()
    assert report.sections[0].tables[0].rows[1][3] == pytest.approx(10.0)
    assert seen == ["reading grid.frequency", "rendering", f"written {out}"]
    assert out.stat().st_size > 0


async def test_scheduled_daily_reports_are_written_once_and_keep_n(tmp_path: Path) -> None:
    from console.services.report_schedule import ReportScheduler
    from core.reports.schedule import Every, ReportSchedule

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    site = _hour_of_frequency(url, tmp_path)  # data on 2025-12-01 00:00–01:00 only
    folder = tmp_path / "reports"
    folder.mkdir()
    for old in ("grid-2025-11-28.csv", "grid-2025-11-29.csv", "grid-2025-11-30.csv", "notes.txt"):
        (folder / old).write_text("old")
    now = [T0 + 86400 + 60]  # 2025-12-02 00:01: 1 December is due
    service = ReportService(SqlSampleReader(url), site)
    sched = ReportScheduler(service, [ReportSchedule("grid", "stability", Every.DAILY, "csv", str(folder), keep=2)],
                            clock=lambda: now[0])
    try:
        assert await sched.run_due() == [folder / "grid-2025-12-01.csv"]
        assert await sched.run_due() == []  # already written
        now[0] += 86400  # 2 December has no data: skipped, nothing deleted
        assert await sched.run_due() == []
    finally:
        service.close()
    assert sorted(p.name for p in folder.iterdir()) == ["grid-2025-11-30.csv", "grid-2025-12-01.csv", "notes.txt"]
    assert "alert" in (folder / "grid-2025-12-01.csv").read_text(encoding="utf-8")
