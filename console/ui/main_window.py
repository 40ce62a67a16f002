"""Main window: the grid view, time-window and pause controls, status bar."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from functools import partial

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from console.config import Settings
from console.services.achievements import AchievementService
from console.services.acquisition import AcquisitionService
from console.services.alarms import AlarmService
from console.services.balancing import BalancingService
from console.services.chain import ChainService
from console.services.commands import CommandService
from console.services.dr import DrService
from console.services.historian import HistorianService
from console.services.loop_monitor import LoopMonitor
from console.services.market import MarketService
from console.services.report_production import ProductionService
from console.services.users import desktop_user
from console.ui.alarms_view import AlarmsView
from console.ui.analytics_view import add_analytics_tab
from console.ui.balancing_view import BalancingScreens
from console.ui.chain_view import ChainView
from console.ui.devices_view import DevicesView
from console.ui.dr_view import install_dr_screen
from console.ui.grid_view import GridView
from console.ui.help import GUIDES, AboutDialog, GuideDialog, ShortcutsDialog
from console.ui.layout_menus import LayoutMenus
from console.ui.layouts import ScreenTabs
from console.ui.participants_view import ParticipantsView
from console.ui.trading_view import TradingView, banner_text, describe
from core.chain import ChainState
from core.sources import ConnectionState, SourceStatus
from widgets.alarm_banner import AlarmBanner
from widgets.command_palette import CommandPalette, PaletteEntry
from widgets.elided_label import ElidedLabel
from widgets.market_panel import MarketPanel
from widgets.palette import combined_state
from widgets.source_status import SourceIndicator, show_connection
from widgets.style import set_style_property, show_state

WINDOWS = ((60.0, "1 min", "1"), (600.0, "10 min", "2"), (3600.0, "1 h", "3"))


def badge_titles(achievements: AchievementService, participant: str) -> list[str]:
    """A participant's badges as its page lists them: awarded, or the mint's state while on its way."""
    return [b.title if b.state == "awarded" else f"{b.title} ({b.state})" for b in achievements.of(participant)]


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
        alarms: AlarmService | None = None,
        market: MarketService | None = None,
        production: ProductionService | None = None,
        dr: DrService | None = None,
        achievements: AchievementService | None = None,
        ui_settings: QSettings | None = None,
        balancing: BalancingService | None = None,
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
        # Every text in the window that comes from config or from the field elides
        # (ElidedLabel): no content may widen the window past the screen.
        title = ElidedLabel(settings.console.title, max_hint_chars=40)
        title.setStyleSheet("font-size: 11pt; color: #c9ccd0;")
        controls.addWidget(title, 1)
        # Paused: a banner in the controls row (no layout shift under the operator's mouse).
        self.paused_banner = ElidedLabel("", max_hint_chars=70)
        self.paused_banner.setObjectName("pausedBanner")
        self.paused_banner.setVisible(False)
        controls.addWidget(self.paused_banner, 2)
        controls.addStretch(0)
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

        self.tabs: QTabWidget = ScreenTabs()  # each screen's panels dock inside it (console/ui/layouts.py)
        self.tabs.addTab(self.view, "Grid  (F1)")
        self.devices_view: DevicesView | None = None
        if settings.modbus:
            self.devices_view = DevicesView(settings.modbus, commands)
            self.tabs.addTab(self.devices_view, "Field devices  (F2)")
        self.chain_view: ChainView | None = None
        if chain is not None:
            self.chain_view = ChainView(chain)
            self.tabs.addTab(self.chain_view, "Chain  (F3)")
        # The market: its tab on F4, its panel on the grid view, its suspension banner above every tab.
        self.market = market
        self.trading_view: TradingView | None = None
        self.market_panel: MarketPanel | None = None
        self.participants_view: ParticipantsView | None = None
        self.market_banner = ElidedLabel("", max_hint_chars=120)
        self.market_banner.setObjectName("marketBanner")
        self.market_banner.setVisible(False)
        if market is not None:
            self.trading_view = TradingView(market, desktop_user(settings), banner=False)
            self.tabs.addTab(self.trading_view, "Market  (F4)")
            QShortcut(QKeySequence(Qt.Key.Key_F4), self, activated=lambda: self.tabs.setCurrentWidget(
                self.trading_view))
            self.market_panel = MarketPanel()
            self.view.add_market_panel(self.market_panel)
            devices = self.devices_view
            self.participants_view = ParticipantsView(market, None if devices is None else (
                lambda: devices.balances(self.acq.snapshot())[0]),
                badges=None if achievements is None else partial(badge_titles, achievements))
            self.tabs.addTab(self.participants_view, "Participants  (F6)")
            QShortcut(QKeySequence(Qt.Key.Key_F6), self, activated=lambda: self.tabs.setCurrentWidget(
                self.participants_view))
        self.dr_view = install_dr_screen(self, self.tabs, dr) if dr is not None else None  # F9
        # F-keys name screens, not tab positions: the chain tab arrives late (the demo's chain) and tabs
        # exist only when their part is configured.
        for fkey, screen in ((Qt.Key.Key_F1, lambda: self.view), (Qt.Key.Key_F2, lambda: self.devices_view),
                             (Qt.Key.Key_F3, lambda: self.chain_view)):
            QShortcut(QKeySequence(fkey), self, activated=partial(self._show_screen, screen))
        # Alarms: the banner above the tabs (every tab), the alarm screen on F5 or a click on the banner.
        self.alarms = alarms
        self.alarm_banner: AlarmBanner | None = None
        self.alarms_view: AlarmsView | None = None
        if alarms is not None:
            self.alarm_banner = AlarmBanner()
            self.alarms_view = AlarmsView(alarms, desktop_user(settings).name, points=settings.points)
            self.tabs.addTab(self.alarms_view, "Alarms  (F5)")
            self.alarm_banner.clicked.connect(self.show_alarms)
            QShortcut(QKeySequence(Qt.Key.Key_F5), self, activated=self.show_alarms)
        self.analytics_view = add_analytics_tab(self, self.tabs, production) if production is not None else None
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(controls)
        if self.alarm_banner is not None:
            layout.addWidget(self.alarm_banner)
        layout.addWidget(self.market_banner)
        layout.addWidget(self.tabs, 1)
        # islanding / emergency band: the emergency panel above every screen, the balancing panel on F1
        self.balancing = BalancingScreens(self, layout, layout.count() - 1, self.view, balancing) \
            if balancing is not None else None
        self.setCentralWidget(central)

        # Status bar -----------------------------------------------------------
        self.indicators: dict[str, SourceIndicator] = {}
        for spec in settings.sources:
            ind = SourceIndicator(spec.name)
            self.indicators[spec.name] = ind
            self.statusBar().addWidget(ind)
        self.modbus_label = ElidedLabel("")
        self.modbus_label.setObjectName("modbusStatus")
        self._modbus_names = {d.name for d in settings.modbus}
        if settings.modbus:
            self.statusBar().addWidget(self.modbus_label)
        self.chain = chain
        self.chain_label = ElidedLabel(f"✕ chain off: {chain_error}" if chain_error else "")
        self.chain_label.setObjectName("chainStatus")
        if chain is not None or chain_error:
            self.statusBar().addWidget(self.chain_label)
            if chain_error:
                show_state(self.chain_label, "emergency")  # configured but could not start
        self.rate_label = ElidedLabel("", max_hint_chars=24)
        self.historian_label = ElidedLabel("", max_hint_chars=64)
        self.historian_label.setObjectName("historianStatus")
        self.lag_label = ElidedLabel("", max_hint_chars=28)
        self.clock_label = QLabel("")  # fixed width: "2026-12-01 22:30:43"
        for w in (self.rate_label, self.historian_label, self.lag_label, self.clock_label):
            self.statusBar().addPermanentWidget(w)

        self.paused = False
        for trend in self.view.trends:
            trend.interacted.connect(self._on_trend_interaction)
        self.view.freq_trend.range_moved.connect(self._show_paused_banner)  # time axes are linked: one is enough
        self.set_window(settings.console.trend_window_s)

        self._last_count = 0
        self._last_count_t = time.monotonic()
        self.frames = 0
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(int(1000 / settings.console.refresh_hz))
        self.command_palette = CommandPalette(self, self.palette_entries)
        QShortcut(QKeySequence("Ctrl+K"), self, activated=self.open_palette)
        self.layout_menus = LayoutMenus(self, ui_settings, desktop_user(settings).role)  # View, Layouts
        self._build_help_menu()
        # 1600 x 900 where the screen has room; never larger than the screen's free area (a 1366 x 768
        # laptop): a window wider than its screen hides the clock, buttons and readouts off its edge. The
        # offscreen platform's pretend 800 x 600 screen is no reason to shrink a screenshot.
        real = QGuiApplication.platformName() != "offscreen" and self.screen() is not None
        free = self.screen().availableGeometry() if real else None
        self.resize(min(1600, free.width()) if free else 1600, min(900, free.height()) if free else 900)
        self.layout_menus.start()  # the session's layout, else the last named one, else the role's default

    # ---- command palette (Ctrl+K) ---------------------------------------------------------------

    def palette_entries(self) -> list[PaletteEntry]:
        """Every tab, every keyed action, every device and every configured point."""
        entries: list[PaletteEntry] = []
        for i in range(self.tabs.count()):
            name, _, key = self.tabs.tabText(i).partition("(")
            entries.append(PaletteEntry(f"Go to {name.strip()}", "Tab", partial(self.tabs.setCurrentIndex, i),
                                        key.rstrip(")").strip()))
        entries.append(PaletteEntry("Pause / resume the trends", "Action", self.toggle_pause, "Space"))
        for seconds, label, key in WINDOWS:
            entries.append(PaletteEntry(f"Trend window {label}", "Action", partial(self._pick_window, seconds), key))
        if self.alarms_view is not None:
            entries.append(PaletteEntry("Show the alarm summary", "Action", self.show_alarms, "F5"))
        if self.devices_view is not None:
            view = self.devices_view
            for spec in self.settings.modbus:
                entries.append(PaletteEntry(view.label(spec.name), "Device", partial(self._show_device, spec.name),
                                            detail=spec.name))
        for point in self.settings.points:
            entries.append(PaletteEntry(f"{point.name}  ({point.id})", "Point",
                                        partial(self.tabs.setCurrentWidget, self.view),
                                        detail=f"{point.unit} {point.kind.value}"))
        entries.extend(self.layout_menus.palette_entries())
        return entries

    def closeEvent(self, event: QCloseEvent) -> None:
        self.layout_menus.save_session()  # the next start opens as the window was left
        super().closeEvent(event)

    def _build_help_menu(self) -> None:
        menu = self.menuBar().addMenu("&Help")
        for name in GUIDES:
            menu.addAction(name, partial(self._show_dialog, partial(GuideDialog, name, self)))
        menu.addAction("Keyboard shortcuts", partial(self._show_dialog, lambda: ShortcutsDialog(
            [(e.key, e.label) for e in self.palette_entries() if e.key], self)))
        menu.addAction("Command palette…\tCtrl+K", self.open_palette)
        menu.addSeparator()
        menu.addAction("About EnergyNet Console", partial(self._show_dialog, partial(AboutDialog, self.settings, self)))

    def _show_dialog(self, make: Callable[[], QDialog]) -> None:
        self._dialog = make()  # kept: a dialog without a reference is collected while open
        self._dialog.show()

    def open_palette(self) -> None:
        self.command_palette.open_palette()

    def _show_screen(self, screen: Callable[[], QWidget | None]) -> None:
        widget = screen()
        if widget is not None:
            self.tabs.setCurrentWidget(widget)

    def _pick_window(self, seconds: float) -> None:
        for button, (s, _label, _key) in zip(self.window_buttons.buttons(), WINDOWS, strict=True):
            if s == seconds:
                button.click()

    def _show_device(self, device: str) -> None:
        assert self.devices_view is not None
        self.tabs.setCurrentWidget(self.devices_view)
        self.devices_view.select_device(device)

    def show_chain_starting(self) -> None:
        """The chain is being started in the background (the demo): say so until :meth:`attach_chain`."""
        self.chain_label.setText("chain starting…")
        if self.chain_label.parentWidget() is None:
            self.statusBar().addWidget(self.chain_label)

    def attach_dr(self, dr: DrService) -> None:
        """The DR dashboard (F9) once its service exists (after the demo's late chain)."""
        if self.dr_view is None:
            self.dr_view = install_dr_screen(self, self.tabs, dr)

    def attach_chain(self, chain: ChainService | None, error: str | None) -> None:
        """The chain service once it exists (the demo deploys it after the window opened), or why not."""
        if self.chain is not None or self.chain_view is not None:
            return
        if self.chain_label.parentWidget() is None:
            self.statusBar().addWidget(self.chain_label)
        if chain is None:
            self.chain_label.setText(f"chain off: {error}" if error else "chain off")
            set_style_property(self.chain_label, "state", "alert")
            return
        self.chain = chain
        self.chain_view = ChainView(chain)
        self.tabs.addTab(self.chain_view, "Chain  (F3)")
        self._show_chain()

    def set_window(self, seconds: float) -> None:
        """Show the last ``seconds`` of every trend."""
        for button, (s, _, _) in zip(self.window_buttons.buttons(), WINDOWS, strict=True):
            button.setChecked(s == seconds)
        self.view.set_window(seconds)
        if self.devices_view is not None:
            self.devices_view.totals_trend.set_window(seconds)

    def show_alarms(self) -> None:
        """The alarm screen, its list focused so Enter / Space acknowledge at once."""
        if self.alarms_view is not None:
            self.tabs.setCurrentWidget(self.alarms_view)
            self.alarms_view.table.setFocus()

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
        self.paused_banner.setVisible(paused)
        self._show_paused_banner()

    def _show_paused_banner(self, *_args: object) -> None:
        """``PAUSED — scrolled back to 12:03:04``: the newest time the trends show."""
        if not self.paused:
            return
        _, t1 = self.view.freq_trend.visible_range()
        self.paused_banner.setText(f"PAUSED — scrolled back to {time.strftime('%H:%M:%S', time.localtime(t1))}"
                                   "   (Space or ▶ Live resumes)")

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
        if self.market is not None:
            self._show_market()
        if self.chain is not None and self.frames % 10 == 0:
            self._show_chain()
        if self.alarms is not None and self.alarm_banner is not None and self.alarms_view is not None:
            self.alarm_banner.show_snapshot(self.alarms.snapshot())
            if self.tabs.currentWidget() is self.alarms_view:
                self.alarms_view.refresh()
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

    def _show_market(self) -> None:
        """The trading tab every frame it is shown (it redraws only on a change); the grid view's panel and
        the suspension banner 4 times a second: a market burst never costs the grid view its frame rate."""
        market = self.market
        assert market is not None
        if self.trading_view is not None and self.tabs.currentWidget() is self.trading_view:
            self.trading_view.refresh()
        elif self.participants_view is not None and self.tabs.currentWidget() is self.participants_view \
                and self.frames % 5 == 0:
            self.participants_view.refresh()
        if self.frames % 5:
            return
        market.reference_history()  # keeps every reference price for the price chart, whichever tab is shown
        halts = market.suspensions()
        self.market_banner.setVisible(bool(halts))
        if halts:
            self.market_banner.setText(banner_text(halts, market.rules.period_s))
        if self.market_panel is not None and self.tabs.currentIndex() == 0:
            upcoming = market.upcoming(1)
            d = market.product_depth(upcoming[0].product, 200) if upcoming else None
            halt = market.suspension(d.product if d is not None else None)
            balance = self.acq.snapshot().balance_w  # the same figure as the balance readout beside it
            self.market_panel.show_market(
                d.product if d else None, d.bids if d else (), d.asks if d else (), d.last_price if d else None,
                d.best_bid if d else None, d.best_ask if d else None, d.gate_closure_in_s if d else 0,
                market.reference, round(balance) if math.isfinite(balance) else None, market.rules.tick,
                describe(halt, market.rules.period_s) if halt else None, market.rules.period_s)

    def _show_modbus(self, statuses: Sequence[SourceStatus]) -> None:
        if not self._modbus_names:
            return
        reported = {s.source: s.state for s in statuses if s.source in self._modbus_names}
        states = [reported.get(name, ConnectionState.CONNECTING) for name in self._modbus_names]
        ok = sum(s is ConnectionState.CONNECTED for s in states)
        down = len(states) - ok
        self.modbus_label.setText(f"● Modbus {ok}/{len(states)} devices ok" + (f", {down} down" if down else ""))
        show_connection(self.modbus_label, combined_state(states))

    def _show_chain(self) -> None:
        assert self.chain is not None
        st = self.chain.status()
        if st.up:
            text = f"● chain block {st.block:,}" if st.block is not None else "● chain"
            if st.pending:
                text += f", {len(st.pending)} tx pending"
        elif st.state is ChainState.DIFFERENT_CHAIN:
            text = f"◐ DIFFERENT CHAIN, {len(st.pending)} command(s) wait for the operator (chain tab)"
        else:
            text = f"✕ CHAIN {st.state.value.upper()}, {len(st.pending)} command(s) kept for sending"
        self.chain_label.setText(text)
        self.chain_label.set_detail(st.error or st.rpc)
        show_connection(self.chain_label, st.state)

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
        self.historian_label.set_detail(st.last_error or "writing normally")
        show_state(self.historian_label, state)

    def _show_source(self, status: SourceStatus) -> None:
        ind = self.indicators.get(status.source)
        if ind is not None:
            ind.show_status(status)
