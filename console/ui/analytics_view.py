"""Analytics tab (F6): the report KPIs of a period and the day-ahead forecasts with their error.

Everything is computed off the UI thread (the services' reads run in worker threads); the tab shows
"computing…" meanwhile and the console stays live. Grey normal, colour only where a figure is abnormal
(a bus not EN 50160 compliant, time in the emergency band, a forecast worse than its baseline).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console.services.forecast import ForecastSeries, ForecastSet
from console.services.report_production import ProductionService
from console.services.reports import StabilityKpis, energy_totals, stability_kpis
from core.participants import TOTAL
from core.reports.economics import carbon_avoided_kg, efficiency, savings
from core.reports.energy import EnergyTotals
from widgets.cells import ColumnFit, keep_state_on_selection
from widgets.plot_frame import PlotPlaceholder

log = logging.getLogger(__name__)

PERIODS = ("Yesterday", "Last 7 days", "Last 30 days", "Last calendar month", "Custom")
GREY, FORECAST, ALARM = "#9aa0a6", "#d8dadd", "#e0a030"
WAITING = "Press Compute to forecast {what}"


def _day(d: QDate) -> float:
    return datetime(d.year(), d.month(), d.day(), tzinfo=UTC).timestamp()


def _qdate(ts: float) -> QDate:
    d = datetime.fromtimestamp(ts, UTC)
    return QDate(d.year, d.month, d.day)


def _f(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}" if math.isfinite(x) else "–"


class AnalyticsView(QWidget):
    """Period picker and KPI tables on the left, forecasts (load and PV, one participant or all) right."""

    def __init__(self, service: ProductionService, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.service = service
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.forecasts: ForecastSet | None = None

        self.period = QComboBox()
        self.period.addItems(PERIODS)
        self.start, self.end, self.fday = QDateEdit(), QDateEdit(), QDateEdit()
        for e in (self.start, self.end, self.fday):
            e.setDisplayFormat("yyyy-MM-dd")
            e.setCalendarPopup(True)
        self.fday.setToolTip("The UTC day to forecast (tomorrow by default); a past day shows its actuals")
        self.compute_button = QPushButton("Compute")
        # Until the first computation the panels below are empty: say why, and what brings them.
        self.status = QLabel("Nothing computed yet: choose a period, then Compute")
        self.status.setObjectName("analyticsStatus")
        self.who = QComboBox()
        self.who.setToolTip("Forecast of one participant, or of all of them")
        self.period.currentIndexChanged.connect(self._period_changed)
        self.compute_button.clicked.connect(self.compute)
        self.who.currentIndexChanged.connect(self._show_forecast)

        top = QHBoxLayout()
        for w in (QLabel("Period"), self.period, QLabel("from"), self.start, QLabel("to (excl.)"), self.end,
                  QLabel("   Forecast day"), self.fday, self.compute_button):
            top.addWidget(w)
        top.addWidget(self.status, 1)

        self.stability = self._table(("KPI", "value"))
        self.energy = self._table(("participant", "PV", "wind", "used", "import", "export", "self-cons.",
                                   "self-suff.", "batt. RT", f"saved {service.site.tariff.currency}", "CO2e kg"))
        # Columns as wide as their labels and values ask ("saved EUR" and "self-cons." were cut by an
        # equal stretch at 1366 x 768), the room left to the figures / to the KPI's value.
        self.energy_columns = ColumnFit(self.energy, stretch=range(1, self.energy.columnCount()))
        self.stability_columns = ColumnFit(self.stability, stretch=(1,))
        kpis = QVBoxLayout()
        for title, table in (("Grid stability", self.stability), ("Energy (kWh), efficiency (%), savings and "
                                                                   "carbon avoided", self.energy)):
            box = QGroupBox(title)
            QVBoxLayout(box).addWidget(table)
            kpis.addWidget(box, 0 if table is self.stability else 1)
        self.stability.setFixedHeight(6 * 28 + 34)

        self.load_plot, self.pv_plot = pg.PlotWidget(), pg.PlotWidget()
        self.load_label, self.pv_label = QLabel(""), QLabel("")
        fc = QGroupBox("Day-ahead forecasts (UTC, 15 min)")
        grid = QGridLayout(fc)
        grid.addWidget(QLabel("Participant"), 0, 0)
        grid.addWidget(self.who, 0, 1)
        for plot in (self.load_plot, self.pv_plot):
            plot.setBackground("#1e2124")
        # Until a forecast is computed each plot shows why it is empty, not empty 0-1 axes (on the plot's
        # background, so the panel does not change shape when the curves come).
        self.load_frame = PlotPlaceholder(self.load_plot, WAITING.format(what="the load"))
        self.pv_frame = PlotPlaceholder(self.pv_plot, WAITING.format(what="PV"))
        for row, (plot, frame, label, title) in enumerate(((self.load_plot, self.load_frame, self.load_label,
                                                            "Load kW"),
                                                           (self.pv_plot, self.pv_frame, self.pv_label, "PV kW"))):
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setLabel("left", title)
            plot.setLabel("bottom", "hour of day (UTC)")
            plot.addLegend(offset=(-8, 8))
            plot.setMouseEnabled(x=False, y=False)
            label.setWordWrap(True)
            grid.addWidget(label, 1 + 2 * row, 0, 1, 2)
            grid.addWidget(frame, 2 + 2 * row, 0, 1, 2)

        body = QHBoxLayout()
        left = QWidget()
        left.setLayout(kpis)
        body.addWidget(left, 11)
        body.addWidget(fc, 9)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        self.period.setCurrentIndex(1)
        self._period_changed()
        self.fday.setDate(_qdate(self._now() + 86400))

    def _now(self) -> float:
        now: float = self._clock()
        return now

    @staticmethod
    def _table(header: tuple[str, ...]) -> QTableWidget:
        t = QTableWidget(0, len(header))
        t.setHorizontalHeaderLabels(list(header))
        t.verticalHeader().setVisible(False)
        t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        t.horizontalHeader().setStretchLastSection(False)
        t.setAlternatingRowColors(False)
        keep_state_on_selection(t)
        return t

    def _period_changed(self) -> None:
        today = float(math.floor(self._now() / 86400) * 86400)
        i = self.period.currentIndex()
        custom = PERIODS[i] == "Custom"
        self.start.setEnabled(custom)
        self.end.setEnabled(custom)
        if custom:
            return
        if i == 0:
            t0, t1 = today - 86400, today
        elif i == 1:
            t0, t1 = today - 7 * 86400, today
        elif i == 2:
            t0, t1 = today - 30 * 86400, today
        else:
            first = datetime.fromtimestamp(today, UTC).replace(day=1)
            t1 = first.timestamp()
            t0 = (first - timedelta(days=1)).replace(day=1).timestamp()
        self.start.setDate(_qdate(t0))
        self.end.setDate(_qdate(t1))

    def compute(self) -> None:
        """Compute the period's KPIs and the forecasts in the background (a second press restarts)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = asyncio.get_event_loop().create_task(self.refresh())

    async def refresh(self) -> None:
        t0, t1 = _day(self.start.date()), _day(self.end.date())
        if not t1 > t0:
            self.status.setText("the period's end must be after its start")
            return
        self.status.setText("computing…")
        self.compute_button.setEnabled(False)
        s = self.service
        try:
            kpis, (rows, hourly) = await asyncio.gather(
                asyncio.to_thread(stability_kpis, s.site, s.reader, t0, t1),
                asyncio.to_thread(energy_totals, s.site, s.reader, t0, t1))
            self.show_kpis(kpis, rows, hourly)
            self.status.setText("forecasting…")
            self.forecasts = await s.forecasts.forecast(_day(self.fday.date()))
            self.show_forecasts(self.forecasts)
            self.status.setText(f"{self.start.date().toString('yyyy-MM-dd')} to "
                                f"{self.end.date().toString('yyyy-MM-dd')} (UTC)")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # shown, not swallowed: the operator sees why nothing appeared
            log.exception("analytics failed")
            self.status.setText(f"failed: {exc}")
        finally:
            self.compute_button.setEnabled(True)

    # ---- showing -----------------------------------------------------------------------------------------

    def show_kpis(self, k: StabilityKpis, rows: list[EnergyTotals], hourly: np.ndarray) -> None:
        items: list[tuple[str, str, bool]] = []
        if k.bands is not None:
            b = k.bands
            items += [("normal band", f"{_f(100 * b.share(b.normal_s), 3)} %  ({_f(b.normal_s / 3600)} h)", False),
                      ("alert band", f"{_f(100 * b.share(b.alert_s), 3)} %  ({_f(b.alert_s / 3600, 2)} h)", False),
                      ("emergency band", f"{_f(100 * b.share(b.emergency_s), 3)} %  ({_f(b.emergency_s / 60)} min)",
                       b.emergency_s > 0),
                      ("no data", f"{_f(b.no_data_s / 3600, 2)} h", b.no_data_s > 0)]
        nadir = min((e.nadir_hz for e in k.events), default=math.nan)
        rocof = max((e.max_abs_rocof for e in k.events), default=math.nan)
        items += [("frequency events", f"{len(k.events)}  (lowest nadir {_f(nadir, 3)} Hz, max |ROCOF| "
                                       f"{_f(rocof, 3)} Hz/s)", False)]
        bad = [c.bus for c in k.buses if not c.compliant]
        items.append(("EN 50160 buses compliant", f"{len(k.buses) - len(bad)} of {len(k.buses)}"
                      + (f"  (not: {', '.join(bad)})" if bad else ""), bool(bad)))
        self.stability.setRowCount(len(items))
        for r, (name, value, abnormal) in enumerate(items):
            self.stability.setItem(r, 0, QTableWidgetItem(name))
            cell = QTableWidgetItem(value)
            if abnormal:
                cell.setForeground(pg.mkColor(ALARM))
            self.stability.setItem(r, 1, cell)
        site = self.service.site
        total_kg = carbon_avoided_kg(hourly.tolist(), site.emission) if rows else math.nan
        self.energy.setRowCount(len(rows))
        for r, e in enumerate(rows):
            eff, sv = efficiency(e), savings(e, site.tariff)
            kg = total_kg if e.participant == TOTAL else e.generation_wh / 1e6 * site.emission.g_per_kwh
            values = (e.participant, _f(e.pv_wh / 1000), _f(e.wind_wh / 1000), _f(e.consumption_wh / 1000),
                      _f(e.imported_wh / 1000), _f(e.exported_wh / 1000), _f(100 * eff.self_consumption),
                      _f(100 * eff.self_sufficiency), _f(100 * eff.battery_round_trip),
                      _f(sv.saved, 2), _f(kg))
            for c, v in enumerate(values):
                item = QTableWidgetItem(v)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if e.participant == TOTAL:
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                self.energy.setItem(r, c, item)

    def show_forecasts(self, f: ForecastSet) -> None:
        names = list(dict.fromkeys(s.participant for s in f.series))
        names.sort(key=lambda n: (n != TOTAL, n))
        self.who.blockSignals(True)
        current = self.who.currentText()
        self.who.clear()
        self.who.addItems(names)
        if current in names:
            self.who.setCurrentText(current)
        self.who.blockSignals(False)
        self._show_forecast()

    def _show_forecast(self) -> None:
        f = self.forecasts
        if f is None:
            return
        who = self.who.currentText()
        day = datetime.fromtimestamp(f.day_start, UTC).strftime("%Y-%m-%d")
        for kind, plot, frame, label in (("load", self.load_plot, self.load_frame, self.load_label),
                                         ("pv", self.pv_plot, self.pv_frame, self.pv_label)):
            plot.clear()
            s = f.of(who, kind)
            if s is None:
                label.setText(f"{'Load' if kind == 'load' else 'PV'}: no data for {who}")
                frame.show_text(f"No {'load' if kind == 'load' else 'PV'} data for {who}")
                continue
            self._plot(plot, s, f.step_s)
            frame.show_plot()
            self._label(label, s, kind, day)

    @staticmethod
    def _plot(plot: pg.PlotWidget, s: ForecastSeries, step_s: float) -> None:
        x = np.arange(len(s.forecast)) * step_s / 3600
        actual = np.array(s.actual, dtype=float) / 1000
        if np.isfinite(actual).any():
            plot.plot(x, actual, pen=pg.mkPen("#6fa8dc", width=1.5), name="actual")
        plot.plot(x, np.array(s.naive) / 1000, pen=pg.mkPen(GREY, width=1, style=Qt.PenStyle.DashLine),
                  name="seasonal naive (yesterday)")
        plot.plot(x, np.array(s.forecast) / 1000, pen=pg.mkPen(FORECAST, width=2),
                  name="Holt-Winters" if s.kind == "load" else "clear sky × learned index")
        plot.setXRange(0, 24, padding=0)

    @staticmethod
    def _label(label: QLabel, s: ForecastSeries, kind: str, day: str) -> None:
        what = "Load" if kind == "load" else "PV"
        where = "all steps" if kind == "load" else "daylight steps only"
        sk = s.skill
        digits = 2 if math.isfinite(sk.mape) and sk.mape < 1 else 1
        text = (f"{what} {day}: MAPE {_f(sk.mape, digits)} %  vs seasonal naive {_f(sk.naive_mape, digits)} %"
                f"  (ratio {_f(sk.ratio, 2)}; {s.eval_days} days before, {where})")
        label.setText(text)
        label.setStyleSheet(f"color: {ALARM};" if math.isfinite(sk.ratio) and sk.ratio > 1 else "")

