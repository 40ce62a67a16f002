"""Declarative device profiles: a meter or inverter is a data file, not a class.

The format is documented in ``docs/modbus-profiles.md``. Loading validates
every key and names the file, the key path and the problem.
"""

from __future__ import annotations

import enum
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.quantities import Quantity, UnitError, parse_unit, symbols_of
from core.roles import Role
from drivers.modbus.codec import ByteOrder, DataType, WordOrder

MAX_BLOCK = 125  # registers per read (Modbus limit)
PROFILE_DIR = Path(__file__).resolve().parent.parent / "profiles"


class Table(enum.Enum):
    HOLDING = "holding"
    INPUT = "input"


class ProfileError(ValueError):
    """A profile file cannot be used; the message says where and why, one problem a line."""

    @property
    def problems(self) -> tuple[str, ...]:
        """Each problem: ``FILE: key.path: what is wrong``."""
        return tuple(str(self).splitlines())


@dataclass(frozen=True, slots=True)
class ProfilePoint:
    """One value of a device: where it is and how to read it."""

    id: str
    name: str
    address: int
    dtype: DataType
    unit: str = ""
    table: Table = Table.HOLDING
    words: int = 1
    scale: float = 1.0
    sf: str | None = None  # id of a SunSpec scale-factor point (value × 10**sf)
    poll: str = "default"
    writable: bool = False
    minimum: float = -math.inf
    maximum: float = math.inf
    role: str | None = None  # e.g. energy_import, for plausibility checks
    valid_min: float = -math.inf  # a reading outside [valid_min, valid_max] is garbage: quality bad
    valid_max: float = math.inf

    @property
    def end(self) -> int:
        return self.address + self.words


@dataclass(frozen=True, slots=True)
class Profile:
    """A device type: its points and how to poll them."""

    name: str
    kind: str
    points: tuple[ProfilePoint, ...]
    poll_groups: dict[str, float] = field(default_factory=lambda: {"default": 1.0})
    word_order: WordOrder = WordOrder.BIG
    byte_order: ByteOrder = ByteOrder.BIG
    max_gap: int = 16
    source: str = ""

    def point(self, point_id: str) -> ProfilePoint:
        for p in self.points:
            if p.id == point_id:
                return p
        raise KeyError(f"profile {self.name!r} has no point {point_id!r}")


_PROFILE_KEYS = {"name", "kind", "word_order", "byte_order", "table", "max_gap"}
_POINT_KEYS = {"id", "name", "address", "type", "unit", "table", "words", "scale", "sf", "poll", "access",
               "min", "max", "role", "valid"}
REGISTERS = 0x10000  # addresses 0–65535 in each table

# The quantity a point of a role must measure: a power point in kWh would feed
# energy into the power plausibility check. Roles not listed take any unit.
_ROLE_QUANTITIES = {
    Role.POWER: Quantity.ACTIVE_POWER,
    Role.ENERGY_IMPORT: Quantity.ENERGY,
    Role.ENERGY_EXPORT: Quantity.ENERGY,
    Role.STATE_OF_CHARGE: Quantity.PERCENT,
    Role.POWER_LIMIT: Quantity.PERCENT,
}


