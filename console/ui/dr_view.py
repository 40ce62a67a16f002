"""Demand-response dashboard (F9): dispatch with confirmation, live progress of the selected event (target vs
achieved reduction per settlement interval, participants responding), and the history of events with their
M&V and payments per participant. Pulls DrService.events() on its refresh; the historian's curve is read in
a worker thread every few seconds, never on the UI thread."""

from __future__ import annotations

import asyncio
from datetime import datetime, tzinfo

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from console.services.dr import DrEventState, DrService, ParticipantState, Progress
from console.ui.chain_view import TOKEN_DECIMALS, confirmation, confirmed
from core.access import PermissionDenied
from widgets import palette
from widgets.cells import keep_state_on_selection
from widgets.style import set_style_property

EVENT_COLUMNS = ("Request", "Status", "Start", "Min", "Target kW", "Opted in", "Verified kWh", "Escrow ENC",
                 "Paid ENC")
# M&V: the console's measurement; Verified: as stated on chain; Delivered: capped at the target, paid on;
# Metered import: the net meter's import from opt-in to the last reading (the chain's audit figure).
PARTICIPANT_COLUMNS = ("Participant", "Opted in (block)", "M&V kWh", "Verified kWh", "Delivered kWh",
                       "Metered import kWh", "Verification", "Payable ENC", "Paid ENC")
PROGRESS_EVERY_S = 5.0


def enc(units: int | None) -> str:
    """Base units as ENC, exact (six decimals): a payment is shown to the base unit."""
    if units is None:
        return "—"
    return f"{units / 10**TOKEN_DECIMALS:,.6f}"


def kwh(wh: int | None) -> str:
    return "—" if wh is None else f"{wh / 1000:,.3f}"


def hm(ts: float | None, tz: tzinfo | None = None) -> str:
    """Day and time in the DR service's time zone (the site's: its settlement intervals are local)."""
    return "—" if ts is None else datetime.fromtimestamp(ts, tz).strftime("%d.%m %H:%M:%S")


def _seconds_west(tz: tzinfo) -> float:
    """pyqtgraph's DateAxisItem offset (seconds west of UTC, as time.timezone) for ``tz`` now; an event
    across a daylight-saving change is labelled one hour off after it."""
    offset = datetime.now(tz).utcoffset()
    return -offset.total_seconds() if offset is not None else 0.0


