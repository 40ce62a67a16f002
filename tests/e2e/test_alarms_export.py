"""`energynet alarms export`: the journal of a period as CSV and XLSX, read back; exit codes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from console.store.alarm_journal import SqlAlarmJournal
from core.alarms import AlarmDef, AlarmEngine, LimitCondition, LimitKind, Priority
from core.points import Quality, Sample
from tests.support.cli import energynet, plant_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

T0 = 1_796_112_000.0  # 2026-12-01T08:00:00Z
HIGH = AlarmDef("plant7.frequency.high", "plant7.frequency", LimitCondition(LimitKind.HIGH, 50.2), Priority.HIGH,
                "Frequency high")


def journal_with_three_events(db: Path) -> None:
    engine = AlarmEngine([HIGH])
    events = engine.feed([Sample("plant7.frequency", 50.25, "Hz", Quality.GOOD, T0, T0)])
    events.append(engine.acknowledge(HIGH.id, "anna", T0 + 30, "governor checked"))
    events += engine.feed([Sample("plant7.frequency", 50.1, "Hz", Quality.GOOD, T0 + 90, T0 + 90)])
    events += engine.feed([Sample("plant7.frequency", 50.3, "Hz", Quality.GOOD, T0 + 7200, T0 + 7200)])  # later
    journal = SqlAlarmJournal.open(f"sqlite:///{db}", [HIGH])
    try:
        journal.append(events)
    finally:
        journal.close()


def test_export_a_period_as_csv_and_xlsx(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    db = tmp_path / "j.sqlite"
    journal_with_three_events(db)
    cfg = tmp_path / "c.toml"
    cfg.write_text(plant_config("opc.tcp://127.0.0.1:4840", f'[historian]\nurl = "sqlite:///{db}"\n'))
    span = ("--from", "2026-12-01T08:00:00Z", "--to", "2026-12-01T09:00:00Z", "--config", str(cfg))
    out = energynet("alarms", "export", *span, "--format", "csv", "--out", str(tmp_path / "a.csv"))
    assert out.returncode == 0, out.stderr
    assert "3 events" in out.stderr
    with (tmp_path / "a.csv").open(newline="", encoding="utf-8") as f:
        got = list(csv.reader(f))
    assert got == [
        ["time (UTC)", "alarm", "priority", "event", "state after", "value", "user", "comment", "point", "position"],
        ["2026-12-01T08:00:00.000Z", HIGH.id, "high", "activated", "unacknowledged", "50.25", "", "",
         "plant7.frequency", "main"],
        ["2026-12-01T08:00:30.000Z", HIGH.id, "high", "acknowledged", "acknowledged", "", "anna", "governor checked",
         "plant7.frequency", "main"],
        ["2026-12-01T08:01:30.000Z", HIGH.id, "high", "cleared", "normal", "50.1", "", "", "plant7.frequency", "main"],
    ]
    out = energynet("alarms", "export", *span, "--format", "xlsx", "--out", str(tmp_path / "a.xlsx"))
    assert out.returncode == 0, out.stderr
    sheet = load_workbook(tmp_path / "a.xlsx").active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert len(values) == 4
    assert values[1][:6] == ["2026-12-01T08:00:00.000Z", HIGH.id, "high", "activated", "unacknowledged", 50.25]
    assert values[2][5] is None and values[2][6:8] == ["anna", "governor checked"]


def test_export_exit_codes(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite"
    journal_with_three_events(db)
    cfg = tmp_path / "c.toml"
    cfg.write_text(plant_config("opc.tcp://127.0.0.1:4840", f'[historian]\nurl = "sqlite:///{db}"\n'))
    bad_time = energynet("alarms", "export", "--from", "yesterday", "--to", "2026-12-01T09:00:00Z",
                         "--config", str(cfg), "--out", str(tmp_path / "x.csv"))
    assert bad_time.returncode == 2 and "alarms export: --from 'yesterday' is not an ISO time" in bad_time.stderr
    unwritable = energynet("alarms", "export", "--from", "2026-12-01T08:00:00Z", "--to", "2026-12-01T09:00:00Z",
                           "--config", str(cfg), "--out", str(tmp_path / "no" / "such" / "x.csv"))
    assert unwritable.returncode == 1 and "cannot write" in unwritable.stderr
