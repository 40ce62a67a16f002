"""Dockable panels inside each screen, named layouts saved in QSettings, and a default layout per role.

Each screen (the tab an F-key shows) keeps its place in the main window's tab widget; inside it a small
QMainWindow holds the screen's main panels as QDockWidgets (docs/decisions.md, "Docks inside each
screen"). The screens are not rewritten for it: :data:`SCREENS` names, per screen class, which of its
widgets (or which row of its layout) is a panel, and :class:`DockedScreen` moves them into docks. What is
left of the screen (a row of buttons, a cursor readout) stays its central widget.

A *layout* is the window's geometry, the screen shown and every screen's dock state
(``QMainWindow.saveState``). Layouts are kept by name in QSettings; the arrangement the window had when it
closed is kept as the session and comes back on the next start. A state that cannot be restored (another
version's, another program's, damaged) never stops the start: the role's default is shown instead and the
status bar says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QByteArray, QObject, QSettings, Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QGroupBox,
    QLayout,
    QMainWindow,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.access import Role

STATE_VERSION = 1  # QMainWindow.saveState's version: a state of another version is refused by Qt
SESSION = "session"  # the arrangement at the last close (not a named layout)
H, V = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
TOP, BOTTOM = Qt.DockWidgetArea.TopDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea

# The screen each role starts on (when that screen exists; else the grid).
START_SCREEN = {Role.OPERATOR: "grid", Role.ANALYST: "analytics", Role.ENGINEER: "devices", Role.ADMIN: "admin"}
_ALL_BUT_OPERATOR = frozenset({Role.ANALYST, Role.ENGINEER, Role.ADMIN})


class ScreenTabs(QTabWidget):
    """The window's screen tabs: a screen added after start (the chain, DR, admin) gets its docks too."""

    def __init__(self) -> None:
        super().__init__()
        self.on_added: Callable[[QWidget], object] | None = None

    def tabInserted(self, index: int) -> None:
        super().tabInserted(index)
        view = self.widget(index)
        if self.on_added is not None and view is not None:
            self.on_added(view)


class LayoutError(Exception):
    """A saved layout that cannot be used (its name, or its stored state)."""


Found = QWidget | QLayout | None


@dataclass(frozen=True)
class Panel:
    """One dockable panel of a screen and where the default layout puts it.

    ``find`` returns the panel's widget, or the layout row that is the panel, or None when the screen has
    no such panel here (a market panel without a market). ``beside`` splits the panel off an earlier one
    (``orientation`` Horizontal = to its right, Vertical = below it); ``tab_with`` stacks it on an earlier
    one as a tab, for the roles in ``tabbed_for`` (every role when empty); ``hidden_for`` hides it by
    default for those roles (the dock can still be shown from View → Panels)."""

    key: str
    title: str
    find: Callable[[QWidget], Found]
    area: Qt.DockWidgetArea = TOP
    beside: str | None = None
    orientation: Qt.Orientation = V
    tab_with: str | None = None
    tabbed_for: frozenset[Role] = frozenset()
    hidden_for: frozenset[Role] = frozenset()
    share: tuple[int, int] | None = None  # (beside's, this one's) share of their width or height
    pack: bool = False  # keep the panel at its own height at the top of its dock (a compact panel)
    fixed: bool = False  # never taller than it needs (a row of readouts): the room goes to the trends


def attr(name: str) -> Callable[[QWidget], Found]:
    """The screen's widget of that attribute name."""
    def find(view: QWidget) -> Found:
        w = getattr(view, name, None)
        return w if isinstance(w, QWidget) else None
    return find


def parent_of(name: str) -> Callable[[QWidget], Found]:
    """The box holding the screen's widget of that attribute name (a table and its title, its buttons)."""
    def find(view: QWidget) -> Found:
        w = getattr(view, name, None)
        return w.parentWidget() if isinstance(w, QWidget) else None
    return find


def row_of(widget: Callable[[QWidget], object]) -> Callable[[QWidget], Found]:
    """The layout row holding that widget (a row of readouts, a table under its title), wrapped into a
    widget when docked."""
    def find(view: QWidget) -> Found:
        w = widget(view)
        parent = w.parentWidget() if isinstance(w, QWidget) else None
        root = parent.layout() if parent is not None else None
        return _layout_holding(root, w) if isinstance(w, QWidget) and root is not None else None
    return find


