"""M&V of a house with PV behind its meter: baseline and reduction on gross load (net meter + the inverter's
output; hourly intervals, every figure by hand)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from core.dr import DayLoad, caiso_10_of_10, gross_load_kw, measure

EVENT_DAY = date(2026, 6, 17)  # a Wednesday; the event is 18:00-19:00 (interval 18), adjustment 14:00-17:00
HISTORY = [date(2026, 6, d) for d in (16, 15, 12, 11, 10)]  # five eligible weekdays: the minimum


def pv(kw_in_window: float) -> np.ndarray:
    """PV output 0 except 14:00-17:00 (intervals 14..16), where it is ``kw_in_window``."""
    out = np.zeros(24)
    out[14:17] = kw_in_window
    return out


def test_gross_load_adds_each_generator_to_the_net_meter() -> None:
    net = np.array([1.0, -0.5, 0.2])
    assert gross_load_kw(net, [np.array([0.0, 2.0, 0.3]), np.array([0.1, 0.0, 0.0])]) == pytest.approx(
        [1.1, 1.5, 0.5])
    assert gross_load_kw(net) == pytest.approx([1.0, -0.5, 0.2])  # no metered generation: the net meter
    assert np.isnan(gross_load_kw(net, [np.array([0.0, np.nan, 0.0])])[1])  # an inverter without a reading
    with pytest.raises(ValueError, match="generation has 2 intervals, the grid meter 3"):
        gross_load_kw(net, [np.zeros(2)])


def test_the_afternoon_sun_does_not_scale_a_pv_house_baseline_on_gross_load() -> None:
    # The house draws 1.0 kW all day, every day; on the event it curtails 0.6 kW for the hour: 600 Wh.
    # History days were cloudy (0.2 kW PV in the adjustment window), the event day sunny (0.6 kW).
    gross_event = np.full(24, 1.0)
    gross_event[18] = 0.4
    history_net = [DayLoad(d, np.full(24, 1.0) - pv(0.2)) for d in HISTORY]
    event_net = DayLoad(EVENT_DAY, gross_event - pv(0.6), event=True)

    # On the net meter: window 3 × 0.4 kW against 3 × 0.8 kW = ratio 0.5, capped at 0.8; baseline at 18:00
    # 1.0 × 0.8 = 0.8 kW, so 0.8 − 0.4 = 0.4 kW for 1 h = 400 Wh: a third short of what was curtailed.
    on_net = caiso_10_of_10(history_net, event_net, 18, 19)
    assert (on_net.ratio, on_net.ratio_applied) == pytest.approx((0.5, 0.8))
    assert measure(on_net, event_net.kw, 18, 19).verified_wh == 400

    # On gross load (net + PV): window 3 × 1.0 against 3 × 1.0 = ratio 1.0, baseline 1.0 kW: 600 Wh.
    history_gross = [DayLoad(d.day, gross_load_kw(d.kw, [pv(0.2)])) for d in history_net]
    event_gross = DayLoad(EVENT_DAY, gross_load_kw(event_net.kw, [pv(0.6)]), event=True)
    on_gross = caiso_10_of_10(history_gross, event_gross, 18, 19)
    assert (on_gross.ratio, on_gross.ratio_applied) == pytest.approx((1.0, 1.0))
    assert measure(on_gross, event_gross.kw, 18, 19).verified_wh == 600


def test_the_gross_load_adjustment_keeps_the_caiso_cap() -> None:
    # Gross load 1.0 kW on the history days, 1.5 kW in the event day's window (the house drew more that
    # afternoon, whatever its PV did): ratio 1.5, capped at 1.2; baseline at 18:00 1.2 kW, actual 0.5 kW:
    # 0.7 kW for 1 h = 700 Wh.
    history = [DayLoad(d, np.full(24, 1.0)) for d in HISTORY]
    kw = np.full(24, 1.0)
    kw[14:17] = 1.5
    kw[18] = 0.5
    b = caiso_10_of_10(history, DayLoad(EVENT_DAY, kw, event=True), 18, 19)
    assert (b.ratio, b.ratio_applied) == pytest.approx((1.5, 1.2))
    assert measure(b, kw, 18, 19).verified_wh == 700
