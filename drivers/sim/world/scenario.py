"""Scenarios: timed events played into a running world, from a TOML file.

```toml
[scenario]
name = "demo"
description = "a day in the suburb"

[[events]]
at_s = 120            # simulated seconds after the world started
kind = "trip"         # the interconnection loses `watts` of generation
watts = 1.5e9
```

Event kinds and their keys:

| kind | keys | what happens |
|---|---|---|
| `trip` | `watts` | a generator trip in the interconnection (back after 15 min) |
| `clouds` | `cover` (0..1) | the mean cloud cover moves (a cloud front; 0 = clear sky: noon over-voltage) |
| `island` | — | the breaker at the transformer opens |
| `reconnect` | — | the breaker closes once the synchrocheck allows (retried every tick for 10 min) |
| `community_battery` | `setpoint_w`, `limit_w` (optional) | the grid-forming battery's setpoint (+ discharge) and cap |
| `silent` | `device`, `for_s` (optional) | a Modbus device stops answering (for `for_s` s, else for good) |
| `tamper` | `device`, `share` | a meter reports only `share` of its power and energy |
| `pv_limit` | `share` (0..1) | every PV inverter is curtailed to `share` of its available power |

Errors name the file, the event, the key and what to write.
"""

from __future__ import annotations

import asyncio
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Not at run time: a scenario file is checked before the world is built (and pandapower imported).
if TYPE_CHECKING:
    from drivers.sim.world.modbus_face import WorldModbusServer
    from drivers.sim.world.runner import WorldRunner

log = logging.getLogger(__name__)

RECONNECT_PATIENCE_S = 600.0

# kind -> (required keys, optional keys)
EVENT_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "trip": (("watts",), ()),
    "clouds": (("cover",), ()),
    "island": ((), ()),
    "reconnect": ((), ()),
    "community_battery": (("setpoint_w",), ("limit_w",)),
    "silent": (("device",), ("for_s",)),
    "tamper": (("device", "share"), ()),
    "pv_limit": (("share",), ()),
}
_RANGES = {"cover": (0.0, 1.0), "share": (0.0, 1.0), "watts": (0.0, 1e11), "for_s": (0.0, 1e9),
           "limit_w": (0.0, 1e9), "setpoint_w": (-1e9, 1e9), "device": (1, 247)}


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


class ScenarioError(ValueError):
    """A scenario file that cannot be played; the message names file, event, key and the fix."""


@dataclass(frozen=True, slots=True)
class Event:
    at_s: float
    kind: str
    args: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    events: tuple[Event, ...]


