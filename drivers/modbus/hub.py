"""The Modbus hub: one supervised task per device, poll groups, block reads.

Each device has its own TCP connection and task, so a slow or dead device
never delays another's cycle. Within a device every poll group has its own
interval; due groups are read block by block (≤ 125 registers), decoded by
the profile and handed over as one batch of samples. A timeout marks the
device's points stale at once and reconnects with capped, jittered backoff;
a Modbus exception marks only the points of that block bad and names the
device and registers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from core.commands import WriteError, WriteResult
from core.points import PointDef, PointKind, Quality, Sample
from core.ports import PointSink, SampleSink, StatusSink
from core.quantities import UNITS
from core.sources import DEFAULT_RATED_POWER_W, ConnectionState, ModbusDeviceSpec, PointFault, SourceStatus
from core.tamper import MeterPlausibility, MeterRules, TamperEvent
from drivers.backoff import Backoff, wait_or_reachable
from drivers.errors import connect_failure, describe_connection_error
from drivers.modbus.codec import DataType, decode, encode
from drivers.modbus.profile import Block, Profile, ProfileError, Table, load_profile, plan_blocks
from drivers.modbus.sunspec import discover, sunspec_profile
from drivers.tasks import SessionTasks

log = logging.getLogger(__name__)


class _ReportedByTheHub(logging.Filter):
    """pymodbus logs a timed-out request or a refused connection at ERROR/WARNING on its one logger; the hub
    reports each of them itself, naming the device, address and retry ("no answer from … within 1 s;
    retrying"). pymodbus's own lines name no device, so they become debug lines."""

    PREFIXES = ("No response received", "Repeating....", "Failed to connect")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith(self.PREFIXES):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("pymodbus.logging").addFilter(_ReportedByTheHub())

EXCEPTION_NAMES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "device failure", 5: "acknowledge", 6: "device busy", 10: "gateway path unavailable",
                   11: "gateway target failed to respond"}


DEVICE_RATING_POINTS = ("nameplate.WRtg", "settings.WMax")  # SunSpec 120 / 121, W with their scale factors


class ModbusReadError(Exception):
    """The device answered a read with a Modbus exception."""


