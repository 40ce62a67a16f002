"""Conversions between SI floats and the integer units stored on chain.

On chain (uint256): energy Wh, power W, frequency mHz, voltage mV,
duration seconds. Conversions round half away from zero and refuse values
that cannot be represented (negative, NaN, infinite, above 2**256-1).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

UINT256_MAX = 2**256 - 1


class UnitRangeError(ValueError):
    """A quantity does not fit the on-chain unsigned integer unit."""


def _to_uint(value: float, scale: int, what: str) -> int:
    if not math.isfinite(value):
        raise UnitRangeError(f"{what} must be a finite number, got {value!r}")
    if value < 0:
        raise UnitRangeError(f"{what} must not be negative on chain, got {value!r}")
    scaled = (Decimal(repr(value)) * scale).to_integral_value(rounding=ROUND_HALF_UP)
    if scaled > UINT256_MAX:
        raise UnitRangeError(f"{what} is too large for uint256: {value!r}")
    return int(scaled)


def hz_to_mhz(hz: float) -> int:
    """Frequency in Hz → integer mHz (50.0 → 50000)."""
    return _to_uint(hz, 1000, "frequency")


def mhz_to_hz(mhz: int) -> float:
    """Integer mHz → frequency in Hz."""
    return mhz / 1000.0


def volt_to_mv(volt: float) -> int:
    """Voltage in V → integer mV."""
    return _to_uint(volt, 1000, "voltage")


def mv_to_volt(mv: int) -> float:
    """Integer mV → voltage in V."""
    return mv / 1000.0


def watt_to_uint(watt: float) -> int:
    """Power in W → integer W."""
    return _to_uint(watt, 1, "power")


def wh_to_uint(wh: float) -> int:
    """Energy in Wh → integer Wh."""
    return _to_uint(wh, 1, "energy")


def seconds_to_uint(seconds: float) -> int:
    """Duration in s → integer seconds."""
    return _to_uint(seconds, 1, "duration")