def load_profile(path: str | Path) -> Profile:
    """Read a profile file (TOML); raises :class:`ProfileError`.

    A relative path is taken from the working directory, else from the
    profiles shipped with EnergyNet (``drivers/profiles``)."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        shipped = PROFILE_DIR / path
        if not shipped.exists():
            raise ProfileError(f"{path}: no such profile in the working directory ({Path.cwd()}) "
                               f"nor among the shipped profiles ({PROFILE_DIR})")
        path = shipped
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the profile: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: not a text file (UTF-8): {exc.reason} at byte {exc.start}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from exc
    return parse_profile(data, str(path))


def parse_profile(data: dict[str, Any], where: str) -> Profile:
    """Validate profile data (already parsed); ``where`` names it in errors.

    Raises one :class:`ProfileError` listing every problem found, one per
    line, each as ``WHERE: key.path: problem``."""
    problems: list[str] = []

    def fail(key: str, problem: str) -> _Problem:
        return _Problem(f"{where}: {key}: {problem}")

    unknown = set(data) - {"profile", "poll_groups", "points"}
    for key in sorted(unknown):
        problems.append(str(fail(key, "unknown section (expected [profile], [poll_groups], [[points]])")))
    head = data.get("profile")
    if not isinstance(head, dict):
        raise ProfileError("\n".join([*problems, str(fail("profile", "the [profile] section is missing"))]))
    problems += _header_problems(head, fail)
    name = str(head.get("name", ""))
    word_order = _choice(head, "word_order", WordOrder, WordOrder.BIG, "profile", fail, problems)
    byte_order = _choice(head, "byte_order", ByteOrder, ByteOrder.BIG, "profile", fail, problems)
    default_table = _choice(head, "table", Table, Table.HOLDING, "profile", fail, problems)
    groups = data.get("poll_groups", {"default": 1.0})
    if not isinstance(groups, dict) or not groups:
        problems.append(str(fail("poll_groups", "must map group names to intervals in seconds")))
        groups = {"default": 1.0}
    for g, interval in groups.items():
        if not _number(interval) or interval <= 0 or not math.isfinite(interval):
            problems.append(str(fail(f"poll_groups.{g}",
                                     f"interval must be a positive number of seconds, got {interval!r}")))
    raw_points = data.get("points")
    if not isinstance(raw_points, list) or not raw_points:
        problems.append(str(fail("points", "at least one [[points]] entry is needed")))
        raw_points = []
    points: list[ProfilePoint] = []
    labels: dict[str, str] = {}
    for i, raw in enumerate(raw_points):
        label = f"points[{i}{' ' + repr(raw.get('id')) if isinstance(raw, dict) and raw.get('id') else ''}]"
        try:
            point = _point(raw, label, default_table, groups, fail)
        except _Problem as exc:
            problems.append(str(exc))
            continue
        if point.id in labels:
            problems.append(str(fail(f"{label}.id", f"point id {point.id!r} is already used by {labels[point.id]}")))
            continue
        labels[point.id] = label
        points.append(point)
    named = {raw.get("id") for raw in raw_points if isinstance(raw, dict) and isinstance(raw.get("id"), str)}
    for p in points:
        if p.sf is not None and p.sf not in named:
            problems.append(str(fail(f"{labels[p.id]}.sf", f"no point {p.sf!r} holds this scale factor")))
    problems += [str(fail(key, problem)) for key, problem in _overlaps(points, labels)]
    if problems:
        raise ProfileError("\n".join(problems))
    max_gap = head.get("max_gap", 16)
    return Profile(name, str(head.get("kind", "device")), tuple(points), {k: float(v) for k, v in groups.items()},
                   word_order, byte_order, max_gap, where)


class _Problem(Exception):
    """One problem of one key (internal: collected into a :class:`ProfileError`)."""


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _header_problems(head: dict[str, Any], fail: Callable[[str, str], _Problem]) -> list[str]:
    problems = [str(fail(f"profile.{key}", "unknown key")) for key in sorted(set(head) - _PROFILE_KEYS)]
    if not isinstance(head.get("name"), str) or not head["name"]:
        problems.append(str(fail("profile.name", "required text is missing")))
    if "kind" in head and not isinstance(head["kind"], str):
        problems.append(str(fail("profile.kind", f"must be text (meter, inverter, battery, device), "
                                                 f"got {head['kind']!r}")))
    max_gap = head.get("max_gap", 16)
    if not isinstance(max_gap, int) or isinstance(max_gap, bool) or not 0 <= max_gap < MAX_BLOCK:
        problems.append(str(fail("profile.max_gap",
                                 f"must be an integer register count from 0 to {MAX_BLOCK - 1}, got {max_gap!r}")))
    return problems


def _choice[E: enum.Enum](d: dict[str, Any], key: str, kind: type[E], default: E, label: str,
             fail: Callable[[str, str], _Problem], problems: list[str] | None = None) -> E:
    """``d[key]`` as a member of ``kind``; a bad value is a problem of ``label.key``
    (raised, or collected into ``problems`` and replaced by the default)."""
    value = d.get(key, default.value)
    try:
        return kind(value)
    except (ValueError, TypeError):
        choices = " or ".join(repr(m.value) for m in kind)
        problem = fail(f"{label}.{key}", f"{value!r} is not a {key.replace('_', ' ')}; use {choices}")
        if problems is None:
            raise problem from None
        problems.append(str(problem))
        return default


def _point(raw: Any, label: str, default_table: Table, groups: dict[str, Any],
           fail: Callable[[str, str], _Problem]) -> ProfilePoint:
    if not isinstance(raw, dict):
        raise fail(label, "must be a table of keys")
    for key in sorted(set(raw) - _POINT_KEYS):
        raise fail(f"{label}.{key}", "unknown key")
    pid = raw.get("id")
    if not isinstance(pid, str) or not pid:
        raise fail(f"{label}.id", "required text is missing")
    for key in ("name", "unit", "sf", "role", "poll"):
        if key in raw and not isinstance(raw[key], str):
            raise fail(f"{label}.{key}", f"must be text, got {raw[key]!r}")
    try:
        dtype = DataType(raw.get("type"))
    except (ValueError, TypeError):
        choices = ", ".join(t.value for t in DataType)
        raise fail(f"{label}.type", f"{raw.get('type')!r} is not a data type; use one of {choices}") from None
    address = raw.get("address")
    if not isinstance(address, int) or isinstance(address, bool) or not 0 <= address < REGISTERS:
        raise fail(f"{label}.address", f"must be a register address 0–{REGISTERS - 1}, got {address!r}")
    words = raw.get("words", dtype.words)
    if dtype is not DataType.STRING and words != dtype.words:
        raise fail(f"{label}.words", f"{dtype.value} occupies {dtype.words} register(s), not {words!r}")
    if not isinstance(words, int) or isinstance(words, bool) or not 1 <= words <= MAX_BLOCK:
        raise fail(f"{label}.words", f"must be 1–{MAX_BLOCK}, got {words!r}")
    if address + words > REGISTERS:
        raise fail(f"{label}.address", f"{dtype.value} at {address} needs registers {address}–{address + words - 1}, "
                                        f"past the last register {REGISTERS - 1}")
    poll = raw.get("poll", next(iter(groups)))
    if poll not in groups:
        raise fail(f"{label}.poll", f"no poll group {poll!r}; groups: {sorted(groups)}")
    access = raw.get("access", "r")
    if access not in ("r", "rw"):
        raise fail(f"{label}.access", f"must be 'r' or 'rw', got {access!r}")
    table = _choice(raw, "table", Table, default_table, label, fail)
    if access == "rw" and table is Table.INPUT:
        raise fail(f"{label}.access", "input registers are read-only")
    scale = raw.get("scale", 1.0)
    if not _number(scale) or scale == 0 or not math.isfinite(scale):
        raise fail(f"{label}.scale", f"must be a non-zero number, got {scale!r}")
    limits = {}
    for key, default in (("min", -math.inf), ("max", math.inf)):
        value = raw.get(key, default)
        if not _number(value) or math.isnan(value):
            raise fail(f"{label}.{key}", f"must be a number, got {value!r}")
        limits[key] = float(value)
    if limits["min"] > limits["max"]:
        raise fail(f"{label}.min", f"min ({limits['min']:g}) is above max ({limits['max']:g})")
    valid = raw.get("valid", [-math.inf, math.inf])
    if (not isinstance(valid, list) or len(valid) != 2 or not all(_number(v) for v in valid)
            or not valid[0] < valid[1]):
        raise fail(f"{label}.valid", f"must be [lowest, highest] plausible value, got {valid!r}")
    unit = raw.get("unit", "")
    try:
        quantity = parse_unit(unit).quantity
    except UnitError as exc:
        raise fail(f"{label}.unit", str(exc)) from None
    role = raw.get("role")
    if role is not None:
        try:
            wanted = _ROLE_QUANTITIES.get(Role.parse(role))
        except ValueError as exc:
            raise fail(f"{label}.role", str(exc)) from None
        if wanted is not None and quantity is not wanted:
            raise fail(f"{label}.unit", f"{unit!r} is a unit of {quantity.value}; a point of role {role!r} takes "
                                        f"{' or '.join(repr(s) for s in symbols_of(wanted))}")
    return ProfilePoint(
        id=pid, name=raw.get("name", pid), address=address, dtype=dtype, unit=unit, table=table, words=words,
        scale=float(scale), sf=raw.get("sf"), poll=poll, writable=access == "rw", minimum=limits["min"],
        maximum=limits["max"], role=role, valid_min=float(valid[0]), valid_max=float(valid[1]),
    )


def _overlaps(points: list[ProfilePoint], labels: dict[str, str]) -> list[tuple[str, str]]:
    """Points sharing a register of one table: each read would decode the other's bits as its own."""
    found: list[tuple[str, str]] = []
    widest: ProfilePoint | None = None  # of the points so far in this table, the one reaching furthest
    for p in sorted(points, key=lambda q: (q.table.value, q.address, q.end)):
        if widest is not None and widest.table is p.table and p.address < widest.end:
            shared = p.address
            found.append((f"{labels[p.id]}.address",
                          f"register {shared} ({p.table.value}) is also read by {labels[widest.id]} "
                          f"(registers {widest.address}–{widest.end - 1}); two points cannot share a register"))
        if widest is None or widest.table is not p.table or p.end > widest.end:
            widest = p
    return found


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: contiguous registers of one table, one poll group."""

    table: Table
    poll: str
    start: int
    count: int
    points: tuple[ProfilePoint, ...]


def plan_blocks(profile: Profile) -> list[Block]:
    """Merge neighbouring points of the same table and poll group into reads
    of at most 125 registers, bridging gaps of up to ``profile.max_gap``."""
    blocks: list[Block] = []
    key = lambda p: (p.poll, p.table.value, p.address)  # noqa: E731
    current: list[ProfilePoint] = []
    for p in sorted(profile.points, key=key):
        if current:
            first, last_end = current[0], max(q.end for q in current)
            if (p.poll != first.poll or p.table is not first.table or p.address - last_end > profile.max_gap
                    or p.end - first.address > MAX_BLOCK):
                blocks.append(_block(current))
                current = []
        current.append(p)
    if current:
        blocks.append(_block(current))
    return blocks


def _block(points: list[ProfilePoint]) -> Block:
    start = points[0].address
    return Block(points[0].table, points[0].poll, start, max(p.end for p in points) - start, tuple(points))
