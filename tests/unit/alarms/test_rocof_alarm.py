"""The ROCOF alarm reads the same estimator as the ROCOF readout (GridState): the same window, the same
held value while a report-by-exception frequency stays put, any offset between the source's clock and
the console's."""

from __future__ import annotations

import pytest

from console.config import default_config_path, load
from core.alarms import (
    AlarmConfigError,
    AlarmDef,
    AlarmEngine,
    IsaState,
    LimitCondition,
    LimitKind,
    Priority,
    QualityCondition,
    RateOfChangeCondition,
    load_alarms,
)
from core.grid import GridState
from core.points import PointDef, PointKind, Quality, Sample

OFFSET = -(2.0**20)  # the source's clock is 12 days behind the console's (a simulator on its own date)
STEP = 0.125  # sample spacing; with the offset, every time below is exact in binary
FREQ = PointDef("grid.frequency", "Frequency", "Hz", kind=PointKind.FREQUENCY, nominal=50.0)


def rocof_alarm(window_s: float | None = 0.5, on_delay_s: float = 0.0) -> AlarmDef:
    return AlarmDef("grid.rocof", "grid.frequency", RateOfChangeCondition(0.5, window_s), Priority.HIGH,
                    "ROCOF high", on_delay_s=on_delay_s)


def at(value: float, console_t: float, point: str = "grid.frequency") -> Sample:
    return Sample(point, value, "Hz", Quality.GOOD, console_t + OFFSET, console_t)


def flat(until: float = 100.0) -> list[Sample]:
    return [at(50.0, 99.0 + STEP * k) for k in range(int((until - 99.0) / STEP) + 1)]


def test_noise_that_a_two_sample_rate_calls_an_event_is_no_rocof_alarm() -> None:
    # ±20 mHz of measurement noise every 50 ms: consecutive differences are 40 mHz / 50 ms = 0.8 Hz/s,
    # above the 0.5 Hz/s limit; the 500 ms least-squares slope of a zero-mean square wave stays near 0.
    values = [50.0 + (0.02 if i % 2 else -0.02) for i in range(40)]
    batch = [Sample("grid.frequency", v, "Hz", Quality.GOOD, 100.0 + 0.05 * i, 100.0 + 0.05 * i)
             for i, v in enumerate(values)]
    two_sample = AlarmEngine([rocof_alarm(window_s=None)])
    windowed = AlarmEngine([rocof_alarm()])
    state = GridState([FREQ], rocof_window_s=0.5)
    two_sample.feed(batch)
    windowed.feed(batch)
    state.apply(batch)
    assert two_sample.state("grid.rocof").active
    assert not windowed.state("grid.rocof").active
    assert abs(state.rocof.value) < 0.1  # and the readout says the same


def test_a_ramp_alarms_when_the_readout_passes_the_limit_not_at_its_first_step() -> None:
    # −0.6 Hz/s from t = 100 s. Hand-computed least-squares slopes over the 0.5 s window (5 points,
    # x = 0 … 0.5 s): the 1st ramp sample −0.12, then −0.30, −0.48, and −0.60 once the window holds only
    # the ramp. A two-sample rate would alarm at the first step already (0.6 > 0.5).
    engine = AlarmEngine([rocof_alarm()])
    state = GridState([FREQ], rocof_window_s=0.5)
    engine.feed(flat())
    state.apply(flat())
    seen, active = [], []
    for i in range(1, 7):
        s = at(50.0 - 0.075 * i, 100.0 + STEP * i)
        engine.feed([s])
        state.apply([s])
        seen.append(state.rocof.value)
        active.append(engine.state("grid.rocof").active)
    assert seen == pytest.approx([-0.12, -0.30, -0.48, -0.60, -0.60, -0.60], abs=1e-9)
    assert active == [False, False, False, True, True, True]


def test_a_step_that_then_holds_clears_as_the_readout_decays_on_the_tick() -> None:
    # A 0.5 Hz drop in one sample, then nothing more arrives (the server reports on change only): slope
    # −0.625/0.78125 = −0.8 Hz/s. The readout holds 49.5 Hz up to "now" (0.25 s after the last arrival)
    # and its ROCOF falls back to 0 once the window has passed; the alarm, ticked with the console's
    # clock, agrees with the readout at every tick, whatever the source's clock says.
    engine = AlarmEngine([rocof_alarm()])
    state = GridState([FREQ], rocof_window_s=0.5)
    batch = [*flat(), at(49.5, 100.125)]
    engine.feed(batch)
    state.apply(batch)
    assert state.rocof.value == pytest.approx(-0.8, abs=1e-9)
    assert engine.state("grid.rocof").active
    agreed = []
    for k in range(1, 17):
        now = 100.125 + 0.0625 * k
        engine.tick(now)
        held = state.snapshot(now).rocof_hz_s
        agreed.append((engine.state("grid.rocof").active, abs(held) > 0.5))
    assert all(a == b for a, b in agreed), agreed
    assert [a for a, _ in agreed].index(False) > 0  # it was active for a while, then cleared
    # 0.25 s quiet + 0.5 s window after the step: the window holds only 49.5 Hz
    assert state.snapshot(100.875).rocof_hz_s == 0.0
    assert engine.state("grid.rocof").isa is IsaState.RTN_UNACK


def test_on_delay_and_stale_data_count_console_time_when_the_source_clock_is_far_off() -> None:
    low = AlarmDef("f.low", "grid.frequency", LimitCondition(LimitKind.LOW, 49.8), Priority.MEDIUM, "Low",
                   on_delay_s=1.0)
    stale = AlarmDef("f.stale", "grid.frequency", QualityCondition(stale_after_s=5.0), Priority.HIGH, "Stale")
    engine = AlarmEngine([low, stale])
    assert engine.feed([at(49.7, 100.0)]) == []  # on-delay running
    assert engine.tick(100.5) == []  # 0.5 s of console time: neither the delay nor 5 s of silence passed
    assert engine.tick(100.999) == []
    (ev,) = engine.tick(101.0)
    assert (ev.alarm, ev.state.active, ev.ts) == ("f.low", True, 101.0 + OFFSET)  # stamped in source time
    assert engine.tick(104.999) == []
    (ev,) = engine.tick(105.0)
    assert (ev.alarm, ev.state.active, ev.ts) == ("f.stale", True, 105.0 + OFFSET)


def test_the_configured_rocof_alarm_uses_the_console_window() -> None:
    settings = load(default_config_path())
    rocof = next(d for d in settings.alarms if d.id == "grid.rocof")
    assert isinstance(rocof.condition, RateOfChangeCondition)
    assert rocof.condition.window_s == settings.console.rocof_window_s == 0.5


def test_loader_takes_a_window_or_the_point_default_and_names_a_bad_one() -> None:
    entry = {"id": "r", "point": "grid.frequency", "type": "rate", "limit": 0.5, "priority": "high",
             "message": "ROCOF"}
    (d,) = load_alarms([entry], None, {"grid.frequency": 0.5})
    assert d.condition == RateOfChangeCondition(0.5, 0.5)
    (d,) = load_alarms([{**entry, "window": 1.0}], None, {"grid.frequency": 0.5})
    assert d.condition == RateOfChangeCondition(0.5, 1.0)
    (d,) = load_alarms([{**entry, "point": "p2"}], None, {"grid.frequency": 0.5})
    assert d.condition == RateOfChangeCondition(0.5, None)  # another point: the two-sample rate
    with pytest.raises(AlarmConfigError) as info:
        load_alarms([{**entry, "window": 0}])
    assert info.value.field == "window" and "above 0 s" in str(info.value)
