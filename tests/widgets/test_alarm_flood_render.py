"""What keeps a 1,000-alarm flood frame cheap, without timing it: the engine reuses the view of an alarm
that did not change, the list signals only the rows that did, and the count label never re-lays the
screen (its size is fixed)."""

from __future__ import annotations

import pytest

from core.alarms import AlarmDef, AlarmEngine, LimitCondition, LimitKind, Priority
from core.points import Quality, Sample
from widgets.alarm_table import STATE, AlarmTable

pytestmark = pytest.mark.widgets

T0 = 1_796_000_000.0


def flood(n: int = 200) -> AlarmEngine:
    defs = [AlarmDef(f"a{i:03d}", f"p{i:03d}", LimitCondition(LimitKind.HIGH, 1.0), Priority(1 + i % 4), f"A{i}")
            for i in range(n)]
    engine = AlarmEngine(defs)
    engine.feed([Sample(d.point, 2.0, "", Quality.GOOD, T0 + i, T0 + i) for i, d in enumerate(defs)])
    return engine


def test_the_engine_reuses_the_views_of_alarms_that_did_not_change() -> None:
    engine = flood()
    first = engine.snapshot(T0 + 300)
    engine.acknowledge("a007", "anna", T0 + 301)
    second = engine.snapshot(T0 + 302)
    before = {a.id: a for a in first.alarms}
    after = {a.id: a for a in second.alarms}
    assert [a.id for a in first.alarms] == [a.id for a in second.alarms]  # acknowledging does not reorder
    assert after["a007"] is not before["a007"] and after["a007"].state.acked
    assert all(after[i] is before[i] for i in before if i != "a007")


def test_a_frame_signals_only_the_rows_that_changed(qtbot) -> None:  # type: ignore[no-untyped-def]
    engine = flood()
    table = AlarmTable()
    qtbot.addWidget(table)
    table.show_alarms(engine.snapshot(T0 + 300).alarms)
    signalled: list[tuple[int, int, int, int]] = []
    table.table_model.dataChanged.connect(
        lambda a, b, *_: signalled.append((a.row(), a.column(), b.row(), b.column())))
    writes = table.cell_writes
    for alarm in ("a010", "a150"):
        engine.acknowledge(alarm, "anna", T0 + 301)
    table.show_alarms(engine.snapshot(T0 + 302).alarms)
    ids = table.visible_ids()
    # one signal per acknowledged row, spanning its changed cells; no other row, no reset
    assert sorted(r for r, _, r2, _ in signalled if r == r2) == sorted([ids.index("a010"), ids.index("a150")])
    assert len(signalled) == 2 and all(c0 <= STATE <= c1 for _, c0, _, c1 in signalled)
    # per row: priority (bold → plain), state (UNACK → ACK, bold → plain), message (bold → plain)
    assert table.cell_writes - writes == 2 * 3
    table.show_alarms(engine.snapshot(T0 + 303).alarms)  # nothing changed: nothing signalled
    assert len(signalled) == 2


def test_the_count_label_has_a_fixed_size(qtbot) -> None:  # type: ignore[no-untyped-def]
    from console.services.alarms import AlarmService
    from console.ui.alarms_view import AlarmsView
    from tests.unit.alarms.journal_double import MemoryJournal

    engine = flood(20)
    service = AlarmService(engine, MemoryJournal(), clock=lambda: T0 + 30)
    view = AlarmsView(service, "anna", clock=lambda: T0 + 30)
    qtbot.addWidget(view)
    label = view.shown_label
    assert label.minimumSize() == label.maximumSize()  # a text of another width cannot re-lay the screen
    view.refresh(force=True)
    assert label.text() == "20 shown · 20 unacknowledged · 20 listed · 20 defined"
    assert label.fontMetrics().horizontalAdvance(
        "10000 shown · 10000 unacknowledged · 10000 listed · 10000 defined") <= label.width()
