"""On-chain unit conversions at their edges; reconnect backoff."""

from __future__ import annotations

import math
import random

import pytest

from core.units import UINT256_MAX, UnitRangeError, hz_to_mhz, mhz_to_hz, volt_to_mv, wh_to_uint
from drivers.backoff import Backoff

pytestmark = pytest.mark.unit


def test_units_round_half_up_and_round_trip() -> None:
    assert hz_to_mhz(50.0) == 50_000
    assert hz_to_mhz(49.9995) == 50_000
    assert hz_to_mhz(49.9994) == 49_999
    assert mhz_to_hz(49_987) == pytest.approx(49.987)
    assert volt_to_mv(230.1) == 230_100
    assert wh_to_uint(0.5) == 1


@pytest.mark.parametrize("bad", [-0.001, math.nan, math.inf, float(UINT256_MAX) * 2])
def test_units_refuse_what_uint256_cannot_hold(bad: float) -> None:
    with pytest.raises(UnitRangeError):
        wh_to_uint(bad)


def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets() -> None:
    b = Backoff(0.5, 4.0, random.Random(7))
    delays = [b.next_delay() for _ in range(8)]
    caps = [0.5, 1, 2, 4, 4, 4, 4, 4]
    assert all(c / 2 <= d <= c for d, c in zip(delays, caps, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not lock-step
    b.reset()
    assert b.next_delay() <= 0.5


def test_retry_countdown_runs_down_to_zero_and_is_none_without_a_retry() -> None:
    from core.sources import ConnectionState, SourceStatus

    lost = SourceStatus("plc", "opc.tcp://h:4840", ConnectionState.DISCONNECTED, since=1000.0,
                        next_retry_s=4.0, retry_at=1004.0)
    assert lost.retry_in_s(1000.0) == 4.0
    assert lost.retry_in_s(1002.75) == 1.25
    assert lost.retry_in_s(1004.0) == 0.0
    assert lost.retry_in_s(1010.0) == 0.0  # overdue (an attempt is under way): never negative
    assert SourceStatus("plc", "opc.tcp://h:4840", ConnectionState.CONNECTED, since=1000.0).retry_in_s(1001.0) is None
