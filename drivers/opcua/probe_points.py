"""What a probe of the OPC-UA hub should find: every configured point, typed
by the value type the server sent."""

from __future__ import annotations

from asyncua import ua

from core.probe import FLOAT32_DIGITS, SCALED_INTEGER_DIGITS, ProbePoint
from core.sources import PointBinding
from drivers.opcua.hub import OpcUaHub

_INTEGERS = frozenset({ua.VariantType.SByte, ua.VariantType.Byte, ua.VariantType.Int16, ua.VariantType.UInt16,
                       ua.VariantType.Int32, ua.VariantType.UInt32, ua.VariantType.Int64, ua.VariantType.UInt64})


def probe_points(hub: OpcUaHub) -> list[ProbePoint]:
    """Every point of every source, in config order."""
    return [ProbePoint(s.spec.name, b.point.id, b.point.id, b.point.unit,
                       _digits(s.value_types.get(b.point.id), b), factor=b.point.factor)
            for s in hub.sessions for b in s.spec.points]


def _digits(vtype: ua.VariantType | None, binding: PointBinding) -> int | None:
    if vtype is ua.VariantType.Float:
        return FLOAT32_DIGITS
    if vtype in _INTEGERS and (binding.scale != 1.0 or binding.offset != 0.0):
        return SCALED_INTEGER_DIGITS
    return None  # Double (as read), Boolean, exact integers