def _first_bus(view: QWidget) -> object:  # the first feeder readout (its row is the feeders panel)
    buses = getattr(view, "bus_readouts", {})
    return next(iter(buses.values()), None)


# Per screen class: its key (in saved states and dock names) and its panels, in the order they are
# placed. Operators: the grid's trends large with the readouts above, the alarm list alone in front.
# Analysts change nothing: the order ticket is hidden, the alarm journal sits beside the list.
SCREENS: dict[str, tuple[str, tuple[Panel, ...]]] = {
    "GridView": ("grid", (
        Panel("readouts", "Frequency, ROCOF, demand, supply", row_of(attr("freq_readout")), fixed=True),
        Panel("feeders", "Feeder voltages", row_of(_first_bus), beside="readouts", fixed=True),
        Panel("frequency", "Frequency trend", attr("freq_trend"), beside="feeders"),
        Panel("voltages", "Feeder voltage trend", attr("voltage_trend"), beside="frequency", orientation=H),
        Panel("rocof", "ROCOF trend", attr("rocof_trend"), beside="frequency", share=(3, 2)),
        Panel("power", "Demand vs supply trend", attr("power_trend"), beside="voltages", share=(3, 2)),
        # The market beside demand vs supply (beside the readouts, as before the docks, the row needed more
        # than 1366 px; beside the voltages it squeezed their legend).
        Panel("market", "Market", attr("market_panel"), beside="power", orientation=H, pack=True),
    )),
    "DevicesView": ("devices", (  # splits below before splits beside: each row keeps its own columns
        Panel("totals", "Production and consumption", row_of(attr("production")), fixed=True),
        Panel("participants", "Participants", attr("participants"), area=BOTTOM),
        Panel("devices", "Devices", attr("table"), beside="participants", share=(34, 46)),
        Panel("totals_trend", "Totals trend", attr("totals_trend"), beside="participants", orientation=H,
              share=(9, 5)),
        Panel("detail", "Device values and commands", parent_of("points"), beside="devices", orientation=H,
              share=(9, 5)),
    )),
    "TradingView": ("market", (  # the ticket a column of its own: its form is the tallest panel
        Panel("periods", "Delivery periods", attr("strip"), fixed=True),
        Panel("ticket", "Order ticket", parent_of("ticket"), beside="periods", orientation=H, share=(1026, 340),
              hidden_for=frozenset({Role.ANALYST})),
        Panel("ladder", "Price ladder", attr("ladder"), beside="periods", share=(13, 26)),
        Panel("tape", "Trade tape", row_of(attr("tape")), beside="ladder", share=(26, 20)),
        Panel("depth", "Depth", attr("depth_chart"), beside="ladder", orientation=H),
        Panel("chart", "Price chart", attr("chart"), beside="depth", orientation=H),
        # 4:3: the tape's nine columns need ~535 px with live names and hashes, the orders' seven ~370 px
        Panel("orders", "Open orders", row_of(attr("orders")), beside="tape", orientation=H, share=(4, 3)),
    )),
    "ParticipantsView": ("participants", (
        Panel("table", "Participants", attr("table")),
        Panel("energy", "Net position per period", attr("energy"), area=BOTTOM),
        Panel("money", "Money per period", attr("money"), beside="energy", orientation=H),
    )),
    "AlarmsView": ("alarms", (
        Panel("list", "Alarm list", parent_of("table")),
        Panel("journal", "Journal", attr("journal"), beside="list", tab_with="list",
              tabbed_for=frozenset({Role.OPERATOR})),
        Panel("kpis", "Alarm KPIs", attr("kpis"), tab_with="journal"),
    )),
    "AnalyticsView": ("analytics", (
        Panel("stability", "Grid stability", parent_of("stability"), area=BOTTOM),
        # The tables' column (stability, energy: 11 columns) gets 60 %: Qt's own split depends on when the
        # screen was built (it is built when first shown) and gave the table 511 of its 750 px.
        Panel("forecast", "Day-ahead forecasts", parent_of("load_frame"), beside="stability", orientation=H,
              share=(60, 40)),
        Panel("energy", "Energy, efficiency, savings", parent_of("energy"), beside="stability"),
    )),
    "DrView": ("dr", (
        Panel("events", "DR events", attr("events_table"), area=BOTTOM),
        Panel("detail", "Selected event", parent_of("summary"), beside="events", share=(22, 60)),
    )),
    "ChainView": ("chain", (
        Panel("chain", "Chain", attr("panel"), area=BOTTOM),
    )),
    "AdminView": ("admin", (
        Panel("participants", "Participants", parent_of("ptable"), area=BOTTOM),
        Panel("users", "Console users", parent_of("utable"), beside="participants"),
        Panel("certificates", "OPC-UA server certificates", parent_of("ttable"), beside="users"),
    )),
}


