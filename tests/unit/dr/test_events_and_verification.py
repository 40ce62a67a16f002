"""OpenADR-shaped event status, measured reduction and exact compensation (figures by hand)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from core.dr import Baseline, DrEvent, EventStatus, SignalType, compensation_base_units, measure
from core.dr.verification import pro_rata_payment


def test_status_follows_the_openadr_timeline() -> None:
    e = DrEvent("dr-1", start=1000, duration_s=600, target_kw=50, price_per_kwh=200, notification_s=300)
    assert [e.status(t) for t in (600, 699.9, 700, 999.9, 1000, 1599.9, 1600)] == [
        EventStatus.FAR, EventStatus.FAR, EventStatus.NEAR, EventStatus.NEAR, EventStatus.ACTIVE,
        EventStatus.ACTIVE, EventStatus.COMPLETED]
    ramping = DrEvent("dr-2", start=1000, duration_s=600, target_kw=50, price_per_kwh=0, notification_s=60, ramp_s=400)
    assert ramping.status(650) is EventStatus.NEAR  # the ramp is longer than the notification
    cancelled = DrEvent("dr-3", start=1000, duration_s=600, target_kw=5, price_per_kwh=1, cancelled=True)
    assert cancelled.status(1200) is EventStatus.CANCELLED


def test_bad_events_name_every_problem() -> None:
    with pytest.raises(ValueError, match=r"'dr-x'.*duration_s must be > 0.*target_kw must be > 0"):
        DrEvent("dr-x", start=0, duration_s=0, target_kw=-1, price_per_kwh=1)
    with pytest.raises(ValueError, match="SIMPLE signal's level is 0, 1, 2 or 3"):
        DrEvent("dr-y", start=0, duration_s=60, target_kw=1, price_per_kwh=1, signal=SignalType.SIMPLE, level=7)


def test_targets_by_name_or_group() -> None:
    e = DrEvent("dr-1", start=0, duration_s=60, target_kw=1, price_per_kwh=1, targets=("house-03", "evs"))
    assert e.targets_participant("house-03")
    assert e.targets_participant("house-07", frozenset({"evs"}))
    assert not e.targets_participant("house-07")
    assert DrEvent("dr-2", start=0, duration_s=60, target_kw=1, price_per_kwh=1).targets_participant("anyone")


def baseline(kw: float, n: int = 24) -> Baseline:
    k = np.full(n, kw)
    return Baseline(kw=k, unadjusted_kw=k, days=(date(2026, 6, 1),), ratio=1.0, ratio_applied=1.0, method="t")


def test_reduction_energy_and_payment() -> None:
    actual = np.full(24, 6.05)
    actual[17:19] = [4.05, 3.05]          # 2.0 kW and 3.0 kW below a 6.05 kW baseline for an hour each
    p = measure(baseline(6.05), actual, 17, 19)
    assert p.reduction_kw == pytest.approx([2.0, 3.0])
    assert p.verified_wh == 5000
    assert compensation_base_units(p.verified_wh, 250) == 1250   # 5 kWh at 250 per kWh


def test_quarter_hours_cap_and_no_negative_energy() -> None:
    actual = np.full(96, 8.0)
    actual[68:72] = [6.0, 6.0, 7.0, 9.0]  # 2 + 2 + 1 - 1 = 4 kW over 15 min each = 1 kWh
    assert measure(baseline(8.0, 96), actual, 68, 72).verified_wh == 1000
    assert measure(baseline(8.0, 96), actual, 68, 72, cap_kwh=0.75).verified_wh == 750
    worse = np.full(96, 9.0)              # drew more than the baseline: nothing verified, nothing owed
    assert measure(baseline(8.0, 96), worse, 68, 72).verified_wh == 0


def test_payment_rounds_down_to_the_base_unit() -> None:
    assert compensation_base_units(1999, 3) == 5       # 5.997 -> 5
    assert compensation_base_units(10**6, 10**18) == 10**21  # 1 MWh at 1 token (18 decimals) per kWh, exactly
    with pytest.raises(ValueError, match=">= 0"):
        compensation_base_units(-1, 3)


def test_missing_measurement_refuses_verification() -> None:
    actual = np.full(24, 5.0)
    actual[18] = np.nan
    with pytest.raises(ValueError, match=r"missing in event interval\(s\) \[18\]"):
        measure(baseline(6.0), actual, 17, 19)


def test_pro_rata_payment_as_the_contract_pays() -> None:
    # 1,000,000 units for a 10 kWh target; one delivered 4 kWh of 8 kWh in total: 4/10 of it.
    assert pro_rata_payment(1_000_000, 4000, 8000, 10_000) == 400_000
    # Over-delivery (12 kWh in total): the basis is 12 kWh, so 4/12 of it, rounded down.
    assert pro_rata_payment(1_000_000, 4000, 12_000, 10_000) == 333_333
