"""Main window: the grid view, time-window and pause controls, status bar."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, cast

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
from console.ui.balancing_view import BalancingScreens
from console.ui.chain_view import ChainView
from console.ui.devices_view import DevicesView
from console.ui.grid_view import GridView
from console.ui.help import GUIDES, AboutDialog, GuideDialog, ShortcutsDialog
from console.ui.layout_menus import LayoutMenus
from console.ui.layouts import ScreenTabs
from console.ui.participants_view import ParticipantsView
from console.ui.trading_view import Desk, TradingView, banner_text, describe
from core.chain import ChainState
from core.sources import ConnectionState, SourceStatus
from widgets.alarm_banner import AlarmBanner
from widgets.command_palette import CommandPalette, PaletteEntry
from widgets.elided_label import ElidedLabel
from widgets.market_panel import MarketPanel
from widgets.palette import combined_state
from widgets.source_status import SourceIndicator, show_connection
from widgets.style import set_style_property, show_state

if TYPE_CHECKING:
    from console.ui.analytics_view import AnalyticsView
    from console.ui.dr_view import DrView
    from core.access import User
    from core.grid import GridSnapshot
    from core.participants import EnergyBalance
    from core.sources import ModbusDeviceSpec

BACKLOG_FRAMES = 4 * 600  # the devices' totals kept for a screen not built yet: 10 min at 4 Hz
WINDOWS = ((60.0, "1 min", "1"), (600.0, "10 min", "2"), (3600.0, "1 h", "3"))


def badge_titles(achievements: AchievementService, participant: str) -> list[str]:
    """A participant's badges as its page lists them: awarded, or the mint's state while on its way."""
    return [b.title if b.state == "awarded" else f"{b.title} ({b.state})" for b in achievements.of(participant)]


def analytics_view(production: ProductionService) -> AnalyticsView:
    """The analytics screen (F7); its module (forecasts, KPIs) is imported when the screen is first built."""
    from console.ui.analytics_view import AnalyticsView

    return AnalyticsView(production)


def dr_screen(tabs: QTabWidget, service: DrService) -> DrView:
    """The DR screen (F9), refreshed with a timer while it is shown; imported when first built."""
    from console.ui.dr_view import dr_screen as make

    return make(tabs, service)


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
        # Only the grid is built before the window shows; every other screen is a placeholder tab until it is
        # first shown, or until the idle slices after the first live frame build it (build_screens_later;
        # docs/decisions.md, "Screens built after the first frame"). What a screen shows lives in its service
        # (alarms, market, chain, DR), which exists from the start; the devices screen's totals trend is fed
        # the snapshots it missed when it is built.
        self._factories: dict[str, tuple[str, Callable[[], QWidget]]] = {}
        self._background = False  # build_screens_later has run: a screen added later is built in the background
        self._placeholders: dict[str, QWidget] = {}
        self._screens: dict[str, QWidget] = {}
        # the devices trend's 4 Hz snapshots until it is built (seconds after the first frame; bounded for a
        # window whose screens are never built in the background: a test's, a screenshot script's)
        self._totals_backlog: deque[GridSnapshot] = deque(maxlen=BACKLOG_FRAMES)
        self._trend_window_s = settings.console.trend_window_s
        self._desk: Desk | None = None  # the market desk's signer, for a trading screen built later
        self._alarm_user: object = desktop_user(settings).name  # the alarm screen's acting user (a User)
        self.tabs.currentChanged.connect(self._build_shown)  # first: the others see the built screen
        self.tabs.addTab(self.view, "Grid  (F1)")
        if settings.modbus:
            self.add_screen("devices", "Field devices  (F2)", partial(self._make_devices, settings.modbus, commands),
                            Qt.Key.Key_F2)
        if chain is not None:
            self.add_screen("chain", "Chain  (F3)", partial(ChainView, chain), Qt.Key.Key_F3)
        # The market: its tab on F4, its panel on the grid view, its suspension banner above every tab.
        self.market = market
        self.market_panel: MarketPanel | None = None
        self.market_banner = ElidedLabel("", max_hint_chars=120)
        self.market_banner.setObjectName("marketBanner")
        self.market_banner.setVisible(False)
        if market is not None:
            self.add_screen("market", "Market  (F4)", partial(self._make_trading, market, desktop_user(settings)),
                            Qt.Key.Key_F4)
            self.market_panel = MarketPanel()
            self.view.add_market_panel(self.market_panel)
            self.add_screen("participants", "Participants  (F6)",
                            partial(self._make_participants, market, achievements), Qt.Key.Key_F6)
        if dr is not None:
            self.attach_dr(dr)  # F9
        QShortcut(QKeySequence(Qt.Key.Key_F1), self, activated=lambda: self.tabs.setCurrentWidget(self.view))
        # Alarms: the banner above the tabs (every tab), the alarm screen on F5 or a click on the banner.
        self.alarms = alarms
        self.alarm_banner: AlarmBanner | None = None
        if alarms is not None:
            self.alarm_banner = AlarmBanner()
            self.add_screen("alarms", "Alarms  (F5)", partial(AlarmsView, alarms, lambda: self._alarm_user,
                                                               points=settings.points))
            self.alarm_banner.clicked.connect(self.show_alarms)
            QShortcut(QKeySequence(Qt.Key.Key_F5), self, activated=self.show_alarms)
        if production is not None:
            self.add_screen("analytics", "Analytics  (F7)", partial(analytics_view, production), Qt.Key.Key_F7)
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
        self.layout_menus.manager.build_screen = self.built_or_build  # a layout's screen is built to be shown
        self._build_help_menu()
        # 1600 x 900 where the screen has room; never larger than the screen's free area (a 1366 x 768
        # laptop): a window wider than its screen hides the clock, buttons and readouts off its edge. The
        # offscreen platform's pretend 800 x 600 screen is no reason to shrink a screenshot.
        real = QGuiApplication.platformName() != "offscreen" and self.screen() is not None
        free = self.screen().availableGeometry() if real else None
        self.resize(min(1600, free.width()) if free else 1600, min(900, free.height()) if free else 900)
        self.layout_menus.start()  # the session's layout, else the last named one, else the role's default

    # ---- screens built when first shown ------------------------------------------------------------

    def add_screen(self, key: str, title: str, make: Callable[[], QWidget], fkey: Qt.Key | None = None) -> None:
        """A screen's tab (``key`` as in console.ui.layouts.SCREENS), built by ``make`` when first shown
        (its F-key, a click on its tab, the palette) or by :meth:`build_screens_later`."""
        if key in self._factories or key in self._screens:
            return
        placeholder = QWidget()
        placeholder.setObjectName(f"unbuilt-{key}")
        self._factories[key] = (title, make)
        self._placeholders[key] = placeholder
        self.tabs.addTab(placeholder, title)
        if fkey is not None:
            QShortcut(QKeySequence(fkey), self, activated=partial(self.show_screen, key))
        layouts: LayoutMenus | None = getattr(self, "layout_menus", None)  # None while __init__ adds the first
        if layouts is not None and layouts.manager.pending_screen == key:
            self._build(key)  # the layout shown wants this late screen (admin, chain, DR): it shows now
        elif self._background:
            QTimer.singleShot(50, self.build_screens_later)  # a late screen (chain, DR) after the first frame

    def has_screen(self, key: str) -> bool:
        """The screen is configured here (built or not)."""
        return key in self._screens or key in self._factories

    def built_screen(self, key: str) -> QWidget | None:
        """The screen if it is built; None while it is a placeholder (nothing is built here)."""
        return self._screens.get(key)

    def built_or_build(self, key: str) -> QWidget | None:
        """The screen, built now if it was not yet; None when it is not configured."""
        if key in self._factories:
            self._build(key)
        return self._screens.get(key)

    def show_screen(self, key: str) -> None:
        widget = self.built_or_build(key)
        if widget is not None:
            self.tabs.setCurrentWidget(widget)

    def unbuilt_screens(self) -> list[str]:
        return list(self._factories)

    def build_all_screens(self) -> None:
        """Every screen not built yet, now (what the window has a moment after its first live frame)."""
        while self._factories:
            self._build(next(iter(self._factories)))

    def build_screens_later(self, slice_ms: int = 50) -> None:
        """Build the screens not built yet, one every ``slice_ms`` (each ≈ 10–90 ms of CPU on a quiet
        machine): the live frames and the drivers run between them. The console calls it after its first
        live frame (or 10 s on without one)."""
        self._background = True
        if not self._factories:
            return
        self._build(next(iter(self._factories)))
        if self._factories:
            QTimer.singleShot(slice_ms, partial(self.build_screens_later, slice_ms))

    def _build(self, key: str) -> None:
        title, make = self._factories.pop(key)
        placeholder = self._placeholders.pop(key)
        view = make()
        self._screens[key] = view
        index = self.tabs.indexOf(placeholder)
        shown = self.tabs.currentIndex() == index
        # The swap is silent: whoever listens to currentChanged sees the tab once, with the built screen.
        blocked = self.tabs.blockSignals(True)
        try:
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, view, title)  # ScreenTabs: the layouts dock its panels now
            if shown:
                self.tabs.setCurrentIndex(index)
        finally:
            self.tabs.blockSignals(blocked)
        placeholder.deleteLater()

    def _build_shown(self, index: int) -> None:
        """A placeholder's tab was selected (its tab clicked, the palette): build its screen in its place."""
        widget = self.tabs.widget(index)
        key = next((k for k, p in self._placeholders.items() if p is widget), None)
        if key is not None:
            self._build(key)

    def _make_devices(self, devices: Sequence[ModbusDeviceSpec], commands: CommandService | None) -> DevicesView:
        view = DevicesView(devices, commands)
        view.totals_trend.set_window(self._trend_window_s)
        for snap in self._totals_backlog:  # the totals trend has no gap for the time before it was built
            view.record_totals(snap)
        self._totals_backlog.clear()
        return view

    def _make_trading(self, market: MarketService, user: User) -> TradingView:
        view = TradingView(market, user, banner=False)
        view.desk = self._desk
        return view

    def _make_participants(self, market: MarketService, achievements: AchievementService | None) -> ParticipantsView:
        def energy() -> Sequence[EnergyBalance]:
            devices = self.devices_view  # built by now if it was not
            assert devices is not None
            return devices.balances(self.acq.snapshot())[0]

        return ParticipantsView(market, energy if self.has_screen("devices") else None,
                                badges=None if achievements is None else partial(badge_titles, achievements))

    def set_desk(self, desk: Desk | None) -> None:
        """The signer of the trading screen's orders (the grid's market-maker), also for a screen built later."""
        self._desk = desk
        view = self.built_screen("market")
        if isinstance(view, TradingView):
            view.desk = desk

    def set_alarm_user(self, user: object) -> None:
        """The acting user of the alarm screen (a signed-in User), also for a screen built later."""
        self._alarm_user = user

    # The screens by name, built on first use (tests and the app reach them so).
    @property
    def devices_view(self) -> DevicesView | None:
        return cast("DevicesView | None", self.built_or_build("devices"))

    @property
    def chain_view(self) -> ChainView | None:
        return cast("ChainView | None", self.built_or_build("chain"))

    @property
    def trading_view(self) -> TradingView | None:
        return cast("TradingView | None", self.built_or_build("market"))

    @property
    def participants_view(self) -> ParticipantsView | None:
        return cast("ParticipantsView | None", self.built_or_build("participants"))

    @property
    def alarms_view(self) -> AlarmsView | None:
        return cast("AlarmsView | None", self.built_or_build("alarms"))

    @property
    def analytics_view(self) -> AnalyticsView | None:
        return cast("AnalyticsView | None", self.built_or_build("analytics"))

    @property
    def dr_view(self) -> DrView | None:
        return cast("DrView | None", self.built_or_build("dr"))

    # ---- command palette (Ctrl+K) ---------------------------------------------------------------

    def palette_entries(self) -> list[PaletteEntry]:
        """Every tab, every keyed action, every device and every configured point."""
        entries: list[PaletteEntry] = []
        for i in range(self.tabs.count()):
            name, _, key = self.tabs.tabText(i).partition("(")
            entries.append(PaletteEntry(f"Go to {name.strip()}", "Tab", partial(self.tabs.setCurrentIndex, i),
                                        key.rstrip(")").strip()))  # a placeholder's tab builds its screen
        entries.append(PaletteEntry("Pause / resume the trends", "Action", self.toggle_pause, "Space"))
        for seconds, label, key in WINDOWS:
            entries.append(PaletteEntry(f"Trend window {label}", "Action", partial(self._pick_window, seconds), key))
        if self.has_screen("alarms"):
            entries.append(PaletteEntry("Show the alarm summary", "Action", self.show_alarms, "F5"))
        view = self.devices_view  # its labels need the screen's roles of the devices: built now if not yet
        if view is not None:
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

    def _pick_window(self, seconds: float) -> None:
        for button, (s, _label, _key) in zip(self.window_buttons.buttons(), WINDOWS, strict=True):
            if s == seconds:
                button.click()

    def _show_device(self, device: str) -> None:
        view = self.devices_view
        assert view is not None
        self.tabs.setCurrentWidget(view)
        view.select_device(device)

    def show_chain_starting(self) -> None:
        """The chain is being started in the background (the demo): say so until :meth:`attach_chain`."""
        self.chain_label.setText("chain starting…")
        if self.chain_label.parentWidget() is None:
            self.statusBar().addWidget(self.chain_label)

    def attach_dr(self, dr: DrService) -> None:
        """The DR dashboard (F9) once its service exists (after the demo's late chain)."""
        self.add_screen("dr", "Demand response  (F9)", partial(dr_screen, self.tabs, dr), Qt.Key.Key_F9)

    def attach_chain(self, chain: ChainService | None, error: str | None) -> None:
        """The chain service once it exists (the demo deploys it after the window opened), or why not."""
        if self.chain is not None or self.has_screen("chain"):
            return
        if self.chain_label.parentWidget() is None:
            self.statusBar().addWidget(self.chain_label)
        if chain is None:
            self.chain_label.setText(f"chain off: {error}" if error else "chain off")
            set_style_property(self.chain_label, "state", "alert")
            return
        self.chain = chain
        self.add_screen("chain", "Chain  (F3)", partial(ChainView, chain), Qt.Key.Key_F3)
        self._show_chain()

    def set_window(self, seconds: float) -> None:
        """Show the last ``seconds`` of every trend."""
        for button, (s, _, _) in zip(self.window_buttons.buttons(), WINDOWS, strict=True):
            button.setChecked(s == seconds)
        self.view.set_window(seconds)
        self._trend_window_s = seconds
        devices = self.built_screen("devices")
        if isinstance(devices, DevicesView):
            devices.totals_trend.set_window(seconds)

    def show_alarms(self) -> None:
        """The alarm screen, its list focused so Enter / Space acknowledge at once."""
        view = self.alarms_view  # built now if it was not
        if view is not None:
            self.tabs.setCurrentWidget(view)
            view.table.setFocus()

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
        current = self.tabs.currentWidget()
        devices, chain_view = self.built_screen("devices"), self.built_screen("chain")
        if self.tabs.currentIndex() == 0:
            self.view.refresh(snap)
        elif isinstance(devices, DevicesView) and current is devices:
            if self.frames % 5 == 0:  # a table needs no 20 Hz
                devices.refresh(snap, snap.sources, self.acq.events)
        elif isinstance(chain_view, ChainView) and current is chain_view and self.frames % 5 == 0:
            chain_view.refresh()
        if self.has_screen("devices") and current is not devices and self.frames % 5 == 0:
            # the totals trend has no gap when the tab is shown again (nor for the time before it was built)
            if isinstance(devices, DevicesView):
                devices.record_totals(snap)
            else:
                self._totals_backlog.append(snap)
        if self.market is not None:
            self._show_market()
        if self.chain is not None and self.frames % 10 == 0:
            self._show_chain()
        if self.alarms is not None and self.alarm_banner is not None:
            self.alarm_banner.show_snapshot(self.alarms.snapshot())
            alarms_view = self.built_screen("alarms")
            if isinstance(alarms_view, AlarmsView) and current is alarms_view:
                alarms_view.refresh()
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
        current = self.tabs.currentWidget()
        trading, participants = self.built_screen("market"), self.built_screen("participants")
        if isinstance(trading, TradingView) and current is trading:
            trading.refresh()
        elif isinstance(participants, ParticipantsView) and current is participants and self.frames % 5 == 0:
            participants.refresh()
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
