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
        The unit the operator configured and reads (``Hz``, ``kV``, ``MW``...);
        see :mod:`core.quantities`.
    kind:
        Role in the grid view.
    nominal:
        Nominal value in SI (50 Hz, 20000 V...), ``nan`` when it has none.
    low_limit, high_limit:
        Engineering limits in SI; values outside are shown as abnormal.
    bus:
        Bus name for voltage points.
    factor:
        SI value = displayed value × factor (1e6 for a point in MW). Samples,
        core and services carry SI; only displays divide by it.
    role:
        What the value means independent of its name (a Modbus profile's
        ``role``: ``power``, ``energy_import``...); views find values by role.
    si_unit:
        The unit samples of this point carry (``W`` for a point in MW); left
        empty, it is ``unit`` (a point whose factor is 1).
    writable:
        The device takes a value for this point (a Modbus register the profile
        declares ``access = "rw"``); views offer a write only for these.
    """

    id: str
    name: str
    unit: str
    kind: PointKind = PointKind.OTHER
    nominal: float = math.nan
    low_limit: float = -math.inf
    high_limit: float = math.inf
    bus: str | None = None
    factor: float = 1.0
    role: str | None = None
    si_unit: str = ""
    writable: bool = False

    def __post_init__(self) -> None:
        if not self.si_unit:
            object.__setattr__(self, "si_unit", self.unit)

    def display(self, si_value: float) -> float:
        """A value of this point in its configured unit."""
        return si_value / self.factor


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
