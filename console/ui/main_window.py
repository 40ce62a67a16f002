"""Main window: the grid view, time-window and pause controls, status bar."""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from console.config import Settings
from console.services.acquisition import AcquisitionService
from console.services.chain import ChainService
from console.services.commands import CommandService
from console.services.historian import HistorianService
from console.services.loop_monitor import LoopMonitor
from console.ui.chain_view import ChainView
from console.ui.devices_view import DevicesView
from console.ui.grid_view import GridView
from core.sources import ConnectionState, SourceStatus
from widgets.source_status import SourceIndicator
from widgets.style import set_style_property

WINDOWS = ((60.0, "1 min", "1"), (600.0, "10 min", "2"), (3600.0, "1 h", "3"))


class MainWindow(QMainWindow):
    """Top-level window. Pulls one snapshot per frame (≤ 20 Hz)."""

    def __init__(
        self,
        settings: Settings,
        acquisition: AcquisitionService,
        loop_monitor: LoopMonitor,
        historian: HistorianService | None = None,
        commands: CommandService | None = None,
        chain: ChainService | None = None,
        chain_error: str | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.acq = acquisition
        self.loop_monitor = loop_monitor
        self.historian = historian
        self.setWindowTitle(settings.console.title)
        self.view = GridView(acquisition, settings.frequency_bands, settings.voltage_bands, historian)

        # Controls: time window (keys 1/2/3) and pause/live (space) ----------
        controls = QHBoxLayout()
        controls.setContentsMargins(6, 4, 6, 0)
        title = QLabel(settings.console.title)
        title.setStyleSheet("font-size: 11pt; color: #c9ccd0;")
        controls.addWidget(title)
        controls.addStretch(1)
        controls.addWidget(QLabel("Window:"))
        self.window_buttons = QButtonGroup(self)
        for seconds, label, key in WINDOWS:
            button = QPushButton(label)
            button.setCheckable(True)
            button.setToolTip(f"Show the last {label} (key {key})")
            button.setChecked(seconds == settings.console.trend_window_s)
            button.clicked.connect(lambda _=False, s=seconds: self.set_window(s))
            QShortcut(QKeySequence(key), self, activated=button.click)
            self.window_buttons.addButton(button)
            controls.addWidget(button)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setToolTip("Freeze the trends to scroll back (Space); Live resumes")
        self.pause_button.clicked.connect(self.toggle_pause)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, activated=self.toggle_pause)
        controls.addWidget(self.pause_button)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.view, "Grid  (F1)")
        self.devices_view: DevicesView | None = None
        if settings.modbus:
            self.devices_view = DevicesView(settings.modbus, commands)
            self.tabs.addTab(self.devices_view, "Field devices  (F2)")
        self.chain_view: ChainView | None = None
        if chain is not None:
            self.chain_view = ChainView(chain)
            self.tabs.addTab(self.chain_view, "Chain  (F3)")
        for key, index in ((Qt.Key.Key_F1, 0), (Qt.Key.Key_F2, 1), (Qt.Key.Key_F3, 2)):
            QShortcut(QKeySequence(key), self, activated=lambda i=index: self.tabs.setCurrentIndex(
                min(i, self.tabs.count() - 1)))
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(controls)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        # Status bar -----------------------------------------------------------
        self.indicators: dict[str, SourceIndicator] = {}
        for spec in settings.sources:
            ind = SourceIndicator(spec.name)
            self.indicators[spec.name] = ind
            self.statusBar().addWidget(ind)
        self.modbus_label = QLabel("")
        self.modbus_label.setObjectName("modbusStatus")
        self._modbus_names = {d.name for d in settings.modbus}
        if settings.modbus:
            self.statusBar().addWidget(self.modbus_label)
        self.chain = chain
        self.chain_label = QLabel(f"chain off: {chain_error}" if chain_error else "")
        self.chain_label.setObjectName("chainStatus")
        if chain is not None or chain_error:
            self.statusBar().addWidget(self.chain_label)
            if chain_error:
                set_style_property(self.chain_label, "state", "alert")
        self.rate_label = QLabel("")
        self.historian_label = QLabel("")
        self.historian_label.setObjectName("historianStatus")
        self.lag_label = QLabel("")
        self.clock_label = QLabel("")
        for w in (self.rate_label, self.historian_label, self.lag_label, self.clock_label):
            self.statusBar().addPermanentWidget(w)

        self.paused = False
        for trend in self.view.trends:
            trend.interacted.connect(self._on_trend_interaction)
        self.set_window(settings.console.trend_window_s)

        self._last_count = 0
        self._last_count_t = time.monotonic()
        self.frames = 0
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(int(1000 / settings.console.refresh_hz))
        self.resize(1600, 900)

    def set_window(self, seconds: float) -> None:
        """Show the last ``seconds`` of every trend."""
        for button, (s, _, _) in zip(self.window_buttons.buttons(), WINDOWS, strict=True):
            button.setChecked(s == seconds)
        self.view.set_window(seconds)
        if self.devices_view is not None:
            self.devices_view.totals_trend.set_window(seconds)

    def toggle_pause(self) -> None:
        self.set_paused(not self.paused)

    def set_paused(self, paused: bool) -> None:
        """Paused trends stay put for scrolling back; live follows the data."""
        if paused == self.paused:
            return
        self.paused = paused
        self.view.set_live(not paused)
        self.pause_button.setText("▶ Live" if paused else "Pause")
        set_style_property(self.pause_button, "paused", "true" if paused else "false")

    def _on_trend_interaction(self) -> None:
        self.set_paused(True)  # the operator grabbed a trend: stop moving it

    def refresh(self) -> None:
        """One UI frame: pull the snapshot, update every view."""
        snap = self.acq.snapshot()
        if self.tabs.currentIndex() == 0:
            self.view.refresh(snap)
        elif self.devices_view is not None and self.tabs.currentWidget() is self.devices_view:
            if self.frames % 5 == 0:  # a table needs no 20 Hz
                self.devices_view.refresh(snap, snap.sources, self.acq.events)
        elif self.chain_view is not None and self.tabs.currentWidget() is self.chain_view and self.frames % 5 == 0:
            self.chain_view.refresh()
        if (self.devices_view is not None and self.tabs.currentWidget() is not self.devices_view
                and self.frames % 5 == 0):
            self.devices_view.record_totals(snap)  # the totals trend has no gap when the tab is shown again
        if self.chain is not None and self.frames % 10 == 0:
            self._show_chain()
        for status in snap.sources:
            self._show_source(status)
        self._show_modbus(snap.sources)
        self.frames += 1
        now = time.monotonic()
        if now - self._last_count_t >= 1.0:
            stats = self.acq.stats()
            rate = (stats.samples - self._last_count) / (now - self._last_count_t)
            self._last_count, self._last_count_t = stats.samples, now
            self.rate_label.setText(f"{rate:,.0f} samples/s")
            self.lag_label.setText(f"loop lag p99 {self.loop_monitor.p99_ms():.0f} ms")
            self._show_historian()
            self.clock_label.setText(time.strftime("%Y-%m-%d %H:%M:%S"))

    def _show_modbus(self, statuses: Sequence[SourceStatus]) -> None:
        if not self._modbus_names:
            return
        mine = [s for s in statuses if s.source in self._modbus_names]
        ok = sum(s.state in (ConnectionState.CONNECTED,) for s in mine)
        down = len(self._modbus_names) - ok
        self.modbus_label.setText(f"● Modbus {ok}/{len(self._modbus_names)} devices ok" +
                                  (f", {down} not" if down else ""))
        set_style_property(self.modbus_label, "state", "normal" if not down else "alert")

    def _show_chain(self) -> None:
        assert self.chain is not None
        st = self.chain.status()
        if st.up:
            text = f"● chain block {st.block:,}" if st.block is not None else "● chain"
            if st.pending:
                text += f", {len(st.pending)} tx pending"
        else:
            text = f"● CHAIN DOWN, {len(st.pending)} command(s) kept for sending"
        self.chain_label.setText(text)
        self.chain_label.setToolTip(st.error or st.rpc)
        set_style_property(self.chain_label, "state", "normal" if st.up else "alert")

    def _show_historian(self) -> None:
        if self.historian is None:
            self.historian_label.setText("historian off")
            return
        st = self.historian.stats()
        text = f"historian: {st.written + st.replayed:,} stored, {st.queued:,} queued"
        state = "normal"
        if st.spool_pending or not st.db_ok:
            text += f", {st.spooled - st.replayed:,} spooled — database unreachable"
            state = "alert"
        if st.corrupt_records:
            text += f", {st.corrupt_records} corrupt spool record(s) skipped"
            state = "alert"
        self.historian_label.setText(text)
        self.historian_label.setToolTip(st.last_error or "writing normally")
        set_style_property(self.historian_label, "state", state)

    def _show_source(self, status: SourceStatus) -> None:
        ind = self.indicators.get(status.source)
        if ind is not None:
            ind.show_status(status)
