"""Probes: run field sources for a few seconds and report every point once.

The service knows no driver: it is given a factory that builds the sources
(a :class:`core.ports.SampleSource`) and a catalogue that lists, after the
run, the points those sources serve (:class:`core.probe.ProbePoint`; only the
driver knows the value types, identity strings and discovered models).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.points import Quality, Sample
from core.ports import SampleSink, SampleSource, StatusSink
from core.probe import ProbePoint, to_precision
from core.sources import ConnectionState, SourceStatus


class ProbeFailed(Exception):
    """The probe could not run at all; the message says why."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The last value of one point after a probe.

    ``problem`` says why it has no value (or what its bad value means);
    ``failed`` is false for a point that answered, even with "not implemented".
    """

    device: str
    point: str
    value: float | str | None
    unit: str
    quality: Quality
    source_ts: float | None
    problem: str | None = None
    failed: bool = False


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """Every expected point, and each problem once (sources that failed, then points that failed)."""

    results: tuple[ProbeResult, ...]
    problems: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Every point has a value (or the device said it has none) and no source failed."""
        return bool(self.results) and not self.problems and not any(r.failed for r in self.results)


async def listen[SourceT: SampleSource](
    make: Callable[[SampleSink, StatusSink], SourceT], seconds: float
) -> tuple[dict[str, Sample], dict[str, SourceStatus], SourceT]:
    """Run a source for ``seconds``: the last sample of every point, the last status of every source."""
    latest: dict[str, Sample] = {}
    statuses: dict[str, SourceStatus] = {}

    def keep(batch: Sequence[Sample]) -> None:
        for s in batch:
            latest[s.point] = s

    source = make(keep, lambda st: statuses.__setitem__(st.source, st))
    await source.start()
    try:
        await asyncio.sleep(seconds)
        final, last = dict(latest), dict(statuses)  # before stop() marks every point stale
    finally:
        await source.stop()
    return final, last, source


async def probe[SourceT: SampleSource](
    make: Callable[[SampleSink, StatusSink], SourceT],
    catalogue: Callable[[SourceT], Sequence[ProbePoint]],
    seconds: float,
) -> ProbeReport:
    """Run the sources for ``seconds`` and report every point the catalogue lists."""
    final, statuses, source = await listen(make, seconds)
    problems: list[str] = []
    down: set[str] = set()
    faults: dict[str, str] = {}
    for st in statuses.values():
        faults.update({f.point: f.message for f in st.faults})
        if st.last_error and st.state not in (ConnectionState.CONNECTED, ConnectionState.DEGRADED):
            down.add(st.source)
            # Say each problem with its source named once.
            problems.append(st.last_error if repr(st.source) in st.last_error else f"{st.source}: {st.last_error}")
    points = list(catalogue(source))
    results = [_result(p, final.get(p.sample_id), faults.get(p.sample_id), seconds) for p in points]
    # A dead source is one problem, not one per point.
    problems += [f"{p.sample_id}: {r.problem}" for p, r in zip(points, results, strict=True)
                 if r.failed and p.device not in down]
    return ProbeReport(tuple(results), tuple(problems))


def _result(p: ProbePoint, sample: Sample | None, fault: str | None, seconds: float) -> ProbeResult:
    if p.text is not None:
        return ProbeResult(p.device, p.point, p.text, p.unit, Quality.GOOD, None)
    if sample is None:
        return ProbeResult(p.device, p.point, None, p.unit, Quality.COMM_FAILURE, None,
                           fault or f"no value within {seconds:g} s", failed=True)
    if math.isfinite(sample.value):
        return ProbeResult(p.device, p.point, to_precision(sample.value / p.factor, p.digits), p.unit, sample.quality,
                           sample.source_ts)
    if fault is None and sample.quality is Quality.BAD and p.bad_means is not None:
        return ProbeResult(p.device, p.point, None, p.unit, sample.quality, sample.source_ts, p.bad_means)
    return ProbeResult(p.device, p.point, None, p.unit, sample.quality, sample.source_ts,
                       fault or f"no value (quality {sample.quality.value})", failed=True)
