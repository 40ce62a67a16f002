"""Docks and named layouts: save → change → restore gives back the same arrangement, the last layout
comes back on start, each role has its default, a damaged or foreign saved state falls back to the default
and says so. Every window gets its own QSettings ini file in tmp_path: the user's settings are never read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtWidgets import QApplication

from console.bootstrap import build_acquisition
from console.config import default_config_path, load
from console.services.loop_monitor import LoopMonitor
from console.services.market import MarketService
from console.store.market_journal import SqlMarketJournal
from console.ui.layouts import SESSION, DockPlace
from console.ui.main_window import MainWindow
from core.access import Role
from core.market import MarketRules, PricingConfig
from widgets import theme

pytestmark = pytest.mark.widgets
TOP, BOTTOM = Qt.DockWidgetArea.TopDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    return tmp_path / "console.ini"


@pytest.fixture(autouse=True)
def dark_again() -> Iterator[None]:
    yield
    theme.apply(theme.DARK)  # the theme is the application's: leave it as the other tests expect it


def open_window(qtbot, ini: Path, market: MarketService | None = None, built: bool = True) -> MainWindow:  # type: ignore[no-untyped-def]
    settings = load(default_config_path())
    win = MainWindow(settings, build_acquisition(settings), LoopMonitor(), market=market,
                     ui_settings=QSettings(str(ini), QSettings.Format.IniFormat))
    win.timer.stop()
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    QApplication.processEvents()
    if built:
        win.build_all_screens()  # as the console has them a moment after its first live frame
    return win


def places(win: MainWindow) -> dict[str, dict[str, DockPlace]]:
    return {k: s.places() for k, s in win.layout_menus.manager.screens.items()}


def rearrange(win: MainWindow) -> None:
    """What an operator might do: the frequency trend floated off, ROCOF closed, the devices table moved
    to the top, another screen shown."""
    grid = win.layout_menus.manager.screens["grid"]
    grid.docks["frequency"].setFloating(True)
    grid.docks["rocof"].hide()
    devices = win.layout_menus.manager.screens["devices"]
    devices.window.addDockWidget(TOP, devices.docks["devices"])
    assert win.devices_view is not None
    win.tabs.setCurrentWidget(win.devices_view)
    QApplication.processEvents()


def test_every_screen_panel_is_a_dock_and_the_operator_default_is_the_grid(qtbot, ini: Path) -> None:  # type: ignore[no-untyped-def]
    win = open_window(qtbot, ini)
    got = places(win)
    assert set(got) == {"grid", "devices"}  # the default config: grid and field devices only
    assert set(got["grid"]) == {"readouts", "feeders", "frequency", "voltages", "rocof", "power"}
    assert all(p == DockPlace(TOP, True, False) for p in got["grid"].values())
    assert got["devices"]["totals"].area == TOP and got["devices"]["devices"].area == BOTTOM
    assert win.tabs.currentWidget() is win.view
    grid = win.layout_menus.manager.screens["grid"].docks
    f, v, r = (grid[k].geometry() for k in ("frequency", "voltages", "rocof"))
    assert f.top() == v.top() and f.right() < v.left()  # voltages beside frequency, as before the docks
    assert r.top() > f.bottom() and r.left() == f.left()  # ROCOF under frequency
    assert grid["readouts"].geometry().bottom() < grid["feeders"].geometry().top() < f.top()
    # The trends are still the grid view's: the F-keys, refresh and the cursor readout work on them.
    assert win.view.isAncestorOf(win.view.freq_trend) and win.view.isAncestorOf(win.view.cursor_readout)


def test_save_change_restore_gives_back_the_same_arrangement(qtbot, ini: Path) -> None:  # type: ignore[no-untyped-def]
    win = open_window(qtbot, ini)
    saved = places(win)
    win.layout_menus.save_as("morning shift")
    rearrange(win)
    changed = places(win)
    assert changed["grid"]["frequency"].floating and not changed["grid"]["rocof"].visible
    assert changed["devices"]["devices"].area == TOP and changed != saved
    win.layout_menus.restore("morning shift")
    QApplication.processEvents()
    assert places(win) == saved
    assert win.tabs.currentWidget() is win.view
    assert win.layout_menus.message.text() == "Layout 'morning shift' restored"
    # and the other way round: the changed arrangement saved under a name comes back as it was
    rearrange(win)
    win.layout_menus.save_as("night")
    win.layout_menus.reset()
    assert places(win) == saved
    win.layout_menus.restore("night")
    QApplication.processEvents()
    assert places(win) == changed and win.tabs.currentWidget() is win.devices_view


def test_the_last_layout_and_the_session_come_back_on_start(qtbot, ini: Path) -> None:  # type: ignore[no-untyped-def]
    first = open_window(qtbot, ini)
    rearrange(first)
    first.layout_menus.save_as("mine")
    mine = places(first)
    first.layout_menus.manager.screens["grid"].docks["power"].hide()  # after the save, then not closed
    second = open_window(qtbot, ini)  # no session saved: the last named layout
    assert places(second) == mine and second.layout_menus.manager.active == "mine"
    assert second.tabs.currentWidget() is second.devices_view
    second.layout_menus.manager.screens["grid"].docks["voltages"].hide()
    left = places(second)
    second.close()  # closing keeps the session's arrangement
    third = open_window(qtbot, ini)
    assert places(third) == left and not left["grid"]["voltages"].visible
    assert QSettings(str(ini), QSettings.Format.IniFormat).value("last_layout") == "mine"


def test_delete_and_bad_names(qtbot, ini: Path) -> None:  # type: ignore[no-untyped-def]
    win = open_window(qtbot, ini)
    menus = win.layout_menus
    menus.save_as("a/b")
    assert "use a non-empty name without /" in menus.message.text() and menus.store.names() == []
    menus.save_as("  Storm  ")
    assert menus.store.names() == ["Storm"]
    labels = [e.label for e in win.palette_entries()]
    assert {"Save layout as…", "Restore layout Storm", "Delete layout Storm…", "Light theme",
            "Reset layout to the operator default", "Show panel Frequency trend"} <= set(labels)
    menus.manager.delete("Storm")
    assert menus.store.names() == [] and menus.store.last() is None
    assert not menus.manager.restore("Storm")
    assert "there is no layout 'Storm'" in menus.message.text()


@pytest.mark.parametrize("damage", ["garbage", "foreign", "text", "version"])
def test_a_damaged_or_foreign_saved_state_falls_back_to_the_default(qtbot, ini: Path, damage: str) -> None:  # type: ignore[no-untyped-def]
    first = open_window(qtbot, ini)
    default = places(first)
    rearrange(first)
    first.close()
    settings = QSettings(str(ini), QSettings.Format.IniFormat)
    key = f"{SESSION}/states/grid"
    if damage == "garbage":
        settings.setValue(key, QByteArray(b"\x00\x00\x00\xff" + bytes(range(200))))
    elif damage == "foreign":  # the devices screen's state where the grid's belongs
        settings.setValue(key, settings.value(f"{SESSION}/states/devices"))
    elif damage == "text":
        settings.setValue(key, "not a state")
    else:  # a state Qt saved with another version number: the grid's own dock names, refused by Qt
        grid = first.layout_menus.manager.screens["grid"].window
        settings.setValue(key, grid.saveState(99))
    settings.sync()
    second = open_window(qtbot, ini)  # starts: nothing raised, the operator default shown
    assert places(second) == default
    assert second.tabs.currentWidget() is second.view
    text = second.layout_menus.message.text()
    assert text.startswith("Layout 'session' could not be restored (the grid screen's state")
    assert text.endswith("showing the operator default")


@pytest.fixture
async def market(tmp_path: Path) -> AsyncIterator[MarketService]:
    service = MarketService(MarketRules(tick=5, lot=100), SqlMarketJournal(f"sqlite:///{tmp_path / 'm.db'}"),
                            pricing=PricingConfig(base=250))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def test_each_role_has_its_default(qtbot, ini: Path, market: MarketService) -> None:  # type: ignore[no-untyped-def]
    win = open_window(qtbot, ini, market)
    manager = win.layout_menus.manager
    assert set(manager.screens) == {"grid", "devices", "market", "participants"}
    operator = places(win)
    assert operator["market"]["ticket"].visible and operator["grid"]["market"].visible
    # The market panel sits right of demand vs supply on the grid screen, on the same row.
    grid = manager.screens["grid"].docks
    assert grid["market"].geometry().left() > grid["power"].geometry().right()
    assert grid["market"].geometry().top() == grid["power"].geometry().top()
    win.layout_menus.user_changed(type("U", (), {"role": Role.ANALYST})())  # an analyst signs in
    analyst = places(win)
    # Analysts change nothing: the order ticket hidden, everything else where the operator has it.
    assert not analyst["market"]["ticket"].visible
    assert {k: v for k, v in analyst["market"].items() if k != "ticket"} == {
        k: v for k, v in operator["market"].items() if k != "ticket"}
    assert win.tabs.currentWidget() is win.view  # analytics (their start screen) is not configured here
    assert "Reset layout to the analyst default" in [e.label for e in win.palette_entries()]
    # A named layout shown is kept when someone of another role signs in.
    win.layout_menus.save_as("desk")
    win.layout_menus.user_changed(type("U", (), {"role": Role.OPERATOR})())
    assert not places(win)["market"]["ticket"].visible
    win.layout_menus.reset()
    assert places(win)["market"]["ticket"].visible


def test_a_screen_built_after_the_start_gets_its_saved_arrangement(qtbot, ini: Path) -> None:  # type: ignore[no-untyped-def]
    first = open_window(qtbot, ini)
    rearrange(first)  # the devices table moved to the top, the devices screen shown
    first.tabs.setCurrentWidget(first.view)
    saved = places(first)
    first.close()  # the session: the grid shown, the devices' arrangement kept
    second = open_window(qtbot, ini, built=False)
    assert set(places(second)) == {"grid"} and second.built_screen("devices") is None  # not built yet
    assert places(second)["grid"] == saved["grid"]
    qtbot.keyClick(second, Qt.Key.Key_F2)  # built now, with the arrangement saved for it
    assert second.tabs.currentWidget() is second.built_screen("devices")
    assert places(second) == saved
    second.close()  # the devices screen shown at the close: the next start builds it before the window shows
    third = open_window(qtbot, ini, built=False)
    assert third.built_screen("devices") is not None and third.tabs.currentWidget() is third.built_screen("devices")
    assert places(third) == saved