def _layout_holding(root: QLayout, widget: QWidget) -> QLayout | None:
    for i in range(root.count()):
        item = root.itemAt(i)
        if item is None:
            continue
        if item.widget() is widget:
            return root
        sub = item.layout()
        if sub is not None and (found := _layout_holding(sub, widget)) is not None:
            return found
    return None


def _detach(root: QLayout, target: QLayout) -> bool:
    for i in range(root.count()):
        item = root.itemAt(i)
        sub = item.layout() if item is not None else None
        if sub is target:
            root.takeAt(i)
            return True
        if sub is not None and _detach(sub, target):
            return True
    return False


def _has_content(w: QWidget) -> bool:
    """Whether anything an operator would see is left in ``w`` (emptied splitters and tab widgets are not)."""
    if w.isHidden():
        return False
    if isinstance(w, QSplitter):
        return any((c := w.widget(i)) is not None and _has_content(c) for i in range(w.count()))
    if isinstance(w, QTabWidget):
        return w.count() > 0
    layout = w.layout()
    if layout is None:
        return True
    return _layout_has_content(layout)


def _layout_has_content(layout: QLayout) -> bool:
    for i in range(layout.count()):
        item = layout.itemAt(i)
        if item is None:
            continue
        w, sub = item.widget(), item.layout()
        if (w is not None and _has_content(w)) or (sub is not None and _layout_has_content(sub)):
            return True
    return False


class _ScreenWindow(QMainWindow):
    """A screen's dock area; tells its screen when it is shown (a default layout's shares need its size)."""

    def __init__(self, parent: QWidget, shown: Callable[[], None]) -> None:
        super().__init__(parent)
        self._shown = shown

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self._shown)  # after the layout gave the docks their room


@dataclass(frozen=True)
class DockPlace:
    """Where a dock is: what the save/restore tests compare."""

    area: Qt.DockWidgetArea
    visible: bool
    floating: bool


