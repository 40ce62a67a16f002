"""The control-room grid view: readouts on top, trends below."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from console.services.acquisition import ROCOF_SERIES, AcquisitionService
from console.services.historian import HistorianService
from core.bands import Band, FrequencyBands, VoltageBands
from core.frequency import FrequencyEvent
from core.grid import GridSnapshot, Reading
from core.points import PointDef, PointKind, Quality
from core.quantities import Quantity, Unit, auto_unit, parse_unit
from core.series import SeriesBuffer
from widgets.elided_label import ElidedLabel
from widgets.readout import Readout
from widgets.style import set_style_property
from widgets.trend import TrendWidget

log = logging.getLogger(__name__)

REFRESH_CAP_HZ = 20.0
PAUSED_REDRAW_S = 2.0


@dataclass(slots=True)
class _Binding:
    """One series drawn on one trend, redrawn only when its buffer changed."""

    trend: TrendWidget
    name: str
    buffer: SeriesBuffer
    scale: float = 1.0
    drawn_version: int = -1


class GridView(QWidget):
    """Frequency, ROCOF, demand/supply and bus voltages of one grid area."""

    def __init__(
        self,
        acquisition: AcquisitionService,
        frequency_bands: FrequencyBands,
        voltage_bands: VoltageBands,
        historian: HistorianService | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.acq = acquisition
        self.historian = historian
        self._history_due: set[TrendWidget] = set()
        self._history_timer = QTimer(self)
        self._history_timer.setSingleShot(True)
        self._history_timer.setInterval(150)  # debounce: fetch once the operator stops dragging
        self._history_timer.timeout.connect(self._fetch_history)
        self.history_tasks: set[asyncio.Task[None]] = set()
        self.nominal_hz = frequency_bands.nominal_hz
        self.frequency_bands = frequency_bands
        points = acquisition.points
        self.frequency_id = next((p.id for p in points if p.kind is PointKind.FREQUENCY), None)
        self.voltage_points = [p for p in points if p.kind is PointKind.VOLTAGE]
        demand = next((p for p in points if p.kind is PointKind.DEMAND), None)
        supply = next((p for p in points if p.kind is PointKind.SUPPLY), None)
        # A ROCOF the substation measures itself (its relay's, unit Hz/s): drawn beside the console's own.
        self.rocof_points = [p for p in points if _unit_of(p, "Hz/s").quantity is Quantity.ROCOF]

        # Readouts: each in its point's configured unit (samples carry SI) ----------
        freq_point = next((p for p in points if p.kind is PointKind.FREQUENCY), None)
        self.freq_unit = _unit_of(freq_point, "Hz")
        power_points = [p for p in (demand, supply) if p is not None]
        # Demand and supply share the balance readout and one trend: one unit for both.
        self.power_unit = _shared_unit(power_points, Quantity.ACTIVE_POWER)
        self.freq_readout = Readout("FREQUENCY", self.freq_unit.symbol, decimals=_decimals(self.freq_unit, 3))
        self.rocof_readout = Readout(f"ROCOF ({acquisition.state.rocof.window_s * 1000:g} ms)", "Hz/s", decimals=3)
        self.demand_readout = Readout("DEMAND", self.power_unit.symbol, decimals=1)
        self.supply_readout = Readout("SUPPLY", self.power_unit.symbol, decimals=1)
        self.balance_readout = Readout("SUPPLY − DEMAND", self.power_unit.symbol, decimals=1)
        self.event_card = QLabel("No frequency event")
        self.event_card.setObjectName("eventCard")
        self.event_card.setWordWrap(True)
        self.event_card.setMinimumWidth(230)
        top = QHBoxLayout()
        top.setSpacing(6)
        shown = [
            (self.freq_readout, self.frequency_id is not None),
            (self.rocof_readout, self.frequency_id is not None),
            (self.demand_readout, demand is not None),
            (self.supply_readout, supply is not None),
            (self.balance_readout, demand is not None and supply is not None),
        ]
        for w, configured in shown:
            top.addWidget(w, 1)
            w.setVisible(configured)  # no magenta "BAD" for a point that was never configured
        top.addWidget(self.event_card, 1)
        self.top_row = top  # the market panel joins it (add_market_panel)

        self.bus_readouts: dict[str, Readout] = {}
        buses = QHBoxLayout()
        buses.setSpacing(6)
        for p in self.voltage_points:  # the absolute value, in the bus's own unit (kV, V)
            r = Readout(p.name.upper(), p.unit, decimals=_decimals(_unit_of(p, "V"), 1))
            r.setProperty("compact", "true")
            self.bus_readouts[p.id] = r
            buses.addWidget(r, 1)

        # Trends -------------------------------------------------------------
        fb = frequency_bands
        f_scale = 1.0 / self.freq_unit.factor
        self.freq_trend = TrendWidget("Frequency", self.freq_unit.symbol)
        self.freq_trend.set_band(fb.normal_low_hz * f_scale, fb.normal_high_hz * f_scale)
        margin = (fb.normal_high_hz - fb.normal_low_hz) * 0.25
        self.freq_trend.set_min_y_range((fb.normal_low_hz - margin) * f_scale, (fb.normal_high_hz + margin) * f_scale)
        for limit in (fb.normal_low_hz, fb.normal_high_hz):
            self.freq_trend.add_limit(limit * f_scale, "alert")
        self.rocof_trend = TrendWidget("ROCOF", "Hz/s")
        # At least ±ROCOF_SPAN: a steady grid's 0.0002 Hz/s was blown up to the whole height (ticks
        # 0.00021, 0.00022 over the axis's unit); relays act at 0.5–1 Hz/s, the scale grows when it moves.
        self.rocof_trend.set_min_y_range(-ROCOF_SPAN, ROCOF_SPAN)
        self.power_trend = TrendWidget("Demand vs supply", self.power_unit.symbol)
        # Buses of different levels (20 kV, 230 V) share one axis only in % of nominal;
        # a single level is shown the same way, so the band sits in one place on every site.
        self.per_unit = bool(self.voltage_points) and all(
            math.isfinite(p.nominal) and p.nominal > 0 for p in self.voltage_points)
        # One level on every bus (the community's 230 V): the nominal once, in the title and on the axis,
        # not after each of the eleven legend entries (islanded at 1366 x 768 the legend took three columns
        # of "Feeder 7 end (230 V)" and left the plot a fifth of the panel).
        levels = {f"{_number(p.display(p.nominal))} {p.unit}" for p in self.voltage_points} if self.per_unit else set()
        self.one_level = next(iter(levels)) if len(levels) == 1 else None
        if self.per_unit:
            self.voltage_trend = TrendWidget("Feeder voltages", PER_UNIT if self.one_level is None
                                             else f"% of {self.one_level}")
            low, high = voltage_bands.limits(100.0)
            self.voltage_trend.set_band(low, high)
            self.voltage_trend.set_min_y_range(low - (high - low) * 0.1, high + (high - low) * 0.1)
            self.voltage_trend.add_limit(low, "alert")
            self.voltage_trend.add_limit(high, "alert")
        else:  # a bus without a nominal: absolute values, in the first bus's unit
            self.voltage_trend = TrendWidget("Feeder voltages", _shared_unit(self.voltage_points,
                                                                             Quantity.VOLTAGE).symbol)
        self.trends = (self.freq_trend, self.rocof_trend, self.power_trend, self.voltage_trend)
        for trend in self.trends:
            trend.range_moved.connect(lambda _t0, _t1, tr=trend: self._history_wanted(tr))
            trend.hovered.connect(self.show_cursor)
            if trend is not self.freq_trend:
                trend.link_x(self.freq_trend)  # one time axis: frequency and ROCOF show the same minutes
        # The shared cursor readout: the time under the mouse and every series' value then.
        self.cursor_readout = ElidedLabel(CURSOR_HINT, max_hint_chars=120)
        self.cursor_readout.setObjectName("cursorReadout")

        self._bindings: list[_Binding] = []
        self._next_draw: dict[TrendWidget, float] = {}
        if self.frequency_id:
            self._bind(self.freq_trend, self.frequency_id, "Frequency", scale=f_scale)
            self.freq_trend.set_hover_text(self.frequency_id, _fixed(self.freq_readout.decimals, self.freq_unit.symbol))
            self._bind(self.rocof_trend, ROCOF_SERIES, "ROCOF (console)")
            self.rocof_trend.set_hover_text(ROCOF_SERIES, _fixed(3, "Hz/s"))
        for p in self.rocof_points:  # samples are in Hz/s (SI), as the console's series
            self._bind(self.rocof_trend, p.id, p.name)
            self.rocof_trend.set_hover_text(p.id, _fixed(3, "Hz/s"))
        if len(self.rocof_points) + bool(self.frequency_id) > 1:
            # Two sources of one quantity: which line is whose, on one line above the plot. The frequency
            # trend above has one line, named by its title: no legend. Neither has a legend column, so the two
            # linked time axes stay one above the other at the panel's full width (a shared 159 px column
            # for one "Frequency" entry took a quarter of both plots at 1366 x 768).
            self.rocof_trend.show_legend(above=True, short=_inner)
        for power, label in ((demand, "Demand"), (supply, "Supply")):
            if power is not None:
                self._bind(self.power_trend, power.id, label, scale=1.0 / self.power_unit.factor)
                self.power_trend.set_hover_text(power.id, _fixed(1, self.power_unit.symbol))
        if demand is not None and supply is not None:
            self.power_trend.show_legend()
        v_unit = None if self.per_unit else _shared_unit(self.voltage_points, Quantity.VOLTAGE)
        for p in self.voltage_points:
            if v_unit is None:
                label = p.name if self.one_level is not None else f"{p.name} ({_number(p.display(p.nominal))} {p.unit})"
                self._bind(self.voltage_trend, p.id, label, scale=100.0 / p.nominal)
                # The hover tooltip gives the absolute value behind the per-unit trace.
                self.voltage_trend.set_hover_text(p.id, _per_unit_hover(p))
            else:
                self._bind(self.voltage_trend, p.id, p.name, scale=1.0 / v_unit.factor)
                self.voltage_trend.set_hover_text(p.id, _fixed(_decimals(v_unit, 1), v_unit.symbol))
        self.voltage_trend.show_legend()

        grid = QGridLayout()
        grid.setSpacing(4)
        grid.addWidget(self.freq_trend, 0, 0)
        grid.addWidget(self.voltage_trend, 0, 1)
        grid.addWidget(self.rocof_trend, 1, 0)
        grid.addWidget(self.power_trend, 1, 1)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addLayout(buses)
        layout.addLayout(grid, 1)
        layout.addWidget(self.cursor_readout)
        self.last_frame_s = 0.0

    def add_market_panel(self, panel: QWidget) -> None:
        """The market beside the readouts (frequency, voltage and depth on one screen); the main window
        feeds it (``MarketPanel.show_market``) a few times a second."""
        self.market_panel = panel
        self.top_row.addWidget(panel, 0)

    def show_cursor(self, t: float) -> None:
        """A cursor at time ``t`` on every trend and their values at that time in the readout
        (NaN: the mouse left; the readout says how to use it)."""
        for trend in self.trends:
            trend.set_cursor(t)
        if not math.isfinite(t):
            self.cursor_readout.setText(CURSOR_HINT)
            return
        values = [v for trend in self.trends for v in trend.values_at(t)]
        self.cursor_readout.setText("   ".join([_clock(t), *values]))

    def _bind(self, trend: TrendWidget, series: str, label: str | None = None, scale: float = 1.0) -> None:
        trend.add_series(series, label)
        self._bindings.append(_Binding(trend, series, self.acq.trend(series), scale))

    # ---- per frame ------------------------------------------------------------

    def refresh(self, snap: GridSnapshot) -> None:
        """Update every readout and trend from one snapshot (one UI frame)."""
        started = time.perf_counter()
        self._show(self.freq_readout, snap.frequency, 1.0 / self.freq_unit.factor)
        rocof_band = Band.NORMAL if math.isfinite(snap.rocof_hz_s) else Band.UNKNOWN
        self.rocof_readout.set_value(snap.rocof_hz_s, snap.rocof_quality, rocof_band)
        power_scale = 1.0 / self.power_unit.factor
        self._show(self.demand_readout, snap.demand, power_scale)
        self._show(self.supply_readout, snap.supply, power_scale)
        self._show_balance(snap, power_scale)
        for p in self.voltage_points:
            reading = snap.reading(p.id)
            readout = self.bus_readouts[p.id]
            self._show(readout, reading, 1.0 / p.factor)
            readout.setToolTip(_bus_tip(p, reading.value if reading is not None else math.nan))
        self._show_event(snap.active_event, snap.last_event, snap.frequency)
        for trend in self.trends:
            if snap.ts >= self._next_draw.get(trend, 0.0):
                self._draw(trend, snap)
        self.last_frame_s = time.perf_counter() - started

    def _draw(self, trend: TrendWidget, snap: GridSnapshot) -> None:
        """Hand one trend its data. A live trend redraws once per pixel column of
        time (1 min: ~12 Hz, 1 h: every ~5 s): more often moves nothing on
        screen. A paused trend only picks up new data every 2 s."""
        self._next_draw[trend] = snap.ts + (
            max(trend.seconds_per_pixel(), 0.5 / REFRESH_CAP_HZ) if trend.live else PAUSED_REDRAW_S
        )
        if trend.live:
            trend.follow(snap.ts)  # first the window, then the data clipped to it
        else:
            trend.limit_to(snap.ts)  # scroll back as far as there is history, forward only to now
        for b in self._bindings:
            if b.trend is not trend or (not trend.live and b.buffer.version == b.drawn_version):
                continue
            if trend.live:
                t, v = b.buffer.arrays_since(snap.ts - trend.window_s * 1.05)
            else:
                t, v = b.buffer.arrays()
            hold = snap.ts if trend.live and self._holds(b.name, snap) else None  # hold the last value to now
            trend.set_series_data(b.name, t, v * b.scale if b.scale != 1.0 else v, hold)
            b.drawn_version = b.buffer.version
        trend.end_frame()

    def _holds(self, series: str, snap: GridSnapshot) -> bool:
        """A value is held to "now" only while its source still vouches for it."""
        reading = snap.reading(self.frequency_id if series == ROCOF_SERIES and self.frequency_id else series)
        return reading is not None and reading.quality.usable

    def set_window(self, seconds: float) -> None:
        for trend in self.trends:
            trend.set_window(seconds)
        self._redraw_all()  # a wider window needs the older data too

    def set_live(self, live: bool) -> None:
        for trend in self.trends:
            trend.set_live(live)
        self._redraw_all()

    def _redraw_all(self) -> None:
        self._next_draw.clear()
        for b in self._bindings:
            b.drawn_version = -1

    # ---- history (paused trends scrolled past the live buffer) ----------------------

    def _history_wanted(self, trend: TrendWidget) -> None:
        if self.historian is None or trend.live:
            return
        t0, _ = trend.visible_range()
        firsts = (b.buffer.first_time() for b in self._bindings if b.trend is trend)
        oldest = min((t for t in firsts if math.isfinite(t)), default=math.inf)
        if not t0 < oldest:
            return  # the live buffer covers the view
        self._history_due.add(trend)
        self._history_timer.start()

    def _fetch_history(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (widget tests without qasync)
        for trend in list(self._history_due):
            task = loop.create_task(self._load_history(trend))
            self.history_tasks.add(task)
            task.add_done_callback(self.history_tasks.discard)
        self._history_due.clear()

    async def _load_history(self, trend: TrendWidget) -> None:
        assert self.historian is not None
        t0, t1 = trend.visible_range()
        columns = max(int(trend.getPlotItem().getViewBox().width()), 100)
        bindings = [b for b in self._bindings if b.trend is trend and b.name != ROCOF_SERIES]
        try:  # every series of the trend in one query
            envelopes = await self.historian.envelopes([b.name for b in bindings], t0, t1, columns)
        except Exception:
            log.exception("history of %s could not be read", ", ".join(b.name for b in bindings))
            return
        if trend.live:  # the operator pressed Live meanwhile
            return
        for b in bindings:
            t, v = envelopes[b.name]
            trend.set_history_data(b.name, t, v * b.scale if b.scale != 1.0 else v)

    def _show(self, readout: Readout, reading: Reading | None, scale: float = 1.0) -> None:
        if reading is None:
            readout.set_value(math.nan, Quality.COMM_FAILURE, Band.UNKNOWN, "no value yet")
            return
        readout.set_value(reading.value * scale, reading.quality, reading.band)

    def _show_balance(self, snap: GridSnapshot, scale: float) -> None:
        parts = [r for r in (snap.demand, snap.supply) if r is not None]
        if len(parts) < 2:
            self.balance_readout.set_value(math.nan, Quality.COMM_FAILURE, Band.UNKNOWN)
            return
        worst = next((r.quality for r in parts if not r.quality.usable), Quality.GOOD)
        self.balance_readout.set_value(snap.balance_w * scale, worst, Band.NORMAL)

    def _show_event(self, active: FrequencyEvent | None, last: FrequencyEvent | None,
                    frequency: Reading | None) -> None:
        """The event card. Amber only while an event is under way *and* frequency has left the
        normal band (an excursion that stayed inside it is worth a line, not the operator's eye);
        over stale or bad frequency it says so and claims nothing about an event "now"."""
        event = active or last
        trusted = frequency is not None and frequency.quality.usable
        if not trusted:
            if frequency is None:
                why = "no frequency yet"
            else:
                quality = frequency.quality.name.lower().replace("_", " ")
                why = f"frequency {quality} since {_clock(frequency.source_ts)}"
            text = f"STALE — {why}"
            if event is not None:  # what was known, without claiming it is still so
                text += "\nlast known: " + "\n".join(self._event_lines(event, active is not None)[:2])
            state = "stale"
        elif event is None:
            text, state = "No frequency event", "normal"
        else:
            text = "\n".join(self._event_lines(event, active is not None))
            state = "alert" if active is not None and self._left_band(event) else "normal"
        self.event_card.setText(text)
        fb = self.frequency_bands
        self.event_card.setToolTip(
            "" if event is None or self._left_band(event) else
            f"Frequency stayed inside the normal band {fb.normal_low_hz:g}–{fb.normal_high_hz:g} Hz")
        set_style_property(self.event_card, "state", state)

    def _left_band(self, event: FrequencyEvent) -> bool:
        fb = self.frequency_bands
        return event.nadir_hz < fb.normal_low_hz or event.zenith_hz > fb.normal_high_hz

    def _event_lines(self, event: FrequencyEvent, active: bool) -> list[str]:
        """Three short lines: when (and whether it stayed in band), the extreme, the steepest ROCOF."""
        when = (f"FREQUENCY EVENT since {_clock(event.start_ts)}" if active or event.end_ts is None
                else f"Last event {_clock(event.start_ts)}–{_clock(event.end_ts)}")
        if not self._left_band(event):
            when += ", in band"
        extreme = (
            f"nadir {event.nadir_hz:.3f} Hz at {_clock(event.nadir_ts)}"
            if self.nominal_hz - event.nadir_hz >= event.zenith_hz - self.nominal_hz
            else f"zenith {event.zenith_hz:.3f} Hz at {_clock(event.zenith_ts)}"
        )
        return [when, extreme, f"max |ROCOF| {event.max_abs_rocof:.3f} Hz/s"]


PER_UNIT = "% of nominal"
ROCOF_SPAN = 0.01  # Hz/s: the ROCOF trend's smallest half-range
CURSOR_HINT = "Point at a trend to read the time and every value at that moment (all trends share one time axis)"


def _unit_of(point: PointDef | None, default: str) -> Unit:
    """The configured unit of a point (its symbol and factor to SI)."""
    if point is None:
        return parse_unit(default)
    try:
        return Unit(point.unit, parse_unit(point.unit).quantity, point.factor)
    except ValueError:  # a point built outside the config loader with a free-text unit
        return Unit(point.unit, Quantity.DIMENSIONLESS, point.factor)


def _shared_unit(points: list[PointDef], quantity: Quantity) -> Unit:
    """One unit for points that share a readout or a trend: theirs if they agree,
    else the largest of theirs (a kW feeder and an MW area read together in MW)."""
    units = {(p.unit, p.factor) for p in points}
    if len(units) == 1:
        symbol, factor = units.pop()
        return Unit(symbol, quantity, factor)
    return auto_unit(quantity, max((p.factor for p in points), default=1.0))


def _decimals(unit: Unit, in_si: int) -> int:
    """Decimals for a unit, from those of its SI unit: a larger unit shows one more
    (20.40 kV: 10 V), a smaller one three fewer (49,987 mHz: as 49.987 Hz)."""
    if unit.factor > 1:
        return min(in_si + 1, 3)
    if unit.factor < 1:
        return max(in_si - 3, 0)
    return in_si


def _number(x: float) -> str:
    return f"{x:g}"


def _bus_value(p: PointDef, si_value: float) -> str:
    """``20.40 kV = 102.0 % of 20 kV nominal``: the absolute value first, then per unit."""
    return (f"{p.display(si_value):,.{_decimals(_unit_of(p, 'V'), 1)}f} {p.unit} = "
            f"{100.0 * si_value / p.nominal:.1f} % of {_number(p.display(p.nominal))} {p.unit} nominal")


def _inner(label: str) -> str:
    """"ROCOF (substation)" -> "substation": a legend under the title "ROCOF [Hz/s]" names the source only."""
    head, sep, rest = label.partition(" (")
    return rest[:-1] if sep and rest.endswith(")") and head else label


def _per_unit_hover(p: PointDef) -> Callable[[float], str]:
    """Cursor text of a per-unit trace: the absolute value behind the percentage, ``20.40 kV (102.0 %)``."""
    decimals = _decimals(_unit_of(p, "V"), 1)
    return lambda percent: f"{p.display(percent / 100.0 * p.nominal):,.{decimals}f} {p.unit} ({percent:.1f} %)"


def _fixed(decimals: int, unit: str) -> Callable[[float], str]:
    """Cursor text of a plotted value with the readout's decimals."""
    return lambda value: f"{value:,.{decimals}f} {unit}"


def _bus_tip(p: PointDef, si_value: float) -> str:
    """Tooltip of a bus readout: the absolute value and what it is per unit."""
    if not (math.isfinite(si_value) and math.isfinite(p.nominal) and p.nominal > 0):
        return f"{p.name}: nominal {_number(p.display(p.nominal))} {p.unit}"
    return f"{p.name}: {_bus_value(p, si_value)}"


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))
