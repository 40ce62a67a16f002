"""[[reports]] in the config: parsed with errors naming the key; the scheduler built by bootstrap writes
the due report on a mocked clock and keeps N."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from console.bootstrap import build_report_scheduler
from console.config import ConfigError, load, parse
from console.store.historian import SqlHistorian
from core.points import Quality, Sample
from core.reports.schedule import Every

T0 = 1_764_547_200.0  # 2025-12-01 00:00 UTC

BASE = """
[historian]
url = "{url}"

[[sources]]
name = "plant"
endpoint = "opc.tcp://127.0.0.1:4840/x"
  [[sources.points]]
  id = "grid.frequency"
  node = "ns=2;s=F"
  unit = "Hz"
  kind = "frequency"
"""


def test_reports_are_parsed_with_folders_relative_to_the_config(tmp_path: Path) -> None:
    f = tmp_path / "site.toml"
    f.write_text(BASE.format(url="sqlite:///x.sqlite") + """
[[reports]]
name = "grid-daily"
kind = "stability"
every = "daily"
format = "csv"
folder = "out/daily"
keep = 3

[[reports]]
name = "monthly"
every = "monthly"
folder = "/srv/reports"
""")
    s = load(f)
    daily, monthly = s.reports
    assert (daily.name, daily.kinds, daily.every, daily.fmt, daily.keep) == ("grid-daily", "stability", Every.DAILY,
                                                                             "csv", 3)
    assert daily.folder == str(tmp_path / "out" / "daily")
    assert (monthly.kinds, monthly.fmt, monthly.keep, monthly.folder) == ("all", "pdf", 12, "/srv/reports")


@pytest.mark.parametrize(("extra", "needle"), [
    ('name = "a"\nevery = "hourly"\nfolder = "x"', "reports[0 'a'].every"),
    ('name = "a"\nevery = "daily"\nfolder = "x"\nkeep = 0', "reports[0 'a'].keep"),
    ('name = "a"\nevery = "daily"\nfolder = "x"\nformat = "docx"', "reports[0 'a'].format"),
    ('name = "a"\nevery = "daily"\nfolder = "x"\nkind = "trading"', "reports[0 'a'].kind"),
    ('name = "a b"\nevery = "daily"\nfolder = "x"', "reports[0 'a b'].name"),
    ('name = "a"\nevery = "daily"', "reports[0 'a'].folder: required key is missing"),
    ('name = "a"\nevery = "daily"\nfolder = "x"\nkep = 2', "reports[0 'a'].kep: unknown key"),
])
def test_a_bad_schedule_names_its_key(extra: str, needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse(BASE.format(url="sqlite:///x.sqlite") + "\n[[reports]]\n" + extra + "\n", Path("site.toml"))
    assert needle in str(exc.value) and "site.toml" in str(exc.value)


def test_two_schedules_with_one_name_are_refused() -> None:
    text = BASE.format(url="sqlite:///x.sqlite") + '\n[[reports]]\nname = "a"\nevery = "daily"\nfolder = "x"\n' * 2
    with pytest.raises(ConfigError, match=r"reports\[1 'a'\].name: already used by reports\[0\]"):
        parse(text, Path("site.toml"))


async def test_bootstrap_starts_the_scheduler_and_it_writes_the_due_report(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    h = SqlHistorian(url, tmp_path / "spool")
    h.start()  # 1 December 00:00–01:00 at 1 s: 6 minutes at 49.7 Hz (10 % alert)
    h.record([Sample("grid.frequency", 49.7 if 600 <= k < 960 else 50.0, "Hz", Quality.GOOD, T0 + k, T0 + k)
              for k in range(3600)])
    h.stop()
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "grid-2025-11-30.csv").write_text("older")
    (folder / "grid-2025-11-29.csv").write_text("oldest")
    cfg = tmp_path / "site.toml"
    cfg.write_text(BASE.format(url=url) + '\n[[reports]]\nname = "grid"\nkind = "stability"\nevery = "daily"\n'
                   'format = "csv"\nfolder = "reports"\nkeep = 2\n')
    now = [T0 + 86400 + 120.0]  # 2 December 00:02 (mocked): 1 December is due
    sched = build_report_scheduler(load(cfg), clock=lambda: now[0])
    assert sched is not None and build_report_scheduler(parse(BASE.format(url=url))) is None
    await sched.start()
    try:
        out = folder / "grid-2025-12-01.csv"
        for _ in range(400):
            if out.exists() and not (folder / "grid-2025-11-29.csv").exists():
                break
            await asyncio.sleep(0.05)
    finally:
        await sched.stop()
    assert sorted(p.name for p in folder.iterdir()) == ["grid-2025-11-30.csv", "grid-2025-12-01.csv"]
    text = out.read_text(encoding="utf-8")
    assert "alert" in text and "10" in text
