"""The main window's View menu (theme, the current screen's panels) and Layouts menu (save as…, restore,
reset to the role's default, delete), the same actions in the command palette, and the status-bar line
that says what a layout action did. The docks and layouts themselves: console/ui/layouts.py."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QInputDialog, QMainWindow, QMenu, QMessageBox, QTabWidget, QWidget

from console.ui.layouts import LayoutError, LayoutManager, LayoutStore, ScreenTabs
from core.access import Role
from widgets import theme
from widgets.command_palette import PaletteEntry
from widgets.elided_label import ElidedLabel

MESSAGE_S = 20  # how long a layout message stays in the status bar


def user_settings() -> QSettings:
    """The console's own settings file (~/.config/energynet/console.ini on Linux): layouts and theme."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "energynet", "console")


class LayoutMenus:
    """Docks every screen of ``window.tabs`` (and every screen added later), builds the View and Layouts
    menus before the Help menu, and applies the saved theme."""

    def __init__(self, window: QMainWindow, settings: QSettings | None, role: Role) -> None:
        self.window = window
        tabs = getattr(window, "tabs")  # noqa: B009 (the main window's screen tabs)
        assert isinstance(tabs, QTabWidget)
        self.tabs = tabs
        self.store = LayoutStore(settings if settings is not None else user_settings())
        self.message = ElidedLabel("", max_hint_chars=60)
        self.message.setObjectName("layoutStatus")
        window.statusBar().addWidget(self.message)
        self._clear = QTimer(window)
        self._clear.setSingleShot(True)
        self._clear.timeout.connect(lambda: self.message.setText(""))
        self.manager = LayoutManager(window, tabs, self.store, role, self.say)
        for i in range(tabs.count()):
            view = tabs.widget(i)
            if view is not None:
                self.manager.adopt(view)
        if isinstance(tabs, ScreenTabs):
            tabs.on_added = self._added
        saved = self.store.theme()
        if saved in theme.THEMES and saved != theme.current():
            theme.apply(saved, [window])
        elif theme.current() != theme.DARK:
            theme.recolour(window, theme.to_light)  # built in dark colours while another window shows light
        self._build_view_menu()
        self._build_layouts_menu()

    def start(self) -> None:
        self.manager.start()

    def save_session(self) -> None:
        self.manager.save_session()

    def say(self, text: str) -> None:
        self.message.setText(text)
        self._clear.start(MESSAGE_S * 1000)

    def _added(self, view: QWidget) -> None:
        if self.manager.adopt(view) is not None and theme.current() != theme.DARK:
            theme.recolour(view, theme.to_light)  # a late screen was built in the dark palette's colours

    # ---- theme ----------------------------------------------------------------------------------

    def set_theme(self, name: str) -> None:
        theme.apply(name, [self.window])
        self.store.set_theme(name)
        for action in self.theme_actions.actions():
            action.setChecked(action.data() == name)
        self.say(f"{name.capitalize()} theme")

    def _build_view_menu(self) -> None:
        menu = self.window.menuBar().addMenu("&View")
        themes = menu.addMenu("&Theme")
        self.theme_actions = QActionGroup(self.window)
        for name in theme.THEMES:
            action = QAction(f"&{name.capitalize()}", self.window, checkable=True)
            action.setData(name)
            action.setChecked(name == theme.current())
            action.triggered.connect(partial(self.set_theme, name))
            self.theme_actions.addAction(action)
            themes.addAction(action)
        self.panels_menu = menu.addMenu("&Panels of this screen")
        self.panels_menu.aboutToShow.connect(self._fill_panels)

    def _fill_panels(self) -> None:
        self.panels_menu.clear()
        screen = self.manager.screen_of(self.tabs.currentWidget())
        if screen is None:
            self.panels_menu.addAction("(this screen has no panels)").setEnabled(False)
            return
        for dock in screen.docks.values():
            self.panels_menu.addAction(dock.toggleViewAction())

    # ---- layouts --------------------------------------------------------------------------------

    def _build_layouts_menu(self) -> None:
        menu = self.window.menuBar().addMenu("&Layouts")
        menu.addAction("&Save layout as…", QKeySequence("Ctrl+Shift+S"), self.ask_save_as)
        self.restore_menu = menu.addMenu("&Restore layout")
        self.restore_menu.aboutToShow.connect(partial(self._fill_names, self.restore_menu, self.restore))
        self.reset_action = menu.addAction("", QKeySequence("Ctrl+Shift+D"), self.reset)
        menu.aboutToShow.connect(self._name_reset)
        self._name_reset()
        self.delete_menu = menu.addMenu("&Delete layout")
        self.delete_menu.aboutToShow.connect(partial(self._fill_names, self.delete_menu, self.ask_delete))

    def _name_reset(self) -> None:
        self.reset_action.setText(f"Reset to the {self.manager.role.value} &default")

    def _fill_names(self, menu: QMenu, run: Callable[[str], None]) -> None:
        menu.clear()
        names = self.store.names()
        if not names:
            menu.addAction("(no saved layouts)").setEnabled(False)
        for name in names:
            label = f"{name}  (shown)" if name == self.manager.active else name
            menu.addAction(label, partial(run, name))

    def ask_save_as(self) -> None:
        dialog = QInputDialog(self.window)
        dialog.setWindowTitle("Save layout")
        dialog.setLabelText("Name of this layout (docks, window, screen shown):")
        dialog.setTextValue(self.manager.active or "")
        dialog.textValueSelected.connect(self.save_as)
        self._dialog: QWidget = dialog  # kept while open
        dialog.open()

    def save_as(self, name: str) -> None:
        try:
            self.manager.save_as(name)
        except LayoutError as exc:
            self.say(str(exc))

    def restore(self, name: str) -> None:
        self.manager.restore(name)

    def reset(self) -> None:
        self.manager.reset()
        self.say(f"Layout: the {self.manager.role.value} default")

    def ask_delete(self, name: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, "Delete layout", f"Delete the saved layout '{name}'?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self.window)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda b: self.manager.delete(name) if box.standardButton(b)
                                  == QMessageBox.StandardButton.Yes else None)
        self._dialog = box
        box.open()

    def set_role(self, role: Role) -> None:
        self.manager.set_role(role)

    def user_changed(self, user: object) -> None:
        """SessionGuard.changed: the user now acting (None while locked)."""
        role = getattr(user, "role", None)
        if isinstance(role, Role):
            self.set_role(role)

    # ---- command palette --------------------------------------------------------------------------

    def palette_entries(self) -> list[PaletteEntry]:
        entries = [
            PaletteEntry("Save layout as…", "Layout", self.ask_save_as, "Ctrl+Shift+S"),
            PaletteEntry(f"Reset layout to the {self.manager.role.value} default", "Layout", self.reset,
                         "Ctrl+Shift+D"),
        ]
        for name in self.store.names():
            entries.append(PaletteEntry(f"Restore layout {name}", "Layout", partial(self.restore, name)))
            entries.append(PaletteEntry(f"Delete layout {name}…", "Layout", partial(self.ask_delete, name)))
        for name in theme.THEMES:
            entries.append(PaletteEntry(f"{name.capitalize()} theme", "View", partial(self.set_theme, name)))
        for screen in self.manager.screens.values():
            for dock in screen.docks.values():
                entries.append(PaletteEntry(f"Show panel {dock.windowTitle()}", "Panel",
                                            partial(self._show_panel, screen.view, dock.objectName()),
                                            detail=screen.key))
        return entries

    def _show_panel(self, view: QWidget, dock_name: str) -> None:
        self.tabs.setCurrentWidget(view)
        screen = self.manager.screen_of(view)
        if screen is not None:
            dock = next(d for d in screen.docks.values() if d.objectName() == dock_name)
            dock.show()
            dock.raise_()
