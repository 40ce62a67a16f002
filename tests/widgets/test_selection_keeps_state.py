"""A selected row keeps its state colours: the style sheet's one selection text colour (#e4e6e8) painted an
alarm's priority colour and a disconnected device's red grey the moment the operator selected the row.

Measured on the pixels of the selected row, in the application's style sheet: the text of a state cell is
drawn in its state colour on the selection grey, and a grey (normal) cell still in the selection's text
colour. A pixel "of" a colour: within 40 of it on each channel (anti-aliased glyph edges blend with the
grey background, the cores of the strokes keep the colour); the selection's light grey #e4e6e8 is more than
40 away from every state colour checked here (amber #f2c12e: blue 0xe8 - 0x2e = 186 off; red #e8403a:
green 0xe6 - 0x40 = 166 off; the critical priority #ff4f4a: green 0xe6 - 0x4f = 151 off).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from core.alarms import AlarmDef, AlarmState, AlarmView, LimitCondition, LimitKind, Priority
from core.sources import ConnectionState
from widgets import palette, theme
from widgets.alarm_style import PRIORITY_COLOUR
from widgets.alarm_table import PRI, AlarmTable
from widgets.device_table import COMM, DeviceRow, DeviceTable
from widgets.market_cells import LEFT, CachedTable

pytestmark = pytest.mark.widgets

SELECTION_TEXT = "#e4e6e8"  # resources/theme.qss: selection-color


@pytest.fixture(autouse=True)
def style_sheet() -> Iterator[None]:
    theme.apply(theme.DARK)  # the application style sheet, with its selection colours
    yield
    theme.apply(theme.DARK)


def _count(image: QImage, rect: QRect, colour: str) -> int:
    want = QColor(colour)
    n = 0
    for x in range(rect.left(), rect.right()):
        for y in range(rect.top(), rect.bottom()):
            p = image.pixelColor(x, y)
            if max(abs(p.red() - want.red()), abs(p.green() - want.green()), abs(p.blue() - want.blue())) < 40:
                n += 1
    return n


def _grab(view) -> QImage:  # type: ignore[no-untyped-def]
    QApplication.processEvents()
    return view.viewport().grab().toImage()


def _device(name: str, state: ConnectionState) -> DeviceRow:
    return DeviceRow(name, "pv", "opc.tcp://x", state, 1000.0, 2000.0, 10, 0, 1.0, "")


def test_a_selected_disconnected_device_keeps_its_red(qtbot) -> None:  # type: ignore[no-untyped-def]
    table = DeviceTable()
    qtbot.addWidget(table)
    table.resize(900, 150)
    table.show()
    table.show_rows([_device("a-pv", ConnectionState.DISCONNECTED), _device("b-pv", ConnectionState.CONNECTED)])
    table.selectRow(0)
    table.setFocus()
    image = _grab(table)
    red = palette.EMERGENCY
    # the device name and its "disconnected" state, selected: still red (before: none, all #e4e6e8)
    assert _count(image, table.visualItemRect(table.item(0, 0)), red) > 10
    assert _count(image, table.visualItemRect(table.item(0, COMM)), red) > 10
    assert _count(image, table.visualItemRect(table.item(0, 0)), SELECTION_TEXT) == 0
    # a grey cell of the same selected row keeps the selection's text colour
    assert _count(image, table.visualItemRect(table.item(0, 1)), SELECTION_TEXT) > 5
    table.selectRow(1)  # the connected device selected: grey throughout, nothing red
    image = _grab(table)
    assert _count(image, table.visualItemRect(table.item(1, 0)), red) == 0


def _selected_critical_alarm(qtbot) -> tuple[QImage, QRect]:  # type: ignore[no-untyped-def]
    """An alarm list with one unacknowledged critical alarm, selected: the grab and its priority cell."""
    table = AlarmTable(fmt_time=lambda ts: time.strftime("%H:%M:%S", time.gmtime(ts)))
    qtbot.addWidget(table)
    table.resize(900, 150)
    table.show()
    d = AlarmDef("c", "c.pt", LimitCondition(LimitKind.HIGH, 1.0), Priority.CRITICAL, "c high")
    table.show_alarms([AlarmView(d, AlarmState(active=True, acked=False, active_since=10.0), 2.0, 10.0,
                                 False, False)])
    assert table.select_alarm("c")
    image = _grab(table)
    rect = table.visualRect(table.table_model.index(0, PRI))
    return image, rect


def test_a_selected_alarm_keeps_its_priority_colour(qtbot) -> None:  # type: ignore[no-untyped-def]
    image, rect = _selected_critical_alarm(qtbot)
    assert _count(image, rect, PRIORITY_COLOUR[Priority.CRITICAL]) > 10  # "◆ CRIT" in red, selected
    assert _count(image, rect, SELECTION_TEXT) == 0


def test_a_selected_market_row_keeps_its_alert_colour(qtbot) -> None:  # type: ignore[no-untyped-def]
    # the market tables' own rule (theme.qss: #marketTable::item:selected) set the text colour too
    table = CachedTable(("Product", "State"), (LEFT, LEFT))
    qtbot.addWidget(table)
    table.resize(400, 120)
    table.show()
    table.set_rows(2)
    for r in range(2):
        table.set_cell(r, 0, "P1 17:00", "normal")
        table.set_cell(r, 1, "CHAIN DOWN", "alert")
    table.selectRow(0)
    image = _grab(table)
    assert _count(image, table.visualItemRect(table.item(0, 1)), palette.ALERT) > 10
    assert _count(image, table.visualItemRect(table.item(0, 1)), SELECTION_TEXT) == 0
    assert _count(image, table.visualItemRect(table.item(0, 0)), SELECTION_TEXT) > 5


def test_in_the_light_theme_a_selected_alarm_is_its_priority_colour_on_light_grey(qtbot) -> None:  # type: ignore[no-untyped-def]
    # the list built while the light theme shows (as the console builds a screen when first shown): its own
    # selection grey #4f565d is drawn as its light twin (widgets/theme.light: HLS lightness mirrored), not dark
    # under the light theme's dark red
    theme.apply(theme.LIGHT)
    image, rect = _selected_critical_alarm(qtbot)
    grey = QColor(theme.light("#4f565d"))
    corner = image.pixelColor(rect.right() - 3, rect.center().y())
    assert max(abs(corner.red() - grey.red()), abs(corner.green() - grey.green()),
               abs(corner.blue() - grey.blue())) <= 2
    assert _count(image, rect, PRIORITY_COLOUR[Priority.CRITICAL]) > 10  # the light theme's red
