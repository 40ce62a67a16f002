"""A selected row is a calm grey in both themes (ISA-101: colour only for the abnormal), not the platform's
bright blue: measured on the pixels of a selected cell of the demand-response table (a table with no style of
its own) and of the console's other tables, with and without focus.

Dark: resources/theme.qss's #4a5056. Light: the same grey mirrored in lightness by widgets/theme.light
(HLS lightness 0.314 -> 0.686 at the same hue and saturation): #a9afb5.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractItemView, QApplication, QLineEdit, QTableWidget, QTableWidgetItem

from console.bootstrap import build_acquisition
from console.bootstrap_demo import DEMO_CONFIG
from console.config import load
from console.services.loop_monitor import LoopMonitor
from console.ui.dr_view import DrView
from console.ui.main_window import MainWindow
from widgets import theme

pytestmark = pytest.mark.widgets

GREY = {theme.DARK: "#4a5056", theme.LIGHT: "#a9afb5"}


@pytest.fixture(autouse=True)
def dark_after() -> Iterator[None]:
    yield
    theme.apply(theme.DARK)


def _selected_pixel(table: QTableWidget) -> QColor:
    """The colour in the middle of row 0's first cell, the row selected, away from its text."""
    table.selectRow(0)
    QApplication.processEvents()
    rect = table.visualItemRect(table.item(0, 0))
    image = table.viewport().grab().toImage()
    return image.pixelColor(rect.right() - 3, rect.center().y())


def _near(pixel: QColor, expected: str) -> bool:
    """Within 2 of each channel (the style's shading of a selected cell moves one or two levels);
    the platform's blue (#308cc6 in Fusion) is a hundred off."""
    want = QColor(expected)
    return max(abs(pixel.red() - want.red()), abs(pixel.green() - want.green()),
               abs(pixel.blue() - want.blue())) <= 2


@pytest.mark.parametrize("name", theme.THEMES)
def test_a_selected_dr_row_is_grey_focused_or_not(qtbot, name: str) -> None:  # type: ignore[no-untyped-def]
    theme.apply(name)
    table = DrView._table(("Event", "Window", "State"))
    qtbot.addWidget(table)
    table.setRowCount(2)
    for row in range(2):
        for col, text in enumerate((f"dr-{row}", "17:00–18:00", "active")):
            table.setItem(row, col, QTableWidgetItem(text))
    table.resize(400, 120)
    table.show()
    table.setFocus()
    QApplication.processEvents()
    assert _near(_selected_pixel(table), GREY[name])
    other = QLineEdit()  # the table loses the focus: the selection keeps its grey (no other colour either)
    qtbot.addWidget(other)
    other.show()
    other.setFocus()
    QApplication.processEvents()
    assert _near(_selected_pixel(table), GREY[name])


@pytest.mark.parametrize("name", theme.THEMES)
def test_every_table_and_list_of_the_window_selects_in_grey(qtbot, name: str) -> None:  # type: ignore[no-untyped-def]
    settings = load(DEMO_CONFIG)
    win = MainWindow(settings, build_acquisition(settings), LoopMonitor())
    win.timer.stop()
    qtbot.addWidget(win)
    win.layout_menus.set_theme(name)
    win.show()
    QApplication.processEvents()
    win.build_all_screens()  # built after the theme was set, as the console builds them after its first frame
    views = win.findChildren(QAbstractItemView)
    assert len(views) >= 5  # devices, points, participants, command history, the command palette's list
    for view in views:
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            assert view.palette().color(group, QPalette.ColorRole.Highlight).name() == GREY[name], view