class DeviceSession:
    """Polls one device for as long as it runs."""

    def __init__(self, spec: ModbusDeviceSpec, on_samples: SampleSink, on_status: StatusSink,
                 clock: Callable[[], float] = time.time, profile: Profile | None = None,
                 on_event: Callable[[TamperEvent], None] | None = None, on_points: PointSink | None = None) -> None:
        self.spec = spec
        self._on_event = on_event
        self._on_points = on_points
        self._announced = False
        self.plausibility = MeterPlausibility(spec.name, MeterRules(spec.rated_power_w, spec.consumer_only))
        # a SunSpec inverter names its own rating (120 WRtg, else 121 WMax): it bounds the counter when the
        # configuration leaves rated_power_w at its default (docs/decisions.md)
        self._rating_from_device = spec.rated_power_w == DEFAULT_RATED_POWER_W
        self.events: list[TamperEvent] = []
        self._on_samples = on_samples
        self._on_status = on_status
        self._clock = clock
        self._backoff = Backoff(spec.reconnect_min_s, spec.reconnect_max_s)
        self.profile = profile
        self.status = SourceStatus(spec.name, f"modbus://{spec.host}:{spec.port}/{spec.device_id}",
                                   ConnectionState.CONNECTING, clock())
        self.identity: dict[str, str] = {}
        self._raw: dict[str, float | None] = {}  # latest decoded values (scale factors included)
        self._seen: dict[str, float] = {}  # point -> time of its newest value (a mark keeps it, as OPC-UA's)
        self._ok = self._failed = 0
        self._latency: float | None = None
        self._reported = 0.0
        self._client: AsyncModbusTcpClient | None = None

    def point_ids(self) -> list[str]:
        return [f"{self.spec.name}.{p.id}" for p in self.profile.points] if self.profile else []

    def point_defs(self) -> list[PointDef]:
        """The device's numeric points as the console knows points: id ``device.point``, the profile's
        name, unit, role and access (text points such as a model name are identity, not samples).
        Samples carry SI: a point the profile gives in kWh is sent in Wh, with the factor 1000."""
        if self.profile is None:
            return []
        return [PointDef(f"{self.spec.name}.{p.id}", f"{self.spec.name}: {p.name}", p.unit, PointKind.OTHER,
                         factor=_si_factor(p.unit), role=p.role, writable=p.writable, si_unit=_si_unit(p.unit))
                for p in self.profile.points if p.dtype is not DataType.STRING]

    def _announce(self) -> None:
        """Hand the point definitions over once, as soon as the profile is known (before any sample)."""
        if self._announced or self.profile is None or self._on_points is None:
            return
        self._announced = True
        self._on_points(self.point_defs())

    async def run(self) -> None:
        self._announce()  # a profile file is known before the device answers
        reconnects = 0
        while True:
            client = AsyncModbusTcpClient(self.spec.host, port=self.spec.port, timeout=self.spec.timeout_s,
                                          retries=0)
            self._client = client
            try:
                await self._serve(client)
            except asyncio.CancelledError:
                client.close()
                self._mark(Quality.STALE)
                self._set(ConnectionState.STOPPED)
                raise
            except Exception as exc:  # this device's trouble stays with this device
                error = _describe(exc, self.spec)
                self._failed += 1
                self._mark(Quality.STALE)
                delay = self._backoff.next_delay()
                reconnects += 1
                log.warning("Modbus device %r: %s; retrying in %.1f s", self.spec.name, error, delay)
                self._set(ConnectionState.DISCONNECTED, last_error=error, reconnects=reconnects, next_retry_s=delay,
                          retry_at=self._clock() + delay)
                client.close()
                # A device that comes back is reconnected within a probe period, not at the end of the delay.
                if await wait_or_reachable(delay, self.spec.host, self.spec.port):
                    log.info("Modbus device %r answers again; reconnecting now", self.spec.name)

    async def _serve(self, client: AsyncModbusTcpClient) -> None:
        if not await client.connect():  # pymodbus says only that it failed: find out why
            raise await connect_failure(self.spec.host, self.spec.port, self.spec.timeout_s)
        if self.profile is None:
            self.profile = await self._load_profile(client)
            self._announce()
        blocks = plan_blocks(self.profile)
        intervals = dict(self.profile.poll_groups)
        intervals.update(dict(self.spec.poll_overrides))
        due = dict.fromkeys(intervals, time.monotonic())
        self._backoff.reset()
        self._set(ConnectionState.CONNECTED, last_error=None, next_retry_s=None, retry_at=None, faults=())
        while True:
            group = min(due, key=lambda g: due[g])
            await asyncio.sleep(max(0.0, due[group] - time.monotonic()))
            due[group] = max(due[group] + intervals[group], time.monotonic())  # skip missed cycles
            await self._poll(client, [b for b in blocks if b.poll == group])

    async def _load_profile(self, client: AsyncModbusTcpClient) -> Profile:
        if self.spec.profile.lower() != "sunspec":
            return load_profile(self.spec.profile)

        async def read(address: int, count: int) -> list[int]:
            return await self._read(client, Table.HOLDING, address, count)

        headers = await discover(read)
        log.info("Modbus device %r: SunSpec models %s", self.spec.name, [h.model_id for h in headers])
        return sunspec_profile(headers, f"SunSpec device {self.spec.name}")

    async def _poll(self, client: AsyncModbusTcpClient, blocks: Sequence[Block]) -> None:
        assert self.profile is not None
        now = self._clock()
        samples: list[Sample] = []
        faults: list[PointFault] = []
        for block in blocks:
            started = time.perf_counter()
            try:
                regs = await self._read(client, block.table, block.start, block.count)
            except ModbusReadError as exc:
                self._failed += 1
                faults.extend(PointFault(f"{self.spec.name}.{p.id}", f"{block.table.value} {p.address}", str(exc))
                              for p in block.points)
                samples.extend(self._sample(p.id, math.nan, p.unit, Quality.BAD, now) for p in block.points)
                continue
            self._ok += 1
            took = (time.perf_counter() - started) * 1000
            self._latency = took if self._latency is None else 0.8 * self._latency + 0.2 * took
            for p in block.points:
                value = decode(regs[p.address - block.start: p.end - block.start], p.dtype,
                               self.profile.word_order, self.profile.byte_order)
                if isinstance(value, str):
                    self.identity[p.id] = value
                    continue
                self._raw[p.id] = value
        failed = {f.point for f in faults}
        if self._rating_from_device:
            self._use_device_rating()
        for block in blocks:
            for p in block.points:
                if p.dtype is DataType.STRING or p.id not in self._raw or f"{self.spec.name}.{p.id}" in failed:
                    continue
                scaled = self._scaled(p.id, self._raw[p.id])
                quality = Quality.GOOD if scaled is not None else Quality.BAD  # None: not implemented
                if scaled is not None and not (math.isfinite(scaled) and p.valid_min <= scaled <= p.valid_max):
                    # Garbage from the device (wrong map, failing electronics): never shown as a value.
                    faults.append(PointFault(f"{self.spec.name}.{p.id}", f"{p.table.value} {p.address}",
                                             f"implausible {p.id} = {scaled:.6g} {p.unit}, outside "
                                             f"{p.valid_min:g}…{p.valid_max:g} {p.unit}"))
                    samples.append(self._sample(p.id, math.nan, p.unit, Quality.BAD, now))
                    continue
                si = math.nan if scaled is None else scaled * _si_factor(p.unit)
                if scaled is not None and p.role and self._implausible(p.id, p.role, si, now):
                    quality = Quality.UNCERTAIN  # flagged: this reading is not settleable
                samples.append(self._sample(p.id, si, p.unit, quality, now))
        if samples:
            self._on_samples(samples)
        state = ConnectionState.DEGRADED if faults else ConnectionState.CONNECTED
        # Report changes at once, and the counters (ok / errors / latency) once a second.
        if (state is not self.status.state or tuple(faults) != self.status.faults
                or time.monotonic() - self._reported >= 1.0):
            self._set(state, faults=tuple(faults), last_error=faults[0].message if faults else None)

    async def write(self, point_id: str, value: float) -> WriteResult:
        """Write one value, read it back and compare; raises :class:`WriteError`
        when the write is not allowed or the device refuses it."""
        where = f"device {self.spec.name!r}"
        if self.profile is None or self._client is None or self.status.state not in (
                ConnectionState.CONNECTED, ConnectionState.DEGRADED):
            raise WriteError(f"{where} is not connected; nothing was written")
        try:
            p = self.profile.point(point_id)
        except KeyError:
            raise WriteError(f"{where} has no point {point_id!r}") from None
        if not p.writable:
            raise WriteError(f"{where}, {point_id}: read-only register ({p.table.value} {p.address}); "
                             "the profile does not allow writing it")
        if not p.minimum <= value <= p.maximum:
            raise WriteError(f"{where}, {point_id}: {value:g} {p.unit} is outside the allowed range "
                             f"{p.minimum:g}–{p.maximum:g} {p.unit}; nothing was written")
        factor = p.scale
        if p.sf is not None:
            sf = self._raw.get(p.sf)
            if sf is None:
                raise WriteError(f"{where}, {point_id}: scale factor {p.sf} unknown yet; try again after a poll")
            factor *= 10.0 ** sf
        old = self._scaled(point_id, self._raw.get(point_id)) if point_id in self._raw else None
        regs = encode(value / factor, p.dtype, self.profile.word_order, self.profile.byte_order, words=p.words)
        rr = await self._client.write_registers(p.address, regs, device_id=self.spec.device_id)
        if rr.isError():
            code = getattr(rr, "exception_code", 0)
            raise WriteError(f"{where}, {point_id}: the device refused the write with Modbus exception {code} "
                             f"({EXCEPTION_NAMES.get(code, 'unknown')}) at holding {p.address}")
        back_regs = await self._read(self._client, Table.HOLDING, p.address, p.words)
        raw_back = decode(back_regs, p.dtype, self.profile.word_order, self.profile.byte_order)
        read_back = None if not isinstance(raw_back, float) else raw_back * factor
        confirmed = read_back is not None and abs(read_back - value) <= abs(factor) / 2
        if read_back is not None:
            self._raw[point_id] = raw_back if isinstance(raw_back, float) else None
        message = (f"{point_id} set to {read_back:g} {p.unit} (confirmed by read-back)" if confirmed else
                   f"{point_id}: wrote {value:g} {p.unit} but read back {read_back!r}: the device did not take it")
        return WriteResult(self.spec.name, point_id, old, value, read_back, confirmed, message)

    def _use_device_rating(self) -> None:
        """Bound the counters by the inverter's own rating (nameplate.WRtg, else settings.WMax) once it is read."""
        assert self.profile is not None
        for pid in DEVICE_RATING_POINTS:
            if pid not in self._raw:
                continue
            rated = self._scaled(pid, self._raw[pid])
            if rated is not None and math.isfinite(rated) and rated > 0:
                if rated != self.plausibility.rules.rated_power_w:
                    log.info("Modbus device %r: energy counters bounded by its own rating %s = %g W",
                             self.spec.name, pid, rated)
                    self.plausibility.rules = replace(self.plausibility.rules, rated_power_w=rated)
                self._rating_from_device = False  # a nameplate: read once, not looked up again every poll
                return

    def _implausible(self, point_id: str, role: str, value: float, now: float) -> bool:
        events = self.plausibility.check(point_id, role, value, now)
        for event in events:
            log.warning("%s", event)
            self.events.append(event)
            if self._on_event is not None:
                self._on_event(event)
        return bool(events)

    def _scaled(self, point_id: str, value: float | None) -> float | None:
        assert self.profile is not None
        if value is None:
            return None
        p = self.profile.point(point_id)
        value *= p.scale
        if p.sf is not None:
            sf = self._raw.get(p.sf)
            if sf is None:
                return None  # the scale factor itself is not implemented
            value *= 10.0 ** sf
        return value

    async def _read(self, client: AsyncModbusTcpClient, table: Table, address: int, count: int) -> list[int]:
        read = client.read_holding_registers if table is Table.HOLDING else client.read_input_registers
        rr = await read(address, count=count, device_id=self.spec.device_id)
        if rr.isError():
            code = getattr(rr, "exception_code", 0)
            raise ModbusReadError(
                f"device {self.spec.name!r} (id {self.spec.device_id} at {self.spec.host}:{self.spec.port}) "
                f"answered Modbus exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')}) for {table.value} "
                f"registers {address}–{address + count - 1}"
            )
        return list(rr.registers)

    def _sample(self, point: str, value: float, unit: str, quality: Quality, now: float) -> Sample:
        self._seen[point] = now
        return Sample(f"{self.spec.name}.{point}", value, _si_unit(unit), quality, now, now)

    def _mark(self, quality: Quality) -> None:
        if self.profile is None:
            return
        now = self._clock()
        # Stamped with each point's newest value's time (received now), as the OPC-UA session marks a loss:
        # the age shown is that of the value on screen, not of the mark.
        self._on_samples([
            Sample(f"{self.spec.name}.{p.id}", math.nan, _si_unit(p.unit),
                   quality if p.id in self._seen else Quality.COMM_FAILURE, self._seen.get(p.id, now), now)
            for p in self.profile.points if p.dtype is not DataType.STRING
        ])

    def _set(self, state: ConnectionState, **changes: Any) -> None:
        now = self._clock()
        since = self.status.since if state is self.status.state else now
        changes.update(reads_ok=self._ok, reads_failed=self._failed, latency_ms=self._latency)
        self._reported = time.monotonic()
        self.status = replace(self.status, state=state, since=since, **changes)
        self._on_status(self.status)


