"""The main window builds only the grid before it is shown; every other screen is a placeholder tab until it
is first shown (its F-key, a click on its tab) or the idle slices after the first live frame build it. A
screen built late shows what happened before it existed: an alarm raised while the alarm screen was a
placeholder (a real AlarmService with the SQL journal, on a qasync loop), the devices' totals trend from the
snapshots of the frames before it was built. Screenshots of two late screens are written when
``ENERGYNET_SCREENSHOTS`` names a folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from console.bootstrap import build_acquisition
from console.config import default_config_path, load
from console.services.alarms import AlarmService
from console.services.loop_monitor import LoopMonitor
from console.store.alarm_journal import SqlAlarmJournal
from console.ui.alarms_view import AlarmsView
from console.ui.devices_view import DevicesView
from console.ui.main_window import MainWindow
from core.alarms import AlarmEngine
from tests.e2e.test_alarms_view import T0, Clock, definitions, hz, run

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def shot(widget: QWidget, name: str) -> None:
    folder = os.environ.get("ENERGYNET_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        assert widget.grab().save(str(Path(folder) / name))


def test_only_the_grid_is_built_before_the_window_and_a_late_screen_shows_what_came_before(
        qapp, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = load(default_config_path())  # the default config: the grid and its field devices
    assert settings.modbus
    clock = Clock(T0)
    journal = SqlAlarmJournal.open(f"sqlite:///{tmp_path / 'alarms.sqlite'}", definitions())
    alarms = AlarmService(AlarmEngine(definitions()), journal, clock=clock, tick_s=0.02)
    win = MainWindow(settings, build_acquisition(settings), LoopMonitor(), alarms=alarms,
                     ui_settings=QSettings(str(tmp_path / "console.ini"), QSettings.Format.IniFormat))
    win.timer.stop()
    qtbot.addWidget(win)
    win.resize(1600, 900)
    win.show()
    QApplication.processEvents()

    titles = [win.tabs.tabText(i) for i in range(win.tabs.count())]
    assert titles == ["Grid  (F1)", "Field devices  (F2)", "Alarms  (F5)"]
    assert win.built_screen("devices") is None and win.built_screen("alarms") is None
    assert win.unbuilt_screens() == ["devices", "alarms"]
    assert not any(isinstance(w, DevicesView | AlarmsView) for w in win.findChildren(QWidget))
    assert set(win.layout_menus.manager.screens) == {"grid"}  # only the grid's panels are docked

    seen: list[str] = []  # what a listener to the tabs sees when a placeholder's tab is selected
    win.tabs.currentChanged.connect(lambda _i: seen.append(type(win.tabs.currentWidget()).__name__))

    async def scenario() -> None:
        await alarms.start()
        try:
            alarms.on_samples([hz(50.25, T0)])
            clock.now = T0 + 2.1  # past the 2 s on-delay
            alarms.on_samples([hz(50.25, T0 + 2.1)])
            for _ in range(10):  # frames 0…9 on the grid: the devices' totals kept on frames 0, 5 (10 below)
                win.refresh()
                time.sleep(0.002)  # each snapshot its own time
            assert win.built_screen("alarms") is None  # the banner shows the alarm; the screen is not built
            assert win.alarm_banner is not None and "Frequency high" in win.alarm_banner.newest.full_text

            QTest.keyClick(win, Qt.Key.Key_F5)  # built now, and shown
            view = win.built_screen("alarms")
            assert isinstance(view, AlarmsView) and win.tabs.currentWidget() is view
            assert win.tabs.indexOf(view) == 2 and win.tabs.tabText(2) == "Alarms  (F5)"
            win.refresh()
            assert view.table.visible_ids() == ["grid.frequency.high"]  # raised before the screen existed
            row = view.table.row_texts()[0]
            assert row[:2] == ["▲ HIGH", "UNACK"] and row[4:7] == ["Frequency high", "50.25 Hz", "grid.frequency"]
            assert "alarms" in win.layout_menus.manager.screens  # its panels docked as it was built
            assert win.unbuilt_screens() == ["devices"]
            shot(win, "lazy-alarms.png")
        finally:
            await alarms.stop()

    run(qapp, scenario())

    # A click on the placeholder's tab: the screen is built in its place before anyone else hears of it.
    bar = win.tabs.tabBar()
    seen.clear()
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    devices = win.built_screen("devices")
    assert isinstance(devices, DevicesView) and win.tabs.currentWidget() is devices
    assert seen == ["DevicesView"]
    assert len(devices._totals["consumption"]) == 3  # frames 0, 5 and 10, kept while it was a placeholder
    assert win.unbuilt_screens() == []
    while win.frames % 5:  # the devices' table is refreshed on every fifth frame
        win.refresh()
    win.refresh()
    QApplication.processEvents()
    shot(win, "lazy-devices.png")
    assert devices.table.rowCount() == len(settings.modbus)


def test_the_screens_not_shown_are_built_one_per_pass_of_the_loop(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = load(default_config_path())
    clock = Clock(T0)
    alarms = AlarmService(AlarmEngine(definitions()),
                          SqlAlarmJournal.open(f"sqlite:///{tmp_path / 'alarms.sqlite'}", definitions()), clock=clock)
    win = MainWindow(settings, build_acquisition(settings), LoopMonitor(), alarms=alarms,
                     ui_settings=QSettings(str(tmp_path / "console.ini"), QSettings.Format.IniFormat))
    win.timer.stop()
    qtbot.addWidget(win)
    win.show()
    assert win.unbuilt_screens() == ["devices", "alarms"]
    win.build_screens_later()
    assert win.unbuilt_screens() == ["alarms"]  # one now, the next on the loop's next pass
    qtbot.waitUntil(lambda: win.unbuilt_screens() == [], timeout=2000)
    assert win.tabs.currentWidget() is win.view  # nothing pulled the operator off the grid
    assert [type(win.tabs.widget(i)).__name__ for i in range(win.tabs.count())] == \
        ["GridView", "DevicesView", "AlarmsView"]
    # A screen that arrives after that (the demo's chain, DR) is built in the background too.
    win.add_screen("late", "Late  (F12)", QWidget)
    assert win.unbuilt_screens() == ["late"]
    qtbot.waitUntil(lambda: win.unbuilt_screens() == [], timeout=2000)
    assert win.tabs.tabText(3) == "Late  (F12)" and win.tabs.currentWidget() is win.view
