"""What a probe expects to read, and values shown to the precision they have.

A driver lists the points it serves as :class:`ProbePoint` (it knows their
types); the probe service reads them for a few seconds and reports each one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FLOAT32_DIGITS = 7  # a float32 carries 7 significant decimal digits (24-bit mantissa)
# An integer register times a decimal scale (0.1, 10, 10**sf): the exact value
# has few digits, but the product in binary floating point does not
# (2317 × 0.1 = 231.70000000000002). 15 digits is what a float64 holds exactly.
SCALED_INTEGER_DIGITS = 15


@dataclass(frozen=True, slots=True)
class ProbePoint:
    """One point a probe expects a value of, as its driver describes it.

    ``digits``: significant decimal digits the value's type carries
    (``None``: show it as read). ``text``: a text value (an identity string)
    read instead of a number. ``bad_means``: what a bad value that came with
    no fault means for this point, when the device said so itself (a Modbus
    "not implemented" marker) — such a point answered; it did not fail.
    """

    device: str
    point: str  # as shown: the id within its device or source
    sample_id: str  # the id its samples arrive with
    unit: str
    digits: int | None = None
    text: str | None = None
    bad_means: str | None = None
    factor: float = 1.0  # samples carry SI; shown value = SI value / factor, in ``unit`` (the configured one)


def to_precision(value: float, digits: int | None) -> float:
    """``value`` rounded to ``digits`` significant digits (unchanged when None or not finite).

    >>> to_precision(231.39999389648438, 7)
    231.4
    """
    if digits is None or not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.{digits}g}")
