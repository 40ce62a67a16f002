"""The alarm engine: samples and the clock in, state-machine events out.

Pure and deterministic: no I/O and no clock of its own. Condition timing uses
the samples' ``source_ts``; :meth:`AlarmEngine.tick` takes ``now`` in the same
frame (POSIX seconds) and fires on-delays, off-delays, stale-data alarms and
shelving expiry when no sample arrives (subscriptions report on change only,
so a value that stays high sends nothing more). An event is stamped with the
moment its delay elapsed (``condition change + delay``), whichever call
noticed it, so results do not depend on how often ``tick`` runs.

``tick``'s ``now`` is console time, the samples carry the source's clock,
which may be off (a simulator running on another date, a server without
NTP): time passed since a sample is measured from when it *arrived*
(``recv_ts``), added to its source time, as :class:`core.grid.GridState`
holds the ROCOF. So delays and stale data behave the same with any offset.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence

from core.alarms import state as sm
from core.alarms.definitions import (
    AlarmDef,
    DeviationCondition,
    DiscreteCondition,
    ExternalCondition,
    LimitCondition,
    QualityCondition,
    RateOfChangeCondition,
    SuppressWhenAlarm,
    SuppressWhenCause,
    SuppressWhenPoint,
    SuppressWhenSourceDown,
)
from core.alarms.errors import AlarmConfigError, AlarmStateError, UnknownAlarmError
from core.alarms.flood import FloodMonitor
from core.alarms.kpis import CHATTER_COUNT, CHATTER_WINDOW_S
from core.alarms.snapshot import AlarmSnapshot, AlarmView
from core.alarms.state import AlarmEvent, AlarmState, EventKind, IsaState, Shelving
from core.frequency import RocofEstimator
from core.points import Sample

_EPS = 1e-9
# A windowed rate holds the newest value once nothing has arrived for this long, like GridState's
# ``quiet_after_s`` (report by exception: an unchanged frequency sends nothing, and its ROCOF decays to 0).
HOLD_AFTER_S = 0.25


class _Tracker:
    """Mutable evaluation memory of one alarm (the state itself is an immutable AlarmState)."""

    __slots__ = ("activations", "changed", "changed_at", "d", "last_ts", "last_value", "offset", "pending", "raw",
                 "recv_ts", "rocof", "state", "usable", "value", "view")

    def __init__(self, d: AlarmDef) -> None:
        self.d = d
        self.state: AlarmState = sm.NORMAL
        self.raw = False  # the condition with deadband, before delays
        self.changed_at = -math.inf  # when ``raw`` last changed
        self.pending = False  # raw differs from state.active: a delay is running
        self.value = math.nan  # latest process value
        self.usable = True  # latest sample's quality was usable
        self.last_ts: float | None = None  # latest sample time (rate of change, stale data)
        self.last_value = math.nan
        self.changed = -math.inf  # time of the latest event
        self.activations: deque[float] = deque(maxlen=CHATTER_COUNT)
        self.offset = 0.0  # console time − source time of the latest sample (its clock may be off)
        self.recv_ts = math.nan  # console time the latest sample arrived
        c = d.condition
        self.rocof = (RocofEstimator(c.window_s) if isinstance(c, RateOfChangeCondition) and c.window_s is not None
                      else None)
        # the latest snapshot's view of this alarm and its sort key: reused while nothing changed, so a
        # snapshot of a 1,000-alarm flood builds only the views of the alarms that changed (and the list
        # can tell an unchanged row by identity)
        self.view: tuple[AlarmView, tuple[int, float, str]] | None = None


def _second(pair: tuple[AlarmView, tuple[int, float, str]]) -> tuple[int, float, str]:
    return pair[1]


def _hysteresis(above: bool, x: float, limit: float, deadband: float, was: bool) -> bool:
    """``x`` beyond ``limit`` (above it, or below it); once beyond, back only past ``limit ∓ deadband``."""
    if above:
        return x > (limit - deadband if was else limit)
    return x < (limit + deadband if was else limit)


class AlarmEngine:
    """Evaluates every alarm definition and holds each alarm's state.

    Every method that changes something returns the events it caused, in
    order; the caller journals them. Illegal operator actions raise
    :class:`AlarmStateError` and change nothing.
    """

    def __init__(self, definitions: Sequence[AlarmDef], flood: FloodMonitor | None = None,
                 keep_recent: int = 500) -> None:
        self._trackers: dict[str, _Tracker] = {}
        for d in definitions:
            if d.id in self._trackers:
                raise AlarmConfigError(d.id, "id", "is defined twice; every alarm needs its own id")
            self._trackers[d.id] = _Tracker(d)
        self.flood = flood or FloodMonitor()
        self._by_point: dict[str, list[_Tracker]] = {}
        self._stale: list[_Tracker] = []
        self._windowed: list[_Tracker] = []  # rate alarms over a window: their rate moves on while nothing arrives
        self._suppress_by_alarm: dict[str, list[_Tracker]] = {}
        self._suppress_by_point: dict[str, list[_Tracker]] = {}
        self._suppress_by_cause: dict[str, list[_Tracker]] = {}  # cause alarm → alarms held while its condition holds
        self._source_rule: set[str] = set()
        self._watched: set[str] = set()  # setpoint and suppression points whose latest value we keep
        self._values: dict[str, float] = {}
        self._pending: dict[str, _Tracker] = {}  # ordered: events come out in a deterministic order
        self._timed: dict[str, _Tracker] = {}
        self._listed: dict[str, _Tracker] = {}  # not in plain normal: what the snapshot shows
        self._recent: deque[AlarmEvent] = deque(maxlen=keep_recent)
        for t in self._trackers.values():
            self._index(t)

    def _index(self, t: _Tracker) -> None:
        d, c = t.d, t.d.condition
        if not isinstance(c, ExternalCondition):
            self._by_point.setdefault(d.point, []).append(t)
        if isinstance(c, QualityCondition) and c.stale_after_s is not None:
            self._stale.append(t)
        if t.rocof is not None:
            self._windowed.append(t)
        if isinstance(c, DeviationCondition) and c.setpoint_point is not None:
            self._watched.add(c.setpoint_point)
        for rule in d.suppress_when:
            if isinstance(rule, SuppressWhenAlarm):
                if rule.alarm not in self._trackers:
                    raise AlarmConfigError(d.id, "suppress_when", f"names alarm {rule.alarm!r}, which is not defined")
                self._suppress_by_alarm.setdefault(rule.alarm, []).append(t)
            elif isinstance(rule, SuppressWhenPoint):
                self._suppress_by_point.setdefault(rule.point, []).append(t)
                self._watched.add(rule.point)
            elif isinstance(rule, SuppressWhenSourceDown):
                self._source_rule.add(d.id)
            elif isinstance(rule, SuppressWhenCause):
                if rule.alarm not in self._trackers:
                    raise AlarmConfigError(d.id, "suppress_when", f"names cause {rule.alarm!r}, which is not an "
                                                                  "alarm defined here")
                self._suppress_by_cause.setdefault(rule.alarm, []).append(t)

    # ---- inputs ----------------------------------------------------------------------------------------

    def feed(self, batch: Sequence[Sample]) -> list[AlarmEvent]:
        """Evaluate a batch of samples (SI values) in order; the events it caused."""
        out: list[AlarmEvent] = []
        by_point, watched = self._by_point, self._watched
        for s in batch:
            if s.point in watched:
                self._watch(s, out)
            trackers = by_point.get(s.point)
            if trackers is not None:
                for t in trackers:
                    self._evaluate(t, s, out)
        return out

    def tick(self, now: float) -> list[AlarmEvent]:
        """Let time pass to ``now``: stale data, elapsed delays, expired shelving."""
        out: list[AlarmEvent] = []
        for t in self._stale:
            c = t.d.condition
            assert isinstance(c, QualityCondition) and c.stale_after_s is not None
            if t.last_ts is None:
                t.last_ts = t.recv_ts = now  # never heard of: count from the first tick
            elif self._held(t):
                continue  # its cause speaks (the source is lost): the timer stands still, see _release
            elif not t.raw and now - t.recv_ts + _EPS >= c.stale_after_s:
                self._step(t, True, t.last_ts + c.stale_after_s, out)
        for t in self._windowed:
            self._hold_rate(t, now, out)
        for t in list(self._pending.values()):
            if t.pending:
                delay = t.d.on_delay_s if t.raw else t.d.off_delay_s
                if now - t.offset - t.changed_at + _EPS >= delay:
                    self._fire(t, t.changed_at + delay, out)
        for t in list(self._timed.values()):
            until = t.state.shelved_until
            if until is not None and now + _EPS >= until:
                self._emit(t, EventKind.SHELVING_EXPIRED, until, sm.expire_shelving(t.d, t.state, now), out)
        return out

    def set_external(self, alarm: str, active: bool, ts: float, value: float = math.nan) -> list[AlarmEvent]:
        """Report the condition of an :class:`ExternalCondition` alarm (chain down, settlement failed…)."""
        t = self._tracker(alarm)
        if not isinstance(t.d.condition, ExternalCondition):
            raise AlarmStateError(alarm, "set the condition of", "it is evaluated from its point, not set from outside")
        out: list[AlarmEvent] = []
        t.value = value
        self._step(t, active, ts, out)
        return out

    # ---- evaluation ------------------------------------------------------------------------------------

    def _evaluate(self, t: _Tracker, s: Sample, out: list[AlarmEvent]) -> None:
        c = t.d.condition
        ts = s.source_ts
        t.recv_ts = s.recv_ts
        t.offset = s.recv_ts - ts
        usable = s.quality.usable and math.isfinite(s.value)
        if usable != t.usable:
            t.usable = usable
            if t.d.id in self._source_rule:
                self._refresh_suppression(t, ts, out)
        if isinstance(c, QualityCondition):
            if not s.quality.usable and self._held(t):
                return  # a lost session's marks: the cause's alarm speaks for them
            t.last_ts = ts
            t.value = s.value
            self._step(t, not s.quality.usable, ts, out)
            return
        if not usable:  # a value condition holds its state; the quality alarm speaks for the data
            t.last_value = math.nan
            if t.rocof is not None and not s.quality.usable:
                t.rocof.reset()  # as GridState does: no rate across a gap
            return
        v = s.value
        t.value = v
        if isinstance(c, LimitCondition):
            raw = _hysteresis(c.kind.upper, v, c.limit, t.d.deadband, t.raw)
        elif isinstance(c, DeviationCondition):
            sp = c.setpoint if c.setpoint is not None else self._values.get(c.setpoint_point or "", math.nan)
            if not math.isfinite(sp):
                return  # no setpoint yet
            raw = _hysteresis(True, abs(v - sp), c.limit, t.d.deadband, t.raw)
        elif isinstance(c, RateOfChangeCondition) and t.rocof is not None:
            t.rocof.add(ts, v)
            t.last_ts = ts
            rate = t.rocof.value
            if not math.isfinite(rate):
                return  # the window is not filled yet
            raw = _hysteresis(True, abs(rate), c.limit, t.d.deadband, t.raw)
        elif isinstance(c, RateOfChangeCondition):
            last_ts, last_v = t.last_ts, t.last_value
            t.last_ts, t.last_value = ts, v
            if last_ts is None or ts <= last_ts or not math.isfinite(last_v):
                return
            raw = _hysteresis(True, abs(v - last_v) / (ts - last_ts), c.limit, t.d.deadband, t.raw)
        elif isinstance(c, DiscreteCondition):
            raw = round(v) in c.alarm_states
        else:
            return
        self._step(t, raw, ts, out)

    def _hold_rate(self, t: _Tracker, now: float, out: list[AlarmEvent]) -> None:
        """A windowed rate with the newest value held to ``now`` (in the source's frame), as the readout."""
        est = t.rocof
        assert est is not None
        if not t.usable or not math.isfinite(t.recv_ts) or not math.isfinite(est.last_ts):
            return
        quiet = now - t.recv_ts - HOLD_AFTER_S
        if quiet <= 0:
            return
        ts = est.last_ts + quiet
        rate = est.value_at(ts)
        if math.isfinite(rate):
            c = t.d.condition
            assert isinstance(c, RateOfChangeCondition)
            self._step(t, _hysteresis(True, abs(rate), c.limit, t.d.deadband, t.raw), ts, out)

    def _step(self, t: _Tracker, raw: bool, ts: float, out: list[AlarmEvent]) -> None:
        if raw != t.raw:
            t.raw = raw
            t.changed_at = ts
            for dependent in self._suppress_by_cause.get(t.d.id, ()):
                self._refresh_suppression(dependent, ts, out)
                if not raw:
                    self._release(dependent, ts)
        if raw == t.state.active:
            if t.pending:
                t.pending = False
                self._pending.pop(t.d.id, None)
            return
        delay = t.d.on_delay_s if raw else t.d.off_delay_s
        if ts - t.changed_at + _EPS >= delay:
            self._fire(t, t.changed_at + delay, out)
        elif not t.pending:
            t.pending = True
            self._pending[t.d.id] = t

    def _fire(self, t: _Tracker, ts: float, out: list[AlarmEvent]) -> None:
        if t.pending:
            t.pending = False
            self._pending.pop(t.d.id, None)
        if t.raw:
            new = sm.activate(t.d, t.state, ts)
            t.activations.append(ts)
            if new.annunciated:
                self.flood.record(t.d.position, ts, t.d.id)
            self._emit(t, EventKind.ACTIVATED, ts, new, out, t.value)
        else:
            self._emit(t, EventKind.CLEARED, ts, sm.clear(t.d, t.state), out, t.value)
        for dependent in self._suppress_by_alarm.get(t.d.id, ()):
            self._refresh_suppression(dependent, ts, out)

    def _watch(self, s: Sample, out: list[AlarmEvent]) -> None:
        self._values[s.point] = s.value if s.quality.usable else math.nan
        for t in self._suppress_by_point.get(s.point, ()):
            self._refresh_suppression(t, s.source_ts, out)

    def _refresh_suppression(self, t: _Tracker, ts: float, out: list[AlarmEvent]) -> None:
        want = any(self._rule_holds(t, rule) for rule in t.d.suppress_when)
        if want and not t.state.suppressed:
            self._emit(t, EventKind.SUPPRESSED, ts, sm.suppress(t.d, t.state), out)
        elif not want and t.state.suppressed:
            self._emit(t, EventKind.UNSUPPRESSED, ts, sm.unsuppress(t.d, t.state), out)

    def _held(self, t: _Tracker) -> bool:
        """A cause rule of ``t`` holds (its cause's condition, before that alarm's delay)."""
        return any(isinstance(rule, SuppressWhenCause) and self._trackers[rule.alarm].raw for rule in t.d.suppress_when)

    def _release(self, t: _Tracker, ts: float) -> None:
        """The cause of ``t`` is gone (the source is back, ``ts`` console time): its stale-data timer counts from
        now, as for a point never heard of, so the source's fresh values get ``stale_after`` to arrive."""
        if self._held(t) or not isinstance(t.d.condition, QualityCondition) or t.last_ts is None:
            return
        if not t.raw:
            t.last_ts, t.recv_ts = ts - t.offset, ts

    def _rule_holds(self, t: _Tracker, rule: object) -> bool:
        if isinstance(rule, SuppressWhenAlarm):
            return self._trackers[rule.alarm].state.active
        if isinstance(rule, SuppressWhenCause):
            return self._trackers[rule.alarm].raw
        if isinstance(rule, SuppressWhenPoint):
            v = self._values.get(rule.point, math.nan)
            return math.isfinite(v) and round(v) == rule.equals
        return isinstance(rule, SuppressWhenSourceDown) and not t.usable

    def _emit(self, t: _Tracker, kind: EventKind, ts: float, new: AlarmState, out: list[AlarmEvent],
              value: float = math.nan, user: str | None = None, comment: str = "") -> AlarmEvent:
        t.state = new
        t.changed = ts
        if new.shelving is Shelving.TIMED:
            self._timed[t.d.id] = t
        else:
            self._timed.pop(t.d.id, None)
        if new.isa is IsaState.NORMAL:
            self._listed.pop(t.d.id, None)
        else:
            self._listed[t.d.id] = t
        e = sm.event(t.d, kind, ts, new, value, user, comment)
        out.append(e)
        self._recent.append(e)
        return e

    # ---- operator actions --------------------------------------------------------------------------------

    def _tracker(self, alarm: str) -> _Tracker:
        try:
            return self._trackers[alarm]
        except KeyError:
            raise UnknownAlarmError(alarm) from None

    def _operator(self, alarm: str, action: str, user: str) -> _Tracker:
        t = self._tracker(alarm)
        if not user.strip():
            raise AlarmStateError(alarm, action, "operator actions are audited; give the user's name")
        return t

    def _act(self, t: _Tracker, kind: EventKind, new: AlarmState, now: float, user: str,
             comment: str) -> AlarmEvent:
        return self._emit(t, kind, now, new, [], user=user, comment=comment)

    def acknowledge(self, alarm: str, user: str, now: float, comment: str = "") -> AlarmEvent:
        t = self._operator(alarm, "acknowledge", user)
        return self._act(t, EventKind.ACKNOWLEDGED, sm.acknowledge(t.d, t.state), now, user, comment)

    def acknowledge_many(self, alarms: Iterable[str], user: str, now: float, comment: str = "") -> list[AlarmEvent]:
        """Acknowledge every unacknowledged alarm of ``alarms`` (the visible page); acknowledged ones are skipped."""
        todo = [self._operator(a, "acknowledge", user) for a in alarms]
        return [self.acknowledge(t.d.id, user, now, comment) for t in todo if not t.state.acked]

    def silence(self, alarm: str, user: str, now: float, comment: str = "") -> AlarmEvent:
        t = self._operator(alarm, "silence", user)
        return self._act(t, EventKind.SILENCED, sm.silence(t.d, t.state), now, user, comment)

    def silence_all(self, user: str, now: float) -> list[AlarmEvent]:
        """Silence every alarm that sounds now (the keyboard's silence key)."""
        if not user.strip():
            raise AlarmStateError("*", "silence", "operator actions are audited; give the user's name")
        return [self.silence(t.d.id, user, now) for t in list(self._listed.values()) if t.state.audible]

    def confirm(self, alarm: str, user: str, now: float, comment: str = "") -> AlarmEvent:
        t = self._operator(alarm, "confirm", user)
        return self._act(t, EventKind.CONFIRMED, sm.confirm(t.d, t.state), now, user, comment)

    def reset(self, alarm: str, user: str, now: float, comment: str = "") -> AlarmEvent:
        t = self._operator(alarm, "reset", user)
        return self._act(t, EventKind.RESET, sm.reset(t.d, t.state), now, user, comment)

    def shelve(self, alarm: str, user: str, now: float, kind: Shelving, reason: str,
               duration_s: float | None = None) -> AlarmEvent:
        """Shelve one-shot (``duration_s=None``) or timed; the reason is kept in the state and the event."""
        t = self._operator(alarm, "shelve", user)
        return self._act(t, EventKind.SHELVED, sm.shelve(t.d, t.state, kind, now, duration_s, reason), now, user,
                         reason)

    def unshelve(self, alarm: str, user: str, now: float, comment: str = "") -> AlarmEvent:
        t = self._operator(alarm, "unshelve", user)
        return self._act(t, EventKind.UNSHELVED, sm.unshelve(t.d, t.state), now, user, comment)

    def remove_from_service(self, alarm: str, user: str, now: float, reason: str) -> AlarmEvent:
        t = self._operator(alarm, "remove from service", user)
        return self._act(t, EventKind.REMOVED_FROM_SERVICE, sm.remove_from_service(t.d, t.state, reason), now,
                         user, reason)

    def return_to_service(self, alarm: str, user: str, now: float, comment: str = "") -> AlarmEvent:
        t = self._operator(alarm, "return to service", user)
        return self._act(t, EventKind.RETURNED_TO_SERVICE, sm.return_to_service(t.d, t.state), now, user, comment)

    def comment(self, alarm: str, user: str, now: float, text: str) -> AlarmEvent:
        """Add a comment to the alarm's record (Part 9 AddComment); the state does not change."""
        t = self._operator(alarm, "comment on", user)
        if not text.strip():
            raise AlarmStateError(alarm, "comment on", "the comment is empty")
        return self._act(t, EventKind.COMMENTED, t.state, now, user, text)

    # ---- restart -----------------------------------------------------------------------------------------

    def restore(self, states: Mapping[str, AlarmState], now: float) -> tuple[list[AlarmEvent], list[str]]:
        """Take up the states a journal kept (after a restart): a RESTORED event per alarm, and the ids
        that were skipped (no longer defined, or a state the definition cannot reach, e.g. latched
        after latching was switched off). Conditions are re-evaluated from the next samples."""
        out: list[AlarmEvent] = []
        skipped: list[str] = []
        for alarm, st in states.items():
            t = self._trackers.get(alarm)
            if t is None or sm.invariant_violations(t.d, st):
                skipped.append(alarm)
                continue
            t.raw = st.active
            t.changed_at = now
            t.pending = False
            self._pending.pop(alarm, None)
            self._emit(t, EventKind.RESTORED, now, st, out)
        for alarm in states:  # a cause restored active (a source lost at the stop) suppresses from the start
            for dependent in self._suppress_by_cause.get(alarm, ()):
                self._refresh_suppression(dependent, now, out)
        return out, skipped

    # ---- outputs -----------------------------------------------------------------------------------------

    @property
    def definitions(self) -> list[AlarmDef]:
        return [t.d for t in self._trackers.values()]

    def state(self, alarm: str) -> AlarmState:
        return self._tracker(alarm).state

    def snapshot(self, now: float) -> AlarmSnapshot:
        """Every alarm not in plain normal, most urgent first then newest; floods per position."""
        floods = tuple(self.flood.status(p, now) for p in self.flood.positions())
        first_outs = {f.first_out for f in floods if f.in_flood}
        horizon = now - CHATTER_WINDOW_S
        keyed: list[tuple[AlarmView, tuple[int, float, str]]] = []
        for t in self._listed.values():
            chattering = len(t.activations) == CHATTER_COUNT and t.activations[0] >= horizon
            first_out = t.d.id in first_outs
            cached = t.view
            if cached is not None:
                v = cached[0]
                if (v.state is t.state and v.changed == t.changed and v.value is t.value
                        and v.chattering is chattering and v.first_out is first_out):
                    keyed.append(cached)
                    continue
            v = AlarmView(t.d, t.state, t.value, t.changed, chattering, first_out)
            cached = t.view = (v, (int(t.d.priority), -(t.state.active_since or t.changed), t.d.id))
            keyed.append(cached)
        keyed.sort(key=_second)
        return AlarmSnapshot(now, tuple(v for v, _ in keyed), floods, tuple(self._recent), len(self._trackers))
