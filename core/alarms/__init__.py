"""Alarm management after ISA-18.2 / IEC 62682 with OPC UA Part 9 states (pure: no I/O, clock passed in).

- :mod:`~core.alarms.definitions`: what an alarm watches, its priority and guidance; validated.
- :mod:`~core.alarms.loader`: ``[[alarms]]`` tables → definitions.
- :mod:`~core.alarms.state`: the state machine (pure functions on a frozen state) and its events.
- :mod:`~core.alarms.evaluation`: :class:`AlarmEngine`, samples and time in, events out.
- :mod:`~core.alarms.flood`: flood detection per operator position, first out.
- :mod:`~core.alarms.snapshot`: what the UI pulls per frame.
- :mod:`~core.alarms.kpis`: ISA-18.2 / EEMUA 191 KPIs from the journal.
- :mod:`~core.alarms.journal`, :mod:`~core.alarms.ports`: the journal search and the journal port.
"""

from core.alarms.definitions import (
    AlarmDef,
    DeviationCondition,
    DiscreteCondition,
    ExternalCondition,
    LimitCondition,
    LimitKind,
    Priority,
    QualityCondition,
    RateOfChangeCondition,
    SuppressWhenAlarm,
    SuppressWhenCause,
    SuppressWhenPoint,
    SuppressWhenSourceDown,
)
from core.alarms.errors import AlarmConfigError, AlarmError, AlarmStateError, UnknownAlarmError
from core.alarms.evaluation import AlarmEngine
from core.alarms.flood import FloodMonitor, FloodStatus
from core.alarms.journal import JournalQuery
from core.alarms.kpis import AlarmKpis, alarm_kpis
from core.alarms.loader import load_alarms
from core.alarms.snapshot import AlarmSnapshot, AlarmView
from core.alarms.state import AlarmEvent, AlarmState, EventKind, IsaState, Shelving

__all__ = [
    "AlarmConfigError", "AlarmDef", "AlarmEngine", "AlarmError", "AlarmEvent", "AlarmKpis", "AlarmSnapshot",
    "AlarmState", "AlarmStateError", "AlarmView", "DeviationCondition", "DiscreteCondition", "EventKind",
    "ExternalCondition", "FloodMonitor", "FloodStatus", "IsaState", "JournalQuery", "LimitCondition", "LimitKind",
    "Priority", "QualityCondition", "RateOfChangeCondition", "Shelving", "SuppressWhenAlarm", "SuppressWhenCause",
    "SuppressWhenPoint", "SuppressWhenSourceDown", "UnknownAlarmError", "alarm_kpis", "load_alarms",
]
