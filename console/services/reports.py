"""Reports: read a period's samples through the :class:`core.ports.SampleReader` port, compute the KPIs
(:mod:`core.reports`) into a :class:`Report` of tables and charts, render it as CSV, XLSX or PDF
(:mod:`console.services.report_formats`) — in a worker thread, with progress and cancel, so the loop of
the console stays live.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from console.services.guard import permit, record
from core.access import Action, AuditWriter, User
from core.bands import FrequencyBands, VoltageBands
from core.frequency import FrequencyEvent
from core.participants import Participant
from core.ports import SampleReader
from core.reports.buckets import (
    BucketReader,
    Buckets,
    band_ambiguous,
    band_region,
    band_seconds,
    beyond,
    bucketize,
    clip,
    counter_advance_wh,
    energy_by_hour_wh,
    envelope_of,
    held,
    mixed_sign,
    ranges,
    signed_energy_wh,
    ten_minute_means,
)
from core.reports.economics import EmissionFactor, Tariff, carbon_avoided_kg, efficiency, savings
from core.reports.energy import EnergyTotals, energy_by_hour, energy_of, integrate_wh, total_energy
from core.reports.series import Array, Series
from core.reports.stability import BandTime, VoltageCompliance, band_time, en50160_of_means, frequency_events
from core.roles import Role

log = logging.getLogger(__name__)

PLOT_BUCKETS = 1000  # points per plotted series: enough for a page's width, peaks kept by min/max


class ReportKind(enum.Enum):
    STABILITY = "stability"
    PRODUCTION = "production"
    SAVINGS = "savings"
    CARBON = "carbon"
    EFFICIENCY = "efficiency"

    @classmethod
    def parse(cls, text: str) -> tuple[ReportKind, ...]:
        """``all`` or one kind; raises ValueError naming the known ones."""
        if text == "all":
            return tuple(cls)
        try:
            return (cls(text),)
        except ValueError:
            known = ", ".join([k.value for k in cls] + ["all"])
            raise ValueError(f"unknown report kind {text!r}; use one of {known}") from None


class ReportFormat(enum.Enum):
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


class NoData(Exception):
    """The period holds no sample of any point the report reads."""


class Cancelled(Exception):
    """The report was cancelled before it was written."""


@dataclass(frozen=True, slots=True)
class VoltageBus:
    bus: str
    point: str
    nominal_v: float


@dataclass(frozen=True, slots=True)
class ReportSite:
    """What the reports read and how they value it (built from the settings by ``console.bootstrap``)."""

    name: str
    frequency_point: str | None = None
    buses: tuple[VoltageBus, ...] = ()
    participants: tuple[Participant, ...] = ()
    # ((device, role), candidate point ids): the first candidate with data counts (a SunSpec device's model,
    # hence its point ids, is known only once it has been discovered).
    roles: tuple[tuple[tuple[str, Role], tuple[str, ...]], ...] = ()
    frequency_bands: FrequencyBands = field(default_factory=FrequencyBands)
    voltage_bands: VoltageBands = field(default_factory=VoltageBands)
    tariff: Tariff = field(default_factory=Tariff)
    emission: EmissionFactor = field(default_factory=EmissionFactor)
    max_gap_s: float = 120.0  # two historian heartbeats: an unchanged value is stored at least every 60 s

    def points(self) -> list[str]:
        roles = [p for _, candidates in self.roles for p in candidates]
        return [p for p in [self.frequency_point, *(b.point for b in self.buses), *roles] if p]


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str | float, ...], ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart the renderers draw natively (XLSX) or with matplotlib (PDF). ``x`` are POSIX seconds for a
    time chart, category labels otherwise."""

    title: str
    kind: str  # "line" (x is time) or "column" (x are categories)
    y_label: str
    x: tuple[float | str, ...]
    series: tuple[tuple[str, tuple[float, ...]], ...]


@dataclass(frozen=True, slots=True)
class Section:
    kind: ReportKind
    title: str
    notes: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    site: str
    t0: float
    t1: float
    generated_at: float
    sections: tuple[Section, ...] = field(default=())


