"""Domain exceptions of alarm management."""

from __future__ import annotations


class AlarmError(Exception):
    """Base of every alarm-management error."""


class AlarmConfigError(AlarmError, ValueError):
    """An alarm definition cannot be used; the message names the alarm, the field and what to do."""

    def __init__(self, alarm: str, field: str, problem: str) -> None:
        self.alarm = alarm
        self.field = field
        self.problem = problem
        super().__init__(f"alarm {alarm!r}, field {field!r}: {problem}")


class AlarmStateError(AlarmError):
    """An operator action or transition that the alarm's present state does not allow.

    The message says which alarm, what was asked, the state it is in and what would be allowed.
    """

    def __init__(self, alarm: str, action: str, reason: str) -> None:
        self.alarm = alarm
        self.action = action
        self.reason = reason
        super().__init__(f"cannot {action} alarm {alarm!r}: {reason}")


class UnknownAlarmError(AlarmError, KeyError):
    """A command names an alarm that is not defined."""

    def __init__(self, alarm: str) -> None:
        self.alarm = alarm
        super().__init__(alarm)

    def __str__(self) -> str:
        return f"no alarm {self.alarm!r} is defined; check the id (the alarm list shows every defined one)"
