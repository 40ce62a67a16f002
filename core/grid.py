"""The grid as the operator sees it: latest values folded into snapshots.

:class:`GridState` is the process image. It takes every sample (in batches)
and hands out an immutable :class:`GridSnapshot` once per UI tick.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from core.bands import Band, FrequencyBands, VoltageBands, classify_limits
from core.frequency import FrequencyEvent, FrequencyEventTracker, RocofEstimator
from core.points import PointDef, PointKind, Quality, Sample
from core.sources import SourceStatus


class Reading(NamedTuple):
    """Latest known value of one point with its quality and band (a NamedTuple
    for the same reason as :class:`~core.points.Sample`: one per sample)."""

    point: PointDef
    value: float
    quality: Quality
    source_ts: float
    band: Band

    @property
    def abnormal(self) -> bool:
        """True when the operator must look: bad quality or out of band."""
        return not self.quality.usable or self.band in (Band.ALERT, Band.EMERGENCY)


@dataclass(frozen=True, slots=True)
class GridSnapshot:
    """Everything the control-room view shows at one instant."""

    ts: float
    frequency: Reading | None
    rocof_hz_s: float
    rocof_quality: Quality
    voltages: tuple[Reading, ...]
    demand: Reading | None
    supply: Reading | None
    active_event: FrequencyEvent | None
    last_event: FrequencyEvent | None
    sources: tuple[SourceStatus, ...] = ()
    # Every point's reading at ``ts``: a private copy, read-only.
    readings: Mapping[str, Reading] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def balance_w(self) -> float:
        """Supply minus demand in W (``nan`` if either is unknown)."""
        if self.demand is None or self.supply is None:
            return math.nan
        return self.supply.value - self.demand.value

    def reading(self, point_id: str) -> Reading | None:
        """The reading of a point by id, or None."""
        return self.readings.get(point_id)

    def all_readings(self) -> Iterable[Reading]:
        return self.readings.values()


@dataclass(frozen=True, slots=True)
class StaleWatch:
    """The one staleness rule: once nothing has arrived for ``point`` for ``after_s`` seconds of console
    time (counted from when its newest usable sample *arrived*, as the alarm engine's ``stale_after``
    quality alarm counts), every point in ``covers`` (its source's points) is stale, value kept."""

    point: str
    after_s: float
    covers: frozenset[str]
    source: str = ""  # the source of those points, shown "no data" while silent (empty: none named)


class UnknownPointError(KeyError):
    """A sample named a point that is not configured."""


class GridState:
    """Latest-value process image plus frequency analytics.

    Not thread-safe: feed and read it from the one asyncio loop.
    """

    def __init__(
        self,
        points: Sequence[PointDef],
        frequency_bands: FrequencyBands | None = None,
        voltage_bands: VoltageBands | None = None,
        rocof_window_s: float = 0.5,
        event_tracker: FrequencyEventTracker | None = None,
        quiet_after_s: float = 0.25,
        stale_watches: Sequence[StaleWatch] = (),
    ) -> None:
        self.points = {p.id: p for p in points}
        if len(self.points) != len(points):
            raise ValueError("point ids must be unique")
        self._configured = frozenset(self.points)
        self.frequency_bands = frequency_bands or FrequencyBands()
        self.voltage_bands = voltage_bands or VoltageBands()
        self.rocof = RocofEstimator(rocof_window_s)
        self.events = event_tracker or FrequencyEventTracker(self.frequency_bands.nominal_hz)
        self._latest: dict[str, Reading] = {}
        self._frequency_id = _single(points, PointKind.FREQUENCY)
        self._demand_id = _single(points, PointKind.DEMAND)
        self._supply_id = _single(points, PointKind.SUPPLY)
        self._voltage_ids = [p.id for p in points if p.kind is PointKind.VOLTAGE]
        self.unknown_samples = 0
        # Called with (source_ts, rocof) for every frequency sample, for the ROCOF trend,
        # and, while a healthy frequency stays unchanged, from snapshot() with the held ROCOF.
        self.on_rocof: Callable[[float, float], None] | None = None
        # Report by exception: once nothing has arrived for this long, the frequency held
        # (longer than a publishing interval, so a streaming ramp is not flattened between batches).
        self.quiet_after_s = quiet_after_s
        self._freq_recv_ts = math.nan  # console time the newest usable frequency sample arrived
        self._rocof_emitted_ts = math.nan  # source time of the newest ROCOF handed to on_rocof
        self._watches = {w.point: w for w in stale_watches}
        self._heard: dict[str, float] = {}  # watched point -> console time its newest sample arrived
        # watched point that went silent -> {point it marked stale and that has not reported since: quality before}
        self._expired: dict[str, dict[str, Quality]] = {}

    def apply(self, samples: Iterable[Sample]) -> list[Sample]:
        """Fold a batch of samples into the image (in arrival order).

        Returns the samples the image derived and folded in itself: when a watched point that had gone
        silent (:meth:`expire`) speaks again, the points it had marked stale and that have not reported
        since get their value back with the quality they had, stamped with the watched point's time (a
        server reporting by exception sends nothing for a value that did not change). The caller treats
        them as received (trends, historian), without applying them again."""
        self._fold(samples)
        if not self._expired:
            return []
        restored: list[Sample] = []
        for wid in list(self._expired):
            back = self._latest.get(wid)
            if back is None or not back.quality.usable:
                continue
            for pid, quality in self._expired.pop(wid).items():
                r = self._latest.get(pid)
                if r is not None:
                    restored.append(Sample(pid, r.value, r.point.si_unit, quality, max(back.source_ts, r.source_ts),
                                           self._heard.get(wid, math.nan)))
        self._fold(restored)
        return restored

    def expire(self, now: float) -> list[Sample]:
        """Mark stale every point of a watched point that has been silent for its ``after_s`` at console
        time ``now``: NaN, :attr:`Quality.STALE` (the value shown stays), stamped as the stale-data alarm is: the
        watched point's last source time + ``after_s``. Folds them in and returns them for the caller to treat as
        received (trends break, the historian records them), without applying them again."""
        marks: list[Sample] = []
        for wid, w in self._watches.items():
            if wid in self._expired:
                continue
            r = self._latest.get(wid)
            heard = self._heard.get(wid)
            if r is None or heard is None or not r.quality.usable or now - heard + 1e-9 < w.after_s:
                continue
            at = r.source_ts + w.after_s  # the alarm's stamp: when the silence reached after_s, in the source's frame
            ours = [Sample(pid, math.nan, p.point.si_unit, Quality.STALE, max(p.source_ts, at), now)
                    for pid in sorted(w.covers | {wid})
                    if (p := self._latest.get(pid)) is not None and p.quality.usable]
            before = {m.point: self._latest[m.point].quality for m in ours}
            heard_before = self._heard.get(wid)
            self._fold(ours)
            if heard_before is not None:
                self._heard[wid] = heard_before  # a mark is not news from the source
            self._expired[wid] = {pid: q for pid, q in before.items() if pid != wid}
            marks.extend(ours)
        return marks

    def silent_sources(self) -> dict[str, float]:
        """Sources whose watched point is silent now (marked by :meth:`expire`, not yet heard again): name ->
        the silence that marked them, in s."""
        return {w.source: w.after_s for wid, w in self._watches.items() if wid in self._expired and w.source}

    def stale_after(self, point_id: str) -> float:
        """Seconds of silence after which ``point_id`` and its source's points are stale (``nan``: the point
        is not watched; the console keeps its value as good until the driver reports otherwise)."""
        w = self._watches.get(point_id) or next((w for w in self._watches.values() if point_id in w.covers), None)
        return math.nan if w is None else w.after_s

    def _fold(self, samples: Iterable[Sample]) -> None:
        watches, expired = self._watches, self._expired
        for s in samples:
            if s.point in watches and math.isfinite(s.recv_ts):
                self._heard[s.point] = s.recv_ts
            if expired:
                for marked in expired.values():
                    marked.pop(s.point, None)  # it reported since: its own sample speaks for it
            point = self.points.get(s.point)
            if point is None:
                # Points a driver discovers at run time (SunSpec models, Modbus profiles)
                # join the image as plain points the first time they report.
                point = self.points[s.point] = PointDef(s.point, s.point, s.unit)
                self.unknown_samples += 1
            previous = self._latest.get(s.point)
            value = s.value
            if not math.isfinite(value) and previous is not None and not s.quality.usable:
                value = previous.value  # keep the last value, shown as stale/bad
            self._latest[s.point] = Reading(point, value, s.quality, s.source_ts, self._band(point, value))
            if s.point == self._frequency_id:
                self._feed_frequency(s)

    def define(self, defs: Iterable[PointDef]) -> None:
        """Points a driver learns at run time (a Modbus profile, SunSpec discovery), announced
        before their first sample so readings carry unit, role and access like configured points.
        A configured point keeps its configuration; a run-time point may be redefined."""
        for d in defs:
            if d.id in self._configured:
                continue
            self.points[d.id] = d
            latest = self._latest.get(d.id)
            if latest is not None:
                self._latest[d.id] = latest._replace(point=d)

    def _feed_frequency(self, s: Sample) -> None:
        if not s.quality.usable:
            self.rocof.reset()
            self._freq_recv_ts = math.nan
            rocof = math.nan
        else:
            self.rocof.add(s.source_ts, s.value)
            self._freq_recv_ts = s.recv_ts
            rocof = self.rocof.value
            self.events.add(s.source_ts, s.value, rocof)
        self._emit_rocof(s.source_ts, rocof)

    def _emit_rocof(self, ts: float, rocof: float) -> None:
        """Hand the ROCOF trend one point, keeping its times in order."""
        if self.on_rocof is None:
            return
        if ts <= self._rocof_emitted_ts:
            if math.isfinite(rocof):
                return  # the held trace already reaches past this sample
            ts = self._rocof_emitted_ts  # a gap starts where the trace ended
        self.on_rocof(ts, rocof)
        self._rocof_emitted_ts = ts

    def _held_rocof(self, now: float) -> tuple[float, float]:
        """(source time, ROCOF) with the newest frequency held to ``now``.

        ``now`` is console time, the samples carry the server's: the hold adds
        the console time elapsed since the newest sample *arrived* to its
        source timestamp, so a server clock ahead or behind does not matter.
        """
        last_ts = self.rocof.last_ts
        if not math.isfinite(self._freq_recv_ts):
            return last_ts, self.rocof.value
        ts = last_ts + max(0.0, now - self._freq_recv_ts - self.quiet_after_s)
        return ts, self.rocof.value_at(ts)

    def _band(self, point: PointDef, value: float) -> Band:
        if point.kind is PointKind.FREQUENCY:
            return self.frequency_bands.classify(value)
        if point.kind is PointKind.VOLTAGE:
            return self.voltage_bands.classify(value, point.nominal)
        return classify_limits(value, point.low_limit, point.high_limit)

    def latest(self, point_id: str) -> Reading | None:
        return self._latest.get(point_id)

    def snapshot(self, now: float, sources: Sequence[SourceStatus] = ()) -> GridSnapshot:
        """Immutable view of the current state."""
        freq = self._get(self._frequency_id)
        rocof_ts, rocof = self._held_rocof(now)
        if (freq is not None and freq.quality.usable and rocof_ts > self.rocof.last_ts
                and now - self._freq_recv_ts >= self.quiet_after_s + self.rocof.window_s):
            # The ROCOF trend moves on while the frequency holds, once it has held a whole window: batches
            # that merely arrive late (a busy loop) would otherwise leave held values between the real ones
            # (a second, zigzag line; 90 % of the amplitude off with batches 0.05-0.7 s apart).
            self._emit_rocof(rocof_ts, rocof)
        rocof_quality = Quality.GOOD if math.isfinite(rocof) and freq and freq.quality.usable else (
            freq.quality if freq and not freq.quality.usable else Quality.UNCERTAIN
        )
        return GridSnapshot(
            ts=now,
            frequency=freq,
            rocof_hz_s=rocof,
            rocof_quality=rocof_quality,
            voltages=tuple(r for r in (self._get(i) for i in self._voltage_ids) if r is not None),
            demand=self._get(self._demand_id),
            supply=self._get(self._supply_id),
            active_event=self.events.active,
            last_event=self.events.last,
            sources=tuple(sources),
            readings=MappingProxyType(dict(self._latest)),  # one C-level copy, even for 5,000 points
        )

    def _get(self, point_id: str | None) -> Reading | None:
        return None if point_id is None else self._latest.get(point_id)


def _single(points: Sequence[PointDef], kind: PointKind) -> str | None:
    matches = [p.id for p in points if p.kind is kind]
    if len(matches) > 1:
        raise ValueError(f"only one {kind.value} point may be configured, found {matches}")
    return matches[0] if matches else None
