"""What a probe of the Modbus hub should find: every device point, typed."""

from __future__ import annotations

from core.probe import FLOAT32_DIGITS, SCALED_INTEGER_DIGITS, ProbePoint
from drivers.modbus.codec import DataType
from drivers.modbus.hub import ModbusHub
from drivers.modbus.profile import ProfilePoint

# The hub sends a bad value without a fault only for a register holding the
# "not implemented" marker (or whose scale factor does).
NOT_IMPLEMENTED = "not implemented by the device (the register holds the 'not implemented' value)"


def probe_points(hub: ModbusHub) -> list[ProbePoint]:
    """Identity strings read, then every other point of every started device, in profile order."""
    points: list[ProbePoint] = []
    for session in hub.sessions:
        name = session.spec.name
        points += [ProbePoint(name, pid, f"{name}.{pid}", "", text=text)
                   for pid, text in sorted(session.identity.items())]
        for p in session.profile.points if session.profile else ():
            if p.id not in session.identity:
                points.append(ProbePoint(name, p.id, f"{name}.{p.id}", p.unit, _digits(p), bad_means=NOT_IMPLEMENTED))
    return points


def _digits(p: ProfilePoint) -> int | None:
    if p.dtype is DataType.FLOAT32:
        return FLOAT32_DIGITS
    if p.dtype is DataType.FLOAT64:
        return None
    return None if p.scale == 1.0 and p.sf is None else SCALED_INTEGER_DIGITS