class DockedScreen:
    """One screen's panels as docks in a QMainWindow inside the screen's own widget."""

    def __init__(self, view: QWidget, key: str, panels: tuple[Panel, ...]) -> None:
        self.view, self.key = view, key
        self.window = _ScreenWindow(view, self._first_shown)
        self._share_when_shown = True
        self.window.setObjectName(f"{key}Docks")
        self.window.setWindowFlags(Qt.WindowType.Widget)
        self.window.setDockOptions(QMainWindow.DockOption.AllowNestedDocks | QMainWindow.DockOption.AllowTabbedDocks
                                   | QMainWindow.DockOption.AnimatedDocks)
        root = view.layout()
        assert root is not None, f"{type(view).__name__} has no layout to take panels from"
        found = [(p, p.find(view)) for p in panels]  # all looked up before anything moves
        self.panels = tuple(p for p, f in found if f is not None)
        self.docks: dict[str, QDockWidget] = {}
        for p, content in found:
            if content is None:
                continue
            dock = QDockWidget(p.title)
            dock.setObjectName(f"{key}.{p.key}")
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                             | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                             | QDockWidget.DockWidgetFeature.DockWidgetClosable)
            widget = content if isinstance(content, QWidget) else self._wrap(content)
            if isinstance(widget, QGroupBox) and widget.title() == p.title:
                widget.setTitle("")  # the dock's title says it: "Participants" twice, one above the other
            if p.pack:
                box = QWidget()
                packed = QVBoxLayout(box)
                packed.setContentsMargins(0, 0, 0, 0)
                packed.addWidget(widget)
                packed.addStretch(1)
                widget = box
            if p.fixed:
                widget.setMaximumHeight(widget.sizeHint().height())
            dock.setWidget(widget)
            self.docks[p.key] = dock
        rest = QWidget()
        rest.setObjectName(f"{key}Rest")
        rest.setLayout(root)  # what is not a panel (a row of buttons) stays in the middle of the docks
        self.rest = rest
        self.window.setCentralWidget(rest)
        outer = QVBoxLayout(view)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.window)
        self._fit_rest()

    @staticmethod
    def _wrap(row: QLayout) -> QWidget:
        owner = row.parentWidget()
        top = owner.layout() if owner is not None else None
        if owner is not None and top is row:
            return owner  # the row is all of its widget: that widget is the panel
        if top is not None:
            _detach(top, row)
        row.setParent(None)  # free it for its new widget
        box = QWidget()
        box.setLayout(row)
        return box

    def _fit_rest(self) -> None:
        if _has_content(self.rest):
            self.rest.setMaximumHeight(max(self.rest.sizeHint().height(), self.rest.minimumSizeHint().height()))
        else:
            self.rest.hide()  # nothing left: the docks fill the screen

    def arrange(self, role: Role) -> None:
        """The role's default: every dock docked where its panel says, shown unless hidden for the role."""
        for dock in self.docks.values():
            dock.setFloating(False)  # before it is taken out: a floating dock taken out and put back floats
            self.window.removeDockWidget(dock)
        placed: set[str] = set()
        for p in self.panels:
            dock = self.docks[p.key]
            tab_with = p.tab_with if p.tab_with in placed and (not p.tabbed_for or role in p.tabbed_for) else None
            if tab_with is not None:
                self.window.tabifyDockWidget(self.docks[tab_with], dock)
            elif p.beside in placed:
                self.window.splitDockWidget(self.docks[p.beside], dock, p.orientation)
            else:
                self.window.addDockWidget(p.area, dock)
            dock.setVisible(role not in p.hidden_for)
            placed.add(p.key)
        for p in self.panels:  # the first of each tab stack in front
            if p.tab_with is None:
                self.docks[p.key].raise_()
        self.share()
        self._share_when_shown = True

    def _first_shown(self) -> None:
        if self._share_when_shown:
            self._share_when_shown = False
            self.share()

    def share(self) -> None:
        """Give split panels their shares of the room (Qt applies them once the screen has its size; the
        screen calls this again when it is first shown)."""
        for p in self.panels:
            if p.share is not None and p.beside in self.docks:
                pair = [self.docks[p.beside], self.docks[p.key]]
                if all(not d.isHidden() and not d.isFloating() for d in pair):
                    # In pixels of the room the two have now: Qt's weights went wrong in nested splits.
                    room = sum(d.width() if p.orientation == H else d.height() for d in pair)
                    first = round(room * p.share[0] / sum(p.share))
                    self.window.resizeDocks(pair, [first, room - first], p.orientation)

    def save(self) -> QByteArray:
        return self.window.saveState(STATE_VERSION)

    def restore(self, state: object) -> None:
        """Restore a saved state; LayoutError (with why) when it is not one of this screen's."""
        data = state.data() if isinstance(state, QByteArray) else state
        if not isinstance(data, bytes) or not data:
            raise LayoutError(f"the {self.key} screen's state is {type(state).__name__}, not a saved state")
        missing = [d.objectName() for d in self.docks.values() if d.objectName().encode("utf-16-be") not in data]
        if missing:  # another screen's or another program's state: Qt would leave these docks anywhere
            raise LayoutError(f"the {self.key} screen's state does not know its panels {', '.join(missing)}")
        if not self.window.restoreState(QByteArray(data), STATE_VERSION):
            raise LayoutError(f"the {self.key} screen's state is damaged or of another version")
        self._share_when_shown = False  # the state has its own sizes

    def places(self) -> dict[str, DockPlace]:
        return {k: DockPlace(self.window.dockWidgetArea(d), not d.isHidden(), d.isFloating())
                for k, d in self.docks.items()}


@dataclass
class Layout:
    """A whole window's arrangement."""

    geometry: QByteArray
    screen: str
    states: dict[str, QByteArray] = field(default_factory=dict)


