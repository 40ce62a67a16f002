"""The control-room grid view: readouts on top, trends below."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from console.services.acquisition import ROCOF_SERIES, AcquisitionService
from console.services.historian import HistorianService
from core.bands import Band, FrequencyBands, VoltageBands
from core.frequency import FrequencyEvent
from core.grid import GridSnapshot, Reading
from core.points import PointKind, Quality
from core.series import SeriesBuffer
from widgets.readout import Readout
from widgets.style import set_style_property
from widgets.trend import TrendWidget

log = logging.getLogger(__name__)

MW = 1e-6
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
        points = acquisition.points
        self.frequency_id = next((p.id for p in points if p.kind is PointKind.FREQUENCY), None)
        self.voltage_points = [p for p in points if p.kind is PointKind.VOLTAGE]
        demand = next((p for p in points if p.kind is PointKind.DEMAND), None)
        supply = next((p for p in points if p.kind is PointKind.SUPPLY), None)

        # Readouts ---------------------------------------------------------
        self.freq_readout = Readout("FREQUENCY", "Hz", decimals=3)
        self.rocof_readout = Readout("ROCOF (500 ms)", "Hz/s", decimals=3)
        self.demand_readout = Readout("DEMAND", "MW", decimals=1)
        self.supply_readout = Readout("SUPPLY", "MW", decimals=1)
        self.balance_readout = Readout("BALANCE (supply − demand)", "MW", decimals=1)
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

        self.bus_readouts: dict[str, Readout] = {}
        buses = QHBoxLayout()
        buses.setSpacing(6)
        for p in self.voltage_points:
            r = Readout(p.name.upper(), p.unit, decimals=1)
            r.setProperty("compact", "true")
            self.bus_readouts[p.id] = r
            buses.addWidget(r, 1)

        # Trends -------------------------------------------------------------
        fb = frequency_bands
        self.freq_trend = TrendWidget("Frequency", "Hz")
        self.freq_trend.set_band(fb.normal_low_hz, fb.normal_high_hz)
        margin = (fb.normal_high_hz - fb.normal_low_hz) * 0.25
        self.freq_trend.set_min_y_range(fb.normal_low_hz - margin, fb.normal_high_hz + margin)
        for limit in (fb.normal_low_hz, fb.normal_high_hz):
            self.freq_trend.add_limit(limit, "alert")
        self.rocof_trend = TrendWidget("ROCOF", "Hz/s")
        self.power_trend = TrendWidget("Demand vs supply", "MW")
        self.voltage_trend = TrendWidget("Feeder voltages", "V")
        nominals = {p.nominal for p in self.voltage_points if math.isfinite(p.nominal)}
        if len(nominals) == 1:
            low, high = voltage_bands.limits(nominals.pop())
            self.voltage_trend.set_band(low, high)
            self.voltage_trend.set_min_y_range(low - (high - low) * 0.1, high + (high - low) * 0.1)
            self.voltage_trend.add_limit(low, "alert")
            self.voltage_trend.add_limit(high, "alert")
        self.trends = (self.freq_trend, self.rocof_trend, self.power_trend, self.voltage_trend)
        for trend in self.trends:
            trend.range_moved.connect(lambda _t0, _t1, tr=trend: self._history_wanted(tr))

        self._bindings: list[_Binding] = []
        self._next_draw: dict[TrendWidget, float] = {}
        if self.frequency_id:
            self._bind(self.freq_trend, self.frequency_id)
            self._bind(self.rocof_trend, ROCOF_SERIES)
        for p, label in ((demand, "Demand"), (supply, "Supply")):
            if p is not None:
                self._bind(self.power_trend, p.id, label, scale=MW)
        if demand is not None and supply is not None:
            self.power_trend.show_legend()
        for p in self.voltage_points:
            self._bind(self.voltage_trend, p.id, p.name)
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
        self.last_frame_s = 0.0

    def _bind(self, trend: TrendWidget, series: str, label: str | None = None, scale: float = 1.0) -> None:
        trend.add_series(series, label)
        self._bindings.append(_Binding(trend, series, self.acq.trend(series), scale))

    # ---- per frame ------------------------------------------------------------

    def refresh(self, snap: GridSnapshot) -> None:
        """Update every readout and trend from one snapshot (one UI frame)."""
        started = time.perf_counter()
        self._show(self.freq_readout, snap.frequency)
        rocof_band = Band.NORMAL if math.isfinite(snap.rocof_hz_s) else Band.UNKNOWN
        self.rocof_readout.set_value(snap.rocof_hz_s, snap.rocof_quality, rocof_band)
        self._show(self.demand_readout, snap.demand, MW)
        self._show(self.supply_readout, snap.supply, MW)
        self._show_balance(snap)
        for p in self.voltage_points:
            self._show(self.bus_readouts[p.id], snap.reading(p.id))
        self._show_event(snap.active_event, snap.last_event)
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

    def _show_balance(self, snap: GridSnapshot) -> None:
        parts = [r for r in (snap.demand, snap.supply) if r is not None]
        if len(parts) < 2:
            self.balance_readout.set_value(math.nan, Quality.COMM_FAILURE, Band.UNKNOWN)
            return
        worst = next((r.quality for r in parts if not r.quality.usable), Quality.GOOD)
        self.balance_readout.set_value(snap.balance_w * MW, worst, Band.NORMAL)

    def _show_event(self, active: FrequencyEvent | None, last: FrequencyEvent | None) -> None:
        event = active or last
        if event is None:
            text = "No frequency event"
        else:
            head = "FREQUENCY EVENT since" if active else "Last event"
            extreme = (
                f"nadir {event.nadir_hz:.3f} Hz at {_clock(event.nadir_ts)}"
                if self.nominal_hz - event.nadir_hz >= event.zenith_hz - self.nominal_hz
                else f"zenith {event.zenith_hz:.3f} Hz at {_clock(event.zenith_ts)}"
            )
            text = (f"{head} {_clock(event.start_ts)}\n{extreme}\n"
                    f"max |ROCOF| {event.max_abs_rocof:.3f} Hz/s")
            if event.end_ts is not None:
                text += f", ended {_clock(event.end_ts)}"
        self.event_card.setText(text)
        set_style_property(self.event_card, "active", "true" if active else "false")


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))
