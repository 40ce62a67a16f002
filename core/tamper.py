"""Tamper and plausibility checks on meter readings.

Each check looks at one reading against the meter's previous one. A reading
that fails a check raises a :class:`TamperEvent` and is not settleable (the
driver reports it with uncertain quality; only good readings settle).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class TamperKind(enum.Enum):
    COUNTER_BACKWARDS = "energy counter went backwards"
    COUNTER_RESET = "energy counter was reset"
    IMPLAUSIBLE_JUMP = "energy jump larger than the rated power allows"
    REVERSED_FLOW = "power flows out of a consumer-only meter (CT reversed?)"
    SERIAL_CHANGED = "serial number changed"
    CLOCK_SKEW = "meter clock is off"


@dataclass(frozen=True, slots=True)
class TamperEvent:
    """One failed check, with what was seen."""

    device: str
    point: str
    kind: TamperKind
    ts: float
    value: float
    previous: float | None
    detail: str

    def __str__(self) -> str:
        return f"meter {self.device!r}, {self.point}: {self.kind.value} ({self.detail})"


@dataclass(frozen=True, slots=True)
class MeterRules:
    """What is plausible for one meter."""

    rated_power_w: float = 25_000.0  # e.g. 3 × 35 A at 230 V
    consumer_only: bool = False
    reverse_tolerance_w: float = 50.0  # noise around zero is not a reversal
    max_clock_skew_s: float = 60.0
    jump_margin: float = 1.2  # allowance over rated power × elapsed time
    # A counter register moves in steps (an SDM630 and the simulated world update theirs once a second), so
    # two readings `elapsed` apart may lie up to one update further apart in the device's own time: a 1 s
    # poll sees no step, then two.
    counter_update_s: float = 1.0
    reset_fraction: float = 0.01  # a drop to below 1 % of the last value is a reset


class MeterPlausibility:
    """Checks for one meter; feed it readings by role, oldest first."""

    def __init__(self, device: str, rules: MeterRules | None = None) -> None:
        self.device = device
        self.rules = rules or MeterRules()
        self._counters: dict[str, tuple[float, float]] = {}  # point -> (value, ts)
        self._serial: float | None = None

    def check(self, point: str, role: str, value: float, ts: float) -> list[TamperEvent]:
        """Events raised by this reading (empty when it is plausible)."""
        if not math.isfinite(value):
            return []
        if role in ("energy_import", "energy_export"):
            return self._counter(point, value, ts)
        if role == "power" and self.rules.consumer_only and value < -self.rules.reverse_tolerance_w:
            return [self._event(point, TamperKind.REVERSED_FLOW, ts, value, None,
                                f"{value:.0f} W on a consumer-only meter")]
        if role == "serial":
            previous, self._serial = self._serial, value
            if previous is not None and previous != value:
                return [self._event(point, TamperKind.SERIAL_CHANGED, ts, value, previous,
                                    f"{previous:.0f} → {value:.0f}")]
        if role == "clock":
            skew = value - ts
            if abs(skew) > self.rules.max_clock_skew_s:
                return [self._event(point, TamperKind.CLOCK_SKEW, ts, value, None,
                                    f"{skew:+.0f} s against the console")]
        return []

    def _counter(self, point: str, value: float, ts: float) -> list[TamperEvent]:
        last = self._counters.get(point)
        self._counters[point] = (value, ts)  # the next reading compares against this one, flagged or not
        if last is None:
            return []
        prev, prev_ts = last
        if value < prev:
            if value <= prev * self.rules.reset_fraction:
                return [self._event(point, TamperKind.COUNTER_RESET, ts, value, prev,
                                    f"{prev:.0f} Wh → {value:.0f} Wh")]
            return [self._event(point, TamperKind.COUNTER_BACKWARDS, ts, value, prev,
                                f"{prev:.0f} Wh → {value:.0f} Wh")]
        elapsed = max(ts - prev_ts, 0.0)
        allowed = self.rules.rated_power_w * (elapsed + self.rules.counter_update_s) / 3600 \
            * self.rules.jump_margin + 1.0
        if value - prev > allowed:
            return [self._event(point, TamperKind.IMPLAUSIBLE_JUMP, ts, value, prev,
                                f"+{value - prev:.0f} Wh in {elapsed:.0f} s; at most {allowed:.0f} Wh at "
                                f"{self.rules.rated_power_w / 1000:g} kW")]
        return []

    def _event(self, point: str, kind: TamperKind, ts: float, value: float, previous: float | None,
               detail: str) -> TamperEvent:
        return TamperEvent(self.device, point, kind, ts, value, previous, detail)
