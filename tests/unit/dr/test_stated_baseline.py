"""The baseline the DR service states on chain is clamped at 0 Wh (a net-exporting house has a negative one,
which GridBalance.recordDelivery's uint256 refuses on every retry)."""

from __future__ import annotations

from datetime import date

import numpy as np

from console.services.dr import stated_baseline_wh
from core.dr.baselines import Baseline


def _flat(kw: float | list[float]) -> Baseline:
    arr = np.full(96, kw, dtype=np.float64) if isinstance(kw, float) else np.array(kw, dtype=np.float64)
    return Baseline(kw=arr, unadjusted_kw=arr, days=(date(2026, 6, 1),), ratio=1.0, ratio_applied=1.0,
                    method="caiso-10-of-10")


def test_a_net_exporting_house_states_zero_not_a_negative_baseline() -> None:
    # −2.0 kW (PV export) for 1 h (0..3600 s) is −2,000 Wh; stated as 0
    assert stated_baseline_wh(_flat(-2.0), 0.0, 3600.0) == 0


def test_a_positive_baseline_is_stated_unchanged() -> None:
    # 1.5 kW from 00:30 to 01:30 (1,800..5,400 s, two half 15-min intervals and two whole ones) = 1,500 Wh
    assert stated_baseline_wh(_flat(1.5), 1800.0, 5400.0) == 1500


def test_the_span_total_is_clamped_not_each_interval() -> None:
    # first hour (4 intervals) −1 kW, second hour +3 kW, rest 0: 0..7,200 s = −1,000 + 3,000 = 2,000 Wh
    # (export in one hour does not hide the import the house had in the next)
    kw = [-1.0] * 4 + [3.0] * 4 + [0.0] * 88
    assert stated_baseline_wh(_flat(kw), 0.0, 7200.0) == 2000
    # and the first hour alone, −1,000 Wh, is 0
    assert stated_baseline_wh(_flat(kw), 0.0, 3600.0) == 0
