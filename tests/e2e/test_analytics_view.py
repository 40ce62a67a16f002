"""The analytics tab on a real historian (tests/api/production_data.py): the period's KPIs as computed by
hand, the forecasts with their error next to them; all computed off the UI thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.ui.analytics_view import AnalyticsView
from tests.api.conftest import NOW
from tests.api.production_data import production_service

pytestmark = pytest.mark.e2e


async def test_yesterdays_kpis_and_tomorrows_forecasts(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = AnalyticsView(production_service(tmp_path, NOW, days=3), clock=lambda: NOW)
    view.period.setCurrentIndex(0)  # yesterday
    await view.refresh()
    t = view.energy
    rows = {t.item(r, 0).text(): [t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())}
    # alice: PV 2 kW × 12 h, uses 0.5 kW × 24 h, imports 6 kWh, exports 18 kWh; saved 3.60 − 0.36 EUR
    assert rows["alice"][1:7] == ["24.0", "–", "12.0", "6.0", "18.0", "25.0"]
    assert rows["alice"][9] == "3.24" and rows["alice"][10] == "9.1"
    assert rows["bob"][3] == "24.0" and rows["All participants"][3] == "36.0"
    stability = {view.stability.item(r, 0).text(): view.stability.item(r, 1).text()
                 for r in range(view.stability.rowCount())}
    assert stability["alert band"] == "0.417 %  (0.10 h)"  # 6 minutes of the day at 49.7 Hz
    assert stability["frequency events"].startswith("1  (lowest nadir 49.700 Hz")
    assert stability["EN 50160 buses compliant"] == "1 of 1"
    assert [view.who.itemText(i) for i in range(view.who.count())] == ["All participants", "alice", "bob"]
    view.who.setCurrentText("alice")
    assert "Load" in view.load_label.text() and "seasonal naive" in view.load_label.text()
    assert "daylight steps only" in view.pv_label.text()
    assert view.compute_button.isEnabled() and "(UTC)" in view.status.text()
