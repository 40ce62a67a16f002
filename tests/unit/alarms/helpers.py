"""Small builders shared by the alarm tests."""

from __future__ import annotations

from core.alarms import AlarmDef, LimitCondition, LimitKind, Priority
from core.points import Quality, Sample


def sample(point: str, value: float, t: float, quality: Quality = Quality.GOOD) -> Sample:
    return Sample(point, value, "", quality, t, t)


def high(alarm: str = "f.high", point: str = "grid.frequency", limit: float = 50.2, **kw: object) -> AlarmDef:
    return AlarmDef(alarm, point, LimitCondition(LimitKind.HIGH, limit), kw.pop("priority", Priority.HIGH),  # type: ignore[arg-type]
                    "Frequency high", **kw)  # type: ignore[arg-type]
