"""Every tamper and plausibility case is detected, and only that reading."""

from __future__ import annotations

import pytest

from core.tamper import MeterPlausibility, MeterRules, TamperKind

pytestmark = pytest.mark.unit


def test_counter_backwards_reset_and_jump() -> None:
    m = MeterPlausibility("h1", MeterRules(rated_power_w=10_000))
    assert m.check("energy_import", "energy_import", 100_000, 0) == []
    assert m.check("energy_import", "energy_import", 100_500, 360) == []  # 5 kW for 6 min: fine
    (back,) = m.check("energy_import", "energy_import", 99_000, 420)
    assert back.kind is TamperKind.COUNTER_BACKWARDS and back.previous == 100_500
    assert m.check("energy_import", "energy_import", 99_100, 480) == []  # continues from the new value
    (reset,) = m.check("energy_import", "energy_import", 3, 540)
    assert reset.kind is TamperKind.COUNTER_RESET
    (jump,) = m.check("energy_import", "energy_import", 5_003, 600)  # 5 kWh in 60 s > 10 kW rated
    assert jump.kind is TamperKind.IMPLAUSIBLE_JUMP and "at most" in jump.detail
    assert m.check("energy_import", "energy_import", 5_100, 660) == []


def test_reversed_flow_only_on_consumer_meters() -> None:
    consumer = MeterPlausibility("h2", MeterRules(consumer_only=True))
    (ev,) = consumer.check("power", "power", -800, 1)
    assert ev.kind is TamperKind.REVERSED_FLOW and "h2" in str(ev)
    assert consumer.check("power", "power", -20, 2) == []  # noise around zero
    prosumer = MeterPlausibility("h3")
    assert prosumer.check("power", "power", -800, 1) == []  # exporting PV is normal


def test_serial_change_and_clock_skew() -> None:
    m = MeterPlausibility("h4")
    assert m.check("serial", "serial", 1234, 0) == []
    assert m.check("serial", "serial", 1234, 1) == []
    (ev,) = m.check("serial", "serial", 9999, 2)
    assert ev.kind is TamperKind.SERIAL_CHANGED and "1234 → 9999" in ev.detail
    (skew,) = m.check("clock", "clock", 1_000_000 - 300, 1_000_000)
    assert skew.kind is TamperKind.CLOCK_SKEW and "-300 s" in skew.detail
    assert m.check("clock", "clock", 1_000_010, 1_000_000) == []


def test_a_counter_that_steps_once_a_second_may_show_two_steps_in_one_poll() -> None:
    # 36 kW: 10 Wh a one-second step; a 1 s poll sees no step, then two (20 Wh): within 36 kW × 2 s × 1.2 + 1
    m = MeterPlausibility("pv", MeterRules(rated_power_w=36_000))
    assert m.check("WH", "energy_export", 1_000, 0.0) == []
    assert m.check("WH", "energy_export", 1_000, 1.0) == []
    assert m.check("WH", "energy_export", 1_020, 2.0) == []  # at most 25 Wh
    (jump,) = m.check("WH", "energy_export", 1_050, 3.0)  # three steps in a second: 108 kW
    assert jump.kind is TamperKind.IMPLAUSIBLE_JUMP and "at most 25 Wh at 36 kW" in jump.detail
