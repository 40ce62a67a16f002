"""Production and grid endpoints on a real server and historian: figures computed by hand from the data
(tests/api/production_data.py), a participant sees only its own, the grid is public."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from tests.api.conftest import NOW, Market

pytestmark = pytest.mark.e2e

DAY0 = math.floor(NOW / 86400) * 86400 - 86400  # yesterday (UTC): a whole day of data


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _auth(m: Market, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {m.traders[who].token}"}


async def test_analytics_are_the_callers_own_energy_figures(market: Market) -> None:
    m = market
    period = {"start": _iso(DAY0), "end": _iso(DAY0 + 86400)}
    r = await m.client.get("/api/v1/production/analytics", params=period, headers=_auth(m, "alice"))
    assert r.status_code == 200, r.text
    a = r.json()
    # PV 2 kW × 12 h; meter 0.5 kW import × 12 h and 1.5 kW export × 12 h; she uses 0.5 kW × 24 h.
    assert a["participant"] == "alice"
    assert a["pv_kwh"] == pytest.approx(24.0) and a["import_kwh"] == pytest.approx(6.0)
    assert a["export_kwh"] == pytest.approx(18.0) and a["consumption_kwh"] == pytest.approx(12.0)
    assert a["self_consumption_pct"] == pytest.approx(25.0) and a["self_sufficiency_pct"] == pytest.approx(50.0)
    # 12 kWh × 0.30 − (6 × 0.30 − 18 × 0.08) = 3.60 − 0.36; 24 kWh × 380 g/kWh
    assert a["saved"] == pytest.approx(3.24) and a["co2_avoided_kg"] == pytest.approx(9.12)
    assert a["wind_kwh"] is None and a["battery_round_trip_pct"] is None
    b = (await m.client.get("/api/v1/production/analytics", params=period, headers=_auth(m, "bob"))).json()
    assert b["participant"] == "bob" and b["consumption_kwh"] == pytest.approx(24.0) and b["pv_kwh"] is None


async def test_current_and_history_of_the_caller(market: Market) -> None:
    m = market
    r = await m.client.get("/api/v1/production/current", headers=_auth(m, "alice"))
    assert r.status_code == 200, r.text
    now = {a["device"]: a["power_w"] for a in r.json()["assets"]}
    assert now == {"alice-meter": -1500.0, "alice-pv": 2000.0}  # 07:00 UTC: the sun is up
    r = await m.client.get("/api/v1/production/history", headers=_auth(m, "alice"),
                           params={"start": _iso(DAY0), "end": _iso(DAY0 + 86400), "step_s": 3600})
    steps = r.json()["steps"]
    assert len(steps) == 24
    assert (steps[3]["pv_w"], steps[3]["grid_w"], steps[3]["consumption_w"]) == (0.0, 500.0, 500.0)
    assert (steps[12]["pv_w"], steps[12]["grid_w"], steps[12]["consumption_w"]) == (2000.0, -1500.0, 500.0)


async def test_forecast_of_the_callers_load_and_pv(market: Market) -> None:
    m = market
    r = await m.client.post("/api/v1/production/forecast", json={}, headers=_auth(m, "alice"))
    assert r.status_code == 200, r.text
    f = {s["kind"]: s for s in r.json()["series"]}
    assert set(f) == {"load", "pv"} and r.json()["day_start"] == DAY0 + 2 * 86400
    assert len(f["load"]["forecast_w"]) == 96
    assert f["load"]["forecast_w"] == pytest.approx([500.0] * 96, abs=1.0)  # she uses 500 W throughout
    assert f["pv"]["naive_w"][10] == 0.0 and f["pv"]["naive_w"][30] == 2000.0  # 02:30 and 07:30 yesterday


async def test_a_participant_needs_its_token_and_devices(market: Market) -> None:
    m = market
    assert (await m.client.get("/api/v1/production/current")).status_code == 401
    r = await m.client.get("/api/v1/production/current", headers=_auth(m, "carol"))  # no device of hers
    assert r.status_code == 404 and r.json()["rule"] == "no-production-data"
    r = await m.client.get("/api/v1/production/history", headers=_auth(m, "alice"),
                           params={"start": _iso(DAY0), "end": _iso(DAY0 + 40 * 86400)})
    assert r.status_code == 422 and r.json()["rule"] == "period-too-long"
    r = await m.client.get("/api/v1/production/history", headers=_auth(m, "alice"),
                           params={"start": _iso(DAY0), "end": _iso(DAY0 + 86400), "participant": "bob"})
    assert r.status_code == 403 and (r.json()["field"], r.json()["rule"]) == ("query.participant", "own-data-only")


async def test_grid_status_and_stability_are_public(market: Market) -> None:
    m = market
    g = (await m.client.get("/api/v1/grid/status")).json()
    assert g["frequency_hz"] == 50.0 and g["band"] == "normal"
    assert g["voltages_pct"]["Bus 1"] == pytest.approx(232.3 / 230 * 100)
    r = await m.client.get("/api/v1/grid/stability", params={"start": _iso(DAY0), "end": _iso(DAY0 + 86400)})
    s = r.json()
    assert s["alert_h"] == pytest.approx(0.1) and s["normal_h"] == pytest.approx(23.9)  # 49.7 Hz for 6 min
    assert s["events"] == 1 and s["worst_nadir_hz"] == pytest.approx(49.7)
    assert s["buses"] == [{"bus": "Bus 1", "windows": 144, "within_pct": 100.0, "compliant": True}]
