"""Acquisition: every sample batch → process image, trend buffers, counters.

Runs on the asyncio loop that the drivers call back on; the UI pulls a
snapshot per frame instead of being signalled per sample.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.grid import GridSnapshot, GridState
from core.points import PointDef, Sample
from core.series import SeriesBuffer
from core.sources import ConnectionState, SourceStatus
from core.tamper import TamperEvent

log = logging.getLogger(__name__)

# The console's own ROCOF (the slope of the frequency point, core.frequency): a series, not a point. Its
# name cannot be a configured point id (the config allows only letters, digits and _ . : - in ids), so a
# substation that reports its own ROCOF point ("grid.rocof") never shares its buffer (one trend line, two
# sources, was the defect); AcquisitionService refuses a run-time point of this name too.
ROCOF_SERIES = "<console ROCOF>"


@dataclass(frozen=True, slots=True)
class AcquisitionStats:
    """Counters shown in the status bar and used by the benchmarks."""

    samples: int
    batches: int
    unknown: int
    last_latency_s: float


class AcquisitionService:
    """Receives samples from every driver and keeps what the views need.

    Parameters
    ----------
    state:
        The process image (frequency analytics included).
    history_s, rate_hz:
        Trend memory per point: ``history_s`` seconds at up to ``rate_hz``.
    """

    def __init__(
        self,
        state: GridState,
        history_s: float = 3600.0,
        rate_hz: float = 20.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self._clock = clock
        self._capacity = max(int(history_s * rate_hz), 2)
        # Trend memory only for what a view shows: 5,000 points x 1 h would be gigabytes.
        self.series: dict[str, SeriesBuffer] = {}
        self._statuses: dict[str, SourceStatus] = {}
        self._samples = 0
        self._batches = 0
        self._last_latency = math.nan
        self._listeners: list[Callable[[Sequence[Sample]], None]] = []
        self.events: deque[TamperEvent] = deque(maxlen=500)  # newest last
        self._event_listeners: list[Callable[[TamperEvent], None]] = []
        self._point_listeners: list[Callable[[Sequence[PointDef]], None]] = []
        self._status_listeners: list[Callable[[SourceStatus], None]] = []

    @property
    def points(self) -> Sequence[PointDef]:
        return list(self.state.points.values())

    def trend(self, series_id: str) -> SeriesBuffer:
        """The trend buffer of a point (or of ``ROCOF_SERIES``), filled from now on."""
        if series_id not in self.series:
            if series_id != ROCOF_SERIES and series_id not in self.state.points:
                raise KeyError(f"no point {series_id!r} is configured")
            buf = self.series[series_id] = SeriesBuffer(self._capacity)
            if series_id == ROCOF_SERIES:
                self.state.on_rocof = buf.append
        return self.series[series_id]

    def subscribe(self, listener: Callable[[Sequence[Sample]], None]) -> None:
        """Also hand every batch to ``listener`` (historian, alarms...)."""
        self._listeners.append(listener)

    # ---- driver side ------------------------------------------------------

    def on_samples(self, batch: Sequence[Sample]) -> None:
        """Driver callback: fold one batch in. Never raises into the driver."""
        if not batch:
            return
        try:
            derived = self.state.apply(batch)
            if derived:  # a silent source spoke again: the values it had vouched for are back
                batch = [*batch, *derived]
            self._to_trends(batch)
            self._samples += len(batch)
            self._batches += 1
            self._last_latency = self._clock() - batch[-1].source_ts
        except Exception:
            log.exception("acquisition failed on a batch of %d samples", len(batch))
        _notify(self._listeners, batch, "sample")

    def check_stale(self) -> list[Sample]:
        """Apply the staleness rule at console time (:meth:`core.grid.GridState.expire`): the points of a
        silent source turn stale, their trends break and every listener (historian, alarms) gets the
        marks as from a driver. Runs with every snapshot; the marks made, if any."""
        marks = self.state.expire(self._clock())
        if marks:
            log.warning("nothing received for %g s: %d point(s) marked stale (%s, ...)",
                        self.state.stale_after(marks[0].point), len(marks), marks[0].point)
            self._to_trends(marks)
            _notify(self._listeners, marks, "sample")
        return marks

    def _to_trends(self, batch: Sequence[Sample]) -> None:
        for s in batch:
            buf = self.series.get(s.point) if s.point != ROCOF_SERIES else None  # that buffer is on_rocof's alone
            if buf is None:
                continue
            # Trends show only trustworthy values; NaN draws a gap.
            buf.append(s.source_ts, s.value if s.quality.usable else math.nan)

    def register_points(self, defs: Sequence[PointDef]) -> None:
        """Driver callback (:data:`core.ports.PointSink`): points learnt at run time, before their first
        sample; the process image takes their unit, role and access, then every point listener.
        A point named like the console's own ROCOF series is dropped (its samples would join that trend)."""
        if any(d.id == ROCOF_SERIES for d in defs):
            log.error("a driver reported a point %r: that name is the console's own ROCOF series; ignored",
                      ROCOF_SERIES)
            defs = [d for d in defs if d.id != ROCOF_SERIES]
        self.state.define(defs)
        _notify(self._point_listeners, defs, "point")

    def subscribe_points(self, listener: Callable[[Sequence[PointDef]], None]) -> None:
        """Also hand every run-time point definition to ``listener`` (the historian)."""
        self._point_listeners.append(listener)

    def on_event(self, event: TamperEvent) -> None:
        """Driver callback: a meter reading failed a plausibility check."""
        self.events.append(event)
        _notify(self._event_listeners, event, "event")

    def subscribe_events(self, listener: Callable[[TamperEvent], None]) -> None:
        self._event_listeners.append(listener)

    def on_status(self, status: SourceStatus) -> None:
        """Driver callback: a source's connection state changed."""
        previous = self._statuses.get(status.source)
        if previous is None or previous.state is not status.state:
            log.info("source %s: %s%s", status.source, status.state.value,
                     f" ({status.last_error})" if status.last_error else "")
        self._statuses[status.source] = status
        _notify(self._status_listeners, status, "status")

    def subscribe_status(self, listener: Callable[[SourceStatus], None]) -> None:
        """Also hand every source status report to ``listener`` (the alarms: a source lost, a device silent)."""
        self._status_listeners.append(listener)

    # ---- UI side ------------------------------------------------------------

    def snapshot(self) -> GridSnapshot:
        """The grid now, with every source's health (silent sources marked stale first)."""
        self.check_stale()
        return self.state.snapshot(self._clock(), self.statuses())

    def statuses(self) -> list[SourceStatus]:
        """Every source's health as the drivers report it, except that a source connected but silent for its
        staleness rule (:meth:`check_stale`) is shown degraded, "no data": its points are stale."""
        silent = self.state.silent_sources()
        if not silent:
            return list(self._statuses.values())
        return [dataclasses.replace(s, state=ConnectionState.DEGRADED,
                                    last_error=f"connected, but no data for {silent[s.source]:g} s or more: the "
                                               "server answers and publishes nothing (its values are stale)")
                if s.source in silent and s.state is ConnectionState.CONNECTED else s
                for s in self._statuses.values()]

    def stats(self) -> AcquisitionStats:
        return AcquisitionStats(self._samples, self._batches, self.state.unknown_samples, self._last_latency)


def _notify[T](listeners: Sequence[Callable[[T], None]], value: T, what: str) -> None:
    """Hand ``value`` to every listener; one that raises is logged and never stops the others or the driver."""
    for listener in listeners:
        try:
            listener(value)
        except Exception:
            log.exception("%s listener %r failed", what, listener)