class DrView(QWidget):
    def __init__(self, service: DrService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.tasks: set[asyncio.Task[None]] = set()
        # Dispatch row ---------------------------------------------------------------------------------
        self.target_kw = QDoubleSpinBox(minimum=0.1, maximum=100_000, value=20, suffix=" kW", decimals=1)
        self.duration_min = QDoubleSpinBox(minimum=1, maximum=24 * 60, value=60, suffix=" min", decimals=0)
        self.price = QDoubleSpinBox(minimum=0.000001, maximum=1_000, value=0.30, suffix=" ENC/kWh", decimals=6)
        self.dispatch = QPushButton("Dispatch event…")
        self.dispatch.setToolTip("Request the reduction on chain (GridBalance); the escrow is the target energy "
                                 "at the price. Participants opt in with their own keys.")
        self.dispatch.clicked.connect(self.ask_dispatch)
        self.result = QLabel("")
        self.result.setObjectName("commandResult")
        top = QHBoxLayout()
        for label, w in (("Reduce", self.target_kw), ("for", self.duration_min), ("at", self.price)):
            top.addWidget(QLabel(label))
            top.addWidget(w)
        top.addWidget(self.dispatch)
        top.addWidget(self.result, 1)
        # History of events -------------------------------------------------------------------------------
        self.events_table = self._table(EVENT_COLUMNS)
        self.events_table.itemSelectionChanged.connect(self._selected_changed)
        # Selected event: curve and participants -------------------------------------------------------------
        self.plot = pg.PlotWidget(background=palette.BACKGROUND,
                                  axisItems={"bottom": pg.DateAxisItem(utcOffset=_seconds_west(service.tz))})
        self.plot.setMinimumHeight(180)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("left", "reduction", units="kW")
        self.plot.setTitle("Target (dashed) vs achieved reduction (solid), kW per 15-min interval",
                           color=palette.TEXT_DIM,
                           size="9pt")
        self.plot.getAxis("left").setPen(palette.GRID)
        self.plot.getAxis("bottom").setPen(palette.GRID)
        self.target_curve = self.plot.plot(pen=pg.mkPen(palette.SERIES[0], width=1, style=Qt.PenStyle.DashLine),
                                           stepMode="center", name="target")
        self.achieved_curve = self.plot.plot(pen=pg.mkPen(palette.SERIES[1], width=2), stepMode="center",
                                             name="achieved")
        self.summary = QLabel("Select an event")
        self.summary.setObjectName("drSummary")
        self.participants_table = self._table(PARTICIPANT_COLUMNS)
        detail = QWidget()
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.summary)
        dl.addWidget(self.plot, 1)
        dl.addWidget(self.participants_table, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.events_table)
        split.addWidget(detail)
        split.setSizes([220, 600])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self._events: list[DrEventState] = []
        self._selected: int | str | None = None
        self._progress: Progress | None = None
        self._progress_at = 0.0
        self._progress_task: asyncio.Task[None] | None = None

    @staticmethod
    def _table(columns: tuple[str, ...]) -> QTableWidget:
        t = QTableWidget(0, len(columns))
        t.setHorizontalHeaderLabels(list(columns))
        t.verticalHeader().setVisible(False)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        keep_state_on_selection(t)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        t.setWordWrap(False)  # a long reason elides; its tooltip has it whole
        return t

    # ---- refresh (the main window's timer) ------------------------------------------------------------

    def refresh(self) -> None:
        now = self.service.clock()
        self._events = self.service.events()
        t = self.events_table
        t.blockSignals(True)
        t.setRowCount(len(self._events))
        for row, ev in enumerate(self._events):
            status = ev.status(now)
            cells = (str(ev.request_id) if ev.request_id else (ev.key or "?"), status,
                     hm(ev.start, self.service.tz),
                     "—" if ev.start is None or ev.end is None else f"{(ev.end - ev.start) / 60:.4g}",
                     f"{ev.reduction_w / 1000:,.1f}", str(len(ev.participants)),
                     kwh(ev.total_delivered_wh if any(p.delivered_wh is not None for p in ev.participants) else None),
                     enc(ev.compensation), enc(ev.paid))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if col == 1 and (status.startswith("failed") or status.startswith("expired")):
                    item.setForeground(pg.mkColor(palette.ALERT))  # abnormal only: the rest stays grey
                t.setItem(row, col, item)
        if self._selected is None and self._events:
            self._selected = self._ident(self._events[0])
        for row, ev in enumerate(self._events):
            if self._ident(ev) == self._selected:
                t.selectRow(row)
        t.blockSignals(False)
        self._show_selected(now)

    @staticmethod
    def _ident(ev: DrEventState) -> int | str | None:
        return ev.request_id if ev.request_id is not None else ev.key

    def selected(self) -> DrEventState | None:
        return next((e for e in self._events if self._ident(e) == self._selected), None)

    def _selected_changed(self) -> None:
        rows = self.events_table.selectionModel().selectedRows()
        if rows and rows[0].row() < len(self._events):
            self._selected = self._ident(self._events[rows[0].row()])
            self._progress, self._progress_at = None, 0.0
            self._show_selected(self.service.clock())

    def _show_selected(self, now: float) -> None:
        ev = self.selected()
        if ev is None:
            self.summary.setText("No demand-response event yet: dispatch one above")
            self.participants_table.setRowCount(0)
            return
        self._show_participants(ev.participants, ended=ev.end is not None and now >= ev.end)
        responding = sum(1 for _ in ev.participants)
        verified = sum(p.delivered_wh is not None for p in ev.participants)
        text = (f"Request {ev.request_id or ev.key}: {ev.status(now)} · {ev.reduction_w / 1000:,.1f} kW "
                f"{hm(ev.start, self.service.tz)} – {hm(ev.end, self.service.tz)} · {responding} opted in, "
                f"{verified} verified · "
                f"verified {kwh(ev.total_delivered_wh)} of {kwh(ev.target_wh)} kWh · paid {enc(ev.paid)} of "
                f"{enc(ev.compensation)} ENC")
        if self._progress is not None and self._progress.measured < self._progress.responding:
            text += f" · {self._progress.responding - self._progress.measured} without a baseline or meter"
        self.summary.setText(text)
        if ev.start is not None and now - self._progress_at >= PROGRESS_EVERY_S and (
                self._progress_task is None or self._progress_task.done()):
            self._progress_at = now
            self._progress_task = asyncio.ensure_future(self._load_progress(ev))
        self._show_curve()

    async def _load_progress(self, ev: DrEventState) -> None:
        try:
            progress = await asyncio.to_thread(self.service.progress, ev)
        except Exception as exc:  # the curve is a view: say why it is missing, keep the rest
            self.plot.setTitle(f"Reduction curve unavailable: {exc}", color=palette.ALERT, size="9pt")
            return
        if self._ident(ev) == self._selected:
            self._progress = progress
            self._show_curve()

    def _show_curve(self) -> None:
        p = self._progress
        if p is None or not p.starts:
            self.target_curve.setData([], [])
            self.achieved_curve.setData([], [])
            return
        x = np.array([*p.starts, p.starts[-1] + p.step_s])
        top = max(p.target_kw, float(np.nanmax(p.achieved_kw)) if np.isfinite(p.achieved_kw).any() else 0.0)
        low = min(0.0, float(np.nanmin(p.achieved_kw)) if np.isfinite(p.achieved_kw).any() else 0.0)
        self.plot.setYRange(low, top * 1.15, padding=0)
        self.target_curve.setData(x, np.full(len(p.starts), p.target_kw))
        achieved = p.achieved_kw
        ok = ~np.isnan(achieved)
        if ok.any():
            last = int(np.max(np.nonzero(ok)))
            self.achieved_curve.setData(x[: last + 2], np.nan_to_num(achieved[: last + 1]))
        else:
            self.achieved_curve.setData([], [])

    def _show_participants(self, rows: tuple[ParticipantState, ...], ended: bool) -> None:
        t = self.participants_table
        t.setRowCount(len(rows))
        for r, p in enumerate(rows):
            waiting = "awaiting meter reading past the end" if ended else "responding"
            state = p.problem or p.verify_state or ("verified" if p.delivered_wh is not None else waiting)
            cells = (p.name, str(p.opted_in_block), kwh(p.measured_wh), kwh(p.verified_wh), kwh(p.delivered_wh),
                     kwh(p.metered_import_wh), state, enc(p.claimable), enc(p.claimed))
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(p.address if c == 0 else text)
                if c not in (0, 6):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 6 and (p.problem or state.startswith("failed")):
                    item.setForeground(pg.mkColor(palette.ALERT))
                t.setItem(r, c, item)

    # ---- dispatch --------------------------------------------------------------------------------------

    def ask_dispatch(self) -> None:
        kw, minutes, price = self.target_kw.value(), self.duration_min.value(), self.price.value()
        price_units = round(price * 10**TOKEN_DECIMALS)
        escrow = -(-round(kw * 1000) * int(minutes * 60) // 3600) * price_units // 1000
        if not confirmed(confirmation(
                self, "Confirm demand-response event",
                f"Ask participants to reduce {kw:,.1f} kW for {minutes:.0f} min at {price:.6f} ENC per verified kWh, "
                f"escrowing {enc(escrow)} ENC from the operator account? The event starts after the chain's "
                "notice period.", "Dispatch")):
            return
        task = asyncio.ensure_future(self._dispatch(kw, minutes * 60, price_units))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _dispatch(self, kw: float, duration_s: float, price_units: int) -> None:
        try:
            request = await self.service.create(kw, duration_s, price_units)
        except (ValueError, PermissionDenied) as exc:
            self._set_result(f"not sent: {exc}", alert=True)
            return
        self._selected = request.key
        self._set_result(f"event queued ({enc(request.compensation)} ENC escrow)", alert=False)

    def _set_result(self, text: str, alert: bool) -> None:
        self.result.setText(text)
        set_style_property(self.result, "state", "alert" if alert else "normal")


def dr_screen(tabs: QTabWidget, service: DrService) -> DrView:
    """The DR screen of the main window's ``tabs`` (its tab and F9 are the window's): refreshed every 0.5 s
    while it is shown."""
    view = DrView(service)
    timer = QTimer(view)
    timer.setInterval(500)
    timer.timeout.connect(lambda: view.refresh() if tabs.currentWidget() is view else None)
    timer.start()
    return view