Progress = Callable[[float, str], None]  # (share done 0–1, what is being done)


def compute(kinds: Sequence[ReportKind], site: ReportSite, reader: SampleReader, t0: float, t1: float,
            progress: Progress | None = None, cancel: threading.Event | None = None,
            clock: Callable[[], float] = time.time) -> Report:
    """The report's sections (blocking: run it in a worker thread). Raises :class:`NoData` when none of
    the points read holds a sample in [t0, t1), :class:`Cancelled` when ``cancel`` is set."""
    return _Run(site, reader, t0, t1, progress, cancel).report(kinds, clock())


class _Run:
    def __init__(self, site: ReportSite, reader: SampleReader, t0: float, t1: float, progress: Progress | None,
                 cancel: threading.Event | None) -> None:
        self.site, self.reader, self.t0, self.t1 = site, reader, t0, t1
        self._progress, self._cancel = progress, cancel
        self._roles = dict(site.roles)
        self._reads, self._done = max(1, len(site.points())), 0
        self.samples = 0
        self.raw_reads = 0

    def _check(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled()

    def buckets(self, point: str, width_s: float) -> Buckets:
        """The point's rollup buckets over the period (raw samples bucketed by a reader without rollups)."""
        self._check()
        if self._progress is not None:
            self._progress(min(0.95, 0.9 * self._done / self._reads), f"reading {point}")
        # Read one gap wider on each side: a value before the period holds into it, the last one inside
        # holds until the next sample after it (at most max_gap_s, as the raw computations do).
        gap = self.site.max_gap_s
        lo, hi = self.t0 - gap, self.t1 + gap
        if isinstance(self.reader, BucketReader):
            b = self.reader.read_buckets(point, lo, hi, width_s)
        else:
            b = bucketize(self.reader.read_series(point, lo, hi), lo, hi, width_s)
        self._done += 1
        self.samples += int(b.n[(b.start >= self.t0) & (b.start < self.t1)].sum())
        return clip(held(b, gap), self.t0, self.t1)

    def raw(self, point: str, lo: float, hi: float) -> Series:
        """Raw samples where the buckets cannot tell (with their neighbours)."""
        self._check()
        self.raw_reads += 1
        return self.reader.read_series(point, max(lo, self.t0), min(hi, self.t1))

    def report(self, kinds: Sequence[ReportKind], now: float) -> Report:
        sections: list[Section] = []
        energy: tuple[list[EnergyTotals], np.ndarray] | None = None
        for kind in kinds:
            if kind is ReportKind.STABILITY:
                sections.append(self.stability())
                continue
            if energy is None:
                energy = self.energy()
            rows, hourly = energy
            sections.append(_ENERGY_SECTIONS[kind](self.site, rows, hourly))
        if self.samples == 0:
            raise NoData()
        if self._progress is not None:
            self._progress(0.95, "rendering")
        return Report(self.site.name, self.t0, self.t1, now, tuple(sections))

    # ---- grid stability -------------------------------------------------------------------------------

    def band_time(self, point: str, fb: Buckets) -> BandTime:
        """Time in band from 10 s buckets; buckets that may hold two bands, or enter another band than the
        one before them, from their raw samples (exact)."""
        b, t0, t1 = self.site.frequency_bands, self.t0, self.t1
        region = band_region(fb.vmin, b)
        before = np.r_[region[:1], band_region(fb.vlast[:-1], b)]
        unsure = np.maximum(band_ambiguous(fb, b), (region != before).astype(np.float64))
        normal, alert, emergency = band_seconds(fb, b, unsure)
        for lo, hi in ranges(fb, unsure):
            bt = band_time(self.raw(point, lo, hi), max(lo, t0), min(hi, t1), b, self.site.max_gap_s)
            normal, alert, emergency = normal + bt.normal_s, alert + bt.alert_s, emergency + bt.emergency_s
        return BandTime(normal, alert, emergency, max(0.0, (t1 - t0) - (normal + alert + emergency)))

    def events(self, point: str, fb: Buckets) -> list[FrequencyEvent]:
        """Frequency events on the raw samples of the buckets that leave the events' end band (padded by the
        hold time): outside them nothing can start or end."""
        nominal = self.site.frequency_bands.nominal_hz
        found: list[FrequencyEvent] = []
        for lo, hi in ranges(fb, beyond(fb, nominal, EVENT_END_DEV_HZ), pad_s=EVENT_HOLD_S + 10.0):
            found += frequency_events(self.raw(point, lo, hi), nominal, end_dev_hz=EVENT_END_DEV_HZ,
                                      hold_s=EVENT_HOLD_S, max_gap_s=self.site.max_gap_s)
        return found

    def stability(self) -> Section:
        site = self.site
        tables: list[Table] = []
        charts: list[Chart] = []
        notes: list[str] = []
        b = site.frequency_bands
        if site.frequency_point:
            fb = self.buckets(site.frequency_point, 10.0)
            bt = self.band_time(site.frequency_point, fb)

            def share(seconds: float) -> float:
                return 100 * bt.share(seconds)

            tables.append(Table("Time in frequency bands (ENTSO-E)", ("band", "limits", "time h", "share %"), (
                ("normal", f"{b.normal_low_hz}–{b.normal_high_hz} Hz", bt.normal_s / 3600, share(bt.normal_s)),
                ("alert", f"outside normal, {b.emergency_low_hz}–{b.emergency_high_hz} Hz", bt.alert_s / 3600,
                 share(bt.alert_s)),
                ("emergency", f"< {b.emergency_low_hz} or > {b.emergency_high_hz} Hz", bt.emergency_s / 3600,
                 share(bt.emergency_s)),
                ("no data", f"gaps > {site.max_gap_s:g} s", bt.no_data_s / 3600, math.nan))))
            events = self.events(site.frequency_point, fb)
            tables.append(Table("Frequency events (deviation > 0.1 Hz; ends 10 s after it is back within 0.05 Hz)",
                                ("start UTC", "duration s", "nadir Hz", "zenith Hz", "max |ROCOF| Hz/s"),
                                tuple((_iso(e.start_ts), (e.end_ts or self.t1) - e.start_ts, e.nadir_hz,
                                       e.zenith_hz, e.max_abs_rocof) for e in events)))
            env = envelope_of(fb, self.t0, self.t1, PLOT_BUCKETS)
            charts.append(Chart("Frequency", "line", "Hz", tuple(env.start.tolist()),
                                (("min", tuple(env.vmin.tolist())), ("mean", tuple(env.vmean.tolist())),
                                 ("max", tuple(env.vmax.tolist())))))
            notes.append(f"Each sample holds until the next one, at most {site.max_gap_s:g} s; longer silences "
                         "count as no data. Shares are of the time with data.")
        rows = []
        volt_series = []
        for bus in site.buses:
            vb = self.buckets(bus.point, 60.0)
            windows, means = ten_minute_means(vb, self.t0, self.t1)
            c = en50160_of_means(bus.bus, bus.nominal_v, windows, means, site.voltage_bands)
            rows.append((bus.bus, bus.nominal_v, c.windows, c.missing, 100 * c.share_within,
                         100 * c.min_mean_v / bus.nominal_v, 100 * c.max_mean_v / bus.nominal_v,
                         "yes" if c.compliant else "no"))
            env = envelope_of(vb, self.t0, self.t1, PLOT_BUCKETS)
            volt_series.append((bus.bus, tuple((100 * env.vmean / bus.nominal_v).tolist())))
            x = tuple(env.start.tolist())
        if rows:
            tables.append(Table("EN 50160 voltage: 10-minute means within ±10 % of nominal",
                                ("bus", "nominal V", "windows", "gaps", "within %", "min % of Un", "max % of Un",
                                 "compliant"), tuple(rows)))
            charts.append(Chart("Bus voltages (% of nominal)", "line", "% of Un", x, tuple(volt_series)))
            notes.append("EN 50160: compliant when at least 95 % of the 10-minute means (clock-aligned windows wholly "
                         "inside the period) lie within ±10 % of nominal; windows without samples are gaps and count "
                         "neither way.")
        return Section(ReportKind.STABILITY, "Grid stability", tuple(notes), tuple(tables), tuple(charts))

    # ---- energy -----------------------------------------------------------------------------------------

    def energy(self) -> tuple[list[EnergyTotals], np.ndarray]:
        cache: dict[str, _BucketSource] = {}

        def find(device: str, role: Role) -> _BucketSource | None:
            for pid in self._roles.get((device, role), ()):
                if pid not in cache:
                    cache[pid] = _BucketSource(self, pid, self.buckets(pid, 60.0))
                if len(cache[pid].b):
                    return cache[pid]
            return None

        rows: list[EnergyTotals] = []
        hourly = np.zeros(24)
        for p in self.site.participants:
            cache.clear()  # a participant's points are read once, then dropped: memory stays one house deep
            rows.append(energy_of(p, find))
            for a in p.assets:
                if a.kind.value in ("pv", "wind") and (s := find(a.device, Role.POWER)) is not None:
                    hourly += s.by_hour()
        if rows:
            rows.append(total_energy(rows))
        return rows, hourly


EVENT_END_DEV_HZ = 0.05
EVENT_HOLD_S = 10.0


class _BucketSource:
    """:class:`core.reports.energy.EnergySource` on 1-minute buckets; a bucket whose power changes sign is
    integrated from its raw samples (the import / export split must be exact: it is billed)."""

    def __init__(self, run: _Run, point: str, b: Buckets) -> None:
        self.run, self.point, self.b = run, point, b
        self._mixed = mixed_sign(b)
        self._raw: list[tuple[float, float, Series]] | None = None

    def _ranges(self) -> list[tuple[float, float, Series]]:
        if self._raw is None:
            self._raw = [(lo, hi, self.run.raw(self.point, lo, hi)) for lo, hi in ranges(self.b, self._mixed)]
        return self._raw

    def energy_wh(self, sign: int) -> float:
        if sign == 0:
            return signed_energy_wh(self.b, 0)
        gap = self.run.site.max_gap_s
        return signed_energy_wh(self.b, sign, self._mixed) + math.fsum(
            integrate_wh(s, lo, hi, gap, sign) for lo, hi, s in self._ranges())

    def advance_wh(self) -> float | None:
        return counter_advance_wh(self.b)

    def by_hour(self) -> np.ndarray:
        gap = self.run.site.max_gap_s
        out = energy_by_hour_wh(self.b, self._mixed)
        for lo, hi, s in self._ranges():
            out = out + energy_by_hour(s, lo, hi, gap)
        return out


@dataclass(frozen=True, slots=True)
class StabilityKpis:
    """The grid-stability figures of a period (what the stability section shows, as values)."""

    bands: BandTime | None
    events: tuple[FrequencyEvent, ...]
    buses: tuple[VoltageCompliance, ...]


def stability_kpis(site: ReportSite, reader: SampleReader, t0: float, t1: float) -> StabilityKpis:
    """Band time, frequency events and EN 50160 per bus over [t0, t1) (blocking)."""
    run = _Run(site, reader, t0, t1, None, None)
    bands: BandTime | None = None
    events: tuple[FrequencyEvent, ...] = ()
    if site.frequency_point:
        fb = run.buckets(site.frequency_point, 10.0)
        bands, events = run.band_time(site.frequency_point, fb), tuple(run.events(site.frequency_point, fb))
    buses = []
    for bus in site.buses:
        windows, means = ten_minute_means(run.buckets(bus.point, 60.0), t0, t1)
        buses.append(en50160_of_means(bus.bus, bus.nominal_v, windows, means, site.voltage_bands))
    return StabilityKpis(bands, events, tuple(buses))


def energy_totals(site: ReportSite, reader: SampleReader, t0: float, t1: float) -> tuple[list[EnergyTotals], Array]:
    """Energy per participant (and the total when there are several) and local generation per hour of day
    over [t0, t1) (blocking)."""
    return _Run(site, reader, t0, t1, None, None).energy()


def _production(site: ReportSite, rows: list[EnergyTotals], hourly: np.ndarray) -> Section:
    table = Table("Energy per participant (kWh)",
                  ("participant", "PV", "wind", "consumed", "import", "export", "battery in", "battery out",
                   "source"),
                  tuple((r.participant, _kwh(r.pv_wh), _kwh(r.wind_wh), _kwh(r.consumption_wh), _kwh(r.imported_wh),
                         _kwh(r.exported_wh), _kwh(r.charged_wh), _kwh(r.discharged_wh),
                         "counters" if r.counters_used else "power") for r in rows))
    people = [r for r in rows[:-1]]
    chart = Chart("Energy per participant", "column", "kWh", tuple(r.participant for r in people),
                  (("generation", tuple(_kwh(r.generation_wh) for r in people)),
                   ("consumption", tuple(_kwh(r.consumption_wh) for r in people)),
                   ("export", tuple(_kwh(r.exported_wh) for r in people))))
    hours = Chart("Local generation by hour of day (UTC)", "column", "kWh", tuple(f"{h:02d}" for h in range(24)),
                  (("generation", tuple((hourly / 1000).tolist())),))
    notes = ("Energy from power: the historian's 1-minute means × their duration (a value holds at most "
             f"{site.max_gap_s:g} s; longer gaps count nothing); minutes whose power changes sign are integrated "
             "from their raw samples, so import, export and battery in/out are exact. "
             "A meter's import and export come from its energy counters when both hold two values in the period "
             "(source 'counters'), from its power otherwise.",
             "Consumption = import − export + generation − battery in + battery out.")
    return Section(ReportKind.PRODUCTION, "Production and consumption", notes, (table,), (chart, hours))


def _savings(site: ReportSite, rows: list[EnergyTotals], hourly: np.ndarray) -> Section:
    t = site.tariff
    s = [savings(r, t) for r in rows]
    table = Table(f"Savings against the grid tariff ({t.currency})",
                  ("participant", "cost without local energy", "cost with", "saved"),
                  tuple((x.participant, x.cost_without, x.cost_with, x.saved) for x in s))
    chart = Chart("Saved per participant", "column", t.currency, tuple(x.participant for x in s[:-1]),
                  (("saved", tuple(x.saved for x in s[:-1])),))
    notes = (f"Import {t.import_per_kwh:g} {t.currency}/kWh, export {t.export_per_kwh:g} {t.currency}/kWh. "
             "Without local energy all consumption is bought; with it, imports are bought and exports sold.",)
    return Section(ReportKind.SAVINGS, "Energy savings", notes, (table,), (chart,))


def _carbon(site: ReportSite, rows: list[EnergyTotals], hourly: np.ndarray) -> Section:
    f = site.emission
    total_kg = carbon_avoided_kg(hourly.tolist(), f)
    per = tuple((r.participant, _kwh(r.generation_wh), r.generation_wh / 1000 * f.g_per_kwh / 1000)
                for r in rows) if not f.hourly else ()
    tables = [Table("Carbon avoided", ("", "value"), (
        ("local generation kWh", float(hourly.sum()) / 1000), ("CO2e avoided kg", total_kg),
        ("emission factor", f"{f.g_per_kwh:g} g/kWh" if not f.hourly else "hourly profile (UTC)")))]
    if per:
        tables.append(Table("Carbon avoided per participant",
                            ("participant", "generation kWh", "CO2e avoided kg"), per))
    factors = f.hourly or (f.g_per_kwh,) * 24
    chart = Chart("CO2e avoided by hour of day (UTC)", "column", "kg",
                  tuple(f"{h:02d}" for h in range(24)),
                  (("avoided", tuple(float(wh) / 1000 * g / 1000 for wh, g in zip(hourly, factors, strict=True))),))
    notes = ("Local generation replaces grid energy kWh for kWh: avoided = generation × the grid's emission factor "
             "(of its hour of day when a profile is configured).",)
    return Section(ReportKind.CARBON, "Carbon avoided", notes, tuple(tables), (chart,))


def _efficiency(site: ReportSite, rows: list[EnergyTotals], hourly: np.ndarray) -> Section:
    e = [efficiency(r) for r in rows]
    table = Table("Efficiency (%)", ("participant", "self-consumption", "self-sufficiency", "battery round trip"),
                  tuple((x.participant, 100 * x.self_consumption, 100 * x.self_sufficiency, 100 * x.battery_round_trip)
                        for x in e))
    chart = Chart("Self-consumption and self-sufficiency", "column", "%", tuple(x.participant for x in e),
                  (("self-consumption", tuple(100 * x.self_consumption for x in e)),
                   ("self-sufficiency", tuple(100 * x.self_sufficiency for x in e))))
    notes = ("Self-consumption: share of local generation not exported. Self-sufficiency: share of consumption not "
             "imported. Battery round trip: energy out / energy in over the period (a change of state of charge "
             "between its start and end shows as a round trip off 100 %).",)
    return Section(ReportKind.EFFICIENCY, "Efficiency", notes, (table,), (chart,))


_ENERGY_SECTIONS: dict[ReportKind, Callable[[ReportSite, list[EnergyTotals], np.ndarray], Section]] = {
    ReportKind.PRODUCTION: _production, ReportKind.SAVINGS: _savings, ReportKind.CARBON: _carbon,
    ReportKind.EFFICIENCY: _efficiency,
}


def _kwh(wh: float) -> float:
    return wh / 1000.0


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


class ReportService:
    """Computes and renders reports off the event loop; one at a time per service, cancellable."""

    def __init__(self, reader: SampleReader, site: ReportSite, clock: Callable[[], float] = time.time,
                 reader_factory: Callable[[], SampleReader] | None = None) -> None:
        """With a ``reader_factory`` (picklable: it is called in the child) reports run in a spawned process
        (:mod:`console.services.report_process`), else in a worker thread."""
        self.reader, self.site, self._clock = reader, site, clock
        self.reader_factory = reader_factory
        self._cancel = threading.Event()
        self.audit: AuditWriter | None = None  # where exports by a user are audited

    def close(self) -> None:
        """Release the reader (its database connections) when it has a ``close``."""
        close = getattr(self.reader, "close", None)
        if callable(close):
            close()

    def cancel(self) -> None:
        """Stop the running report at its next read; :meth:`run` raises :class:`Cancelled`."""
        self._cancel.set()

    async def run(self, kinds: Sequence[ReportKind], t0: float, t1: float, fmt: ReportFormat, out: Path,
                  progress: Progress | None = None, *, by: User | None = None) -> Report:
        """Compute and write the report to ``out``; ``progress`` is called on the loop's thread. With ``by``
        the export is checked (``report.export``) and audited in ``self.audit``."""
        if by is not None:
            await permit(by, Action.REPORT_EXPORT, str(out), self.audit, self._clock)
        report = await self._run(kinds, t0, t1, fmt, out, progress)
        if by is not None:
            await record(self.audit, by.name, Action.REPORT_EXPORT.value, str(out),
                         f"ok: {', '.join(k.value for k in kinds)} {fmt.value}, {_iso(t0)} to {_iso(t1)} UTC",
                         clock=self._clock)
        return report

    async def _run(self, kinds: Sequence[ReportKind], t0: float, t1: float, fmt: ReportFormat, out: Path,
                   progress: Progress | None) -> Report:
        from console.services.report_formats import render

        loop = asyncio.get_running_loop()
        self._cancel.clear()
        if self.reader_factory is not None:
            from console.services.report_process import run_in_process

            report = await run_in_process(self.reader_factory, kinds, self.site, t0, t1, fmt, out, progress,
                                          self._cancel.is_set)
            if progress is not None:
                progress(1.0, f"written {out}")
            return report

        def on_loop(share: float, what: str) -> None:
            if progress is not None:
                loop.call_soon_threadsafe(progress, share, what)

        def work() -> Report:
            report = compute(kinds, self.site, self.reader, t0, t1, on_loop, self._cancel, self._clock)
            if self._cancel.is_set():
                raise Cancelled()
            render(report, fmt, out)
            return report

        try:
            report = await asyncio.to_thread(work)
        except asyncio.CancelledError:
            self._cancel.set()  # the worker thread cannot be interrupted: it stops at its next read
            raise
        if progress is not None:
            progress(1.0, f"written {out}")
        return report
