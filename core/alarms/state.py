"""The alarm state machine after ISA-18.2 / IEC 62682 as OPC UA Part 9 models it.

OPC UA Part 9 (AlarmConditionType) does not model one flat list of states but
several orthogonal sub-state machines: ActiveState, AckedState, ConfirmedState,
LatchedState, ShelvingState (Unshelved / OneShotShelved / TimedShelved),
SuppressedState and OutOfServiceState. :class:`AlarmState` holds them all as
one frozen value; every function here takes a state and returns the next one,
or raises :class:`AlarmStateError` when the present state does not allow the
step. The ISA-18.2 state (A normal … H out of service) is derived from it.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace

from core.alarms.definitions import AlarmDef, Priority
from core.alarms.errors import AlarmStateError

_EPS = 1e-9  # float slack on times: 0.3 − 0.1 must count as 0.2 s


class Shelving(enum.Enum):
    """OPC UA ShelvedStateMachine states."""

    UNSHELVED = "unshelved"
    ONE_SHOT = "one-shot"  # until the alarm next returns to normal
    TIMED = "timed"  # until ``shelved_until`` (or unshelved earlier)


class IsaState(enum.Enum):
    """ISA-18.2 alarm states (figure letters A–H); what the alarm list shows."""

    NORMAL = "normal"  # A
    UNACK_ACTIVE = "unacknowledged"  # B
    ACKED_ACTIVE = "acknowledged"  # C
    RTN_UNACK = "returned-unacknowledged"  # D
    LATCHED = "latched"  # E
    SHELVED = "shelved"  # F
    SUPPRESSED = "suppressed-by-design"  # G
    OUT_OF_SERVICE = "out-of-service"  # H


@dataclass(frozen=True, slots=True)
class AlarmState:
    """Every sub-state of one alarm.

    ``active_since`` is the time of the latest activation (kept after it clears,
    for the journal); ``shelved_until`` is set only while timed-shelved;
    ``shelve_reason`` and ``out_of_service_reason`` only while shelved or out of service.
    ``silenced`` (Part 9 SilenceState) stops the horn for an unacknowledged alarm without acknowledging it.
    """

    active: bool = False
    acked: bool = True
    confirmed: bool = True
    latched: bool = False
    shelving: Shelving = Shelving.UNSHELVED
    shelved_until: float | None = None
    shelve_reason: str = ""
    suppressed: bool = False
    out_of_service: bool = False
    silenced: bool = False
    out_of_service_reason: str = ""
    active_since: float | None = None

    @property
    def shelved(self) -> bool:
        return self.shelving is not Shelving.UNSHELVED

    @property
    def annunciated(self) -> bool:
        """True when the operator is told about it (not shelved, suppressed or out of service)."""
        return not (self.shelved or self.suppressed or self.out_of_service)

    @property
    def audible(self) -> bool:
        """True when the horn should sound for it: annunciated, unacknowledged and not silenced."""
        return self.annunciated and not self.acked and not self.silenced

    @property
    def retain(self) -> bool:
        """OPC UA Retain: still of interest to the operator (active, unacknowledged, unconfirmed or latched)."""
        return self.active or not self.acked or not self.confirmed or self.latched

    @property
    def isa(self) -> IsaState:
        """The ISA-18.2 state; out of service, suppression and shelving hide the alarm states below them."""
        if self.out_of_service:
            return IsaState.OUT_OF_SERVICE
        if self.suppressed:
            return IsaState.SUPPRESSED
        if self.shelved:
            return IsaState.SHELVED
        if self.active:
            return IsaState.ACKED_ACTIVE if self.acked else IsaState.UNACK_ACTIVE
        if self.latched:
            return IsaState.LATCHED
        if not self.acked:
            return IsaState.RTN_UNACK
        return IsaState.NORMAL


NORMAL = AlarmState()


class EventKind(enum.Enum):
    """What happened to an alarm; one event per transition or operator action."""

    ACTIVATED = "activated"
    CLEARED = "cleared"  # returned to normal
    ACKNOWLEDGED = "acknowledged"
    SILENCED = "silenced"
    CONFIRMED = "confirmed"
    RESET = "reset"  # a latched alarm released
    SHELVED = "shelved"
    UNSHELVED = "unshelved"
    SHELVING_EXPIRED = "shelving-expired"
    SUPPRESSED = "suppressed"
    UNSUPPRESSED = "unsuppressed"
    REMOVED_FROM_SERVICE = "removed-from-service"
    RETURNED_TO_SERVICE = "returned-to-service"
    COMMENTED = "commented"
    RESTORED = "restored"  # the state a journal kept, taken up again after a restart

    @property
    def operator(self) -> bool:
        """True for events an operator causes (they carry a user)."""
        return self in _OPERATOR_EVENTS


_OPERATOR_EVENTS = frozenset({
    EventKind.ACKNOWLEDGED, EventKind.SILENCED, EventKind.CONFIRMED, EventKind.RESET, EventKind.SHELVED,
    EventKind.UNSHELVED, EventKind.REMOVED_FROM_SERVICE, EventKind.RETURNED_TO_SERVICE, EventKind.COMMENTED,
})


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One journal entry: what happened to which alarm, when, by whom, and the state after it.

    ``priority``, ``position`` and ``point`` are copied from the definition so
    the journal and the KPIs need no definitions to be read. ``value`` is the
    process value at the event (NaN for operator actions and when unknown);
    ``user`` is ``None`` for what the system did.
    """

    ts: float
    alarm: str
    kind: EventKind
    state: AlarmState
    priority: Priority
    position: str
    point: str
    value: float = math.nan
    user: str | None = None
    comment: str = ""


