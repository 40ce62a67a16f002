"""OPC-UA StatusCode and value conversion to console samples."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from asyncua import ua
from asyncua.ua.status_codes import StatusCodes

from core.points import Quality

_COMM_FAILURES = frozenset(
    getattr(StatusCodes, name)
    for name in (
        "BadCommunicationError",
        "BadNotConnected",
        "BadServerNotConnected",
        "BadNoCommunication",
        "BadTimeout",
        "BadConnectionClosed",
        "BadServerHalted",
        "BadShutdown",
    )
    if hasattr(StatusCodes, name)
)
_STALE = frozenset(
    getattr(StatusCodes, name)
    for name in ("BadWaitingForInitialData", "UncertainLastUsableValue", "BadOutOfService")
    if hasattr(StatusCodes, name)
)


def quality_of(status: ua.StatusCode | None) -> Quality:
    """Fold an OPC-UA StatusCode into the five console qualities."""
    if status is None:
        return Quality.GOOD
    code = status.value & 0xFFFF0000  # drop the info bits (limits, overflow...)
    if code in _STALE:
        return Quality.STALE
    severity = code >> 30
    if severity == 0:
        return Quality.GOOD
    if severity == 1:
        return Quality.UNCERTAIN
    if code in _COMM_FAILURES:
        return Quality.COMM_FAILURE
    return Quality.BAD


def status_name(status: ua.StatusCode | None) -> str:
    """Readable name of a StatusCode, e.g. ``BadNodeIdUnknown``."""
    if status is None:
        return "Good"
    try:
        return str(status.name)
    except Exception:  # unknown vendor code
        return f"0x{status.value:08X}"


def as_float(value: Any) -> float:
    """Numeric OPC-UA value as float; ``nan`` for anything non-numeric."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return math.nan


def to_posix(ts: datetime | None, default: float) -> float:
    """OPC-UA DateTime (UTC, maybe naive) as POSIX seconds."""
    if ts is None:
        return default
    if ts.tzinfo is None:
        return (ts - _EPOCH).total_seconds()  # 4x faster than replace(tzinfo).timestamp()
    return ts.timestamp()


_EPOCH = datetime(1970, 1, 1)