@functools.cache
def _si_unit(unit: str) -> str:
    """The unit samples of a point in ``unit`` carry (Wh for kWh); unknown symbols stay as they are."""
    known = UNITS.get(unit)
    return known.quantity.si or unit if known is not None else unit


@functools.cache
def _si_factor(unit: str) -> float:
    """SI value = value in ``unit`` × this (1 for SI units and for symbols core.quantities does not know;
    check-config rejects those in a profile)."""
    known = UNITS.get(unit)
    return known.factor if known is not None else 1.0


class ModbusHub:
    """All configured Modbus devices. A device whose profile cannot be loaded
    is reported and left out; the others start."""

    def __init__(self, specs: Sequence[ModbusDeviceSpec], on_samples: SampleSink, on_status: StatusSink,
                 clock: Callable[[], float] = time.time,
                 on_event: Callable[[TamperEvent], None] | None = None, on_points: PointSink | None = None) -> None:
        self.sessions: list[DeviceSession] = []
        self.errors: list[str] = []
        for spec in specs:
            profile = None
            if spec.profile.lower() != "sunspec":
                try:
                    profile = load_profile(spec.profile)
                except ProfileError as exc:
                    message = f"device {spec.name!r} not started: {exc}"
                    log.error("%s", message)
                    self.errors.append(message)
                    on_status(SourceStatus(spec.name, f"modbus://{spec.host}:{spec.port}/{spec.device_id}",
                                           ConnectionState.STOPPED, clock(), last_error=message))
                    continue
            self.sessions.append(DeviceSession(spec, on_samples, on_status, clock, profile, on_event, on_points))
        self._tasks = SessionTasks()

    async def start(self) -> None:
        """One task per device; returns at once (connections follow)."""
        self._tasks.start([(f"modbus-{s.spec.name}", s.run) for s in self.sessions])

    async def stop(self) -> None:
        await self._tasks.stop()

    def statuses(self) -> Sequence[SourceStatus]:
        return [s.status for s in self.sessions]

    async def write(self, device: str, point: str, value: float) -> WriteResult:
        """Verified write to one device point (see :meth:`DeviceSession.write`)."""
        for s in self.sessions:
            if s.spec.name == device:
                return await s.write(point, value)
        raise WriteError(f"no Modbus device named {device!r} is configured")


def _describe(exc: BaseException, spec: ModbusDeviceSpec) -> str:
    where = f"{spec.host}:{spec.port} device id {spec.device_id}"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"no answer from {where} within {spec.timeout_s:g} s (timed out)"
    if isinstance(exc, ModbusException):
        text = str(exc)
        if "timeout" in text.lower() or "no response" in text.lower():
            return f"no answer from {where} within {spec.timeout_s:g} s (timed out)"
        return f"{where}: {text}"
    return describe_connection_error(exc, spec.host, spec.port)
