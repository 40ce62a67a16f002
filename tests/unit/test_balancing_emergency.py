"""The emergency rules: the band, the stage log, the droop share — figures by hand."""

from __future__ import annotations

import pytest

from core.balancing.emergency import UFLS_STAGES, StageLog, droop_share, emergency_reason


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
