"""Operator commands to field devices and their outcomes."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class WriteError(Exception):
    """A write was refused before or by the device; the message says why."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of a verified write (read back after writing)."""

    device: str
    point: str
    old: float | None
    requested: float
    read_back: float | None
    confirmed: bool
    message: str


class Outcome(enum.Enum):
    CONFIRMED = "confirmed"
    NOT_CONFIRMED = "not confirmed"
    REJECTED = "rejected"
    TIMED_OUT = "timed out"


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """What the operator is told, and what the audit log keeps."""

    outcome: Outcome
    message: str
