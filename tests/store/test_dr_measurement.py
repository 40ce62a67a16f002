"""M&V from a real SQLite historian: baselines from stored meter power, verified reduction per participant
(figures by hand)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from console.services.dr_measurement import LoadPoints, achieved_kw, event_intervals, measure_event
from console.store.historian import SqlHistorian
from core.dr import DrEvent

TZ = ZoneInfo("Europe/Berlin")
EVENT_DAY = date(2026, 6, 17)  # Wednesday; event 17:00-18:00 local
STEP = 300  # one sample every 5 minutes: three per 15-minute interval


def local(day: date, hour: float) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp() + hour * 3600


def write_day(rows: list[tuple[str, int, float, int]], point: str, day: date, watts: object) -> None:
    t0 = local(day, 0)
    for k in range(86400 // STEP):
        hour = k * STEP / 3600
        w = watts(hour) if callable(watts) else watts
        if w is not None:
            rows.append((point, round((t0 + k * STEP + 60) * 1e6), float(w), 0))


def test_verified_reduction_per_participant(tmp_path: Path) -> None:
    historian = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool")
    historian.start()  # migrates the database
    try:
        check(historian)
    finally:
        historian.stop()


def check(historian: SqlHistorian) -> None:
    rows: list[tuple[str, int, float, int]] = []
    for back in range(1, 30):
        d = EVENT_DAY - timedelta(days=back)
        weekend = d.weekday() >= 5
        write_day(rows, "house-a.grid_w", d, 5000.0 if weekend else 2000.0)
        # house-c: 1 kW on weekdays, but on Fri 12 June the meter was silent 09:00-09:15: that day is not eligible
        write_day(rows, "house-c.grid_w", d, (lambda h: None if 9 <= h < 9.25 else 1000.0)
                  if d == date(2026, 6, 12) else (4000.0 if weekend else 1000.0))
        if back <= 3:
            write_day(rows, "house-b.grid_w", d, 800.0)  # Tue 16, Mon 15 and Sun 14: two weekdays
    # Event day: house-a drops to 0.5 kW from 17:00 to 18:00; house-c runs 1.1 kW in the morning (same-day
    # adjustment 1.1) and 0.1 kW during the event; house-b sheds nothing (and has no baseline anyway).
    write_day(rows, "house-a.grid_w", EVENT_DAY, lambda h: 500.0 if 17 <= h < 18 else 2000.0)
    write_day(rows, "house-c.grid_w", EVENT_DAY, lambda h: 100.0 if 17 <= h < 18 else 1100.0)
    write_day(rows, "house-b.grid_w", EVENT_DAY, 800.0)
    historian.store.insert(rows)

    event = DrEvent("dr-7", start=local(EVENT_DAY, 17), duration_s=3600, target_kw=3.0, price_per_kwh=250)
    assert event_intervals(event, TZ) == (EVENT_DAY, 68, 72)
    meters = {"house-a": "house-a.grid_w", "house-b": "house-b.grid_w", "house-c": "house-c.grid_w"}
    results = {r.participant: r for r in measure_event(historian, event, meters, TZ)}

    a, b, c = results["house-a"], results["house-b"], results["house-c"]
    assert a.baseline is not None and a.baseline.kw[68] == pytest.approx(2.0)
    assert a.verified_wh == 1500                       # 1.5 kW for 1 h
    assert b.performance is None and b.problem is not None and "2 eligible weekday day(s)" in b.problem
    assert c.baseline is not None and date(2026, 6, 12) not in c.baseline.days   # incomplete day left out
    assert len(c.baseline.days) == 10
    assert c.baseline.ratio == pytest.approx(1.1)
    assert c.verified_wh == 1000                       # (1.1 - 0.1) kW for 1 h
    assert achieved_kw(list(results.values())) == pytest.approx([2.5, 2.5, 2.5, 2.5])


def test_an_event_off_the_interval_grid_is_refused() -> None:
    event = DrEvent("dr-8", start=local(EVENT_DAY, 17.1), duration_s=3600, target_kw=1.0, price_per_kwh=1)
    with pytest.raises(ValueError, match="dr-8: 2026-06-17 17:06 for 60 min is not on whole 15-minute"):
        event_intervals(event, TZ)


def test_a_house_with_pv_is_measured_on_gross_load(tmp_path: Path) -> None:
    historian = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool")
    historian.start()
    try:
        # The house draws 1.0 kW; its PV makes 200 W from 13:00 to 16:00 on the history days and 600 W on the
        # event day (the event 17:00-18:00, so its adjustment window is 13:00-16:00). The net meter shows the
        # difference. In the event it draws 0.4 kW: 0.6 kW curtailed for 1 h = 600 Wh.
        rows: list[tuple[str, int, float, int]] = []
        for back in range(0, 30):
            d = EVENT_DAY - timedelta(days=back)
            sun = 600.0 if back == 0 else 200.0
            pv = {h: sun if 13 <= h / 12 < 16 else 0.0 for h in range(288)}  # per 5-min sample
            draw = {h: 400.0 if back == 0 and 17 <= h / 12 < 18 else 1000.0 for h in range(288)}
            write_day(rows, "house-d.grid_w", d,
                      lambda hour, draw=draw, pv=pv: draw[round(hour * 12)] - pv[round(hour * 12)])
            write_day(rows, "house-d-pv.power", d, lambda hour, pv=pv: pv[round(hour * 12)])
        historian.store.insert(rows)
        event = DrEvent("dr-9", start=local(EVENT_DAY, 17), duration_s=3600, target_kw=1.0, price_per_kwh=250)
        gross = measure_event(historian, event, {"house-d": LoadPoints("house-d.grid_w", ("house-d-pv.power",))},
                              TZ)[0]
        # gross load in the window 1.0 kW on every day: ratio 1.0; 1.0 − 0.4 kW for 1 h
        assert gross.baseline is not None and gross.baseline.ratio == pytest.approx(1.0)
        assert gross.verified_wh == 600
        assert gross.generation_kw is not None and gross.generation_kw[52] == pytest.approx(0.6)  # 13:00
        # on the net meter alone: window 0.4 kW against 0.8 kW, ratio 0.5 capped at 0.8: (0.8 − 0.4) kW for 1 h
        net = measure_event(historian, event, {"house-d": "house-d.grid_w"}, TZ)[0]
        assert net.baseline is not None and net.baseline.ratio_applied == pytest.approx(0.8)
        assert net.verified_wh == 400
    finally:
        historian.stop()
