"""The emergency rules: the band, the stage log, the droop share, the battery's ask — figures by hand."""

from __future__ import annotations

import math

import pytest

from core.balancing.emergency import UFLS_STAGES, StageLog, battery_ask_w, droop_share, emergency_reason


def test_the_emergency_band_and_islanding() -> None:
    assert emergency_reason(True, 49.8) is None  # alert band, not emergency
    assert emergency_reason(True, 49.2) is None  # the limit itself is still inside
    assert emergency_reason(True, 49.19) == "frequency 49.190 Hz below 49.2 Hz"
    assert emergency_reason(True, 50.81) == "frequency 50.810 Hz above 50.8 Hz"
    assert emergency_reason(False, 49.7) == "ISLANDED: transformer breaker open"
    assert emergency_reason(None, None) is None
    assert emergency_reason(False, 48.9) == "ISLANDED: transformer breaker open; frequency 48.900 Hz below 49.2 Hz"


def test_stages_are_logged_in_order_with_the_time_first_seen_and_cleared_on_restore() -> None:
    log = StageLog()
    assert [s.threshold_hz for s in UFLS_STAGES] == [49.0, 48.8, 48.6, 48.4, 48.2, 48.0]
    log.update(1, 100.0)
    log.update(1, 101.0)  # the same stage again: keeps its first time
    log.update(3, 102.5)  # two more at once (one tick)
    assert log.tripped_at == [100.0, 102.5, 102.5]
    assert log.shed_share() == pytest.approx(3 * 0.075)  # 22.5 % of load
    next_stage = log.next_stage()
    assert next_stage is not None and next_stage.threshold_hz == 48.4
    log.update(0, 110.0)
    assert log.count == 0 and log.shed_share() == 0
    log.update(9, 111.0)
    assert log.count == 6 and log.next_stage() is None


def test_droop_share_has_a_deadband_and_full_power_at_200_mhz() -> None:
    assert droop_share(-0.01) == 0  # inside the ±10 mHz deadband
    # −0.105 Hz: (0.105 − 0.01) / (0.2 − 0.01) = 0.5 → half the power, discharging
    assert droop_share(-0.105) == pytest.approx(-0.5)
    assert droop_share(0.3) == 1.0


S = 250e3  # the community battery's rating


def test_grid_connected_the_battery_is_asked_for_fcr() -> None:
    # 49.902 Hz: (0.098 − 0.01) / (0.2 − 0.01) = 0.4632 of 250 kW = 115.79 kW discharge
    assert battery_ask_w(49.902, True, 50.0, S) == pytest.approx(115_789.5, abs=0.1)
    assert battery_ask_w(49.995, True, 50.0, S) == 0  # inside the ±10 mHz deadband
    assert battery_ask_w(50.25, True, 50.0, S) == -S  # beyond +200 mHz: all of it, charging


def test_islanded_the_grid_forming_droop_asks_not_fcr() -> None:
    # The defect: islanded at 49.902 Hz the panel showed the FCR figure, +115.8 kW. Grid-forming with R = 4 %:
    # 250 kW · (0.098 / 50) / 0.04 = 250 kW · 0.049 = 12.25 kW — what the world's battery delivered (12.3 kW
    # in the emergency screenshot before this fix)
    assert battery_ask_w(49.902, False, 50.0, S) == pytest.approx(12_250.0, abs=0.01)
    # 49.70 Hz (the islanding test's held frequency): 250 kW · 0.3 / 2 Hz = 37.5 kW (FCR would say all 250 kW)
    assert battery_ask_w(49.70, False, 50.0, S) == pytest.approx(37_500.0, abs=0.01)
    # no deadband islanded: 49.995 Hz → 250 kW · 0.005 / 2 = 625 W
    assert battery_ask_w(49.995, False, 50.0, S) == pytest.approx(625.0, abs=0.01)
    # a 2.5 Hz fall would ask 312.5 kW: the rating caps it
    assert battery_ask_w(47.5, False, 50.0, S) == S


def test_state_of_charge_limits_the_ask() -> None:
    assert battery_ask_w(49.70, False, 0.0, S) == 0  # empty: it cannot discharge
    assert battery_ask_w(50.30, False, 0.0, S) == pytest.approx(-37_500.0, abs=0.01)  # but it can charge
    assert battery_ask_w(50.30, False, 100.0, S) == 0  # full: it cannot charge
    assert battery_ask_w(50.25, True, 100.0, S) == 0
    assert battery_ask_w(49.70, False, 100.0, S) == pytest.approx(37_500.0, abs=0.01)  # but it can discharge
    assert battery_ask_w(49.70, False, math.nan, S) == pytest.approx(37_500.0, abs=0.01)  # SoC unknown
    assert math.isnan(battery_ask_w(math.nan, False, 50.0, S))
    assert math.isnan(battery_ask_w(49.9, None, 50.0, S))
