"""Every transition of the state machine, legal and refused, from a table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from core.alarms import AlarmDef, AlarmState, AlarmStateError, IsaState, LimitCondition, LimitKind, Priority, Shelving
from core.alarms import state as sm

pytestmark = pytest.mark.unit

PLAIN = AlarmDef("a", "p", LimitCondition(LimitKind.HIGH, 1.0), Priority.MEDIUM, "m", max_shelve_s=3600.0)
LATCHING = replace(PLAIN, latching=True)
CONFIRMING = replace(PLAIN, confirm=True)

N = sm.NORMAL  # A
B = AlarmState(active=True, acked=False, active_since=5.0)  # unacknowledged active
C = replace(B, acked=True)  # acknowledged active
D = replace(B, active=False)  # returned to normal, unacknowledged
E_UNACK = replace(D, latched=True)
E_ACKED = replace(E_UNACK, acked=True)
B_LATCH = replace(B, latched=True)
TIMED = replace(B, shelving=Shelving.TIMED, shelved_until=70.0, shelve_reason="r")
ONE_SHOT = replace(B, shelving=Shelving.ONE_SHOT, shelve_reason="r")
OOS = replace(B, out_of_service=True, out_of_service_reason="calibration")
SUP = replace(B, suppressed=True)
C_UNCONFIRMED = replace(C, confirmed=False)
B_UNCONFIRMED = replace(B, confirmed=False)

Step = Callable[[AlarmDef, AlarmState], AlarmState]

activate: Step = lambda d, s: sm.activate(d, s, 5.0)  # noqa: E731
clear: Step = sm.clear
ack: Step = sm.acknowledge
confirm: Step = sm.confirm
reset: Step = sm.reset
shelve_timed: Step = lambda d, s: sm.shelve(d, s, Shelving.TIMED, 10.0, 60.0, "r")  # noqa: E731
shelve_once: Step = lambda d, s: sm.shelve(d, s, Shelving.ONE_SHOT, 10.0, None, "r")  # noqa: E731
unshelve: Step = sm.unshelve
expire: Step = lambda d, s: sm.expire_shelving(d, s, 70.0)  # noqa: E731
suppress: Step = sm.suppress
unsuppress: Step = sm.unsuppress
oos: Step = lambda d, s: sm.remove_from_service(d, s, "calibration")  # noqa: E731
back: Step = sm.return_to_service
silence: Step = sm.silence

LEGAL = [
    # (name, definition, from, step, to, ISA state after)
    ("A→B activate", PLAIN, N, activate, B, IsaState.UNACK_ACTIVE),
    ("B→C acknowledge", PLAIN, B, ack, C, IsaState.ACKED_ACTIVE),
    ("B→D return to normal", PLAIN, B, clear, D, IsaState.RTN_UNACK),
    ("C→A return to normal", PLAIN, C, clear, replace(C, active=False), IsaState.NORMAL),
    ("D→A acknowledge", PLAIN, D, ack, replace(D, acked=True), IsaState.NORMAL),
    ("D→B re-alarm", PLAIN, D, activate, B, IsaState.UNACK_ACTIVE),
    ("A→B latching", LATCHING, N, activate, B_LATCH, IsaState.UNACK_ACTIVE),
    ("B→E latched", LATCHING, B_LATCH, clear, E_UNACK, IsaState.LATCHED),
    ("E ack stays latched", LATCHING, E_UNACK, ack, E_ACKED, IsaState.LATCHED),
    ("E→A reset", LATCHING, E_ACKED, reset, replace(E_ACKED, latched=False), IsaState.NORMAL),
    ("activate with confirmation", CONFIRMING, N, activate, B_UNCONFIRMED, IsaState.UNACK_ACTIVE),
    ("ack keeps it unconfirmed", CONFIRMING, B_UNCONFIRMED, ack, C_UNCONFIRMED, IsaState.ACKED_ACTIVE),
    ("confirm", CONFIRMING, C_UNCONFIRMED, confirm, C, IsaState.ACKED_ACTIVE),
    ("→F timed shelve", PLAIN, B, shelve_timed, TIMED, IsaState.SHELVED),
    ("→F one-shot shelve", PLAIN, B, shelve_once, ONE_SHOT, IsaState.SHELVED),
    ("timed → one-shot", PLAIN, TIMED, shelve_once, ONE_SHOT, IsaState.SHELVED),
    ("one-shot → timed", PLAIN, ONE_SHOT, shelve_timed, TIMED, IsaState.SHELVED),
    ("F→B unshelve", PLAIN, TIMED, unshelve, B, IsaState.UNACK_ACTIVE),
    ("F→B timed expiry", PLAIN, TIMED, expire, B, IsaState.UNACK_ACTIVE),
    ("one-shot ends on return to normal", PLAIN, ONE_SHOT, clear, D, IsaState.RTN_UNACK),
    ("timed stays over return to normal", PLAIN, TIMED, clear, replace(TIMED, active=False), IsaState.SHELVED),
    ("ack while shelved", PLAIN, TIMED, ack, replace(TIMED, acked=True), IsaState.SHELVED),
    ("silence B", PLAIN, B, silence, replace(B, silenced=True), IsaState.UNACK_ACTIVE),
    ("ack ends silence", PLAIN, replace(B, silenced=True), ack, C, IsaState.ACKED_ACTIVE),
    ("re-alarm sounds again", PLAIN, replace(D, silenced=True), activate, B, IsaState.UNACK_ACTIVE),
    ("→G suppress", PLAIN, B, suppress, SUP, IsaState.SUPPRESSED),
    ("G→B unsuppress", PLAIN, SUP, unsuppress, B, IsaState.UNACK_ACTIVE),
    ("→H out of service", PLAIN, B, oos, OOS, IsaState.OUT_OF_SERVICE),
    ("H→B return to service", PLAIN, OOS, back, B, IsaState.UNACK_ACTIVE),
    ("activate while out of service", PLAIN, replace(N, out_of_service=True, out_of_service_reason="x"), activate,
     replace(B, out_of_service=True, out_of_service_reason="x"), IsaState.OUT_OF_SERVICE),
]


@pytest.mark.parametrize(("d", "start", "step", "end", "isa"), [row[1:] for row in LEGAL],
                         ids=[row[0] for row in LEGAL])
def test_legal_transition(d: AlarmDef, start: AlarmState, step: Step, end: AlarmState, isa: IsaState) -> None:
    after = step(d, start)
    assert after == end
    assert after.isa is isa
    assert sm.invariant_violations(d, after) == []


REFUSED = [
    # (definition, from, step, words the message must contain)
    (PLAIN, B, activate, "already active"),
    (PLAIN, N, clear, "not active"),
    (PLAIN, C, ack, "already acknowledged"),
    (PLAIN, N, ack, "already acknowledged"),
    (PLAIN, C, confirm, "does not use confirmation"),
    (CONFIRMING, B_UNCONFIRMED, confirm, "acknowledge it first"),
    (CONFIRMING, C, confirm, "already confirmed"),
    (PLAIN, C, reset, "not latched"),
    (LATCHING, B_LATCH, reset, "still active"),
    (LATCHING, E_UNACK, reset, "acknowledge it first"),
    (PLAIN, TIMED, shelve_timed, "already timed shelved"),
    (PLAIN, ONE_SHOT, shelve_once, "already one-shot shelved"),
    (PLAIN, N, shelve_once, "not active"),
    (PLAIN, OOS, shelve_timed, "out of service"),
    (PLAIN, B, unshelve, "not shelved"),
    (PLAIN, B, expire, "not timed-shelved"),
    (PLAIN, replace(TIMED, shelved_until=80.0), expire, "shelved until 80.0"),
    (PLAIN, SUP, suppress, "already suppressed"),
    (PLAIN, C, silence, "nothing sounds"),
    (PLAIN, replace(B, silenced=True), silence, "already silenced"),
    (PLAIN, B, unsuppress, "not suppressed"),
    (PLAIN, OOS, oos, "already out of service"),
    (PLAIN, B, back, "not out of service"),
]


@pytest.mark.parametrize(("d", "start", "step", "words"), REFUSED, ids=[r[3] + f" #{i}" for i, r in enumerate(REFUSED)])
def test_refused_transition(d: AlarmDef, start: AlarmState, step: Step, words: str) -> None:
    with pytest.raises(AlarmStateError, match=words) as err:
        step(d, start)
    assert "alarm 'a'" in str(err.value)


@pytest.mark.parametrize(("kind", "duration", "reason", "words"), [
    (Shelving.TIMED, 3601.0, "r", "longer than this alarm's maximum shelving time of 3600 s"),
    (Shelving.TIMED, None, "r", "needs a duration"),
    (Shelving.TIMED, 0.0, "r", "needs a duration"),
    (Shelving.TIMED, 60.0, "  ", "needs a reason"),
    (Shelving.ONE_SHOT, 60.0, "r", "give no duration"),
    (Shelving.UNSHELVED, None, "r", "use unshelve"),
])
def test_shelving_arguments(kind: Shelving, duration: float | None, reason: str, words: str) -> None:
    with pytest.raises(AlarmStateError, match=words):
        sm.shelve(PLAIN, B, kind, 0.0, duration, reason)


def test_out_of_service_needs_a_reason() -> None:
    with pytest.raises(AlarmStateError, match="needs a reason"):
        sm.remove_from_service(PLAIN, B, "")


def test_hidden_states_rank_out_of_service_over_suppressed_over_shelved() -> None:
    everything = replace(TIMED, suppressed=True, out_of_service=True, out_of_service_reason="x")
    assert everything.isa is IsaState.OUT_OF_SERVICE
    assert replace(everything, out_of_service=False, out_of_service_reason="").isa is IsaState.SUPPRESSED
    assert not everything.annunciated and everything.retain
