"""Demand response (pure): OpenADR-shaped events, customer baselines, measurement and verification.

- :mod:`core.dr.events` — an event as OpenADR 2.0b shapes it, and its status at a given time.
- :mod:`core.dr.baselines` — CAISO 10-in-10 with the capped same-day adjustment, and day matching.
- :mod:`core.dr.verification` — measured reduction per interval, verified energy, exact compensation.

Baselines and measurement are of a participant's **gross load**: its net grid meter plus the output of its
metered behind-the-meter generation (PV, wind), :func:`core.dr.verification.gross_load_kw`. A house with
PV behind its meter would otherwise have the sun in its baseline (the CAISO same-day adjustment over the
afternoon scales it by that afternoon's sunshine) and be credited for its PV's output during an event;
see core.dr.verification and docs/decisions.md ("DR M&V on gross load").
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
from core.dr.verification import Performance, compensation_base_units, gross_load_kw, measure

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
    "gross_load_kw",
    "measure",
]
