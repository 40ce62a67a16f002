"""`energynet check-config`: everything the console would load, checked before anything runs.

The config itself is validated by :mod:`console.config` (it raises on the first
file it cannot use); this service goes on from valid settings to what the
config only names: the Modbus profile files, the poll groups a device
overrides, the point ids the devices will produce, the chain files. The
profile loader is a port (the console may not import drivers): bootstrap
passes the real one in.

Every problem is a line ``FILE: key.path: what is wrong``, FILE being the
config or the profile the key is in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from console.config import Settings
from core.sources import ModbusDeviceSpec

SUNSPEC = "sunspec"


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    """What check-config needs to know of a loaded profile."""

    name: str
    point_ids: tuple[str, ...]
    poll_groups: tuple[str, ...]


class ProfileInvalid(Exception):
    """A profile cannot be used; each of ``problems`` names the file, the key and the problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


ProfileLoader = Callable[[str], ProfileSummary]
"""Loads the profile file at a path; raises :class:`ProfileInvalid`."""


@dataclass(frozen=True, slots=True)
class ConfigCheck:
    """The outcome: problems (none = the console can load it) and what was counted."""

    where: str
    problems: tuple[str, ...]
    opcua_sources: int
    opcua_points: int
    profile_devices: int
    profiles: int
    profile_points: int
    sunspec_devices: int
    historian: str
    chain: str

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line of counts, e.g. ``site.toml: OK — 2 OPC-UA sources (14 points), …``."""
        opcua = (f"{_count(self.opcua_sources, 'OPC-UA source')} ({_count(self.opcua_points, 'point')})"
                 if self.opcua_sources else "no OPC-UA sources")
        devices = self.profile_devices + self.sunspec_devices
        if not devices:
            modbus = "no Modbus devices"
        else:
            parts = []
            if self.profile_devices:
                parts.append(f"{self.profile_devices} from {_count(self.profiles, 'profile')}, "
                             f"{_count(self.profile_points, 'point')}")
            if self.sunspec_devices:
                parts.append(f"{self.sunspec_devices} SunSpec, discovered at run time")
            modbus = f"{_count(devices, 'Modbus device')} ({'; '.join(parts)})"
        state = "OK" if self.ok else f"{_count(len(self.problems), 'problem')}"
        return f"{self.where}: {state} — {opcua}, {modbus}, historian {self.historian}, chain {self.chain}"


def check(settings: Settings, load_profile: ProfileLoader) -> ConfigCheck:
    """Check what ``settings`` name beyond the config file itself."""
    where = str(settings.path) if settings.path else "<config>"
    problems: list[str] = []
    summaries: dict[str, ProfileSummary] = {}
    profile_devices = [(i, d) for i, d in enumerate(settings.modbus) if d.profile.lower() != SUNSPEC]
    for path in dict.fromkeys(d.profile for _, d in profile_devices):
        try:
            summaries[path] = load_profile(path)
        except ProfileInvalid as exc:
            users = [f"modbus[{i} {d.name!r}]" for i, d in profile_devices if d.profile == path]
            problems += exc.problems
            problems.append(f"{where}: {users[0]}.profile: {path} cannot be used ("
                            f"{_count(len(exc.problems), 'problem')} above)"
                            + (f"; also used by {', '.join(users[1:])}" if users[1:] else ""))
    point_owner = {b.point.id: f"sources[{i} {s.name!r}]" for i, s in enumerate(settings.sources) for b in s.points}
    profile_points = 0
    for i, device in profile_devices:
        summary = summaries.get(device.profile)
        if summary is None:
            continue
        profile_points += len(summary.point_ids)
        problems += _device_problems(where, f"modbus[{i} {device.name!r}]", device, summary, point_owner)
    problems += _chain_problems(where, settings)
    return ConfigCheck(
        where=where,
        problems=tuple(problems),
        opcua_sources=len(settings.sources),
        opcua_points=sum(len(s.points) for s in settings.sources),
        profile_devices=len(profile_devices),
        profiles=len(summaries),
        profile_points=profile_points,
        sunspec_devices=len(settings.modbus) - len(profile_devices),
        historian=_historian(settings),
        chain=f"on ({settings.chain.rpc})" if settings.chain.enabled else "off",
    )


def _device_problems(where: str, key: str, device: ModbusDeviceSpec, profile: ProfileSummary,
                     point_owner: dict[str, str]) -> list[str]:
    problems = [
        f"{where}: {key}.poll.{group}: the profile {profile.name!r} has no poll group {group!r} "
        f"(its groups: {', '.join(profile.poll_groups)})"
        for group, _ in device.poll_overrides if group not in profile.poll_groups
    ]
    for point in profile.point_ids:
        full = f"{device.name}.{point}"
        if full in point_owner:
            problems.append(f"{where}: {key}.name: the device's point {full!r} has the id of a point of "
                            f"{point_owner[full]}; rename the device or that point")
        point_owner[full] = key
    return problems


def _chain_problems(where: str, settings: Settings) -> list[str]:
    chain = settings.chain
    if not chain.enabled:
        return []
    return [
        f"{where}: chain.{key}: no {what} at {path} (relative paths start in the working directory); "
        f"`energynet chain up` or `energynet chain deploy` writes it"
        for key, what, path in (("deployment", "deployment file", chain.deployment),
                                ("keystore", "operator keystore", chain.keystore))
        if not path.is_file()
    ]


def _historian(settings: Settings) -> str:
    h = settings.historian
    if not h.enabled:
        return "off"
    if h.url is None:
        return "sqlite (in the data directory)"
    return "postgresql" if h.url.startswith("postgresql") else "sqlite"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
