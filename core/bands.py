"""Operating bands: ENTSO-E for frequency, EN 50160 for voltage."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class Band(enum.Enum):
    """Severity of a value against its band; ordered from calm to severe."""

    UNKNOWN = 0
    NORMAL = 1
    ALERT = 2
    EMERGENCY = 3


@dataclass(frozen=True, slots=True)
class FrequencyBands:
    """ENTSO-E continental Europe states (defaults): normal 49.8–50.2 Hz,
    alert outside that, emergency below 49.2 Hz or above 50.8 Hz."""

    nominal_hz: float = 50.0
    normal_low_hz: float = 49.8
    normal_high_hz: float = 50.2
    emergency_low_hz: float = 49.2
    emergency_high_hz: float = 50.8

    def __post_init__(self) -> None:
        order = (self.emergency_low_hz, self.normal_low_hz, self.nominal_hz,
                 self.normal_high_hz, self.emergency_high_hz)
        if list(order) != sorted(order) or len(set(order)) != len(order):
            raise ValueError(
                "frequency bands must satisfy emergency_low < normal_low < nominal < normal_high "
                f"< emergency_high, got {order}"
            )

    def classify(self, hz: float) -> Band:
        """Band of a frequency value."""
        if not math.isfinite(hz):
            return Band.UNKNOWN
        if hz < self.emergency_low_hz or hz > self.emergency_high_hz:
            return Band.EMERGENCY
        if hz < self.normal_low_hz or hz > self.normal_high_hz:
            return Band.ALERT
        return Band.NORMAL


@dataclass(frozen=True, slots=True)
class VoltageBands:
    """EN 50160 supply voltage band as a fraction of nominal.

    Within ±10 % is normal; outside it is an alert; beyond ±15 % (the
    standard's absolute limit for LV networks) is an emergency.
    """

    normal_fraction: float = 0.10
    emergency_fraction: float = 0.15

    def classify(self, volts: float, nominal: float) -> Band:
        """Band of a voltage value against its bus nominal."""
        if not (math.isfinite(volts) and math.isfinite(nominal)) or nominal <= 0:
            return Band.UNKNOWN
        deviation = abs(volts - nominal) / nominal
        if deviation > self.emergency_fraction:
            return Band.EMERGENCY
        if deviation > self.normal_fraction:
            return Band.ALERT
        return Band.NORMAL

    def limits(self, nominal: float) -> tuple[float, float]:
        """(low, high) of the normal band for a bus nominal."""
        return nominal * (1 - self.normal_fraction), nominal * (1 + self.normal_fraction)


def classify_limits(value: float, low: float, high: float) -> Band:
    """Band of a value against plain engineering limits."""
    if not math.isfinite(value):
        return Band.UNKNOWN
    return Band.NORMAL if low <= value <= high else Band.ALERT
