"""Probed values to the precision of their type."""

from __future__ import annotations

import math
import struct

import pytest

from core.probe import FLOAT32_DIGITS, SCALED_INTEGER_DIGITS, to_precision

pytestmark = pytest.mark.unit


def as_float32(x: float) -> float:
    return float(struct.unpack(">f", struct.pack(">f", x))[0])


def test_float32_to_seven_digits() -> None:
    assert as_float32(231.4) == 231.39999389648438  # what the register really holds
    assert to_precision(as_float32(231.4), FLOAT32_DIGITS) == 231.4
    assert to_precision(as_float32(49.987), FLOAT32_DIGITS) == 49.987
    assert to_precision(as_float32(20.4) * 1000, FLOAT32_DIGITS) == 20400.0
    assert to_precision(as_float32(-0.0123), FLOAT32_DIGITS) == -0.0123


def test_scaled_integers_lose_the_binary_artefact_only() -> None:
    assert 2317 * 0.1 == 231.70000000000002
    assert to_precision(2317 * 0.1, SCALED_INTEGER_DIGITS) == 231.7
    assert to_precision(123_456 * 10.0, SCALED_INTEGER_DIGITS) == 1_234_560.0
    assert to_precision(987_654_321_012 * 0.001, SCALED_INTEGER_DIGITS) == 987_654_321.012


def test_float64_and_non_finite_are_kept() -> None:
    assert to_precision(0.1 + 0.2, None) == 0.30000000000000004
    assert math.isnan(to_precision(math.nan, FLOAT32_DIGITS))
    assert to_precision(math.inf, FLOAT32_DIGITS) == math.inf
    assert to_precision(0.0, FLOAT32_DIGITS) == 0.0
