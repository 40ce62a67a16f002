"""Command palette: ranking by hand-worked scores, keys in the box, and the main window's entries."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from console.bootstrap import build_acquisition
from console.config import default_config_path, load
from console.services.loop_monitor import LoopMonitor
from console.ui.main_window import MainWindow
from widgets.command_palette import CommandPalette, PaletteEntry, ranked, score

pytestmark = pytest.mark.widgets


def test_subsequence_matching_and_ranking() -> None:
    assert score("frq", "Feeder 1 voltage") is None      # no q
    assert score("frq", "Frequency") is not None
    # "ack": A-c-k at the start of a word (18 + 15 + 20 = 53) beats a-c-k inside "Pack" (9 + 15 + 20 = 44).
    assert score("ack", "Acknowledge selected alarm") == 53 * 100 - len("acknowledge selected alarm")
    assert score("ack", "Pack the journal") == 44 * 100 - len("pack the journal")
    entries = [PaletteEntry(t, "Action", lambda: None) for t in ("Pack the journal", "Acknowledge selected alarm")]
    assert [e.label for e in ranked(entries, "ack")] == ["Acknowledge selected alarm", "Pack the journal"]
    assert [e.label for e in ranked(entries, "")] == ["Pack the journal", "Acknowledge selected alarm"]  # as given


def test_typing_arrows_and_enter_run_the_chosen_entry(qtbot) -> None:  # type: ignore[no-untyped-def]
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.resize(900, 600)
    parent.show()
    ran: list[str] = []
    entries = [PaletteEntry(name, "Tab", lambda n=name: ran.append(n)) for name in
               ("Go to Grid", "Go to Alarms", "Go to Field devices")]
    palette = CommandPalette(parent, lambda: entries)
    palette.open_palette()
    qtbot.keyClicks(palette.search, "go to")
    assert palette.results.count() == 3
    qtbot.keyClick(palette.search, Qt.Key.Key_Down)
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert ran == [palette._shown[1].label]
    palette.open_palette()
    qtbot.keyClicks(palette.search, "alrm")
    assert palette.results.count() == 1
    qtbot.keyClick(palette.search, Qt.Key.Key_Enter)
    assert ran[-1] == "Go to Alarms"
    assert not palette.isVisible()


def test_main_window_offers_tabs_keys_devices_and_points(qtbot) -> None:  # type: ignore[no-untyped-def]
    settings = load(default_config_path())
    win = MainWindow(settings, build_acquisition(settings), LoopMonitor())
    win.timer.stop()
    qtbot.addWidget(win)
    win.show()
    QApplication.processEvents()
    entries = {e.label: e for e in win.palette_entries()}
    assert entries["Go to Grid"].key == "F1"
    assert entries["Pause / resume the trends"].key == "Space"
    assert any(label.endswith("(grid.frequency)") for label in entries)
    device = settings.modbus[0].name
    win.tabs.setCurrentIndex(0)
    next(e for e in entries.values() if e.category == "Device" and e.detail == device).run()
    assert win.tabs.currentWidget() is win.devices_view
    entries["Trend window 10 min"].run()
    assert win.window_buttons.checkedButton().text() == "10 min"
    entries["Go to Grid"].run()
    assert win.tabs.currentIndex() == 0
