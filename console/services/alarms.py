"""Alarm use case: every sample batch through the alarm engine, events to the journal, a snapshot
per frame for the UI, operator commands with the user's name.

Runs on the console's asyncio loop, inside the window and headless alike
(no Qt). The engine is pure; this service owns its clock, the tick that
fires delays and shelving expiry while no sample arrives, and the journal
writer that keeps every event (an unreachable database delays the journal,
never the evaluation, and loses nothing while the queue has room).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from core.access import Action, AuditWriter, PermissionDenied, Role, User, require
from core.alarms import AlarmEngine, AlarmEvent, AlarmKpis, AlarmSnapshot, Shelving, alarm_kpis
from core.alarms.journal import JournalQuery
from core.alarms.kpis import STALE_AFTER_S
from core.alarms.ports import AlarmJournal
from core.points import Sample
from core.tasks import cancel_all_and_wait

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlarmServiceStats:
    """Counters for the status bar and the benchmarks."""

    evaluated: int  # samples fed to the engine
    events: int  # events produced
    journaled: int  # events stored
    queued: int  # events waiting for the journal
    dropped: int  # events lost because the queue overflowed while the journal was down
    journal_ok: bool


class AlarmService:
    """Evaluates alarms and serves their state and commands.

    Parameters
    ----------
    engine:
        The alarm engine with every definition.
    journal:
        Where events go (the SQL store; a test double in tests).
    clock:
        Console time (POSIX s) for ticks and operator actions; samples carry their own time.
    tick_s:
        How often delays, stale data and shelving expiry are checked.
    max_queue:
        Events kept for the journal while it is unreachable; beyond it the oldest are dropped (and counted).
    hold_until_started:
        Keep the samples and conditions that come before :meth:`start` and evaluate them, in order, once
        the journal's states are taken up (the console starts its drivers beside this start, and a
        sample evaluated before the restore would be overwritten by it). Without it they are evaluated
        at once.
    """

    def __init__(self, engine: AlarmEngine, journal: AlarmJournal, clock: Callable[[], float] = time.time,
                 tick_s: float = 0.25, max_queue: int = 200_000, snapshot_max_age_s: float = 1.0,
                 audit: AuditWriter | None = None, hold_until_started: bool = False) -> None:
        self.engine = engine
        # Inputs held until start() (see hold_until_started); None once they go straight to the engine.
        self._held: list[Callable[[], object]] | None = [] if hold_until_started else None
        self.audit = audit  # where refused operator commands are recorded (the alarm journal has the rest)
        self._audit_writes: set[asyncio.Future[None]] = set()
        self.journal = journal
        self._clock = clock
        self.tick_s = tick_s
        self.max_queue = max_queue
        self.snapshot_max_age_s = snapshot_max_age_s
        self._queue: list[AlarmEvent] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._snapshot: AlarmSnapshot | None = None
        self._dirty = True
        self._evaluated = 0
        self._events = 0
        self._journaled = 0
        self._dropped = 0
        self._journal_ok = True
        self._listeners: list[Callable[[Sequence[AlarmEvent]], None]] = []
        self._pollers: list[Callable[[float], None]] = []
        self._stopping = False  # the console is being stopped: inputs are counted, not evaluated
        self._not_evaluated = 0

    # ---- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take up the journal's states (a restart), then start the tick and the journal writer."""
        try:
            states = await asyncio.to_thread(self.journal.latest_states)
        except Exception as e:  # evaluating alarms matters more than restoring them: start from normal
            log.error("alarm journal unreachable at start (%s): alarms start from normal, not from their "
                      "journaled states; events are kept and written when the journal is back", e)
            self._journal_ok = False
            states = {}
        events, skipped = self.engine.restore(states, self._clock())
        if skipped:
            log.warning("journal states of %d alarm(s) not taken up (no longer defined, or their definition "
                        "changed): %s", len(skipped), ", ".join(sorted(skipped)[:20]))
        self._publish(events)
        held, self._held = self._held or [], None
        for evaluate in held:  # what came while the journal was read, in its order
            evaluate()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._tick_loop(), name="alarm-tick"),
                       loop.create_task(self._writer_loop(), name="alarm-journal")]

    def stopping(self) -> None:
        """The console is being stopped (called before any part stops): what the stop itself does to the data
        (each OPC-UA driver's last "stale" marks, sources going away, the chain closing) is no alarm, and
        must not be journaled as one (the next start would take it up: a HIGH "substation stale" alarm and
        the horn at every start). From now on inputs are counted, not evaluated, and time stands still for
        the delays; what was decided before is still journaled by :meth:`stop`."""
        self._stopping = True

    async def stop(self) -> None:
        """Stop ticking and write what is queued (one last try)."""
        self._stopping = True
        if self._not_evaluated:
            log.info("alarms: %d sample(s) and condition(s) after the stop request not evaluated",
                     self._not_evaluated)
        await cancel_all_and_wait(self._tasks)
        self._tasks = []
        if self._audit_writes:
            await asyncio.gather(*self._audit_writes, return_exceptions=True)
        if not await self._flush():
            log.error("alarm journal unreachable at stop: %d events were not written", len(self._queue))

    # ---- inputs ---------------------------------------------------------------------------------------

    def on_samples(self, batch: Sequence[Sample]) -> None:
        """Acquisition listener (``AcquisitionService.subscribe``): evaluate, never block."""
        if self._stopping:
            self._not_evaluated += len(batch)
            return
        if self._held is not None:
            self._held.append(lambda: self.on_samples(batch))
            return
        self._evaluated += len(batch)
        self._publish(self.engine.feed(batch))

    def set_condition(self, alarm: str, active: bool, value: float = math.nan) -> list[AlarmEvent]:
        """Report an external alarm's condition (chain down, settlement failed, historian spooling…); the
        events it caused (none while held until the start)."""
        now = self._clock()
        if self._stopping:
            self._not_evaluated += 1
            return []
        if self._held is not None:
            self._held.append(lambda: self._set_condition(alarm, active, now, value))
            return []
        return self._set_condition(alarm, active, now, value)

    def _set_condition(self, alarm: str, active: bool, now: float, value: float) -> list[AlarmEvent]:
        events = self.engine.set_external(alarm, active, now, value)
        self._publish(events)
        return events

    def add_poller(self, poll: Callable[[float], None]) -> None:
        """Call ``poll(now)`` on every tick, before the engine's (health checks that set external alarms)."""
        self._pollers.append(poll)

    def subscribe(self, listener: Callable[[Sequence[AlarmEvent]], None]) -> None:
        """Also hand every batch of events to ``listener`` (the audit log, an API stream, a horn…)."""
        self._listeners.append(listener)

    # ---- operator commands (raise AlarmStateError / UnknownAlarmError with a message to show, and
    # PermissionDenied, audited, when the user's role may not; a plain name acts as an operator) ------

    def acknowledge(self, alarm: str, user: str | User, comment: str = "") -> AlarmEvent:
        name = self._permit(user, Action.ALARM_ACK, alarm)
        return self._one(self.engine.acknowledge(alarm, name, self._clock(), comment))

    def acknowledge_visible(self, alarms: Iterable[str], user: str | User, comment: str = "") -> list[AlarmEvent]:
        """Acknowledge the page the operator sees; alarms already acknowledged are skipped."""
        alarms = list(alarms)
        name = self._permit(user, Action.ALARM_ACK, ", ".join(alarms))
        events = self.engine.acknowledge_many(alarms, name, self._clock(), comment)
        self._publish(events)
        return events

    def silence(self, alarm: str, user: str | User, comment: str = "") -> AlarmEvent:
        name = self._permit(user, Action.ALARM_SILENCE, alarm)
        return self._one(self.engine.silence(alarm, name, self._clock(), comment))

    def silence_all(self, user: str | User) -> list[AlarmEvent]:
        """The silence key: stop the horn for everything sounding now, without acknowledging."""
        name = self._permit(user, Action.ALARM_SILENCE, "all sounding alarms")
        events = self.engine.silence_all(name, self._clock())
        self._publish(events)
        return events

    def confirm(self, alarm: str, user: str, comment: str = "") -> AlarmEvent:
        return self._one(self.engine.confirm(alarm, user, self._clock(), comment))

    def reset(self, alarm: str, user: str, comment: str = "") -> AlarmEvent:
        return self._one(self.engine.reset(alarm, user, self._clock(), comment))

    def shelve(self, alarm: str, user: str | User, reason: str, duration_s: float | None = None) -> AlarmEvent:
        """Timed shelving for ``duration_s``; one-shot (until it returns to normal) when it is ``None``."""
        name = self._permit(user, Action.ALARM_SHELVE, alarm)
        kind = Shelving.ONE_SHOT if duration_s is None else Shelving.TIMED
        return self._one(self.engine.shelve(alarm, name, self._clock(), kind, reason, duration_s))

    def unshelve(self, alarm: str, user: str | User, comment: str = "") -> AlarmEvent:
        name = self._permit(user, Action.ALARM_SHELVE, alarm)
        return self._one(self.engine.unshelve(alarm, name, self._clock(), comment))

    def remove_from_service(self, alarm: str, user: str, reason: str) -> AlarmEvent:
        return self._one(self.engine.remove_from_service(alarm, user, self._clock(), reason))

    def return_to_service(self, alarm: str, user: str, comment: str = "") -> AlarmEvent:
        return self._one(self.engine.return_to_service(alarm, user, self._clock(), comment))

    def comment(self, alarm: str, user: str, text: str) -> AlarmEvent:
        return self._one(self.engine.comment(alarm, user, self._clock(), text))

    # ---- outputs --------------------------------------------------------------------------------------

    def snapshot(self) -> AlarmSnapshot:
        """The live alarm list; rebuilt only after a change or once it is ``snapshot_max_age_s`` old
        (chattering and flood windows move with time), so pulling it every frame is cheap."""
        now = self._clock()
        snap = self._snapshot
        if snap is None or self._dirty or now - snap.ts >= self.snapshot_max_age_s:
            snap = self._snapshot = self.engine.snapshot(now)
            self._dirty = False
        return snap

    async def query(self, q: JournalQuery) -> list[AlarmEvent]:
        """Search the journal in a worker thread."""
        return await asyncio.to_thread(self.journal.query, q)

    async def kpis(self, t0: float, t1: float, position: str | None = None) -> AlarmKpis:
        """KPIs of ``[t0, t1)`` from the journal; a day before ``t0`` is read too, so alarms standing
        since then count as stale."""
        events = await asyncio.to_thread(self.journal.query,
                                         JournalQuery(t0 - STALE_AFTER_S - 1.0, t1, limit=10_000_000))
        return await asyncio.to_thread(alarm_kpis, events, t0, t1, position)

    def stats(self) -> AlarmServiceStats:
        return AlarmServiceStats(self._evaluated, self._events, self._journaled, len(self._queue), self._dropped,
                                 self._journal_ok)

    # ---- internals ------------------------------------------------------------------------------------

    def _permit(self, user: str | User, action: Action, target: str) -> str:
        """The user's name when their role may do ``action``; else the refusal is audited and raised."""
        actor = user if isinstance(user, User) else User(user, Role.OPERATOR)
        try:
            require(actor, action)
        except PermissionDenied as exc:
            log.warning("refused: %s", exc)
            if self.audit is not None:
                self._write_audit(actor.name, action.value, target, f"refused: {exc}")
            raise
        return actor.name

    def _write_audit(self, user: str, action: str, target: str, result: str) -> None:
        """Off the loop when there is one (a database write); stop() waits for what is in flight."""
        assert self.audit is not None
        write = self.audit.record_audit
        args = (self._clock(), user, action, target, None, None, result)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            write(*args)
            return
        future = loop.run_in_executor(None, write, *args)
        self._audit_writes.add(future)
        future.add_done_callback(self._audit_written)

    def _audit_written(self, future: asyncio.Future[None]) -> None:
        self._audit_writes.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("audit entry of a refused alarm command could not be stored: %s", future.exception())

    def _one(self, event: AlarmEvent) -> AlarmEvent:
        self._publish([event])
        return event

    def _publish(self, events: Sequence[AlarmEvent]) -> None:
        if not events:
            return
        self._dirty = True
        self._events += len(events)
        self._queue.extend(events)
        overflow = len(self._queue) - self.max_queue
        if overflow > 0:
            del self._queue[:overflow]
            self._dropped += overflow
            log.error("alarm journal queue full: dropped the %d oldest events", overflow)
        self._wake.set()
        for listener in self._listeners:
            try:
                listener(events)
            except Exception:
                log.exception("alarm event listener %r failed", listener)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            if self._stopping:
                continue
            now = self._clock()
            for poll in self._pollers:
                try:
                    poll(now)
                except Exception:
                    log.exception("alarm poller %r failed; will run again", poll)
            try:
                self._publish(self.engine.tick(self._clock()))
            except Exception:
                log.exception("alarm tick failed; will run again")

    async def _writer_loop(self) -> None:
        retry_s = 1.0
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not await self._flush():
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, 30.0)
                self._wake.set()
            else:
                retry_s = 1.0

    async def _flush(self) -> bool:
        """Write what is queued; True when the queue is empty afterwards."""
        while self._queue:
            batch = self._queue[:1000]
            try:
                await asyncio.to_thread(self.journal.append, batch)
            except Exception as e:
                if self._journal_ok:
                    log.error("alarm journal unreachable (%s); %d events kept, will retry", e, len(self._queue))
                self._journal_ok = False
                return False
            if not self._journal_ok:
                log.info("alarm journal reachable again; writing %d kept events", len(self._queue))
                self._journal_ok = True
            # the queue may have grown meanwhile (or overflowed and lost part of this batch): remove
            # exactly the events written, by identity
            written = len(batch)
            head = self._queue[:written]
            if len(head) == written and all(a is b for a, b in zip(head, batch, strict=True)):
                del self._queue[:written]
            else:
                ids = {id(e) for e in batch}
                self._queue = [e for e in self._queue if id(e) not in ids]
            self._journaled += written
        return True
