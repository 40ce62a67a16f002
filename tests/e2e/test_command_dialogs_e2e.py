"""The setpoint dialogs against a real simulated house (meter, PV, battery on a pymodbus server), through the real
audited command service and a real SQLite audit log: Enter never sends, the battery dialog opens on what the
battery does now, results speak engineering words with a time, overrides are marked, history comes from the
audit log."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from console.bootstrap import Application, build
from console.config import default_config_path, load
from console.services.commands import CommandService
from console.ui.command_dialogs import BatteryDialog, BatteryMode, CommandDialog, PowerLimitDialog, RegisterDialog
from console.ui.devices_view import DevicesView
from core.sources import ModbusDeviceSpec
from drivers.sim.devices import DeviceFleet, FleetDevice
from tests.conftest import free_port, until
from widgets.device_table import OVERRIDE

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]
CLOCK = r"\d\d:\d\d:\d\d"


def application(specs: list[ModbusDeviceSpec], db: Path) -> Application:
    """The composition root with these Modbus devices and a SQLite historian (the audit log)."""
    settings = load(default_config_path())
    return build(dataclasses.replace(settings, sources=(), modbus=tuple(specs),
                                     historian=dataclasses.replace(settings.historian, enabled=True,
                                                                   url=f"sqlite:///{db}", spool=None)))


def press_enter(qtbot, widget) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def select(view: DevicesView, device: str) -> None:
    view.table.selectRow([r[0] for r in view.table.row_texts()].index(device))


async def test_enter_never_sends_and_the_battery_dialog_opens_on_the_current_mode(
        qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    layout = [FleetDevice(1, "meter", 1), FleetDevice(101, "pv", 1), FleetDevice(151, "battery", 1)]
    fleet = DeviceFleet(port=free_port(), layout=layout)
    house = fleet.houses[1]
    house.steady = True
    house.start_hour = 12.0 - time.monotonic() / 3600  # noon: the PV produces
    house.pv_peak_w, house.load_w = 3000.0, 2000.0
    await fleet.start()
    specs = [ModbusDeviceSpec(name, fleet.host, fleet.port, dev_id, profile, timeout_s=0.5,
                              poll_overrides=(("power", 0.2), ("fast", 0.2)), participant="house-01", asset=asset)
             for name, dev_id, profile, asset in (("house-01", 1, "eastron_sdm630.toml", "meter"),
                                                  ("house-01-pv", 101, "sunspec", "pv"),
                                                  ("house-01-battery", 151, "sunspec", "battery"))]
    app = application(specs, tmp_path / "audit.db")
    acq = app.acquisition
    commands = app.commands
    assert isinstance(commands, CommandService) and commands.audit_reader is not None
    view = DevicesView(specs, commands)
    qtbot.addWidget(view)
    battery = house.battery
    assert battery is not None and battery.mode == 0  # self-consumption
    await app.start()
    view.show()  # reads the command history from the audit log (empty)
    try:
        await until(lambda: all(acq.snapshot().reading(p) for p in (
            "house-01.power", "house-01-pv.controls.WMaxLimPct", "house-01-pv.inverter_three_phase.W",
            "house-01-battery.storage_basic.StorCtl_Mod", "house-01-battery.storage_basic.WChaMax")))
        view.refresh(acq.snapshot(), acq.statuses())

        def opened(ask) -> CommandDialog:  # type: ignore[no-untyped-def]
            ask()
            dialog = view.dialog
            assert dialog is not None and dialog.isVisible()
            assert QApplication.activeModalWidget() is dialog or dialog.isModal()
            return dialog

        # Every confirmation: Enter in the input, Enter on the (focused) send button, Enter on the dialog;
        # then Enter again on the tab. None of it sends.
        select(view, "house-01-battery")
        view.refresh(acq.snapshot(), acq.statuses())
        view.points.selectRow([r[0] for r in view.points.row_texts()].index("storage_basic.InWRte"))
        for device, ask, kind in (("house-01-battery", view.ask_battery_setpoint, BatteryDialog),
                                  ("house-01-battery", view.ask_register_value, RegisterDialog),
                                  ("house-01-pv", view.ask_power_limit, PowerLimitDialog)):
            select(view, device)
            if device == "house-01-pv":
                view.refresh(acq.snapshot(), acq.statuses())
            for target in ("input", "send", "dialog"):
                dialog = opened(ask)
                assert isinstance(dialog, kind)
                # A change, so that the send button is enabled and Enter would have something to send.
                if isinstance(dialog, BatteryDialog):
                    dialog.mode_buttons[BatteryMode.DISCHARGE].setChecked(True)
                    dialog.rate.setValue(2.5)
                elif isinstance(dialog, PowerLimitDialog):
                    dialog.limit.setValue(60)
                elif isinstance(dialog, RegisterDialog):
                    dialog.value.setValue(50)
                assert dialog.send_button.isEnabled(), (device, target)
                if target == "input":
                    input_box = {BatteryDialog: "rate", PowerLimitDialog: "limit", RegisterDialog: "value"}[kind]
                    getattr(dialog, input_box).setFocus()
                widget = {"input": getattr(dialog, input_box) if target == "input" else None,
                          "send": dialog.send_button,
                          "dialog": dialog}[target]
                if target == "send":
                    dialog.send_button.setFocus()
                press_enter(qtbot, widget)
                assert not dialog.isVisible() and dialog.result() == 0, (device, target)
                press_enter(qtbot, view)
                assert view.dialog is None and not view.tasks, (device, target)
        await until(lambda: not view.history_tasks)
        assert await commands.history() == []  # not one write reached the audit, nor the device
        assert battery.mode == 0 and battery.charge_pct == 100 and battery.discharge_pct == 100

        # The battery dialog opens on the current mode: self-consumption now.
        select(view, "house-01-battery")
        dialog = opened(view.ask_battery_setpoint)
        assert isinstance(dialog, BatteryDialog) and dialog.selected_mode() == BatteryMode.SELF
        assert dialog.fact_texts["Rated power"] == "5 kW" and dialog.fact_texts["Mode"] == "self-consumption"
        assert re.fullmatch(r"\d+ %", dialog.fact_texts["State of charge"]), dialog.fact_texts
        assert dialog.consequence.text() == "No change: house-01 battery is already in self-consumption"
        assert not dialog.send_button.isEnabled()
        # Discharge at 2.0 kW; 5 kW rated (WChaMax 5000 W): 40 %. Sending takes the send button.
        dialog.mode_buttons[BatteryMode.DISCHARGE].setChecked(True)
        dialog.rate.setValue(2.0)
        assert dialog.consequence.text() == "house-01 battery: discharge at 2.0 kW (40 % of 5 kW) until changed"
        qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
        assert not view.battery_button.isEnabled()  # one command at a time
        await until(lambda: not view.tasks)
        assert re.fullmatch(f"{CLOCK} house-01 battery: discharging at 2.0 kW \\(40 % of 5 kW\\) — confirmed by "
                            "read-back", view.command_result.text()), view.command_result.text()
        await until(lambda: battery.mode == 2)
        mark = time.time()
        await until(lambda: (r := acq.snapshot().reading("house-01-battery.storage_basic.StorCtl_Mod")) is not None
                    and r.source_ts > mark and r.value == 2)
        view.refresh(acq.snapshot(), acq.statuses())

        # Marked in the device table, with what and since when.
        rows = {r[0]: r for r in view.table.row_texts()}
        assert re.fullmatch(f"◆ discharging at 2.0 kW \\(40 % of 5 kW\\) since {CLOCK}",
                            rows["house-01-battery"][OVERRIDE]), rows["house-01-battery"][OVERRIDE]
        assert rows["house-01-pv"][OVERRIDE] == "" and rows["house-01"][OVERRIDE] == ""

        # Reopened, it starts on what the battery does now: discharge at 2.0 kW; Enter, Enter changes nothing.
        dialog = opened(view.ask_battery_setpoint)
        assert isinstance(dialog, BatteryDialog)
        assert dialog.selected_mode() == BatteryMode.DISCHARGE and dialog.rate.value() == 2.0
        press_enter(qtbot, dialog.focusWidget() or dialog)
        press_enter(qtbot, view)
        assert not dialog.isVisible() and not view.tasks

        # The power limit dialog: rating unknown to the demo inverter (no SunSpec 120/121) → in %.
        select(view, "house-01-pv")
        dialog = opened(view.ask_power_limit)
        assert isinstance(dialog, PowerLimitDialog)
        dialog.limit.setValue(60)
        assert re.fullmatch(r"house-01 PV: limit to 60 % of its rated power; now producing \d\.\d kW",
                            dialog.consequence.text()), dialog.consequence.text()
        qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
        await until(lambda: not view.tasks)
        assert re.fullmatch(f"{CLOCK} house-01 PV: limited to 60 % of its rated power — confirmed by read-back",
                            view.command_result.text()), view.command_result.text()
        mark = time.time()
        await until(lambda: (r := acq.snapshot().reading("house-01-pv.controls.WMaxLimPct")) is not None
                    and r.source_ts > mark and r.value == 60)
        view.refresh(acq.snapshot(), acq.statuses())
        rows = {r[0]: r for r in view.table.row_texts()}
        assert re.fullmatch(f"◆ limited to 60 % since {CLOCK}", rows["house-01-pv"][OVERRIDE])

        # The history, read back from the audit log: the two commands in the words confirmed, newest first.
        view.load_history()
        await until(lambda: not view.history_tasks)
        history = view.history.row_texts()
        assert [r[3] for r in history] == [
            "house-01 PV: limit to 60 % of its rated power; now producing " + history[0][3].rsplit(" ", 2)[-2]
            + " kW", "house-01 battery: discharge at 2.0 kW (40 % of 5 kW) until changed"]
        assert [r[2] for r in history] == ["confirmed", "confirmed"]
    finally:
        await app.stop()
        await fleet.stop()