class LayoutStore:
    """Named layouts, the session's, the last one used and the theme, in one QSettings."""

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    @staticmethod
    def check_name(name: str) -> str:
        clean = name.strip()
        if not clean or any(c in clean for c in "/\\") or clean == SESSION:
            raise LayoutError(f"layout name {name!r}: use a non-empty name without / or \\ (not {SESSION!r})")
        return clean

    def names(self) -> list[str]:
        self.settings.beginGroup("layouts")
        try:
            return sorted(self.settings.childGroups(), key=str.lower)
        finally:
            self.settings.endGroup()

    def _group(self, name: str) -> str:
        return SESSION if name == SESSION else f"layouts/{name}"

    def save(self, name: str, layout: Layout) -> None:
        group = self._group(name)
        self.settings.remove(group)
        self.settings.setValue(f"{group}/geometry", layout.geometry)
        self.settings.setValue(f"{group}/screen", layout.screen)
        for key, state in layout.states.items():
            self.settings.setValue(f"{group}/states/{key}", state)
        self.settings.sync()

    def load(self, name: str) -> Layout | None:
        """The stored layout, None when there is none of that name; LayoutError when it is unreadable."""
        group = self._group(name)
        if not self.settings.contains(f"{group}/screen"):
            return None
        geometry, screen = self.settings.value(f"{group}/geometry"), self.settings.value(f"{group}/screen")
        if not isinstance(screen, str):
            raise LayoutError(f"layout {name!r}: its screen is {type(screen).__name__}, not a name")
        self.settings.beginGroup(f"{group}/states")
        try:
            states = {k: self.settings.value(k) for k in self.settings.childKeys()}
        finally:
            self.settings.endGroup()
        return Layout(geometry if isinstance(geometry, QByteArray) else QByteArray(), screen, states)

    def delete(self, name: str) -> None:
        self.settings.remove(self._group(name))
        if self.last() == name:
            self.settings.remove("last_layout")
        self.settings.sync()

    def last(self) -> str | None:
        value = self.settings.value("last_layout")
        return value if isinstance(value, str) and value else None

    def set_last(self, name: str | None) -> None:
        if name is None:
            self.settings.remove("last_layout")
        else:
            self.settings.setValue("last_layout", name)
        self.settings.sync()

    def theme(self) -> str | None:
        value = self.settings.value("theme")
        return value if isinstance(value, str) else None

    def set_theme(self, theme: str) -> None:
        self.settings.setValue("theme", theme)
        self.settings.sync()


