"""The alarms as the console runs them: the composition root against a real OPC-UA server and a real
pymodbus device, the main window on top. A frequency excursion and a silenced device raise their alarms
within 1 s of the condition (plus the on-delay); acknowledging and shelving by keys on the alarm screen
change the state, the journal and the audit log, with the operator's name."""

from __future__ import annotations

import asyncio
import getpass
import time
from pathlib import Path
from typing import Any

import pytest
from asyncua import Server, ua
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from sqlalchemy import select

from console.bootstrap import build
from console.config import parse
from console.store.schema import audit_log
from console.ui.alarm_dialogs import ShelveDialog
from console.ui.main_window import MainWindow
from core.alarms import EventKind, IsaState, JournalQuery
from drivers.sim.devices import DeviceFleet
from tests.conftest import free_port
from tests.e2e.test_alarms_view import run
from tests.support.isolated import only_isolated, run_isolated

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ON_DELAY_S = 0.5
SILENT_DELAY_S = 1.0


def config(endpoint: str, modbus_port: int, tmp_path: Path) -> str:
    return f"""
[historian]
url = "sqlite:///{tmp_path / 'console.sqlite'}"
spool = "{tmp_path / 'spool'}"

[[sources]]
name = "sub"
endpoint = "{endpoint}"
publishing_interval_ms = 50
sampling_interval_ms = 50
  [[sources.points]]
  id = "grid.frequency"
  node = "ns=2;s=F"
  unit = "Hz"
  kind = "frequency"

[[modbus]]
name = "m1"
host = "127.0.0.1"
port = {modbus_port}
device_id = 1
profile = "eastron_sdm630.toml"
timeout_s = 0.3
reconnect_min_s = 0.2
reconnect_max_s = 1.0
poll = {{ power = 0.2, energy = 0.5 }}

[[alarms]]
id = "grid.frequency.high"
point = "grid.frequency"
type = "high"
limit = 50.2
deadband = 0.05
on_delay = {ON_DELAY_S}
priority = "high"
message = "Frequency high (> 50.2 Hz)"
response = "Check generation and the interconnector"

# the built-in "device silent" alarm, its on-delay shortened by config
[[alarms]]
id = "modbus.m1.silent"
point = "m1"
type = "external"
on_delay = {SILENT_DELAY_S}
priority = "medium"
message = "Meter m1 silent"
"""


async def wait_for(pred: Any, timeout: float) -> float:  # type: ignore[misc]
    """Seconds until ``pred()`` held; fails after ``timeout``."""
    start = time.monotonic()
    while not pred():
        assert time.monotonic() - start < timeout, f"not within {timeout} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def press_in_dialog(owner: Any, reason: str) -> list[str]:  # type: ignore[misc]
    """When the shelve dialog is up: type the reason, press Enter (OK). Gives up (Escape) after 5 s, so a
    dialog that never accepts fails the test instead of hanging it."""
    seen: list[str] = []
    deadline = time.monotonic() + 5.0

    def act() -> None:
        dialogs = [d for d in owner.findChildren(ShelveDialog) if d.isVisible()]
        if not dialogs:
            if time.monotonic() < deadline:
                QTimer.singleShot(20, act)
            return
        dialog = dialogs[0]
        QTest.keyClicks(dialog.reason, reason)
        seen.append(dialog.reason.text())
        ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
        if ok.isEnabled():
            QTest.keyClick(dialog.reason, Qt.Key.Key_Return)
        if dialog.isVisible():
            seen.append("still open")
            dialog.reject()
    QTimer.singleShot(20, act)
    return seen


def test_alarms_end_to_end_in_a_process_of_its_own() -> None:
    """The scenario below drives a whole MainWindow, an OPC-UA server and a Modbus fleet on its own qasync
    loop; in the shared pytest process its torn-down Qt objects broke the plots of later tests (a half-deleted
    pyqtgraph LabelItem) and Python crashed at exit. So it runs in a pytest process of its own."""
    run_isolated(__file__, "test_excursion_and_silent_device_alarm_in_time_then_ack_and_shelve_by_keys")


