"""`energynet sim backfill`: a day of the world's history through the historian's write path into real SQLite."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from console import config as config_mod
from console.bootstrap_sim import backfill
from console.cli import main

ROOT = Path(__file__).resolve().parents[2]
STEP_S = 300.0  # 288 ticks a day: the test stays fast; the command's default is 60 s


def _series(db: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT p.key, s.ts_us, s.value FROM samples s JOIN points p ON p.id = s.point_id "
                         "ORDER BY p.key, s.ts_us").fetchall()
    out: dict[str, tuple[list[int], list[float]]] = {}
    for key, ts, value in rows:
        t, v = out.setdefault(key, ([], []))
        t.append(ts)
        v.append(value)
    return {k: (np.array(t), np.array(v)) for k, (t, v) in out.items()}


@pytest.mark.timeout(120)
async def test_one_day_at_reduced_households_gives_every_point_its_samples_and_consistent_energy(
        tmp_path: Path) -> None:
    db = tmp_path / "historian.sqlite"
    settings = config_mod.load(ROOT / "resources/world.toml")
    settings = replace(settings, historian=replace(settings.historian, url=f"sqlite:///{db}"))
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    report = await backfill(settings, days=1, households=2, end=end, step_s=STEP_S)

    ticks = 86_400 / STEP_S
    assert report.ticks == ticks == 288
    series = _series(db)
    # the 22 substation points of world.toml and 5 points per meter, 2 per PV / wind / battery
    assert "grid.frequency" in series and "background.power" in series
    assert len(series) == report.points
    assert report.samples == report.kept == report.stored == report.points * ticks
    first, last = end.timestamp() - 86_400 + STEP_S, end.timestamp()
    for key, (t, _) in series.items():
        assert len(t) == ticks, key
        assert t[0] == first * 1e6 and t[-1] == last * 1e6, key
        assert np.all(np.diff(t) == STEP_S * 1e6), key

    h = STEP_S / 3600
    meters = [k.removesuffix(".energy_import") for k in series if k.endswith(".energy_import")]
    # each meter's counters rise by its power integrated tick by tick (import + / export −)
    for m in meters:  # (the background meter sums its connections' counters: there only the net agrees)
        p = series[f"{m}.power"][1]
        rise_imp = series[f"{m}.energy_import"][1][-1] - series[f"{m}.energy_import"][1][0]
        rise_exp = series[f"{m}.energy_export"][1][-1] - series[f"{m}.energy_export"][1][0]
        if m == "background":
            assert rise_imp - rise_exp == pytest.approx(p[1:].sum() * h, rel=1e-9)
            continue
        assert rise_imp == pytest.approx(np.clip(p[1:], 0, None).sum() * h, rel=1e-9, abs=1e-6), m
        assert rise_exp == pytest.approx(np.clip(-p[1:], 0, None).sum() * h, rel=1e-9, abs=1e-6), m
    # the transformer's energy is what all meters (the background one too) drew plus the losses: within 2 %
    trafo_kwh = series["grid.import"][1].sum() * h / 1000
    meters_kwh = sum(series[f"{m}.power"][1].sum() for m in meters) * h / 1000
    losses_kwh = (series["grid.losses"][1].sum() + series["grid.line_losses"][1].sum()) * h / 1000
    assert trafo_kwh == pytest.approx(meters_kwh + losses_kwh, rel=0.02)
    # stored in SI: the transformer's kW points are W, its iron losses alone are 1.18 kW
    assert series["grid.losses"][1].min() >= 1180 * 0.99
    # a suburb of 146 connections draws a few hundred kW at most, and never nothing
    assert 20e3 < series["grid.demand"][1].mean() < 400e3
    # the day's PV (the community's ~740 kWp): nothing at night, some hundreds of kW around noon
    pv = series["grid.pv"][1]
    assert pv.min() == pytest.approx(0.0, abs=1.0) and pv.max() > 100e3
    assert series["grid.frequency"][1] == pytest.approx(50.0, abs=0.2)


def test_the_command_refuses_a_config_without_world_points_and_a_bad_end(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    old = ROOT / "resources/energynet.toml"
    assert main(["sim", "backfill", "--days", "1", "--config", str(old), "--end", "2026-06-22T00:00"]) == 2
    assert "has no time zone; add Z or +01:00" in capsys.readouterr().err
    assert main(["sim", "backfill", "--days", "1", "--config", str(old)]) == 2
    assert "the config has no OPC-UA points of the world" in capsys.readouterr().err
    assert main(["sim", "backfill", "--days", "0", "--config", str(ROOT / "resources/world.toml")]) == 2
    assert "--days must be within (0, 366], got 0" in capsys.readouterr().err
