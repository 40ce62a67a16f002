"""What a journal search means: the store's SQL and the UI's filters must agree with these cases."""

from __future__ import annotations

import pytest

from core.alarms import AlarmEvent, AlarmState, EventKind, IsaState, JournalQuery, Priority

pytestmark = pytest.mark.unit

UNACK = AlarmState(active=True, acked=False, active_since=10.0)
ACKED = AlarmState(active=True, acked=True, active_since=10.0)

ACT = AlarmEvent(10.0, "bus1.v.low", EventKind.ACTIVATED, UNACK, Priority.MEDIUM, "main", "bus1.voltage", 201.0)
ACK = AlarmEvent(20.0, "bus1.v.low", EventKind.ACKNOWLEDGED, ACKED, Priority.MEDIUM, "main", "bus1.voltage",
                 user="anna", comment="Tap changer stuck, crew called")
OTHER = AlarmEvent(30.0, "f.high", EventKind.ACTIVATED, UNACK, Priority.HIGH, "east", "grid.frequency", 50.3)
ALL = [ACT, ACK, OTHER]


@pytest.mark.parametrize(("q", "expected"), [
    (JournalQuery(0, 100), [ACT, ACK, OTHER]),
    (JournalQuery(10, 30), [ACT, ACK]),  # [t0, t1): 30 is outside
    (JournalQuery(0, 100, alarms=frozenset({"f.high"})), [OTHER]),
    (JournalQuery(0, 100, points=frozenset({"bus1.voltage"})), [ACT, ACK]),
    (JournalQuery(0, 100, priorities=frozenset({Priority.HIGH, Priority.CRITICAL})), [OTHER]),
    (JournalQuery(0, 100, kinds=frozenset({EventKind.ACKNOWLEDGED})), [ACK]),
    (JournalQuery(0, 100, states=frozenset({IsaState.UNACK_ACTIVE})), [ACT, OTHER]),
    (JournalQuery(0, 100, users=frozenset({"anna"})), [ACK]),
    (JournalQuery(0, 100, positions=frozenset({"east"})), [OTHER]),
    (JournalQuery(0, 100, text="TAP CHANGER"), [ACK]),  # comment, case-insensitive
    (JournalQuery(0, 100, text="grid."), [OTHER]),  # point
    (JournalQuery(0, 100, text="v.low", kinds=frozenset({EventKind.ACTIVATED})), [ACT]),  # filters combine
])
def test_query_matches(q: JournalQuery, expected: list[AlarmEvent]) -> None:
    assert [e for e in ALL if q.matches(e)] == expected