@only_isolated
def test_excursion_and_silent_device_alarm_in_time_then_ack_and_shelve_by_keys(qapp, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = Server()
        await server.init()
        endpoint = f"opc.tcp://127.0.0.1:{free_port()}/alarms"
        server.set_endpoint(endpoint)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        ns = await server.register_namespace("urn:energynet:alarms-test")
        freq = await server.nodes.objects.add_variable(ua.NodeId("F", ns), ua.QualifiedName("F", ns), 50.0)
        fleet = DeviceFleet(count=1, port=free_port())
        await fleet.start()
        settings = parse(config(endpoint, fleet.port, tmp_path))
        app = build(settings)
        assert app.alarms is not None and app.historian is not None
        window = MainWindow(settings, app.acquisition, app.monitor, app.historian, app.commands, app.chain,
                            app.chain_error, app.alarms)
        qtbot.addWidget(window)
        window.show()
        alarms = app.alarms
        async with server:
            await app.start()
            try:
                state = alarms.engine.state
                await wait_for(lambda: app.acquisition.stats().samples > 5 and not state("modbus.m1.silent").active
                               and app.acquisition.snapshot().frequency is not None, 20)
                # --- a frequency excursion: 50.3 Hz against the 50.2 Hz high alarm
                await freq.write_value(50.3)
                took = await wait_for(lambda: state("grid.frequency.high").active, 1.0 + ON_DELAY_S)
                assert took <= 1.0 + ON_DELAY_S
                # --- a silenced device: the built-in alarm, its on-delay from the config
                fleet.set_fault(1, "no_answer")
                took = await wait_for(lambda: state("modbus.m1.silent").active, 1.0 + SILENT_DELAY_S)
                assert took <= 1.0 + SILENT_DELAY_S
                assert not state("source.sub.lost").active  # the OPC-UA source stayed up

                # --- the banner shows it on the grid tab; F5 opens the alarm screen
                window.refresh()
                assert window.tabs.currentIndex() == 0
                banner = window.alarm_banner
                assert banner is not None
                assert banner.counts_text() == "◆ 0  ▲ 1  ■ 1  ● 0"  # one high, one medium unacknowledged
                assert "Frequency high (> 50.2 Hz)  (grid.frequency.high)" in banner.newest.toolTip()
                view = window.alarms_view
                assert view is not None
                QTest.mouseClick(banner, Qt.MouseButton.LeftButton)  # a click on the banner: the alarm screen
                assert window.tabs.currentWidget() is view
                window.tabs.setCurrentIndex(0)
                window.activateWindow()
                QTest.keyClick(window, Qt.Key.Key_F5)  # and F5
                assert window.tabs.currentWidget() is view
                window.refresh()
                ids = view.table.visible_ids()
                assert ids[0] == "grid.frequency.high" and "modbus.m1.silent" in ids  # high before medium
                view.table.selectRow(0)
                QTest.keyClick(view.table, Qt.Key.Key_Space)  # Space acknowledges on the list (not pause)
                assert state("grid.frequency.high").isa is IsaState.ACKED_ACTIVE
                assert not window.paused
                view.table.selectRow(ids.index("modbus.m1.silent"))
                typed = press_in_dialog(view, "meter swap WO-4711")
                # Ctrl+H: shelve… The dialog is modal (a nested event loop), so the key is pressed from a Qt
                # callback as in the running console, not from inside this coroutine's step.
                QTimer.singleShot(0, lambda: QTest.keyClick(view.table, Qt.Key.Key_H,
                                                            Qt.KeyboardModifier.ControlModifier))
                await wait_for(lambda: bool(typed), 10)
                assert typed == ["meter swap WO-4711"]
                assert state("modbus.m1.silent").isa is IsaState.SHELVED
                window.refresh()
                assert "modbus.m1.silent" not in view.table.visible_ids()

                user = getpass.getuser()
                await wait_for(lambda: alarms.stats().queued == 0, 10)
                events = await alarms.query(JournalQuery(0, 4e9, users=frozenset({user})))
                assert [(e.alarm, e.kind, e.comment) for e in events] == [
                    ("grid.frequency.high", EventKind.ACKNOWLEDGED, ""),
                    ("modbus.m1.silent", EventKind.SHELVED, "meter swap WO-4711")]
                historian = app.historian.historian

                def audit() -> list[tuple[str, str, str, str]]:
                    with historian.engine.connect() as conn:  # type: ignore[attr-defined]
                        rows = conn.execute(select(audit_log.c.user, audit_log.c.action, audit_log.c.target,
                                                   audit_log.c.result).where(
                            audit_log.c.action.like("alarm.%")).order_by(audit_log.c.ts_us))
                        return [tuple(r) for r in rows]  # type: ignore[misc]

                await wait_for(lambda: len(audit()) == 2, 10)
                assert audit() == [(user, "alarm.acknowledged", "grid.frequency.high", "ok"),
                                   (user, "alarm.shelved", "modbus.m1.silent", "meter swap WO-4711")]
            finally:
                window.timer.stop()
                await app.stop()
                await fleet.stop()

    run(qapp, scenario())
