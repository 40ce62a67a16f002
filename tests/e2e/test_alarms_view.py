"""The alarm screen on a real AlarmService with the SQL journal (SQLite), on a qasync loop: samples in,
a row appears, Enter acknowledges, shelving and comments are journaled with the operator's name, the
journal search and the KPI panel read them back; and a realistic screen rendered to PNG."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox, QVBoxLayout, QWidget

from console.services.alarms import AlarmService
from console.store.alarm_journal import SqlAlarmJournal
from console.ui.alarm_dialogs import ShelveDialog, acknowledge_page_box
from console.ui.alarms_view import AlarmsView
from core.alarms import (
    AlarmDef,
    AlarmEngine,
    AlarmState,
    EventKind,
    ExternalCondition,
    IsaState,
    LimitCondition,
    LimitKind,
    Priority,
)
from core.alarms.journal import JournalQuery
from core.points import PointDef, Quality, Sample
from tests.conftest import until
from widgets.alarm_banner import AlarmBanner

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

T0 = 1_790_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def hz(value: float, t: float) -> Sample:
    return Sample("grid.frequency", value, "Hz", Quality.GOOD, t, t)


def definitions() -> list[AlarmDef]:
    return [
        AlarmDef("grid.frequency.high", "grid.frequency", LimitCondition(LimitKind.HIGH, 50.2), Priority.HIGH,
                 "Frequency high", consequence="Generators trip above 51.5 Hz",
                 response="Reduce generation; check the interconnector", deadband=0.05, on_delay_s=2.0,
                 max_shelve_s=1800.0),
        AlarmDef("bus1.voltage.low", "bus1.voltage", LimitCondition(LimitKind.LOW, 207.0), Priority.MEDIUM,
                 "Bus 1 voltage low"),
        AlarmDef("chain.down", "chain", ExternalCondition(), Priority.LOW, "Chain node unreachable"),
    ]


def run(qapp: Any, scenario: Coroutine[Any, Any, None]) -> None:  # type: ignore[misc]
    import qasync

    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(scenario)
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def test_a_frequency_alarm_acknowledged_shelved_and_searched_from_the_screen(qapp, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(T0)
    journal = SqlAlarmJournal.open(f"sqlite:///{tmp_path / 'alarms.sqlite'}", definitions())
    service = AlarmService(AlarmEngine(definitions()), journal, clock=clock, tick_s=0.02)
    view = AlarmsView(service, "anna", clock=clock)
    qtbot.addWidget(view)
    view.resize(1200, 500)
    view.show()

    async def scenario() -> None:
        await service.start()
        try:
            service.on_samples([hz(50.25, T0)])
            view.refresh()
            assert view.table.rowCount() == 0  # within the 2 s on-delay
            clock.now = T0 + 2.1
            service.on_samples([hz(50.25, T0 + 2.1)])
            view.refresh()
            assert view.table.visible_ids() == ["grid.frequency.high"]
            row = view.table.row_texts()[0]
            assert row[:2] == ["▲ HIGH", "UNACK"] and row[4:7] == ["Frequency high", "50.25", "grid.frequency"]
            view.table.selectRow(0)
            assert "Generators trip above 51.5 Hz" in view.detail.text()

            view.table.setFocus()
            QTest.keyClick(view.table, Qt.Key.Key_Return)  # Enter acknowledges the selection
            assert service.engine.state("grid.frequency.high").acked
            assert view.table.row_texts()[0][1] == "ACK"
            assert view.result.text() == "acknowledged grid.frequency.high"
            QTest.keyClick(view.table, Qt.Key.Key_Space)  # again: refused, the message says so
            assert view.result.text() == "already acknowledged"

            assert view.comment("grid.frequency.high", "governor response checked")
            assert view.shelve("grid.frequency.high", "governor test", 600.0)
            assert service.engine.state("grid.frequency.high").shelved_until == T0 + 2.1 + 600.0
            view.refresh()
            assert view.table.rowCount() == 0  # shelved: not in the annunciated list …
            view.state_filter.setCurrentIndex(3)
            assert view.table.row_texts()[0][1] == "SHELVED"  # … but under "shelved"
            assert not view.shelve("grid.frequency.high", "again", 60.0)
            assert "already" in view.result.text()

            await until(lambda: service.stats().journaled == 4)
            found = journal.query(JournalQuery(T0 - 1, T0 + 10, users=frozenset({"anna"})))
            assert [(e.kind, e.user, e.comment) for e in found] == [
                (EventKind.ACKNOWLEDGED, "anna", ""), (EventKind.COMMENTED, "anna", "governor response checked"),
                (EventKind.SHELVED, "anna", "governor test")]  # the shelving reason is its comment

            view.journal.text.setText("GOVERNOR")
            await view.journal.run_search(JournalQuery(T0 - 1, T0 + 10, text="GOVERNOR"))
            assert [r.kind for r in view.journal.results] == [EventKind.COMMENTED, EventKind.SHELVED]
            assert view.journal.status.text() == "2 event(s)"
            assert view.journal.table.item(0, 7).text() == "governor response checked"

            await view.kpis.run_kpis(T0 - 600.0, T0 + 3000.0)  # one hour: one alarm
            assert view.kpis.table.item(1, 1).text() == "1.0"  # per hour
            assert view.kpis.table.item(7, 1).text() == "100 %"  # one alarm is all of the top 10
            # one high alarm out of one: 100 % urgent, far above 5 %; and the top-10 share
            assert view.kpis.missed() == ["Top-10 share of all alarms", "Priority split low / medium / high+critical"]
        finally:
            await service.stop()
            journal.close()

    run(qapp, scenario())


def test_acknowledge_the_list_asks_first_and_takes_only_what_is_shown(qapp, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(T0)
    journal = SqlAlarmJournal.open(f"sqlite:///{tmp_path / 'alarms.sqlite'}", definitions())
    service = AlarmService(AlarmEngine(definitions()), journal, clock=clock, tick_s=0.02)
    view = AlarmsView(service, lambda: "bo", clock=clock)
    qtbot.addWidget(view)

    async def scenario() -> None:
        await service.start()
        try:
            service.on_samples([hz(50.3, T0 - 3), hz(50.3, T0),
                                Sample("bus1.voltage", 200.0, "V", Quality.GOOD, T0, T0)])
            service.set_condition("chain.down", True)
            view.priority_buttons[Priority.LOW].setChecked(False)  # the operator hides low priority
            assert set(view.table.visible_ids()) == {"grid.frequency.high", "bus1.voltage.low"}
            box = acknowledge_page_box(2, view)
            assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
            assert box.escapeButton() is box.button(QMessageBox.StandardButton.Cancel)
            view.acknowledge_visible(confirmed=False)
            assert len(service.snapshot().unacknowledged()) == 3
            view.acknowledge_visible(confirmed=True)
            assert [a.id for a in service.snapshot().unacknowledged()] == ["chain.down"]
            assert view.result.text() == "acknowledged 2 alarm(s)"
            view.silence_all()
            assert not service.snapshot().audible and view.result.text() == "horn silenced (1 alarm(s))"
            view.text_filter.setText("VOLTAGE")
            assert view.table.visible_ids() == ["bus1.voltage.low"]
            await until(lambda: service.stats().journaled == 6)
            acks = journal.query(JournalQuery(T0 - 10, T0 + 10, kinds=frozenset({EventKind.ACKNOWLEDGED})))
            assert {(e.alarm, e.user) for e in acks} == {("grid.frequency.high", "bo"), ("bus1.voltage.low", "bo")}
        finally:
            await service.stop()
            journal.close()

    run(qapp, scenario())


def test_shelve_dialog_needs_a_reason_and_keeps_to_the_maximum(qtbot) -> None:  # type: ignore[no-untyped-def]
    d = definitions()[0]  # max_shelve 1800 s
    dialog = ShelveDialog(d, AlarmState(), None)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    assert not ok.isEnabled() and not dialog.one_shot.isEnabled()  # inactive: one-shot is not offered
    dialog.reason.setText("  ")
    assert not ok.isEnabled()
    dialog.reason.setText("work order 4711")
    assert ok.isEnabled()
    dialog.minutes.setValue(500)
    assert dialog.minutes.value() == 30 and dialog.duration_s == 1800.0
    active = ShelveDialog(d, AlarmState(active=True, acked=False, active_since=1.0), None)
    qtbot.addWidget(active)
    active.one_shot.setChecked(True)
    assert active.duration_s is None and not active.minutes.isEnabled()


def realistic_alarms() -> list[AlarmDef]:
    """Fifteen alarms of a community grid in a bad hour."""
    H, L = LimitKind.HIGH, LimitKind.LOW
    E = ExternalCondition()
    rows: list[tuple[str, str, object, Priority, str]] = [
        ("grid.frequency.hh", "grid.frequency", LimitCondition(LimitKind.HIGH_HIGH, 50.5), Priority.CRITICAL,
         "Frequency very high: islanding risk"),
        ("breaker.main.trip", "breaker.main", E, Priority.CRITICAL, "Main breaker tripped: community islanded"),
        ("grid.frequency.high", "grid.frequency", LimitCondition(H, 50.2), Priority.HIGH, "Frequency high"),
        ("trafo.t1.load", "trafo.t1.loading", LimitCondition(H, 1.0), Priority.HIGH, "Transformer T1 overloaded"),
        ("feeder.3.voltage.low", "feeder.3.voltage", LimitCondition(L, 207.0), Priority.HIGH,
         "Feeder 3 end voltage low"),
        ("bus1.voltage.high", "bus1.voltage", LimitCondition(H, 253.0), Priority.MEDIUM, "Bus 1 voltage high"),
        ("bat.h12.soc.low", "h12-bat.battery.SoC", LimitCondition(L, 10.0), Priority.MEDIUM,
         "House 12 battery nearly empty"),
        ("modbus.h07.silent", "h07", E, Priority.MEDIUM, "House 07 meter not answering"),
        ("pv.h03.tamper", "h03-pv", E, Priority.MEDIUM, "House 03 PV reading implausible (tamper check)"),
        ("chain.down", "chain", E, Priority.LOW, "Chain node unreachable: settlements queued"),
        ("market.price.spike", "market.price", LimitCondition(H, 0.5), Priority.LOW, "Market price spike"),
        ("historian.spooling", "historian", E, Priority.LOW, "Historian spooling to disk"),
        ("feeder.5.voltage.low", "feeder.5.voltage", LimitCondition(L, 207.0), Priority.LOW,
         "Feeder 5 end voltage low"),
        ("settlement.disputed", "settlement", E, Priority.LOW, "Settlement of period 14:15 disputed"),
        ("bus2.voltage.high", "bus2.voltage", LimitCondition(H, 253.0), Priority.LOW, "Bus 2 voltage high"),
    ]
    return [AlarmDef(a, p, c, pr, m, response="See the operating manual, section 4") for a, p, c, pr, m in rows]  # type: ignore[arg-type]


def test_a_realistic_alarm_screen_renders(qapp, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Fifteen alarms in mixed states through the real engine; PNG to $ENERGYNET_SCREENSHOTS or tmp."""
    defs = realistic_alarms()
    clock = Clock(T0)
    journal = SqlAlarmJournal.open(f"sqlite:///{tmp_path / 'alarms.sqlite'}", defs)
    service = AlarmService(AlarmEngine(defs), journal, clock=clock, tick_s=0.05)
    window = QWidget()
    window.setStyleSheet((Path(__file__).resolve().parents[2] / "resources" / "theme.qss").read_text())
    col = QVBoxLayout(window)
    col.setContentsMargins(0, 0, 0, 0)
    banner = AlarmBanner()
    units = [PointDef(p, p, u, factor=f) for p, u, f in (
        ("grid.frequency", "Hz", 1.0), ("trafo.t1.loading", "%", 0.01), ("feeder.3.voltage", "V", 1.0),
        ("bus1.voltage", "V", 1.0), ("h12-bat.battery.SoC", "%", 1.0), ("market.price", "€/kWh", 1.0),
        ("feeder.5.voltage", "V", 1.0), ("bus2.voltage", "V", 1.0))]
    view = AlarmsView(service, "anna", clock=clock, points=units)
    col.addWidget(banner)
    col.addWidget(view, 1)
    qtbot.addWidget(window)
    window.resize(1280, 560)
    window.show()
    values = {"grid.frequency": 50.56, "trafo.t1.loading": 1.18, "feeder.3.voltage": 201.4, "bus1.voltage": 255.1,
              "h12-bat.battery.SoC": 7.0, "market.price": 0.82, "feeder.5.voltage": 205.9, "bus2.voltage": 254.0}

    async def scenario() -> None:
        await service.start()
        try:
            t = T0
            for d in defs:
                t += 37.0
                clock.now = t
                if isinstance(d.condition, ExternalCondition):
                    service.set_condition(d.id, True)
                else:
                    service.on_samples([Sample(d.point, values[d.point], "", Quality.GOOD, t, t)])
            clock.now = t + 60
            for a in ("breaker.main.trip", "trafo.t1.load", "modbus.h07.silent", "chain.down"):
                service.acknowledge(a, "anna")
            service.on_samples([Sample("feeder.5.voltage", 225.0, "", Quality.GOOD, t + 60, t + 60)])  # RTN
            service.shelve("historian.spooling", "anna", "disk swap, ticket 88", 3600.0)
            view.state_filter.setCurrentIndex(5)  # everything listed, to see every state at once
            banner.show_snapshot(service.snapshot())
            view.table.selectRow(2)
            view.refresh(force=True)
            snap = service.snapshot()
            assert len(snap.alarms) == 15 and snap.count(IsaState.UNACK_ACTIVE) == 9
            assert snap.count(IsaState.RTN_UNACK) == 1 and snap.count(IsaState.SHELVED) == 1
            assert view.table.rowCount() == 15
            await asyncio.sleep(0.2)  # let the loop (Qt and asyncio) paint; never processEvents() inside it
            out = Path(os.environ.get("ENERGYNET_SCREENSHOTS", tmp_path))
            out.mkdir(parents=True, exist_ok=True)
            assert window.grab().save(str(out / "alarms.png"))
            view.tabs.setCurrentIndex(2)
            await view.kpis.run_kpis(T0, t + 120)
            await asyncio.sleep(0.2)  # let the loop (Qt and asyncio) paint; never processEvents() inside it
            assert window.grab().save(str(out / "alarm_kpis.png"))
            view.tabs.setCurrentIndex(1)
            await view.journal.run_search(JournalQuery(T0, t + 120))
            await until(lambda: service.stats().journaled == 21)
            await view.journal.run_search(JournalQuery(T0, t + 120))
            # 15 activations, 4 acknowledgements, feeder 5 back to normal, 1 shelving
            assert view.journal.status.text() == "21 event(s)"
            await asyncio.sleep(0.2)
            assert window.grab().save(str(out / "alarm_journal.png"))
        finally:
            await service.stop()
            journal.close()

    run(qapp, scenario())
