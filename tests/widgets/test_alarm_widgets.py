"""The alarm list and the alarm banner, offscreen, fed hand-made snapshots."""

from __future__ import annotations

import math
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from core.alarms import AlarmDef, AlarmSnapshot, AlarmState, AlarmView, LimitCondition, LimitKind, Priority, Shelving
from core.alarms.flood import FloodStatus
from widgets.alarm_banner import AlarmBanner
from widgets.alarm_table import ALARM, MESSAGE, PRI, STATE, TIME, AlarmTable
from widgets.palette import TEXT, TEXT_DIM

pytestmark = pytest.mark.widgets


def utc(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts))


def view(alarm: str, priority: Priority, state: AlarmState, value: float = math.nan, message: str = "",
         chattering: bool = False, first_out: bool = False) -> AlarmView:
    d = AlarmDef(alarm, f"{alarm}.pt", LimitCondition(LimitKind.HIGH, 1.0), priority, message or f"{alarm} high")
    return AlarmView(d, state, value, state.active_since or 0.0, chattering, first_out)


UNACK = AlarmState(active=True, acked=False, active_since=1100.0)
CRIT_ACKED = view("c", Priority.CRITICAL, AlarmState(active=True, acked=True, active_since=900.0), 51.6)
HIGH_RTN = view("h.rtn", Priority.HIGH, AlarmState(active=False, acked=False, active_since=1200.0), 50.21)
HIGH_UNACK = view("h.new", Priority.HIGH, UNACK, 50.25)
LOW_UNACK = view("l", Priority.LOW, AlarmState(active=True, acked=False, active_since=1000.0), 12.5)


def snapshot(*alarms: AlarmView, floods: tuple[FloodStatus, ...] = ()) -> AlarmSnapshot:
    return AlarmSnapshot(2000.0, alarms, floods, (), 40)


def test_rows_show_priority_by_shape_and_word_and_sort_by_priority_then_newest(qtbot) -> None:  # type: ignore[no-untyped-def]
    table = AlarmTable(fmt_time=utc)
    qtbot.addWidget(table)
    table.show_alarms([LOW_UNACK, HIGH_UNACK, CRIT_ACKED, HIGH_RTN])  # any order in
    rows = table.row_texts()
    assert [r[ALARM] for r in rows] == ["c", "h.rtn", "h.new", "l"]  # critical; high newest first; low
    assert rows[0][:4] == ["◆ CRIT", "ACK", "00:15:00", "c"]
    assert rows[1][:3] == ["▲ HIGH", "RTN UNACK", "00:20:00"]
    assert rows[2][1:3] == ["UNACK", "00:18:20"] and rows[2][5] == "50.25"
    assert rows[3][0] == "● LOW"
    # Unacknowledged: bold, priority colour on priority and state; acknowledged: plain, still coloured;
    # returned to normal unacknowledged: grey but bold (acknowledge it).
    assert table.is_bold(2, STATE) and table.is_bold(2, MESSAGE) and table.colour(2, STATE) == "#ff9a3c"
    assert not table.is_bold(0, STATE) and table.colour(0, PRI) == "#ff4f4a"
    assert table.is_bold(1, STATE) and table.colour(1, STATE) == TEXT and table.colour(1, MESSAGE) == TEXT_DIM
    assert not table.is_bold(2, ALARM)
    table.sortByColumn(TIME, Qt.SortOrder.AscendingOrder)
    assert table.visible_ids() == ["c", "l", "h.new", "h.rtn"]
    table.sortByColumn(PRI, Qt.SortOrder.AscendingOrder)
    assert table.visible_ids() == ["c", "h.rtn", "h.new", "l"]


def test_a_new_frame_rewrites_only_the_cells_that_changed(qtbot) -> None:  # type: ignore[no-untyped-def]
    table = AlarmTable(fmt_time=utc)
    qtbot.addWidget(table)
    table.show_alarms([CRIT_ACKED, HIGH_RTN, HIGH_UNACK, LOW_UNACK])
    assert table.cell_writes == 4 * 8  # first frame: every cell
    changed: list[tuple[int, int, int]] = []
    table.table_model.dataChanged.connect(lambda a, b, *_: changed.append((a.row(), a.column(), b.column())))
    resets: list[int] = []
    table.table_model.modelReset.connect(lambda: resets.append(1))
    table.show_alarms([CRIT_ACKED, HIGH_RTN, HIGH_UNACK, LOW_UNACK])
    assert table.cell_writes == 32  # nothing changed, nothing written
    acked = view("h.new", Priority.HIGH, AlarmState(active=True, acked=True, active_since=1100.0), 50.25)
    table.show_alarms([CRIT_ACKED, HIGH_RTN, acked, LOW_UNACK])
    # priority cell (bold off), state cell (UNACK → ACK, bold off), message (bold off): 3 cells
    assert table.cell_writes == 35
    # one signal for row 2, priority to message; no reset (the view repaints that row only)
    assert changed == [(2, PRI, MESSAGE)] and resets == [] and table.row_texts()[2][STATE] == "ACK"


