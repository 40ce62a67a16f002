"""Declarative device profiles: a meter or inverter is a data file, not a class.

The format is documented in ``docs/modbus-profiles.md``. Loading validates
every key and names the file, the key path and the problem.
"""

from __future__ import annotations

import enum
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.modbus.codec import ByteOrder, DataType, WordOrder

MAX_BLOCK = 125  # registers per read (Modbus limit)
PROFILE_DIR = Path(__file__).resolve().parent.parent / "profiles"


class Table(enum.Enum):
    HOLDING = "holding"
    INPUT = "input"


class ProfileError(ValueError):
    """A profile file cannot be used; the message says where and why."""


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


def load_profile(path: str | Path) -> Profile:
    """Read a profile file (TOML); raises :class:`ProfileError`."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = PROFILE_DIR / path
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the profile: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from exc
    return parse_profile(data, str(path))


def parse_profile(data: dict[str, Any], where: str) -> Profile:
    """Validate profile data (already parsed); ``where`` names it in errors."""
    def fail(key: str, problem: str) -> ProfileError:
        return ProfileError(f"{where}: {key}: {problem}")

    unknown = set(data) - {"profile", "poll_groups", "points"}
    if unknown:
        raise fail(sorted(unknown)[0], "unknown section (expected [profile], [poll_groups], [[points]])")
    head = data.get("profile")
    if not isinstance(head, dict):
        raise fail("profile", "the [profile] section is missing")
    for key in set(head) - _PROFILE_KEYS:
        raise fail(f"profile.{key}", "unknown key")
    name = _str(head, "name", "profile", fail)
    try:
        word_order = WordOrder(head.get("word_order", "big"))
        byte_order = ByteOrder(head.get("byte_order", "big"))
        default_table = Table(head.get("table", "holding"))
    except ValueError as exc:
        raise fail("profile", f"{exc}; word/byte order is 'big' or 'little', table 'holding' or 'input'") from None
    groups = data.get("poll_groups", {"default": 1.0})
    if not isinstance(groups, dict) or not groups:
        raise fail("poll_groups", "must map group names to intervals in seconds")
    for g, interval in groups.items():
        if not isinstance(interval, int | float) or interval <= 0:
            raise fail(f"poll_groups.{g}", f"interval must be a positive number of seconds, got {interval!r}")
    raw_points = data.get("points")
    if not isinstance(raw_points, list) or not raw_points:
        raise fail("points", "at least one [[points]] entry is needed")
    points: list[ProfilePoint] = []
    for i, raw in enumerate(raw_points):
        label = f"points[{i}{' ' + repr(raw.get('id')) if isinstance(raw, dict) and raw.get('id') else ''}]"
        points.append(_point(raw, label, default_table, groups, fail))
    ids = [p.id for p in points]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise fail("points", f"point ids must be unique, repeated: {dupes}")
    for p in points:
        if p.sf is not None and p.sf not in ids:
            raise fail(f"points[{ids.index(p.id)} {p.id!r}].sf", f"no point {p.sf!r} holds this scale factor")
    max_gap = head.get("max_gap", 16)
    if not isinstance(max_gap, int) or not 0 <= max_gap < MAX_BLOCK:
        raise fail("profile.max_gap", "must be an integer register count from 0 to 124")
    return Profile(name, str(head.get("kind", "device")), tuple(points), {k: float(v) for k, v in groups.items()},
                   word_order, byte_order, max_gap, where)


def _point(raw: Any, label: str, default_table: Table, groups: dict[str, Any], fail: Any) -> ProfilePoint:
    if not isinstance(raw, dict):
        raise fail(label, "must be a table of keys")
    for key in set(raw) - _POINT_KEYS:
        raise fail(f"{label}.{key}", "unknown key")
    pid = _str(raw, "id", label, fail)
    try:
        dtype = DataType(raw.get("type"))
    except ValueError:
        choices = ", ".join(t.value for t in DataType)
        raise fail(f"{label}.type", f"{raw.get('type')!r} is not a data type; use one of {choices}") from None
    address = raw.get("address")
    if not isinstance(address, int) or not 0 <= address <= 0xFFFF:
        raise fail(f"{label}.address", f"must be a register address 0–65535, got {address!r}")
    words = raw.get("words", dtype.words)
    if dtype is not DataType.STRING and words != dtype.words:
        raise fail(f"{label}.words", f"{dtype.value} occupies {dtype.words} register(s), not {words}")
    if not isinstance(words, int) or not 1 <= words <= MAX_BLOCK:
        raise fail(f"{label}.words", f"must be 1–{MAX_BLOCK}")
    poll = raw.get("poll", next(iter(groups)))
    if poll not in groups:
        raise fail(f"{label}.poll", f"no poll group {poll!r}; groups: {sorted(groups)}")
    access = raw.get("access", "r")
    if access not in ("r", "rw"):
        raise fail(f"{label}.access", f"must be 'r' or 'rw', got {access!r}")
    try:
        table = Table(raw.get("table", default_table.value))
    except ValueError:
        raise fail(f"{label}.table", "must be 'holding' or 'input'") from None
    if access == "rw" and table is Table.INPUT:
        raise fail(f"{label}.access", "input registers are read-only")
    scale = raw.get("scale", 1.0)
    if not isinstance(scale, int | float) or scale == 0:
        raise fail(f"{label}.scale", f"must be a non-zero number, got {scale!r}")
    valid = raw.get("valid", [-math.inf, math.inf])
    if (not isinstance(valid, list) or len(valid) != 2 or not all(isinstance(v, int | float) for v in valid)
            or valid[0] >= valid[1]):
        raise fail(f"{label}.valid", f"must be [lowest, highest] plausible value, got {valid!r}")
    return ProfilePoint(
        id=pid, name=str(raw.get("name", pid)), address=address, dtype=dtype, unit=str(raw.get("unit", "")),
        table=table, words=words, scale=float(scale), sf=raw.get("sf"), poll=poll, writable=access == "rw",
        minimum=float(raw.get("min", -math.inf)), maximum=float(raw.get("max", math.inf)), role=raw.get("role"),
        valid_min=float(valid[0]), valid_max=float(valid[1]),
    )


def _str(d: dict[str, Any], key: str, label: str, fail: Any) -> str:
    v = d.get(key)
    if not isinstance(v, str) or not v:
        raise fail(f"{label}.{key}", "required text is missing")
    return v


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
