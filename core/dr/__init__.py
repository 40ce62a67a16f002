"""Demand response (pure): OpenADR-shaped events, customer baselines, measurement and verification.

- :mod:`core.dr.events` — an event as OpenADR 2.0b shapes it, and its status at a given time.
- :mod:`core.dr.baselines` — CAISO 10-in-10 with the capped same-day adjustment, and day matching.
- :mod:`core.dr.verification` — measured reduction per interval, verified energy, exact compensation.
"""

from core.dr.baselines import (
    Baseline,
    BaselineUnavailable,
    DayLoad,
    accuracy,
    caiso_10_of_10,
    day_matching,
)
from core.dr.events import DrEvent, EventStatus, SignalType
from core.dr.verification import Performance, compensation_base_units, measure

__all__ = [
    "Baseline",
    "BaselineUnavailable",
    "DayLoad",
    "DrEvent",
    "EventStatus",
    "Performance",
    "SignalType",
    "accuracy",
    "caiso_10_of_10",
    "compensation_base_units",
    "day_matching",
    "measure",
]