def test_the_selection_stays_on_its_alarm_when_rows_come_and_go(qtbot) -> None:  # type: ignore[no-untyped-def]
    table = AlarmTable(fmt_time=utc)
    qtbot.addWidget(table)
    table.show_alarms([HIGH_UNACK, LOW_UNACK])
    assert table.select_alarm("l")
    table.show_alarms([CRIT_ACKED, HIGH_UNACK, LOW_UNACK])  # a new critical alarm at the top
    assert table.selected_ids() == ["l"] and table.visible_ids() == ["c", "h.new", "l"]


def test_hidden_alarms_are_dim_and_say_why(qtbot) -> None:  # type: ignore[no-untyped-def]
    table = AlarmTable(fmt_time=utc)
    qtbot.addWidget(table)
    shelved = view("s", Priority.HIGH, AlarmState(active=True, acked=False, shelving=Shelving.TIMED,
                                                  shelved_until=3600.0, shelve_reason="sensor swap",
                                                  active_since=1000.0))
    oos = view("o", Priority.MEDIUM, AlarmState(out_of_service=True, out_of_service_reason="calibration"))
    storm = view("f", Priority.LOW, AlarmState(active=True, acked=False, silenced=True, active_since=10.0),
                 chattering=True, first_out=True)
    table.show_alarms([shelved, oos, storm])
    rows = {r[ALARM]: r for r in table.row_texts()}
    assert rows["s"][1] == "SHELVED" and rows["s"][-1] == "shelved until 01:00:00: sensor swap"
    assert rows["o"][1] == "OUT OF SERVICE" and rows["o"][-1] == "out of service: calibration"
    assert rows["f"][-1] == "FIRST OUT · chattering · silenced"
    r = table.visible_ids().index("s")
    assert table.colour(r, PRI) == TEXT_DIM and not table.is_bold(r, STATE)


def test_banner_counts_newest_most_urgent_flood_and_horn(qtbot) -> None:  # type: ignore[no-untyped-def]
    banner = AlarmBanner(fmt_time=utc)
    qtbot.addWidget(banner)
    banner.show_snapshot(snapshot())
    assert banner.counts_text() == "◆ 0  ▲ 0  ■ 0  ● 0"
    assert banner.newest.full_text == "no unacknowledged alarms" and banner.horn.text() == ""
    # the engine's order: most urgent first, newest first
    banner.show_snapshot(snapshot(CRIT_ACKED, HIGH_RTN, HIGH_UNACK, LOW_UNACK,
                                  floods=(FloodStatus("main", 14, True, 1000.0, "l"),)))
    assert banner.counts_text() == "◆ 0  ▲ 2  ■ 0  ● 1"
    assert banner.newest.full_text == "▲ HIGH  00:20:00  CLEARED  h.rtn high  (h.rtn)"  # back to normal, unacked
    assert banner.flood.text() == "FLOOD main 14/10 min" and banner.horn.text() == "HORN ON"
    quiet = [view(a.id, a.priority, AlarmState(active=a.state.active, acked=False, silenced=True,
                                               active_since=a.state.active_since)) for a in (HIGH_UNACK, LOW_UNACK)]
    banner.show_snapshot(snapshot(*quiet))
    assert banner.horn.text() == "horn silenced" and banner.flood.text() == ""


def test_banner_elides_a_long_message_and_never_widens_the_window(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = QWidget()
    qtbot.addWidget(window)
    QVBoxLayout(window).addWidget(banner := AlarmBanner(fmt_time=utc))
    window.resize(520, 80)
    window.show()
    qtbot.waitExposed(window)
    long = view("feeder.7.overload", Priority.CRITICAL, UNACK,
                message="Feeder 7 transformer overload beyond its emergency rating " * 4)
    banner.show_snapshot(snapshot(long))
    qtbot.wait(20)
    assert window.width() == 520 and banner.height() == 26
    shown = banner.newest.text()
    assert shown.endswith("…") and len(shown) < len(banner.newest.full_text)
    assert banner.newest.toolTip() == banner.newest.full_text and "(feeder.7.overload)" in banner.newest.toolTip()
