"""The one staleness rule of the process image (core.grid.StaleWatch), against hand-computed times."""

from __future__ import annotations

import math

import pytest

from console.services.acquisition import ROCOF_SERIES, AcquisitionService
from core.alarms import AlarmEngine, load_alarms
from core.grid import GridState, StaleWatch
from core.points import PointDef, PointKind, Quality, Sample
from core.sources import ConnectionState, SourceStatus

pytestmark = pytest.mark.unit

POINTS = [PointDef("f", "Frequency", "Hz", PointKind.FREQUENCY, nominal=50.0),
          PointDef("p", "Demand", "W", PointKind.DEMAND), PointDef("q", "Supply", "W", PointKind.SUPPLY),
          PointDef("m", "Meter elsewhere", "W")]
STALE_ALARM = {"id": "f.stale", "point": "f", "type": "quality", "stale_after": 5, "priority": "high",
               "message": "No current data"}


def sample(point: str, value: float, t: float, quality: Quality = Quality.GOOD) -> Sample:
    return Sample(point, value, "W", quality, t, t)  # source and console clocks agree here


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_silent_source_turns_stale_with_the_alarm_and_comes_back_without_a_line_across_the_gap() -> None:
    clock = Clock(1000.0)
    state = GridState(POINTS, stale_watches=[StaleWatch("f", 5.0, frozenset({"f", "p", "q"}), "substation")])
    acq = AcquisitionService(state, history_s=60, rate_hz=10, clock=clock)
    acq.on_status(SourceStatus("substation", "opc.tcp://x", ConnectionState.CONNECTED, 1000.0))
    engine = AlarmEngine(load_alarms([STALE_ALARM]))
    acq.subscribe(engine.feed)
    freq, demand, rocof = acq.trend("f"), acq.trend("p"), acq.trend(ROCOF_SERIES)
    acq.on_samples([sample("f", 50.0, 1000.0), sample("p", 150e3, 1000.0), sample("q", 160e3, 1000.0),
                    sample("m", 7.0, 1000.0)])
    acq.on_samples([sample("f", 50.01, 1001.0)])  # the last frequency sample arrives at 1001.0

    clock.t = 1005.99  # 4.99 s of silence: still live, for the image and the alarm alike
    snap = acq.snapshot()
    assert snap.frequency is not None and snap.frequency.quality is Quality.GOOD
    assert not engine.tick(clock.t)
    clock.t = 1006.0  # 5 s: stale everywhere at once
    snap = acq.snapshot()  # its marks reach the alarm engine like a driver's
    engine.tick(clock.t)
    assert engine.state("f.stale").active
    assert snap.frequency is not None and snap.frequency.quality is Quality.STALE
    assert snap.frequency.value == 50.01  # the last value stays shown, marked
    assert snap.demand is not None and snap.demand.quality is Quality.STALE
    assert snap.supply is not None and snap.supply.quality is Quality.STALE
    assert snap.rocof_quality is Quality.STALE and math.isnan(snap.rocof_hz_s)
    assert snap.reading("m") is not None and snap.reading("m").quality is Quality.GOOD  # another source
    # The driver still says connected; the status shown says it is silent (amber, "no data").
    (shown,) = snap.sources
    assert shown.state is ConnectionState.DEGRADED and "no data for 5 s" in (shown.last_error or "")
    t, v = freq.arrays()
    assert list(t) == [1000.0, 1001.0, 1006.0] and math.isnan(v[-1])  # the line ends at the last sample
    assert math.isnan(demand.arrays()[1][-1]) and math.isnan(rocof.arrays()[1][-1])
    assert not acq.check_stale()  # marked once

    clock.t = 1020.0
    acq.on_samples([sample("f", 49.99, 1020.0)])  # the source speaks again, demand unchanged (by exception)
    snap = acq.snapshot()
    assert snap.frequency is not None and snap.frequency.quality is Quality.GOOD
    assert [s.state for s in snap.sources] == [ConnectionState.CONNECTED]
    assert snap.demand is not None and (snap.demand.quality, snap.demand.value) == (Quality.GOOD, 150e3)
    t, v = demand.arrays()
    assert list(t) == [1000.0, 1006.0, 1020.0] and math.isnan(v[1]) and v[2] == 150e3  # gap, then back
    t, v = freq.arrays()
    assert list(t[-2:]) == [1006.0, 1020.0] and math.isnan(v[-2])  # no line from 50.01 to 49.99
    assert not engine.state("f.stale").active  # the alarm cleared on the same sample


def test_a_point_that_reported_during_the_silence_is_not_overwritten_when_the_source_returns() -> None:
    clock = Clock(0.0)
    state = GridState(POINTS, stale_watches=[StaleWatch("f", 5.0, frozenset({"f", "p", "q"}))])
    acq = AcquisitionService(state, clock=clock)
    acq.on_samples([sample("f", 50.0, 0.0), sample("p", 100.0, 0.0), sample("q", 120.0, 0.0)])
    clock.t = 6.0
    acq.snapshot()
    acq.on_samples([sample("p", 90.0, 6.5, Quality.BAD)])  # its own news during the silence
    acq.on_samples([sample("f", 50.0, 8.0)])
    snap = acq.snapshot()
    assert snap.demand is not None and (snap.demand.quality, snap.demand.value) == (Quality.BAD, 90.0)
    assert snap.supply is not None and (snap.supply.quality, snap.supply.value) == (Quality.GOOD, 120.0)
