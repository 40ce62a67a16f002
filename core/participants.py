"""Participants, their assets, and what each one consumes, produces, stores and trades right now.

A participant (a house, a farm) owns devices: a grid meter, PV or wind
inverters, batteries. The meter sees only the net exchange, so consumption is
reconstructed from it: what the meter imports plus what the generators make,
less what the batteries take in. Values are found by the profile's ``role``
(:class:`core.roles.Role`), never by a vendor's point name, so a meter whose
power register is called ``P_total`` counts like any other.

Sign conventions (those of :class:`~core.roles.Role`): grid + import / −
export; battery + charging / − discharging; generation + production.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from core.grid import Reading
from core.roles import Role
from core.sources import ModbusDeviceSpec

# Consumption is reconstructed from several devices' measurements, each with its own error: below
# −(this floor + this share of the flows) it is not a load but inconsistent data (a generator that is not
# metered, a sign convention the profile got wrong). Within it, a negative consumption is measurement
# error and is shown as 0. The floor is a meter's noise allowance around zero (core.tamper.MeterRules);
# the share that of two class-1 meters (meter and inverter, 1 % each) on the power that flows.
CONSUMPTION_TOLERANCE_W = 50.0
CONSUMPTION_TOLERANCE_SHARE = 0.02
# Power readings of one participant are taken to one instant (PowerAlignment) when their source times
# lie at most this far apart; beyond it one of them is so old that aligning would mean extrapolating,
# and the latest values are used as they are (the stale marks say why).
ALIGN_MAX_SPREAD_S = 5.0
# Interpolate only between samples this close (consecutive polls of the device; the view sees every
# sample at its 4 Hz refresh); further apart, something was missed and the nearer sample is taken.
ALIGN_MAX_BRACKET_S = 2.0
ALIGN_HISTORY = 64  # power samples kept per point: > ALIGN_MAX_SPREAD_S at the fastest poll (0.1 s)
TOTAL = "All participants"


class AssetKind(enum.Enum):
    """What a device is to its participant."""

    METER = "meter"
    PV = "pv"
    WIND = "wind"
    BATTERY = "battery"

    @property
    def label(self) -> str:
        """How the operator calls it."""
        return _LABELS[self]

    @property
    def energy_role(self) -> Role | None:
        """The counter shown as the device's energy: what a meter imports, what a generator yields."""
        return _ENERGY_ROLES[self]


_LABELS = {AssetKind.METER: "meter", AssetKind.PV: "PV inverter", AssetKind.WIND: "wind turbine",
           AssetKind.BATTERY: "battery"}
_ENERGY_ROLES = {AssetKind.METER: Role.ENERGY_IMPORT, AssetKind.PV: Role.ENERGY_EXPORT,
                 AssetKind.WIND: Role.ENERGY_EXPORT, AssetKind.BATTERY: None}


@dataclass(frozen=True, slots=True)
class Asset:
    """One device of a participant."""

    device: str
    kind: AssetKind


@dataclass(frozen=True, slots=True)
class Participant:
    """A market participant and the devices it owns, in configuration order."""

    name: str
    assets: tuple[Asset, ...]


def participants_of(devices: Iterable[ModbusDeviceSpec]) -> tuple[Participant, ...]:
    """Devices grouped by owner, participants in the order their first device is configured."""
    owners: dict[str, list[Asset]] = {}
    for d in devices:
        try:
            kind = AssetKind(d.kind)
        except ValueError:
            known = ", ".join(k.value for k in AssetKind)
            raise ValueError(f"device {d.name!r}: asset {d.kind!r} is not one of {known}") from None
        owners.setdefault(d.owner, []).append(Asset(d.name, kind))
    return tuple(Participant(name, tuple(assets)) for name, assets in owners.items())


_ROLES = {r.value: r for r in Role}  # a dict lookup: Role(text) costs ~2 µs here, per point and pass
# (device, role) -> that device's reading of the role, or None.
Lookup = Callable[[str, Role], Reading | None]


