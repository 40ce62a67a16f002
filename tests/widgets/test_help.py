"""Help menu: the guides render from docs/, the about box names versions and where the data lives."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from console.bootstrap import build_acquisition
from console.config import default_config_path, load
from console.services.loop_monitor import LoopMonitor
from console.store.database import default_data_dir
from console.ui.help import GUIDES, AboutDialog, GuideDialog, about_rows
from console.ui.main_window import MainWindow

pytestmark = pytest.mark.widgets


def test_guides_render_and_about_names_versions_and_folders(qtbot) -> None:  # type: ignore[no-untyped-def]
    for name in GUIDES:
        dialog = GuideDialog(name)
        qtbot.addWidget(dialog)
        text = dialog.browser.toPlainText()
        assert name in text and "could not be read" not in text
    settings = load(default_config_path())
    rows = dict(about_rows(settings))
    assert rows["Configuration"].endswith("energynet.toml")
    assert rows["Historian"].startswith("sqlite:///") and rows["pyqtgraph"][0].isdigit()
    assert rows["Data folder"] == str(default_data_dir())
    about = AboutDialog(settings)
    qtbot.addWidget(about)
    assert "Data folder" in about.text.text()


def test_help_menu_lists_guides_shortcuts_and_about(qtbot) -> None:  # type: ignore[no-untyped-def]
    settings = load(default_config_path())
    win = MainWindow(settings, build_acquisition(settings), LoopMonitor())
    win.timer.stop()
    qtbot.addWidget(win)
    win.show()
    QApplication.processEvents()
    menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Help")
    names = [a.text() for a in menu.actions() if a.text()]
    assert names[:3] == ["Operator guide", "User guide", "Keyboard shortcuts"]
    assert names[-1] == "About EnergyNet Console"
    next(a for a in menu.actions() if a.text() == "Keyboard shortcuts").trigger()
    assert "F1" in win._dialog.text.text() and "Ctrl+K" in win._dialog.text.text()