def event(d: AlarmDef, kind: EventKind, ts: float, state: AlarmState, value: float = math.nan,
          user: str | None = None, comment: str = "") -> AlarmEvent:
    """An event of alarm ``d`` with its definition's priority, position and point."""
    return AlarmEvent(ts, d.id, kind, state, d.priority, d.position, d.point, value, user, comment)


# ---- transitions decided by the process -------------------------------------------------------------


def activate(d: AlarmDef, s: AlarmState, ts: float) -> AlarmState:
    """The condition became (and stayed, past the on-delay) true: a new occurrence to acknowledge."""
    if s.active:
        raise AlarmStateError(d.id, "activate", "it is already active")
    return replace(s, active=True, acked=False, confirmed=not d.confirm, latched=d.latching or s.latched,
                   silenced=False, active_since=ts)


def clear(d: AlarmDef, s: AlarmState) -> AlarmState:
    """The condition is gone (past deadband and off-delay); one-shot shelving ends here (Part 9)."""
    if not s.active:
        raise AlarmStateError(d.id, "clear", "it is not active")
    if s.shelving is Shelving.ONE_SHOT:
        return replace(s, active=False, shelving=Shelving.UNSHELVED, shelve_reason="")
    return replace(s, active=False)


def suppress(d: AlarmDef, s: AlarmState) -> AlarmState:
    """A suppression-by-design rule became true."""
    if s.suppressed:
        raise AlarmStateError(d.id, "suppress", "it is already suppressed by design")
    return replace(s, suppressed=True)


def unsuppress(d: AlarmDef, s: AlarmState) -> AlarmState:
    """No suppression-by-design rule holds any more."""
    if not s.suppressed:
        raise AlarmStateError(d.id, "unsuppress", "it is not suppressed")
    return replace(s, suppressed=False)


def expire_shelving(d: AlarmDef, s: AlarmState, now: float) -> AlarmState:
    """Timed shelving ran out: the alarm is annunciated again."""
    if s.shelving is not Shelving.TIMED or s.shelved_until is None:
        raise AlarmStateError(d.id, "expire the shelving of", "it is not timed-shelved")
    if now + _EPS < s.shelved_until:
        raise AlarmStateError(d.id, "expire the shelving of", f"it is shelved until {s.shelved_until}, now is {now}")
    return replace(s, shelving=Shelving.UNSHELVED, shelved_until=None, shelve_reason="")


# ---- operator actions ---------------------------------------------------------------------------------


def acknowledge(d: AlarmDef, s: AlarmState) -> AlarmState:
    """The operator has seen it (Part 9 Acknowledge)."""
    if s.acked:
        raise AlarmStateError(d.id, "acknowledge", "it is already acknowledged")
    return replace(s, acked=True, silenced=False)


def silence(d: AlarmDef, s: AlarmState) -> AlarmState:
    """Stop the horn for this alarm; it stays unacknowledged (Part 9 Silence). A new occurrence sounds again."""
    if s.acked:
        raise AlarmStateError(d.id, "silence", "it is acknowledged, so nothing sounds for it")
    if s.silenced:
        raise AlarmStateError(d.id, "silence", "it is already silenced")
    return replace(s, silenced=True)


def confirm(d: AlarmDef, s: AlarmState) -> AlarmState:
    """The operator confirms the response was carried out (Part 9 Confirm)."""
    if not d.confirm:
        raise AlarmStateError(d.id, "confirm", "this alarm does not use confirmation (confirm = false)")
    if not s.acked:
        raise AlarmStateError(d.id, "confirm", "it is not acknowledged yet; acknowledge it first")
    if s.confirmed:
        raise AlarmStateError(d.id, "confirm", "it is already confirmed")
    return replace(s, confirmed=True)