class RoleIndex:
    """Which point of which device has which role, read off the point definitions of the readings.

    A device with several points of one role (a SunSpec battery reports its state of charge in
    model 802 and again in model 124) is represented by the first one it reported.
    """

    # A full pass over the readings costs ~0.4 ms for 1,500 points here: done when points appear, and
    # otherwise every this many updates, to pick up a definition that arrived after its first sample.
    REFRESH_EVERY = 20

    def __init__(self, devices: Iterable[str]) -> None:
        self._devices = frozenset(devices)
        self._points: dict[tuple[str, Role], str] = {}
        self._count = -1
        self._calls = 0

    def update(self, readings: Mapping[str, Reading]) -> None:
        """Learn the roles of the points in ``readings`` (call it with each new snapshot)."""
        self._calls += 1
        if len(readings) == self._count and self._calls % self.REFRESH_EVERY:
            return
        self._count = len(readings)
        points: dict[tuple[str, Role], str] = {}
        for pid, r in readings.items():
            role = r.point.role
            if role is None:
                continue
            device = self._device_of(pid)
            if device is None:
                continue
            known = _ROLES.get(role)
            if known is not None:  # a role this console does not know means nothing to the accounting
                points.setdefault((device, known), pid)
        self._points = points

    def point(self, device: str, role: Role) -> str | None:
        """The id of the point of ``device`` that has ``role``."""
        return self._points.get((device, role))

    def lookup(self, readings: Mapping[str, Reading]) -> Lookup:
        """A lookup of (device, role) in ``readings`` (call :meth:`update` with them first)."""
        def find(device: str, role: Role) -> Reading | None:
            pid = self._points.get((device, role))
            return None if pid is None else readings.get(pid)
        return find

    def _device_of(self, pid: str) -> str | None:
        # Point ids are "<device>.<point>" and both halves may contain dots: try each split, the
        # longest device name first ("site.meter.power" belongs to "site.meter" rather than "site").
        dot = pid.rfind(".")
        while dot > 0:
            if pid[:dot] in self._devices:
                return pid[:dot]
            dot = pid.rfind(".", 0, dot)
        return None


@dataclass(frozen=True, slots=True)
class EnergyBalance:
    """What one participant (or all of them) exchanges, consumes, produces and stores right now.

    Power in W, energy counters in Wh, state of charge in %; ``nan`` where there is no such device
    or no value. ``consumption_w`` is ``nan`` without a meter value (nothing to reconstruct it from).
    """

    participant: str
    grid_w: float  # + import, − export
    consumption_w: float
    pv_w: float
    wind_w: float
    battery_w: float  # + charging, − discharging
    soc_pct: float
    imported_wh: float
    exported_wh: float
    local_supply_w: float  # generation + battery discharge − battery charging
    stale: bool = False  # a value used here is stale or bad
    # Which powers use a stale or bad value: "grid", "pv", "wind", "battery" (consumption uses them all).
    stale_parts: frozenset[str] = field(default_factory=frozenset)
    # How much the powers may be off for being taken between two samples (PowerAlignment): the sum of the
    # changes between the samples each aligned value lies between. Part of the consumption's tolerance.
    timing_w: float = 0.0

    @property
    def generation_w(self) -> float:
        """PV and wind together (``nan`` without either)."""
        return _sum((self.pv_w, self.wind_w))

    @property
    def self_supplied(self) -> float:
        """Share (0–1) of the consumption covered by the participant's own generation and storage
        at this instant: min(consumption, local supply) / consumption; ``nan`` without consumption.
        Equal to 1 − grid import / consumption for a metered participant."""
        if not math.isfinite(self.consumption_w) or self.consumption_w <= 0:
            return math.nan
        local = max(0.0, _z(self.local_supply_w))
        return min(self.consumption_w, local) / self.consumption_w

    @property
    def consumption_tolerance_w(self) -> float:
        """How far below zero a reconstructed consumption may lie from measurement error alone."""
        flows = sum(abs(_z(v)) for v in (self.grid_w, self.pv_w, self.wind_w, self.battery_w))
        return CONSUMPTION_TOLERANCE_W + CONSUMPTION_TOLERANCE_SHARE * flows + self.timing_w

    @property
    def consumption_implausible(self) -> bool:
        """Negative consumption beyond measurement tolerance: the inputs do not fit together."""
        return self.consumption_w < -self.consumption_tolerance_w


