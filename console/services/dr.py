"""Demand response: the event registry, dispatch, M&V and what each participant is paid (no Qt).

The chain's events are the source of truth of what happened: ``DemandResponseRequested`` (linked to the
operator's command by its transaction hash), ``OptedIn``, ``DeliveryVerified`` and ``CompensationClaimed``.
The console keeps what the chain does not (the operator's OpenADR-shaped metadata, the M&V figure per
participant) in its store. Every event the dashboard shows is :meth:`DrService.events`, derived afresh from
both, so a restarted console shows the same as before.

After an event ends, :meth:`DrService.verify` measures each opted-in participant from the historian (CAISO
10-of-10 over the event's 15-minute intervals, core.dr; baselines of gross load, net meter + metered PV /
wind, :class:`~console.services.dr_measurement.LoadPoints`) and states the verified reduction on chain (whole
Wh, rounded down, never negative) through the one command path (ChainService: permission, audit), once the
participant's meter has read past the end. GridBalance delivers it capped at the request's target, emits the
metered import since the opt-in beside it for audit, and pays pro rata to delivery;
:func:`core.dr.verification.pro_rata_payment` computes what each participant can claim, to the base unit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Any, Protocol

import numpy as np

from console.services.chain import ChainService
from console.services.dr_measurement import (
    INTERVALS_PER_DAY,
    LoadPoints,
    day_start,
    event_intervals,
    measure_event,
)
from core.access import User
from core.chain import ChainEvent, TxRecord, TxState
from core.dr import DrEvent, SignalType
from core.dr.baselines import Array
from core.dr.verification import compensation_base_units, pro_rata_payment
from core.ports import Historian

log = logging.getLogger(__name__)

DR_EVENTS = ("DemandResponseRequested", "OptedIn", "DeliveryVerified", "CompensationClaimed", "UnusedReclaimed")


@dataclass(frozen=True, slots=True)
class DrRequest:
    """The operator's metadata of one request (the chain knows only reduction, duration and compensation)."""

    key: str                       # the requestDemandResponse command key
    created: float
    created_by: str
    target_kw: float
    duration_s: float
    price_per_kwh: int             # base units per verified kWh
    compensation: int              # escrowed: the requested energy at that price
    signal: SignalType = SignalType.DELTA
    level: float = 0.0
    targets: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """The console's M&V of one participant for one event, and the recordDelivery command that stated it."""

    event_key: str
    participant: str               # checksummed address
    name: str
    verified_wh: int | None        # the historian's M&V over the event's intervals, stated on chain as it is
    command_key: str | None
    problem: str | None
    computed: float


class DrStore(Protocol):
    def add_request(self, request: DrRequest) -> None: ...
    def requests(self) -> list[DrRequest]: ...
    def put_delivery(self, record: DeliveryRecord) -> None: ...
    def deliveries(self) -> list[DeliveryRecord]: ...
    def close(self) -> None: ...


class DrChain(Protocol):
    """What DR reads of the chain beyond ChainPort (the gateway implements it)."""

    def record(self, key: str) -> TxRecord | None: ...
    def events_named(self, names: Sequence[str], limit: int = 5000) -> list[ChainEvent]: ...
    async def read(self, contract: str, function: str, *args: object) -> Any: ...


