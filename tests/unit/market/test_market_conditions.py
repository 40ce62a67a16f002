"""The text form of conditions reads into typed values, exactly, or fails naming the problem."""

from __future__ import annotations

import pytest

from core.market import (
    ConditionSyntaxError,
    GridCondition,
    GridMetric,
    GridView,
    Op,
    PriceCondition,
    PriceMetric,
    parse_condition,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("frequency < 49.9 Hz", GridCondition(GridMetric.FREQUENCY, Op.LT, 49_900)),
        ("frequency>=50100mHz", GridCondition(GridMetric.FREQUENCY, Op.GE, 50_100)),
        ("voltage(feeder_3) > 1.08 pu", GridCondition(GridMetric.VOLTAGE, Op.GT, 1_080_000, "feeder_3")),
        ("  imbalance <= -5 kW ", GridCondition(GridMetric.IMBALANCE, Op.LE, -5_000)),
        ("imbalance > 2000 W", GridCondition(GridMetric.IMBALANCE, Op.GT, 2_000)),
        ("last_price <= 180", PriceCondition(PriceMetric.LAST_PRICE, Op.LE, 180)),
        ("best_ask < 150", PriceCondition(PriceMetric.BEST_ASK, Op.LT, 150)),
    ],
)
def test_reads_exactly(text: str, value: object) -> None:
    assert parse_condition(text) == value


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("frequency < 49.9", "unit '(none)'"),
        ("frequency < 49.9995 Hz", "finer than the integer unit"),
        ("voltage > 1.08 pu", "needs a feeder"),
        ("frequency(f1) < 49.9 Hz", "takes no feeder"),
        ("temperature > 30 C", "unknown metric 'temperature'"),
        ("last_price <= 180 ct", "no feeder or unit"),
        ("frequency == 50 Hz", "expected 'metric op value unit'"),
        ("", "expected"),
    ],
)
def test_bad_text_is_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(ConditionSyntaxError, match="condition") as err:
        parse_condition(text)
    assert says in str(err.value)


def test_grid_conditions_never_hold_on_unknown_values() -> None:
    low = parse_condition("frequency < 49.9 Hz")
    assert isinstance(low, GridCondition)
    assert not low.holds(None) and not low.holds(GridView(imbalance_w=0))
    assert low.holds(GridView(frequency_mhz=49_899)) and not low.holds(GridView(frequency_mhz=49_900))
    hv = parse_condition("voltage(f3) >= 1.05 pu")
    assert isinstance(hv, GridCondition)
    assert not hv.holds(GridView.of(voltages_upu={"f4": 1_100_000}))
    assert hv.holds(GridView.of(voltages_upu={"f3": 1_050_000}))
