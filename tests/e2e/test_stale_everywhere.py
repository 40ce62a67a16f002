"""Stale means stale everywhere, against a real OPC-UA server (tests/support/opcua_server.py) that is held
(up and answering, publishing nothing: a stalled data source on a busy machine) and then killed.

The rule, computed by hand: the frequency's newest sample arrived at ``t_last`` (console time); from
``t_last + 5 s`` the stale-data alarm is active *and* every readout of that source (frequency, ROCOF,
demand, supply, balance, the event box) says STALE, and its trends end in a gap (NaN) that no line crosses
when data comes back; before that moment all of them are live."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from console.bootstrap import build_acquisition, build_field_sources
from console.config import parse
from console.services.acquisition import ROCOF_SERIES
from console.ui.grid_view import GridView
from core.alarms import AlarmEngine
from core.points import Quality, Sample
from core.sources import ConnectionState
from tests.conftest import ServerProcess, free_port, until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# The test layout publishes Test.A = 100 + sin(t), Test.B = 200 + sin(t + 1), Test.C = 300 + sin(t + 2) at 20 Hz:
# frequency = 49.5 + A / 200 (50 ± 0.005 Hz), demand B kW, supply C kW.
CONFIG = """
[[sources]]
name = "substation"
endpoint = "{endpoint}"
publishing_interval_ms = 50
sampling_interval_ms = 50
request_timeout_s = 3.0  # a loaded machine must not turn the held server into a lost one
watchdog_interval_s = 0.5
  [[sources.points]]
  id = "grid.frequency"
  node = "ns=2;s=Test.A"
  unit = "Hz"
  kind = "frequency"
  scale = 0.005
  offset = 49.5
  [[sources.points]]
  id = "grid.demand"
  node = "ns=2;s=Test.B"
  unit = "kW"
  kind = "demand"
  [[sources.points]]
  id = "grid.supply"
  node = "ns=2;s=Test.C"
  unit = "kW"
  kind = "supply"