@dataclass(frozen=True, slots=True)
class ParticipantState:
    address: str
    name: str
    opted_in_block: int
    import_at_opt_in_wh: int
    verified_wh: int | None = None      # as the oracle stated it on chain (DeliveryVerified)
    metered_import_wh: int | None = None  # the net meter's import from opt-in to the last reading (audit only)
    delivered_wh: int | None = None     # min(verified, target): what GridBalance pays on
    claimable: int | None = None        # pro rata, as GridBalance pays it (final once verification closes)
    claimed: int | None = None          # paid
    measured_wh: int | None = None      # the console's own M&V over the event intervals
    verify_state: str | None = None     # the recordDelivery command: queued / sent / confirmed / failed: …
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class DrEventState:
    key: str | None                     # the console's command key (None: requested by someone else)
    request: DrRequest | None
    command: TxRecord | None
    request_id: int | None
    start: float | None
    end: float | None
    reduction_w: int
    compensation: int
    participants: tuple[ParticipantState, ...] = field(default=())
    reclaimed: int | None = None

    @property
    def target_wh(self) -> int:
        """GridBalance's targetWh: ceil(reduction × duration / 3600)."""
        if self.start is None or self.end is None:
            return 0
        return -(-self.reduction_w * round(self.end - self.start) // 3600)

    @property
    def total_delivered_wh(self) -> int:
        return sum(p.delivered_wh or 0 for p in self.participants)

    @property
    def paid(self) -> int:
        return sum(p.claimed or 0 for p in self.participants)

    def status(self, now: float) -> str:
        """far / near / active / completed (core.dr) once on chain; else the command's state."""
        if self.request_id is None or self.start is None or self.end is None:
            if self.command is None:
                return "unknown"
            return self.command.state.value + (f": {self.command.error}" if self.command.error else "")
        return self.as_event().status(now).value

    def as_event(self) -> DrEvent:
        assert self.start is not None and self.end is not None
        r = self.request
        return DrEvent(event_id=str(self.request_id or self.key), start=self.start, duration_s=self.end - self.start,
                       target_kw=self.reduction_w / 1000.0, price_per_kwh=r.price_per_kwh if r else 0,
                       signal=r.signal if r else SignalType.DELTA, level=r.level if r else self.reduction_w / 1000.0,
                       notification_s=60.0, targets=r.targets if r else ())


@dataclass(frozen=True, slots=True)
class Progress:
    """The live curve of an event: per settlement interval, the target and the achieved reduction (kW)."""

    starts: tuple[float, ...]
    step_s: float
    target_kw: float
    achieved_kw: Array          # NaN where no participant has readings yet
    measured: int               # participants with a meter and a baseline
    responding: int             # participants opted in


def interval_span(start: float, end: float, tz: tzinfo, intervals: int = INTERVALS_PER_DAY) -> tuple[float, float]:
    """The whole settlement intervals that cover [start, end) (a chain event starts at block time + notice)."""
    day0 = day_start(datetime.fromtimestamp(start, tz).date(), tz)
    step = 86400.0 / intervals
    return day0 + math.floor((start - day0) / step) * step, day0 + math.ceil((end - day0) / step) * step


class DrService:
    """The DR registry and its use cases; runs on the console's loop (store and historian in threads)."""

    def __init__(self, chain: ChainService, gateway: DrChain, store: DrStore, historian: Historian | None,
                 meters: Mapping[str, str | LoadPoints] | Callable[[], Mapping[str, str | LoadPoints]],
                 tz: tzinfo, *,
                 clock: Callable[[], float] = time.time,
                 verify_every_s: float = 30.0) -> None:
        self.chain = chain
        self.gateway = gateway
        self.store = store
        self.historian = historian
        # participant name -> its grid meter's power point in the historian, or LoadPoints with its metered
        # generators' power points too (a callable: the points a driver reports are known only once it has
        # connected)
        self._meters = meters
        self.tz = tz
        self.clock = clock
        self.verify_every_s = verify_every_s
        self._requests: dict[str, DrRequest] = {}
        self._deliveries: dict[tuple[str, str], DeliveryRecord] = {}
        self._names: dict[str, str] = {}   # address -> registered name (MeterReading.participants)
        self._task: asyncio.Task[None] | None = None
        self._closed: set[int] = set()     # requests whose verification window has closed

    @property
    def meters(self) -> Mapping[str, str | LoadPoints]:
        return self._meters() if callable(self._meters) else self._meters

    async def start(self) -> None:
        await self.load()
        if self.verify_every_s > 0:
            self._task = asyncio.create_task(self._verify_loop(), name="dr-verify")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self.store.close)

    async def load(self) -> None:
        requests, deliveries = await asyncio.to_thread(lambda: (self.store.requests(), self.store.deliveries()))
        self._requests = {r.key: r for r in requests}
        self._deliveries = {(d.event_key, d.participant): d for d in deliveries}

    # ---- dispatch ------------------------------------------------------------------------

    async def create(self, target_kw: float, duration_s: float, price_per_kwh: int, *,
                     signal: SignalType = SignalType.DELTA, level: float | None = None,
                     targets: Sequence[str] = (), note: str = "", by: User | None = None) -> DrRequest:
        """Dispatch a DR event through GridBalance.requestDemandResponse (ChainService: permission, audit);
        the escrow is the requested energy at ``price_per_kwh``. Raises ValueError naming the field."""
        if not (math.isfinite(target_kw) and target_kw > 0):
            raise ValueError(f"target reduction must be > 0 kW, got {target_kw!r}")
        if not (math.isfinite(duration_s) and 60 <= duration_s <= 86400 and duration_s == int(duration_s)):
            raise ValueError(f"duration must be whole seconds between 60 s and 24 h, got {duration_s!r}")
        if price_per_kwh <= 0:
            raise ValueError(f"price must be > 0 base units per kWh, got {price_per_kwh}")
        reduction_w = round(target_kw * 1000)
        target_wh = -(-reduction_w * int(duration_s) // 3600)
        compensation = compensation_base_units(target_wh, price_per_kwh)
        if compensation <= 0:
            raise ValueError(f"{target_kw:g} kW for {duration_s:g} s at {price_per_kwh} per kWh pays nothing; "
                             "raise the price")
        actor = by or self.chain.actor
        key = await self.chain.request_demand_response(reduction_w, duration_s, compensation, by=actor)
        request = DrRequest(key, self.clock(), actor.name, target_kw, float(duration_s), price_per_kwh, compensation,
                            signal, target_kw if level is None else level, tuple(targets), note)
        await asyncio.to_thread(self.store.add_request, request)
        self._requests[key] = request
        return request

    # ---- the registry ------------------------------------------------------------------------

    def events(self) -> list[DrEventState]:
        """Every DR event, newest first: the console's requests (also those not yet on chain) and any other
        request seen on chain. No I/O: call it on every refresh."""
        chain_events = self.gateway.events_named(DR_EVENTS)
        by_tx: dict[str, str] = {}
        for k in self._requests:
            rec = self.gateway.record(k)
            if rec is not None and rec.tx_hash:
                by_tx[rec.tx_hash.lower()] = k
        states: dict[int, DrEventState] = {}
        linked: set[str] = set()
        parts: dict[int, dict[str, ParticipantState]] = {}
        for ev in chain_events:
            rid = int(_int(ev.arg("requestId")))
            if ev.name == "DemandResponseRequested":
                key: str | None = by_tx.get(ev.tx_hash.lower())
                if key:
                    linked.add(key)
                states[rid] = DrEventState(key, self._requests.get(key) if key else None,
                                           self.gateway.record(key) if key else None, rid,
                                           float(_int(ev.arg("start"))), float(_int(ev.arg("end"))),
                                           _int(ev.arg("reductionW")), _int(ev.arg("compensation")))
                parts[rid] = {}
                continue
            if rid not in states:
                continue  # an event of a request from before our deployment cursor
            if ev.name == "UnusedReclaimed":
                states[rid] = replace(states[rid], reclaimed=_int(ev.arg("value")))
                continue
            addr = str(ev.arg("participant"))
            p = parts[rid].get(addr)
            if ev.name == "OptedIn":
                parts[rid][addr] = ParticipantState(addr, self._name(addr), ev.block,
                                                    _int(ev.arg("importWh")))
            elif p is not None and ev.name == "DeliveryVerified":
                parts[rid][addr] = replace(p, verified_wh=_int(ev.arg("verifiedWh")),
                                           metered_import_wh=_int(ev.arg("meteredImportWh")),
                                           delivered_wh=_int(ev.arg("deliveredWh")))
            elif p is not None and ev.name == "CompensationClaimed":
                parts[rid][addr] = replace(p, claimed=_int(ev.arg("value")))
        out = []
        for rid, st in states.items():
            event_key = st.key or f"chain-{rid}"
            rows = []
            for p in parts[rid].values():
                d = self._deliveries.get((event_key, p.address))
                if d is not None:
                    rec = self.gateway.record(d.command_key) if d.command_key else None
                    state = None if rec is None else rec.state.value + (f": {rec.error}" if rec.error else "")
                    p = replace(p, name=d.name, measured_wh=d.verified_wh, verify_state=state, problem=d.problem)
                rows.append(p)
            total = sum(p.delivered_wh or 0 for p in rows)
            st = replace(st, participants=tuple(
                replace(p, claimable=pro_rata_payment(st.compensation, p.delivered_wh, total, st.target_wh))
                if p.delivered_wh is not None else p for p in rows))
            out.append(st)
        for key, req in self._requests.items():
            if key not in linked:  # queued, sent, failed or expired: not on chain (yet)
                out.append(DrEventState(key, req, self.gateway.record(key), None, None, None,
                                        round(req.target_kw * 1000), req.compensation))
        return sorted(out, key=lambda s: -(s.start if s.start is not None else (s.request.created if s.request
                                                                                 else 0.0)))

    def event(self, request_id: int) -> DrEventState | None:
        return next((e for e in self.events() if e.request_id == request_id), None)

    # ---- measurement and verification --------------------------------------------------------

    async def verify(self, request_id: int, *, by: User | None = None) -> list[DeliveryRecord]:
        """M&V of every opted-in participant of an ended event, and recordDelivery for each one whose meter has
        read past the end (the rest wait; call again). Returns the records made now."""
        ev = self.event(request_id)
        if ev is None or ev.start is None or ev.end is None:
            raise ValueError(f"DR request {request_id} is not on chain (yet); nothing to verify")
        now = self.clock()
        if now < ev.end:
            raise ValueError(f"DR request {request_id} runs until {_hm(ev.end, self.tz)}; verify after it ends")
        request = await self.gateway.read("GridBalance", "requests", request_id)
        claims_from = float(request[2])
        if now >= claims_from:
            self._closed.add(request_id)
            log.info("DR %s: verification closed at %s; nothing more can be stated", request_id,
                     _hm(claims_from, self.tz))
            return []
        event_key = ev.key or f"chain-{request_id}"
        made = []
        for p in ev.participants:
            if p.delivered_wh is not None:
                continue  # verified on chain already
            existing = self._deliveries.get((event_key, p.address))
            if existing is not None and existing.command_key:
                rec = self.gateway.record(existing.command_key)
                if rec is not None and rec.state is not TxState.FAILED:
                    continue  # stated already; the chain will show it
            record = await self._verify_one(ev, event_key, p, claims_from, by)
            if record is not None:
                made.append(record)
        return made

    async def _verify_one(self, ev: DrEventState, event_key: str, p: ParticipantState, claims_from: float,
                          by: User | None) -> DeliveryRecord | None:
        assert ev.start is not None and ev.end is not None and ev.request_id is not None
        name = self._name(p.address)
        last = int(await self.gateway.read("MeterReading", "lastReadingAt", p.address))
        if last < ev.end:
            log.info("DR %s: %s's meter last read at %s, before the end; verified later", ev.request_id, name,
                     _hm(last, self.tz))
            return None
        point = self.meters.get(name)
        problem: str | None = None
        measured: int | None = None
        if point is None:
            problem = f"no grid meter configured for participant {name!r}: add its [[modbus]] meter"
        elif self.historian is None:
            problem = "no historian: the baseline cannot be computed"
        else:
            measured, problem = await asyncio.to_thread(self._measure, ev, name, point)
        command_key = None
        if measured is not None:
            command_key = await self.chain.record_delivery(ev.request_id, p.address, measured, claims_from, by=by)
        record = DeliveryRecord(event_key, p.address, name, measured, command_key, problem, self.clock())
        before = self._deliveries.get((event_key, p.address))
        if before is not None and replace(before, computed=record.computed) == record:
            return record  # the same finding again (e.g. still no meter): not stored again
        await asyncio.to_thread(self.store.put_delivery, record)
        self._deliveries[(event_key, p.address)] = record
        return record

    def _measure(self, ev: DrEventState, name: str, point: str | LoadPoints) -> tuple[int | None, str | None]:
        """The verified reduction (whole Wh, rounded down, >= 0) over the event's settlement intervals, or
        None and why (no baseline, an interval without readings)."""
        assert ev.start is not None and ev.end is not None and self.historian is not None
        start, end = interval_span(ev.start, ev.end, self.tz)
        aligned = DrEvent(str(ev.request_id), start, end - start, ev.reduction_w / 1000.0, 0)
        (result,) = measure_event(self.historian, aligned, {name: point}, self.tz)
        if result.performance is None:
            return None, result.problem or "no M&V figure"
        return max(0, int(result.verified_wh)), result.problem

    def progress(self, ev: DrEventState) -> Progress | None:
        """Target vs achieved reduction per settlement interval of the event, from the historian (blocking:
        call it from a worker thread). The achieved reduction is the sum over the opted-in participants with a
        meter and a baseline of baseline − metered import; NaN for intervals without readings yet."""
        if self.historian is None or ev.start is None or ev.end is None:
            return None
        start, end = interval_span(ev.start, ev.end, self.tz)
        aligned = DrEvent(str(ev.request_id or ev.key), start, end - start, ev.reduction_w / 1000.0, 0)
        _, first, last = event_intervals(aligned, self.tz)
        step = 86400.0 / INTERVALS_PER_DAY
        known = self.meters
        meters = {p.name: known[p.name] for p in ev.participants if p.name in known}
        rows = []
        for result in measure_event(self.historian, aligned, meters, self.tz):
            if result.baseline is not None and result.actual_kw is not None:
                rows.append(result.baseline.kw[first:last] - result.actual_kw[first:last])
        counted = len(rows)
        if rows:
            stack = np.array(rows)
            achieved = np.where(np.all(np.isnan(stack), axis=0), np.nan, np.nansum(stack, axis=0))
        else:
            achieved = np.full(last - first, np.nan)
        return Progress(tuple(start + i * step for i in range(last - first)), step, ev.reduction_w / 1000.0,
                        achieved, counted, len(ev.participants))

    def _name(self, address: str) -> str:
        """The participant's registered name (MeterReading.ParticipantRegistered), else its address."""
        if address not in self._names:
            for ev in self.gateway.events_named(("ParticipantRegistered",)):
                self._names[str(ev.arg("account"))] = str(ev.arg("name"))
        return self._names.get(address, address)

    async def _verify_loop(self) -> None:
        """Verify ended events as soon as the participants' meters have read past the end."""
        while True:
            await asyncio.sleep(self.verify_every_s)
            now = self.clock()
            for ev in self.events():
                if ev.request_id is None or ev.end is None or now < ev.end or ev.request_id in self._closed:
                    continue
                if all(p.delivered_wh is not None for p in ev.participants):
                    continue
                try:
                    await self.verify(ev.request_id)
                except Exception:
                    log.exception("DR %s: verification failed; retried in %.0f s", ev.request_id,
                                  self.verify_every_s)


def _int(v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"expected an integer chain value, got {v!r}")
    return v


def _hm(ts: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S")