def account(participant: Participant, find: Lookup, timing_w: float = 0.0) -> EnergyBalance:
    """The balance of one participant from its devices' readings (found by role); ``timing_w``: how far
    off the powers may be for the instants they are taken at (EnergyBalance.timing_w)."""
    grid: list[float] = []
    pv: list[float] = []
    wind: list[float] = []
    battery: list[float] = []
    soc: list[float] = []
    imported: list[float] = []
    exported: list[float] = []
    stale: set[str] = set()

    def take(device: str, role: Role, into: list[float], part: str) -> None:
        r = find(device, role)
        if r is None:
            return
        into.append(r.value)
        if not r.quality.usable:
            stale.add(part)

    for a in participant.assets:
        if a.kind is AssetKind.METER:
            take(a.device, Role.POWER, grid, "grid")
            take(a.device, Role.ENERGY_IMPORT, imported, "grid")
            take(a.device, Role.ENERGY_EXPORT, exported, "grid")
        elif a.kind is AssetKind.BATTERY:
            take(a.device, Role.POWER, battery, "battery")
            take(a.device, Role.STATE_OF_CHARGE, soc, "battery")
        else:
            wind_asset = a.kind is AssetKind.WIND
            take(a.device, Role.POWER, wind if wind_asset else pv, "wind" if wind_asset else "pv")
    grid_w, pv_w, wind_w, battery_w = _sum(grid), _sum(pv), _sum(wind), _sum(battery)
    local = _sum((pv_w, wind_w, -battery_w))
    consumption = grid_w + _z(local) if math.isfinite(grid_w) else math.nan
    finite_soc = [s for s in soc if math.isfinite(s)]
    row = EnergyBalance(participant.name, grid_w, consumption, pv_w, wind_w, battery_w,
                        sum(finite_soc) / len(finite_soc) if finite_soc else math.nan,
                        _sum(imported), _sum(exported), local, bool(stale), frozenset(stale), timing_w)
    if -row.consumption_tolerance_w <= consumption < 0:  # measurement error, not a generating load
        row = dataclasses.replace(row, consumption_w=0.0)
    return row


def total(rows: Sequence[EnergyBalance], name: str = TOTAL) -> EnergyBalance:
    """All participants as one: every power and counter is the sum of the rows (so the total row
    adds up), and the self-supplied share follows from the summed consumption and local supply —
    not a mean of the rows' shares. State of charge: plain mean of the batteries (no capacities)."""
    socs = [r.soc_pct for r in rows if math.isfinite(r.soc_pct)]

    def s(value: Callable[[EnergyBalance], float]) -> float:
        return _sum(value(r) for r in rows)

    return EnergyBalance(name, s(lambda r: r.grid_w), s(lambda r: r.consumption_w), s(lambda r: r.pv_w),
                         s(lambda r: r.wind_w), s(lambda r: r.battery_w),
                         sum(socs) / len(socs) if socs else math.nan, s(lambda r: r.imported_wh),
                         s(lambda r: r.exported_wh), s(lambda r: r.local_supply_w), any(r.stale for r in rows),
                         frozenset().union(*(r.stale_parts for r in rows)), math.fsum(r.timing_w for r in rows))