[[alarms]]
id = "world.data.stale"
point = "grid.frequency"
type = "quality"
stale_after = 5
priority = "high"
message = "No current data from the substation (frequency stale or bad)"
"""
AFTER_S = 5.0
SERIES = ("grid.frequency", "grid.demand", "grid.supply", ROCOF_SERIES)


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    s = ServerProcess(free_port()).start()
    yield s
    s.kill()


class Console:
    """The acquisition, the grid view and the alarm engine of one config, on a clock the test reads."""

    def __init__(self, endpoint: str, qtbot) -> None:  # type: ignore[no-untyped-def]
        self.settings = parse(CONFIG.format(endpoint=endpoint), Path("stale.toml"))
        self.now = time.time()
        self.acq = build_acquisition(self.settings, clock=lambda: self.now)
        self.engine = AlarmEngine(self.settings.alarms)
        self.acq.subscribe(self.engine.feed)
        self.last_usable_frequency = math.nan  # console time the newest good frequency sample arrived
        self.acq.subscribe(self._note)
        self.view = GridView(self.acq, self.settings.frequency_bands, self.settings.voltage_bands)
        qtbot.addWidget(self.view)
        self.sources = build_field_sources(self.settings, self.acq)

    def _note(self, batch: list[Sample]) -> None:
        for s in batch:
            if s.point == "grid.frequency" and s.quality.usable:
                self.last_usable_frequency = float(np.fmax(self.last_usable_frequency, s.recv_ts))

    def frame(self) -> None:
        """One UI frame and one alarm tick at the same console time."""
        self.now = time.time()
        self.view.refresh(self.acq.snapshot())
        self.engine.tick(self.now)

    @property
    def alarm(self) -> bool:
        return self.engine.state("world.data.stale").active

    def states(self) -> dict[str, str]:
        v = self.view
        return {"frequency": v.freq_readout.state, "rocof": v.rocof_readout.state, "demand": v.demand_readout.state,
                "supply": v.supply_readout.state, "balance": v.balance_readout.state,
                "event": str(v.event_card.property("state"))}

    def last_values(self) -> dict[str, float]:
        return {name: float(self.acq.series[name].arrays()[1][-1]) for name in SERIES}


def crossing_lines(t: np.ndarray, v: np.ndarray, t0: float, t1: float) -> bool:
    """True if two consecutive finite points straddle (t0, t1): a line would be drawn across it."""
    finite = np.isfinite(v)
    return any(finite[i] and finite[i + 1] and t[i] <= t0 and t[i + 1] >= t1 for i in range(len(t) - 1))


async def frames_until(console: Console, cond, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        console.frame()
        if cond():
            return
        assert time.monotonic() < deadline, f"not reached in {timeout} s: {console.states()}, alarm {console.alarm}"
        await asyncio.sleep(0.1)


async def test_a_held_server_turns_alarm_readouts_and_trends_stale_at_the_same_moment(  # type: ignore[no-untyped-def]
        server: ServerProcess, qtbot) -> None:
    console = Console(server.endpoint, qtbot)
    for name in SERIES:
        console.acq.trend(name)
    await console.sources.start()
    try:
        await frames_until(console, lambda: set(console.states().values()) == {"normal"}, 30)
        assert not console.alarm
        server.hold()  # up and answering, no new value
        t_hold = time.time()
        live_frames = stale_frames = 0
        while True:
            console.frame()
            silent = console.now - console.last_usable_frequency
            expected = "stale" if silent + 1e-9 >= AFTER_S else "normal"
            assert console.states() == dict.fromkeys(console.states(), expected), (silent, console.states())
            assert console.alarm == (expected == "stale"), (silent, console.alarm)
            if expected == "stale":
                stale_frames += 1
                if stale_frames >= 5:
                    break
            else:
                live_frames += 1
            assert time.time() - t_hold < 30, "the held server was never judged stale"
            await asyncio.sleep(0.1)
        assert live_frames > 0  # seen live during the silence's first 5 s, then stale
        status = next(s for s in console.acq.statuses() if s.source == "substation")
        assert status.reconnects == 0  # the session never noticed: the rule did, and the status bar says so
        assert status.state is ConnectionState.DEGRADED and "no data for 5 s" in (status.last_error or "")
        assert all(math.isnan(v) for v in console.last_values().values()), console.last_values()
        assert console.view.freq_readout.tag == "STALE" and console.view.demand_readout.tag == "STALE"
        assert console.view.event_card.text().startswith("STALE")
        gap_from = console.last_usable_frequency

        server.hold()  # data again
        await frames_until(console, lambda: set(console.states().values()) == {"normal"} and not console.alarm, 20)
        assert [s.state for s in console.acq.statuses()] == [ConnectionState.CONNECTED]
        await asyncio.sleep(0.5)
        console.frame()
        for name in SERIES:
            t, v = console.acq.series[name].arrays()
            back = float(t[np.isfinite(v) & (t > gap_from + AFTER_S)][0])
            assert not crossing_lines(t, v, gap_from + 0.2, back - 0.2), f"{name}: a line across the gap"
        # What the trend widgets were handed: the NaN stays in the curves' data (connect="finite" breaks there).
        for trend, name in ((console.view.freq_trend, "grid.frequency"), (console.view.rocof_trend, ROCOF_SERIES),
                            (console.view.power_trend, "grid.demand"), (console.view.power_trend, "grid.supply")):
            t, y = trend.curve_data(name)
            assert np.isnan(y).any() and np.isfinite(y[-1]), name
    finally:
        await console.sources.stop()


async def test_a_killed_server_marks_everything_stale_before_the_alarm_and_both_agree_after(  # type: ignore[no-untyped-def]
        server: ServerProcess, qtbot) -> None:
    console = Console(server.endpoint, qtbot)
    for name in SERIES:
        console.acq.trend(name)
    await console.sources.start()
    try:
        await frames_until(console, lambda: set(console.states().values()) == {"normal"}, 30)
        server.kill()
        # The session notices (connection refused at once, else its watchdog within 3 s): the driver marks STALE.
        await frames_until(console, lambda: console.states()["frequency"] == "stale", 15)
        await frames_until(console, lambda: console.alarm, 15)  # the alarm speaks for the same data
        assert set(console.states().values()) == {"stale"}, console.states()
        assert all(math.isnan(v) for v in console.last_values().values()), console.last_values()
        reading = console.acq.snapshot().frequency
        assert reading is not None and reading.quality is Quality.STALE
    finally:
        await console.sources.stop()


async def test_without_a_window_the_alarm_tick_applies_the_rule_and_the_historian_records_it(  # type: ignore[no-untyped-def]
        server: ServerProcess, tmp_path: Path) -> None:
    """`energynet serve` has no UI frames: the alarm tick marks the held source's points, the historian stores
    the marks (quality 3 = stale, at the time the rule fired) and the alarm is active. With the shipped rule
    (resources/world.toml) suppressing it while the session is lost: a held server is connected, so it alarms."""
    import sqlite3

    from console.bootstrap import build

    db = tmp_path / "h.sqlite"
    stale = 'message = "No current data from the substation (frequency stale or bad)"\n'
    toml = CONFIG.format(endpoint=server.endpoint).replace(
        stale, stale + 'suppress_when = [{ cause = "source.substation.lost" }]\n') + (
        f'\n[historian]\nurl = "sqlite:///{db}"\nspool = "{tmp_path / "spool"}"\nflush_s = 0.2\n')
    assert "cause" in toml
    app = build(parse(toml, tmp_path / "serve.toml"))
    assert app.alarms is not None and app.historian is not None
    await app.start()
    try:
        await until(lambda: (r := app.acquisition.state.latest("grid.frequency")) is not None and r.quality.usable, 30)
        server.hold()
        held = time.time()
        await until(lambda: app.alarms is not None and app.alarms.engine.state("world.data.stale").active, 20)
        r = app.acquisition.state.latest("grid.frequency")  # read without a snapshot: the tick marked it
        assert r is not None and r.quality is Quality.STALE
        demand = app.acquisition.state.latest("grid.demand")
        assert demand is not None and demand.quality is Quality.STALE

        def marks() -> list[tuple[str, int]]:
            with sqlite3.connect(db) as conn:
                return conn.execute("SELECT p.key, s.ts_us FROM samples s JOIN points p ON p.id = s.point_id "
                                    "WHERE s.quality = 3 ORDER BY p.key").fetchall()

        await until(lambda: len(marks()) == 3, 20)
        assert [k for k, _ in marks()] == ["grid.demand", "grid.frequency", "grid.supply"]
        assert all(held + AFTER_S - 1.0 <= ts / 1e6 <= time.time() for _, ts in marks())  # at the time it fired
    finally:
        await app.stop()