def reset(d: AlarmDef, s: AlarmState) -> AlarmState:
    """Release a latched alarm once its condition has returned to normal and it is acknowledged."""
    if not s.latched:
        raise AlarmStateError(d.id, "reset", "it is not latched")
    if s.active:
        raise AlarmStateError(d.id, "reset", "its condition is still active; reset it once it has returned to normal")
    if not s.acked:
        raise AlarmStateError(d.id, "reset", "it is not acknowledged yet; acknowledge it first")
    return replace(s, latched=False)


def shelve(d: AlarmDef, s: AlarmState, kind: Shelving, now: float, duration_s: float | None,
           reason: str) -> AlarmState:
    """Shelve one-shot (until it next returns to normal) or timed (for ``duration_s``, at most ``max_shelve_s``).

    Part 9 allows switching between one-shot and timed; shelving again the same
    way is refused (unshelve first, so the new reason and time are on record).
    """
    action = "shelve"
    if kind is Shelving.UNSHELVED:
        raise AlarmStateError(d.id, action, "choose one-shot or timed shelving (use unshelve to unshelve)")
    if not reason.strip():
        raise AlarmStateError(d.id, action, "shelving needs a reason for the record")
    if s.out_of_service:
        raise AlarmStateError(d.id, action, "it is out of service; return it to service first")
    if s.shelving is kind:
        raise AlarmStateError(d.id, action, f"it is already {kind.value} shelved; unshelve it first")
    if kind is Shelving.ONE_SHOT:
        if duration_s is not None:
            raise AlarmStateError(d.id, action, "one-shot shelving lasts until the alarm returns to normal; "
                                                "give no duration (or shelve timed)")
        if not s.active:
            raise AlarmStateError(d.id, action, "it is not active, so one-shot shelving would end at once; "
                                                "shelve it timed instead")
        return replace(s, shelving=kind, shelved_until=None, shelve_reason=reason)
    if duration_s is None or not math.isfinite(duration_s) or duration_s <= 0:
        raise AlarmStateError(d.id, action, f"timed shelving needs a duration above 0 s, got {duration_s!r}")
    if duration_s > d.max_shelve_s + _EPS:
        raise AlarmStateError(d.id, action, f"{duration_s:g} s is longer than this alarm's maximum shelving "
                                            f"time of {d.max_shelve_s:g} s; shelve it for at most that")
    return replace(s, shelving=kind, shelved_until=now + duration_s, shelve_reason=reason)


def unshelve(d: AlarmDef, s: AlarmState) -> AlarmState:
    """End shelving before its time (Part 9 Unshelve)."""
    if not s.shelved:
        raise AlarmStateError(d.id, "unshelve", "it is not shelved")
    return replace(s, shelving=Shelving.UNSHELVED, shelved_until=None, shelve_reason="")


def remove_from_service(d: AlarmDef, s: AlarmState, reason: str) -> AlarmState:
    """Take the alarm out of service (maintenance, a broken instrument): it is no longer annunciated."""
    if s.out_of_service:
        raise AlarmStateError(d.id, "remove from service", "it is already out of service")
    if not reason.strip():
        raise AlarmStateError(d.id, "remove from service", "taking an alarm out of service needs a reason")
    return replace(s, out_of_service=True, out_of_service_reason=reason)


def return_to_service(d: AlarmDef, s: AlarmState) -> AlarmState:
    """Put an out-of-service alarm back; if its condition is active it shows as it stands."""
    if not s.out_of_service:
        raise AlarmStateError(d.id, "return to service", "it is not out of service")
    return replace(s, out_of_service=False, out_of_service_reason="")


def invariant_violations(d: AlarmDef, s: AlarmState) -> list[str]:
    """What is wrong with ``s`` if no sequence of legal steps can reach it (empty when it is fine).

    Property tests assert it stays empty; :meth:`AlarmEngine.restore` refuses journal states that fail it.
    """
    problems: list[str] = []
    if (s.shelving is Shelving.TIMED) != (s.shelved_until is not None):
        problems.append("an end of shelving goes with timed shelving, and only with it")
    if s.shelved != bool(s.shelve_reason):
        problems.append("shelving and its reason go together")
    if s.out_of_service != bool(s.out_of_service_reason):
        problems.append("out of service and its reason go together")
    if s.latched and not d.latching:
        problems.append("latched although the alarm does not latch")
    if not s.confirmed and not d.confirm:
        problems.append("unconfirmed although the alarm does not use confirmation")
    if (s.active or not s.acked) and s.active_since is None:
        problems.append("active or unacknowledged without an activation time")
    if s.silenced and s.acked:
        problems.append("silenced although acknowledged (only an unacknowledged alarm sounds)")
    return problems