def balances(people: Sequence[Participant], find: Lookup,
             alignment: PowerAlignment | None = None) -> tuple[list[EnergyBalance], EnergyBalance]:
    """Every participant's balance and the total; with ``alignment``, each participant's powers are
    taken at one instant (see :class:`PowerAlignment`)."""
    if alignment is None:
        rows = [account(p, find) for p in people]
    else:
        rows = []
        for p in people:
            aligned = alignment.aligned(p, find)
            rows.append(account(p, aligned, alignment.timing_w))
    return rows, total(rows)


class PowerAlignment:
    """Each participant's power readings brought to one instant before they are added up.

    The meter, the inverters and the battery of a house are polled one after another, at their own
    rates: the newest readings can lie a poll interval apart, and the consumption reconstructed from
    them (meter + generation − charging) is off by whatever the PV or the load changed in between —
    negative for a house exporting under a passing cloud. So the powers are kept for a few seconds and
    each is read at the same instant: the newest source time of the participant's *oldest* newest power
    reading (every device has measured by then). Values in between samples are interpolated linearly;
    a device with nothing older is held at its oldest sample. Readings that are stale or bad, or more
    than :data:`ALIGN_MAX_SPREAD_S` older than the newest, are used as they are.
    """

    def __init__(self) -> None:
        self._history: dict[str, deque[tuple[float, float]]] = {}
        self.timing_w = 0.0  # of the participant last aligned: the sum of |change| across its brackets

    def aligned(self, participant: Participant, find: Lookup) -> Lookup:
        """``find`` with the participant's POWER readings taken at their common instant (the lookup is
        evaluated right away: :attr:`timing_w` then belongs to this participant)."""
        powers = [r for a in participant.assets if (r := find(a.device, Role.POWER)) is not None]
        for r in powers:
            self._observe(r)
        self.timing_w = 0.0
        usable = [r.source_ts for r in powers if r.quality.usable and math.isfinite(r.value)]
        if len(usable) < 2:
            return find
        newest = max(usable)
        t = min(ts for ts in usable if newest - ts <= ALIGN_MAX_SPREAD_S)
        at: dict[str, Reading] = {}
        for r in powers:
            if r.quality.usable and math.isfinite(r.value) and newest - r.source_ts <= ALIGN_MAX_SPREAD_S:
                value, spread = self.value_at(r.point.id, t, r.value)
                at[r.point.id] = r._replace(value=value, source_ts=min(t, r.source_ts))
                self.timing_w += spread

        def at_instant(device: str, role: Role) -> Reading | None:
            r = find(device, role)
            if r is None or role is not Role.POWER:
                return r
            return at.get(r.point.id, r)

        return at_instant

    def value_at(self, pid: str, t: float, default: float) -> tuple[float, float]:
        """The value of ``pid`` at ``t`` interpolated between the samples around it, and how much it
        changed between them (what the value at ``t`` may be off by)."""
        history = self._history.get(pid)
        if not history:
            return default, 0.0
        after = next((i for i, (ts, _) in enumerate(history) if ts >= t), None)
        if after is None:
            return history[-1][1], 0.0
        t1, v1 = history[after]
        if after == 0 or t1 == t:
            return v1, 0.0
        t0, v0 = history[after - 1]
        spread = abs(v1 - v0)
        if t1 - t0 > ALIGN_MAX_BRACKET_S:  # samples were missed in between: the nearer one, not a line
            return (v0 if t - t0 <= t1 - t else v1), spread
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0), spread

    def _observe(self, r: Reading) -> None:
        if not r.quality.usable or not math.isfinite(r.value):
            return
        history = self._history.setdefault(r.point.id, deque(maxlen=ALIGN_HISTORY))
        if not history or r.source_ts > history[-1][0]:
            history.append((r.source_ts, r.value))


def _sum(values: Iterable[float]) -> float:
    """Sum of the finite values; ``nan`` when there are none (no device is not zero)."""
    finite = [v for v in values if math.isfinite(v)]
    return math.fsum(finite) if finite else math.nan


def _z(v: float) -> float:
    return v if math.isfinite(v) else 0.0