class LayoutManager(QObject):
    """The window's docked screens and its layouts: save as, restore, reset to the role's default, delete.

    ``tabs`` is the window's screen tabs; ``say`` shows a message in the status bar."""

    def __init__(self, window: QMainWindow, tabs: QTabWidget, store: LayoutStore, role: Role,
                 say: Callable[[str], None]) -> None:
        super().__init__(window)
        self.window, self.tabs, self.store, self.role, self.say = window, tabs, store, role, say
        self.screens: dict[str, DockedScreen] = {}
        self.active: str | None = None  # the named layout shown (None: the session's or the role's default)
        self.showing_default = False  # the role's default is shown: a sign-in of another role changes it
        self._pending: Layout | None = None  # states for screens that arrive later (chain, DR, admin)
        self._pending_screen: str | None = None
        # Builds a screen that is configured but not built yet (MainWindow.built_or_build: its tabs are built when
        # first shown); None: every screen is built when it is added.
        self.build_screen: Callable[[str], object] | None = None
        self.tabs.currentChanged.connect(self._user_moved)

    # ---- screens ---------------------------------------------------------------------------------

    def adopt(self, view: QWidget) -> DockedScreen | None:
        """Dock a screen's panels (once); a screen without panels in :data:`SCREENS` stays as it is."""
        spec = SCREENS.get(type(view).__name__)
        if spec is None or spec[0] in self.screens or getattr(view, "_docked", False):
            return None
        key, panels = spec
        screen = DockedScreen(view, key, panels)
        view._docked = True  # type: ignore[attr-defined]
        self.screens[key] = screen
        screen.arrange(self.role)
        pending = self._pending
        if pending is not None and key in pending.states:
            try:
                screen.restore(pending.states[key])
            except LayoutError as exc:
                screen.arrange(self.role)
                self.say(f"Layout: {exc}; the {key} screen shows the {self.role.value} default")
        if self._pending_screen == key:
            self._show(key)
        return screen

    @property
    def pending_screen(self) -> str | None:
        """The screen the layout shown wants and does not have yet (a late one: chain, DR, admin)."""
        return self._pending_screen

    def screen_of(self, widget: QWidget | None) -> DockedScreen | None:
        return next((s for s in self.screens.values() if s.view is widget), None)

    def _show(self, key: str) -> None:
        if key not in self.screens and self.build_screen is not None:
            self.build_screen(key)  # adopted as it is built
        screen = self.screens.get(key)
        if screen is not None:
            self._pending_screen = None
            self.tabs.setCurrentWidget(screen.view)

    def _user_moved(self, _index: int) -> None:
        current = self.screen_of(self.tabs.currentWidget())
        if current is not None and current.key != self._pending_screen:
            self._pending_screen = None  # the operator went elsewhere: a late screen must not pull them back

    # ---- layouts ----------------------------------------------------------------------------------

    def capture(self) -> Layout:
        current = self.screen_of(self.tabs.currentWidget())
        states = {k: s.save() for k, s in self.screens.items()}
        if self._pending is not None:  # a screen not here this time keeps its saved state
            states = {**{k: v for k, v in self._pending.states.items() if k not in states}, **states}
        return Layout(self.window.saveGeometry(), current.key if current else "grid", states)

    def apply(self, layout: Layout) -> None:
        """Show ``layout``; LayoutError (nothing half applied that matters: the caller resets) when a part
        of it is unreadable."""
        for key, screen in self.screens.items():
            if key in layout.states:
                screen.restore(layout.states[key])
            else:
                screen.arrange(self.role)
        if not layout.geometry.isEmpty() and not self.window.restoreGeometry(layout.geometry):
            raise LayoutError("the window geometry is damaged")
        self._pending = layout
        self._pending_screen = layout.screen
        self._show(layout.screen)

    def reset(self, role: Role | None = None) -> None:
        """The role's default layout on every screen."""
        self.role = role or self.role
        self._pending = None
        self.active = None
        self.showing_default = True
        self.store.set_last(None)
        for screen in self.screens.values():
            screen.arrange(self.role)
        self._pending_screen = START_SCREEN.get(self.role, "grid")
        if self._pending_screen not in self.screens and self.build_screen is not None:
            self.build_screen(self._pending_screen)  # a screen built when first shown: now
        if self._pending_screen not in self.screens:
            self._show("grid")
        else:
            self._show(self._pending_screen)

    def save_as(self, name: str) -> str:
        clean = self.store.check_name(name)
        self.store.save(clean, self.capture())
        self.store.set_last(clean)
        self.active = clean
        self.showing_default = False
        self.say(f"Layout '{clean}' saved")
        return clean

    def restore(self, name: str) -> bool:
        """Show a saved layout; on any problem the role's default instead, and the status bar says why."""
        try:
            layout = self.store.load(name)
            if layout is None:
                raise LayoutError(f"there is no layout {name!r}")
            self.apply(layout)
        except LayoutError as exc:
            self.reset()
            self.say(f"Layout '{name}' could not be restored ({exc}): showing the {self.role.value} default")
            return False
        self.showing_default = False
        if name != SESSION:
            self.active = name
            self.store.set_last(name)
            self.say(f"Layout '{name}' restored")
        return True

    def delete(self, name: str) -> None:
        self.store.delete(name)
        if self.active == name:
            self.active = None
        self.say(f"Layout '{name}' deleted")

    def start(self) -> None:
        """At start: where the window was left (the session), else the last named layout, else the role's
        default. A layout that cannot be restored falls back to the default (and says so)."""
        try:
            has_session = self.store.load(SESSION) is not None
        except LayoutError:
            has_session = True  # restore() reports it and falls back
        if has_session:
            if self.restore(SESSION):
                self.active = self.store.last()
            return
        last = self.store.last()
        if last is not None:
            self.restore(last)
        else:
            self.reset()

    def save_session(self) -> None:
        self.store.save(SESSION, self.capture())

    def set_role(self, role: Role) -> None:
        """A user of another role signed in: while no named layout is shown, theirs is the default."""
        if role is self.role:
            return
        self.role = role
        if self.showing_default:
            self.reset(role)