def load_scenario(path: Path) -> Scenario:
    """Read and check ``path``; every problem of the file at once, one a line."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
    return parse_scenario(data, str(path))


def parse_scenario(data: dict[str, Any], where: str) -> Scenario:
    problems: list[str] = []
    unknown = set(data) - {"scenario", "events"}
    if unknown:
        problems.append(f"{where}: unknown top-level key(s) {sorted(unknown)}; a scenario has [scenario] and "
                        "[[events]]")
    head = data.get("scenario", {})
    if not isinstance(head, dict) or not isinstance(head.get("name", ""), str):
        problems.append(f'{where}: [scenario]: write name = "…" (and optionally description = "…")')
        head = {}
    raw = data.get("events", [])
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}: events: no [[events]]; add at least one, e.g. [[events]] at_s = 60 "
                        'kind = "island"')
        raw = []
    events: list[Event] = []
    for i, e in enumerate(raw):
        here = f"{where}: events[{i}]"
        if not isinstance(e, dict):
            problems.append(f"{here}: an event is a table ([[events]] with at_s and kind)")
            continue
        kind = e.get("kind")
        if kind not in EVENT_KEYS:
            problems.append(f"{here}.kind: {kind!r} is not an event; use one of {', '.join(EVENT_KEYS)}")
            continue
        at = e.get("at_s")
        if not isinstance(at, int | float) or isinstance(at, bool) or at < 0:
            problems.append(f"{here}.at_s: write the simulated second (≥ 0) the {kind} happens, e.g. at_s = 60")
            continue
        required, optional = EVENT_KEYS[kind]
        args: dict[str, float] = {}
        for key in set(e) - {"kind", "at_s"} - set(required) - set(optional):
            allowed = ", ".join(required + optional) or "none"
            problems.append(f"{here}.{key}: {_a(kind)} event has no key {key!r} (its keys: {allowed})")
        for key in required + optional:
            if key not in e:
                if key in required:
                    problems.append(f"{here}.{key}: {_a(kind)} event needs {key} (e.g. {key} = "
                                    f"{_RANGES[key][1] if key != 'setpoint_w' else 0})")
                continue
            value = e[key]
            lo, hi = _RANGES[key]
            if not isinstance(value, int | float) or isinstance(value, bool) or not lo <= value <= hi:
                problems.append(f"{here}.{key}: {value!r} is not a number within {lo:g}–{hi:g}")
                continue
            args[key] = float(value)
        events.append(Event(float(at), kind, args))
    if problems:
        raise ScenarioError("\n".join(problems))
    return Scenario(str(head.get("name", Path(where).stem)), str(head.get("description", "")),
                    tuple(sorted(events, key=lambda ev: ev.at_s)))


class ScenarioPlayer:
    """Plays a scenario's events into a running world at their simulated instants."""

    def __init__(self, scenario: Scenario, runner: WorldRunner, modbus: WorldModbusServer | None = None) -> None:
        self.scenario, self.runner, self.modbus = scenario, runner, modbus
        self.played: list[tuple[float, Event]] = []  # (simulated second it took effect, event)
        self._task: asyncio.Task[None] | None = None
        self._later: set[asyncio.Task[None]] = set()
        for e in scenario.events:
            if e.kind in ("silent", "tamper"):
                if modbus is None:
                    raise ScenarioError(f"scenario {scenario.name}: a {e.kind} event needs the Modbus face")
                modbus.device(int(e.args["device"]))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._play(), name="world-scenario")

    async def stop(self) -> None:
        for t in [self._task, *self._later]:
            if t is not None:
                t.cancel()
        self._task = None

    async def done(self) -> None:
        if self._task is not None:
            await self._task

    async def _play(self) -> None:
        start = self.runner.world.clock.t_s
        for e in self.scenario.events:
            while self.runner.snapshot.t_s - start < e.at_s:
                await asyncio.sleep(0.02)
            try:
                await self._apply(e)
            except (RuntimeError, ValueError, KeyError, IndexError) as exc:
                log.warning("scenario %s: %s at %g s failed: %s", self.scenario.name, e.kind, e.at_s, exc)
                continue
            self.played.append((self.runner.snapshot.t_s - start, e))
            log.info("scenario %s: %s %s at %g s", self.scenario.name, e.kind, e.args or "", e.at_s)

    async def _apply(self, e: Event) -> None:
        a, call = e.args, self.runner.call
        if e.kind == "trip":
            await call(lambda w: w.interconnection.trip(w.clock.t_s, a["watts"]))
        elif e.kind == "clouds":
            await call(lambda w: setattr(w, "cloud_mean", a["cover"]))
        elif e.kind == "island":
            await call(lambda w: w.open_breaker())
        elif e.kind == "reconnect":
            await self._reconnect()
        elif e.kind == "community_battery":
            await call(lambda w: w.set_community_battery(a["setpoint_w"], a.get("limit_w")))
        elif e.kind == "pv_limit":
            await call(lambda w: w.set_pv_limit(None, a["share"]))
        elif e.kind == "silent":
            assert self.modbus is not None
            device = int(a["device"])
            self.modbus.set_fault(device, "no_answer")
            if "for_s" in a:
                self._later.add(asyncio.create_task(self._wake(device, a["for_s"])))
        elif e.kind == "tamper":
            assert self.modbus is not None
            self.modbus.set_tamper(int(a["device"]), a["share"])

    async def _reconnect(self) -> None:
        t0 = self.runner.snapshot.t_s
        while True:
            try:
                await self.runner.call(lambda w: w.close_breaker())
                return
            except RuntimeError:
                if self.runner.snapshot.t_s - t0 > RECONNECT_PATIENCE_S:
                    raise
                await asyncio.sleep(0.2)

    async def _wake(self, device: int, after_s: float) -> None:
        t0 = self.runner.snapshot.t_s
        while self.runner.snapshot.t_s - t0 < after_s:
            await asyncio.sleep(0.05)
        assert self.modbus is not None
        self.modbus.set_fault(device, None)
