"""Point definitions and the samples that carry their values.

A *point* is one measured quantity (a bus voltage, the area frequency...).
Drivers turn protocol data into :class:`Sample` objects; everything above the
drivers only ever sees samples.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import NamedTuple


class Quality(enum.Enum):
    """How far a value can be trusted (OPC-UA status folded to five states)."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"
    STALE = "stale"
    COMM_FAILURE = "comm-failure"

    @property
    def usable(self) -> bool:
        """True when the value may drive calculations (good or uncertain)."""
        return self in (Quality.GOOD, Quality.UNCERTAIN)


class PointKind(enum.Enum):
    """What role a point plays in the grid view."""

    FREQUENCY = "frequency"
    VOLTAGE = "voltage"
    DEMAND = "demand"
    SUPPLY = "supply"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PointDef:
    """Static description of a point.

    Parameters
    ----------
    id:
        Stable identifier used everywhere (``"grid.frequency"``).
    name:
        Human label shown to operators.
    unit:
        SI unit symbol (``Hz``, ``V``, ``W``...).
    kind:
        Role in the grid view.
    nominal:
        Nominal value (50 Hz, 230 V...), ``nan`` when it has none.
    low_limit, high_limit:
        Engineering limits; values outside are shown as abnormal.
    bus:
        Bus name for voltage points.
    """

    id: str
    name: str
    unit: str
    kind: PointKind = PointKind.OTHER
    nominal: float = math.nan
    low_limit: float = -math.inf
    high_limit: float = math.inf
    bus: str | None = None


class Sample(NamedTuple):
    """One value of one point, as received.

    ``source_ts`` is the device/server timestamp, ``recv_ts`` when the console
    got it; both are POSIX seconds (UTC).

    A NamedTuple rather than a frozen dataclass: it is just as immutable and
    five times cheaper to create, and every field sample of every device
    becomes one (see docs/decisions.md).
    """

    point: str
    value: float
    unit: str
    quality: Quality
    source_ts: float
    recv_ts: float
