"""Command dialogs and results offscreen: consequences in engineering words worked out by hand, kW ↔ %, the range
checked as it is typed, Enter that cancels, results with a time that fade to the history, override marks."""

from __future__ import annotations

import re
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from console.services.commands import CommandService
from console.ui.command_dialogs import (
    BatteryDialog,
    BatteryMode,
    BatteryState,
    PowerLimitDialog,
    battery_command,
    device_label,
    limit_command,
    result_text,
)
from console.ui.devices_view import DevicesView
from core.commands import CommandOutcome, Outcome, WriteResult
from core.grid import GridState
from core.points import PointDef, Quality, Sample
from core.roles import Role
from core.sources import ModbusDeviceSpec
from tests.conftest import until
from widgets.device_table import OVERRIDE

pytestmark = pytest.mark.widgets
CLOCK = r"\d\d:\d\d:\d\d"


class RecordingWriter:
    """The device-writer port, recording what reaches it; every write is read back equal."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, float]] = []

    async def write(self, device: str, point: str, value: float) -> WriteResult:
        self.writes.append((device, point, value))
        return WriteResult(device, point, None, value, value, True, f"{point} set to {value:g}")


def test_consequences_in_engineering_words() -> None:
    assert device_label("house-03-battery", "house-03", "battery") == "house-03 battery"
    assert device_label("h1-bat", "house-01", "battery") == "h1-bat (battery)"
    # 40 % of 5 kW = 2.0 kW; the rate is written first, then the mode that uses it (2 = discharge).
    cmd = battery_command("house-03-battery", "house-03 battery", BatteryMode.DISCHARGE, 40, 5000)
    assert cmd.consequence == "house-03 battery: discharge at 2.0 kW (40 % of 5 kW) until changed"
    assert cmd.steps == (("storage_basic.OutWRte", 40, None), ("storage_basic.StorCtl_Mod", 2.0, None))
    cmd = battery_command("house-03-battery", "house-03 battery", BatteryMode.CHARGE, 25, 8000)
    assert cmd.consequence == "house-03 battery: charge at 2.0 kW (25 % of 8 kW) until changed"
    assert cmd.steps == (("storage_basic.InWRte", 25, None), ("storage_basic.StorCtl_Mod", 1.0, None))
    cmd = battery_command("b", "b (battery)", BatteryMode.SELF, 40, 5000)
    assert cmd.steps == (("storage_basic.StorCtl_Mod", 0.0, None),) and "back to self-consumption" in cmd.consequence
    # 60 % of 5 kW = 3.0 kW, while it makes 4.2 kW: enable the limit, then set it.
    cmd = limit_command("house-05-pv", "house-05 PV", 60, 100, 5000, 4200)
    assert cmd.consequence == "house-05 PV: limit to 3.0 kW (60 % of 5 kW); now producing 4.2 kW"
    assert cmd.steps == (("controls.WMaxLim_Ena", 1.0, None), ("controls.WMaxLimPct", 60, 100))
    assert limit_command("w", "w (wind turbine)", 100, 60, 50_000, 12_345).consequence == (
        "w (wind turbine): remove the limit; now producing 12.3 kW")
    assert limit_command("p", "p (PV)", 45, 100, float("nan"), 900).consequence == (
        "p (PV): limit to 45 % of its rated power; now producing 0.9 kW")


def test_result_texts_carry_the_time_and_say_what_happened() -> None:
    ts = time.mktime((2026, 12, 1, 22, 41, 7, 0, 0, -1))  # 22:41:07 local time
    cmd = battery_command("house-03-battery", "house-03 battery", BatteryMode.DISCHARGE, 40, 5000)
    assert result_text(ts, cmd, CommandOutcome(Outcome.CONFIRMED, "…")) == (
        "22:41:07 house-03 battery: discharging at 2.0 kW (40 % of 5 kW) — confirmed by read-back")
    assert result_text(ts, cmd, CommandOutcome(Outcome.REJECTED, "read-only register")) == (
        "22:41:07 house-03 battery: refused, nothing changed (read-only register)")
    assert result_text(ts, cmd, CommandOutcome(Outcome.TIMED_OUT, "no answer within 5 s")).startswith(
        "22:41:07 house-03 battery: no answer: it may or may not have taken the value")


def test_the_battery_dialog_opens_on_the_current_mode_in_kw(qtbot) -> None:  # type: ignore[no-untyped-def]
    state = BatteryState(BatteryMode.CHARGE, 30.0, 5000.0, 1500.0, 1.0)
    dialog = BatteryDialog("house-03-battery", "house-03 battery", state)
    qtbot.addWidget(dialog)
    assert dialog.selected_mode() == BatteryMode.CHARGE and dialog.rate.value() == 1.5  # 30 % of 5 kW
    assert not dialog.send_button.isEnabled()  # nothing to change yet
    assert dialog.consequence.text() == "No change: house-03 battery is already charging at 1.5 kW (30 % of 5 kW)"
    assert dialog.cancel_button.isDefault() and not dialog.send_button.isDefault()
    assert not dialog.send_button.autoDefault()
    dialog.rate.setValue(2.0)
    assert dialog.send_button.isEnabled()
    assert dialog.consequence.text() == "house-03 battery: charge at 2.0 kW (40 % of 5 kW) until changed"
    # Typed beyond the rating: the box refuses the key (it stays within 0–5 kW).
    dialog.rate.lineEdit().selectAll()
    qtbot.keyClicks(dialog.rate.lineEdit(), "9")
    assert dialog.rate.value() <= 5.0
    dialog.show()
    qtbot.keyClick(dialog.rate, Qt.Key.Key_Return)
    assert dialog.result() == 0 and not dialog.isVisible()  # Enter cancelled


def test_a_rating_the_kw_box_rounds_opens_on_no_change_and_never_asks_above_100_percent(qtbot) -> None:  # type: ignore[no-untyped-def]
    # A 33.76 kW battery (the demo's background battery) discharging at 100 %: the box shows 33.8 kW (0.1 kW
    # steps), which is 33.8 / 33.76 = 100.1 %; charging at 30 %: 10.128 kW shows 10.1 kW = 29.9 %. Neither is a
    # change the operator asked for: the dialog opens on "No change" with Send disabled.
    for mode, rate, shown in ((BatteryMode.DISCHARGE, 100.0, 33.8), (BatteryMode.CHARGE, 30.0, 10.1)):
        dialog = BatteryDialog("bg-battery", "bg battery", BatteryState(mode, rate, 33760.0, 1000.0, 2.0))
        qtbot.addWidget(dialog)
        assert dialog.rate.value() == shown and dialog.rate_pct() == rate
        assert not dialog.send_button.isEnabled(), dialog.consequence.text()
        assert dialog.consequence.text().startswith("No change: bg battery is already")
    # From self-consumption to discharge at the box's maximum, 33.8 kW: 100 %, not 100.1 % (OutWRte <= 100).
    dialog = BatteryDialog("bg-battery", "bg battery", BatteryState(BatteryMode.SELF, 50.0, 33760.0, 0.0, 0.0))
    qtbot.addWidget(dialog)
    dialog.mode_buttons[BatteryMode.DISCHARGE].setChecked(True)
    dialog.rate.setValue(dialog.rate.maximum())
    cmd = dialog.command()
    assert cmd is not None and cmd.steps[0][1] == 100.0, cmd.steps
    # A PV limit of 60 % of 33.76 kW = 20.256 kW shows 20.3 kW (60.1 %): still "No change".
    limit = PowerLimitDialog("bg-pv", "bg PV", 60.0, 33760.0, 1000.0)
    qtbot.addWidget(limit)
    assert limit.limit.value() == 20.3 and limit.limit_pct() == 60.0 and not limit.send_button.isEnabled()
    limit.limit.setValue(20.0)  # 20.0 / 33.76 = 59.24 % → 59.2
    assert limit.limit_pct() == 59.2 and limit.send_button.isEnabled()


def test_the_limit_dialog_in_kw_with_the_percentage(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = PowerLimitDialog("house-05-pv", "house-05 PV", 100.0, 5000.0, 4200.0)
    qtbot.addWidget(dialog)
    assert dialog.limit.value() == 5.0 and not dialog.send_button.isEnabled()
    dialog.limit.setValue(3.0)
    assert dialog.limit_pct() == 60.0
    cmd = dialog.command()
    assert cmd is not None and cmd.steps[1] == ("controls.WMaxLimPct", 60.0, 100.0)
    assert dialog.consequence.text() == "house-05 PV: limit to 3.0 kW (60 % of 5 kW); now producing 4.2 kW"


def battery_view(qtbot, writer: RecordingWriter) -> tuple[DevicesView, GridState]:  # type: ignore[no-untyped-def]
    specs = [ModbusDeviceSpec("house-03", "127.0.0.1", 5020, 3, "eastron_sdm630.toml", participant="house-03"),
             ModbusDeviceSpec("house-03-battery", "127.0.0.1", 5020, 153, "sunspec", participant="house-03",
                              asset="battery"),
             ModbusDeviceSpec("house-03-pv", "127.0.0.1", 5020, 103, "sunspec", participant="house-03", asset="pv")]
    view = DevicesView(specs, CommandService(writer, None, user="op"))
    qtbot.addWidget(view)
    state = GridState([])
    state.define([PointDef("house-03.power", "p", "W", role=Role.POWER.value),
                  PointDef("house-03-battery.battery.W", "w", "W", role=Role.POWER.value),
                  PointDef("house-03-battery.storage_basic.StorCtl_Mod", "m", "", writable=True),
                  PointDef("house-03-battery.storage_basic.OutWRte", "o", "%", writable=True),
                  PointDef("house-03-battery.storage_basic.InWRte", "i", "%", writable=True),
                  PointDef("house-03-battery.storage_basic.WChaMax", "r", "W"),
                  PointDef("house-03-pv.inverter_three_phase.W", "w", "W", role=Role.POWER.value),
                  PointDef("house-03-pv.controls.WMaxLimPct", "l", "%", role=Role.POWER_LIMIT.value, writable=True),
                  PointDef("house-03-pv.controls.WMaxLim_Ena", "e", "", writable=True)])
    return view, state


def feed(state: GridState, t: float, values: dict[str, float], quality: Quality = Quality.GOOD) -> None:
    state.apply([Sample(pid, v, "", quality, t, t) for pid, v in values.items()])


BATTERY_DISCHARGING = {"house-03.power": 500.0, "house-03-battery.battery.W": -2000.0,
                       "house-03-battery.storage_basic.StorCtl_Mod": 2, "house-03-battery.storage_basic.OutWRte": 40,
                       "house-03-battery.storage_basic.InWRte": 100, "house-03-battery.storage_basic.WChaMax": 5000,
                       "house-03-pv.inverter_three_phase.W": 3000.0, "house-03-pv.controls.WMaxLimPct": 60,
                       "house-03-pv.controls.WMaxLim_Ena": 1}


async def test_enter_enter_sends_nothing_and_a_sent_result_fades_to_the_history(qtbot) -> None:  # type: ignore[no-untyped-def]
    writer = RecordingWriter()
    view, state = battery_view(qtbot, writer)
    now = time.time()
    feed(state, now, BATTERY_DISCHARGING)
    view.refresh(state.snapshot(now), [])
    view.table.selectRow([r[0] for r in view.table.row_texts()].index("house-03-battery"))
    view.show()
    view.ask_battery_setpoint()
    dialog = view.dialog
    assert isinstance(dialog, BatteryDialog)
    assert dialog.selected_mode() == BatteryMode.DISCHARGE and dialog.rate.value() == 2.0  # as it runs now
    dialog.reject()
    # Enter in the input, on the dialog, on the focused send button, Escape; then Enter again on the tab.
    for target in ("rate", "dialog", "send", "escape"):
        view.ask_battery_setpoint()
        dialog = view.dialog
        assert isinstance(dialog, BatteryDialog)
        dialog.rate.setValue(2.5)  # a change, so that Send is enabled
        assert dialog.send_button.isEnabled()
        if target == "send":
            dialog.send_button.setFocus()
        if target == "escape":
            qtbot.keyClick(dialog.rate, Qt.Key.Key_Escape)
        else:
            qtbot.keyClick({"rate": dialog.rate, "dialog": dialog, "send": dialog.send_button}[target],
                           Qt.Key.Key_Return)
        qtbot.keyClick(view, Qt.Key.Key_Return)
        assert not dialog.isVisible() and view.dialog is None and not view.tasks, target
    await until(lambda: not view.tasks)
    assert writer.writes == []

    view.ask_battery_setpoint()
    dialog = view.dialog
    assert isinstance(dialog, BatteryDialog)
    dialog.mode_buttons[BatteryMode.SELF].setChecked(True)
    view.result_timer.setInterval(300)  # the fading, shortened (30 s in the console)
    qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
    await until(lambda: not view.tasks)
    assert writer.writes == [("house-03-battery", "storage_basic.StorCtl_Mod", 0.0)]
    assert re.fullmatch(f"{CLOCK} house-03 battery: in self-consumption — confirmed by read-back",
                        view.command_result.text()), view.command_result.text()
    (row,) = view.history.row_texts()
    assert row[1:3] == ["op", "confirmed"] and row[3].startswith("house-03 battery: back to self-consumption")
    qtbot.waitUntil(lambda: view.command_result.text() == "", timeout=5000)
    assert len(view.history.row_texts()) == 1  # it lives on in the history

    # Alt+S is the keyboard's way to send: the send button's mnemonic (the offscreen platform does not map
    # Alt+letter key events to shortcuts, so the key itself cannot be pressed here).
    view.ask_battery_setpoint()
    assert view.dialog is not None and view.dialog.send_button.shortcut() == QKeySequence("Alt+S")
    view.dialog.reject()


def test_overrides_are_marked_with_what_and_since_when(qtbot) -> None:  # type: ignore[no-untyped-def]
    view, state = battery_view(qtbot, RecordingWriter())
    t0 = time.mktime((2026, 12, 1, 22, 41, 7, 0, 0, -1))
    feed(state, t0, BATTERY_DISCHARGING)
    view.refresh(state.snapshot(t0), [])
    rows = {r[0]: r for r in view.table.row_texts()}
    assert rows["house-03-battery"][OVERRIDE] == "◆ discharging at 2.0 kW (40 % of 5 kW) since 22:41:07"
    assert rows["house-03-pv"][OVERRIDE] == "◆ limited to 60 % since 22:41:07"
    assert rows["house-03"][OVERRIDE] == ""
    # A minute later the same settings: still "since 22:41:07"; then the limit is disabled: no mark.
    feed(state, t0 + 60, {"house-03-pv.controls.WMaxLim_Ena": 0})
    view.refresh(state.snapshot(t0 + 60), [])
    rows = {r[0]: r for r in view.table.row_texts()}
    assert rows["house-03-battery"][OVERRIDE].endswith("since 22:41:07") and rows["house-03-pv"][OVERRIDE] == ""
    # Back in self-consumption: no mark.
    feed(state, t0 + 61, {"house-03-battery.storage_basic.StorCtl_Mod": 0})
    view.refresh(state.snapshot(t0 + 61), [])
    assert {r[0]: r for r in view.table.row_texts()}["house-03-battery"][OVERRIDE] == ""


def test_stale_totals_name_their_source_and_the_trend_breaks(qtbot) -> None:  # type: ignore[no-untyped-def]
    view, state = battery_view(qtbot, RecordingWriter())
    t = time.time()
    feed(state, t, BATTERY_DISCHARGING)  # meter 0.5, battery −2.0, PV 3.0 → consumption 0.5 + 3.0 + 2.0 = 5.5 kW
    view.refresh(state.snapshot(t), [])
    assert view.consumption.text == "5.5" and view.consumption.state == "normal" and view.consumption.tag == ""
    # The PV stops answering: its held value is marked stale by the driver.
    feed(state, t + 1, {"house-03.power": 500.0, "house-03-battery.battery.W": -2000.0})
    feed(state, t + 1, {"house-03-pv.inverter_three_phase.W": float("nan")}, Quality.STALE)
    view.refresh(state.snapshot(t + 1), [])
    # SOLAR counts the PV inverters (1 of the house's 1), CONSUMPTION every device it is made of (1 of 3)
    assert view.production.state == "stale" and view.production.tag == "STALE · 1 of 1 devices"
    assert view.consumption.state == "stale" and view.consumption.tag == "STALE · 1 of 3 devices"
    assert view.net.state == "normal"  # the meter's own figure is fresh
    feed(state, t + 2, {"house-03.power": 500.0, "house-03-battery.battery.W": -2000.0,
                        "house-03-pv.inverter_three_phase.W": 3000.0})
    view.refresh(state.snapshot(t + 2), [])
    _, solar = view.totals_trend.curve_data("solar")
    _, consumption = view.totals_trend.curve_data("consumption")
    _, grid = view.totals_trend.curve_data("grid")
    assert [f"{v:.1f}" for v in solar] == ["3.0", "nan", "3.0"]  # a gap, not a flat line across the outage
    assert [f"{v:.1f}" for v in consumption] == ["5.5", "nan", "5.5"]
    assert [f"{v:.1f}" for v in grid] == ["0.5", "0.5", "0.5"]


def test_the_limit_dialog_takes_the_rating_from_the_configuration_when_the_device_has_none(qtbot) -> None:  # type: ignore[no-untyped-def]
    spec = ModbusDeviceSpec("house-05-pv", "127.0.0.1", 5020, 105, "sunspec", participant="house-05", asset="pv",
                            rated_power_w=5000.0)
    view = DevicesView([spec], CommandService(RecordingWriter(), None))
    qtbot.addWidget(view)
    state = GridState([])
    state.define([PointDef("house-05-pv.inverter_three_phase.W", "w", "W", role=Role.POWER.value),
                  PointDef("house-05-pv.controls.WMaxLimPct", "l", "%", role=Role.POWER_LIMIT.value, writable=True),
                  PointDef("house-05-pv.controls.WMaxLim_Ena", "e", "", writable=True)])
    now = time.time()
    feed(state, now, {"house-05-pv.inverter_three_phase.W": 4200.0, "house-05-pv.controls.WMaxLimPct": 80,
                      "house-05-pv.controls.WMaxLim_Ena": 0})  # 80 % stored but not enabled: no limit
    view.refresh(state.snapshot(now), [])
    view.ask_power_limit()
    dialog = view.dialog
    assert isinstance(dialog, PowerLimitDialog)
    assert dialog.fact_texts == {"Device": "house-05 PV  (house-05-pv)", "Rated power": "5 kW",
                                 "Producing now": "4.2 kW", "Limit now": "none (100 %)"}
    assert dialog.limit.value() == 5.0
    dialog.limit.setValue(3.0)
    assert dialog.consequence.text() == "house-05 PV: limit to 3.0 kW (60 % of 5 kW); now producing 4.2 kW"
    dialog.reject()


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_the_rate_box_looks_disabled_while_self_consumption_is_chosen(qapp, qtbot, theme: str) -> None:  # type: ignore[no-untyped-def]
    # The command dialog's own spin-box rule (with the dialog's id) outweighed the generic :disabled one: under
    # Xvfb the rate box of a battery in self-consumption was pixel for pixel the enabled box.
    from widgets.theme import style_sheet

    qapp.setStyleSheet(style_sheet(theme))
    try:
        dialog = BatteryDialog("house-03-battery", "house-03 battery",
                               BatteryState(BatteryMode.SELF, 100.0, 5000.0, 0.0, 0.0))
        qtbot.addWidget(dialog)
        dialog.show()
        assert not dialog.rate.isEnabled()

        def looks() -> tuple[set[tuple[int, int, int]], tuple[int, int, int]]:
            qapp.processEvents()
            img = dialog.rate.grab().toImage()
            inside = img.pixelColor(4, img.height() // 2)  # the box's background, left of the text
            colours = {(img.pixelColor(x, y).red(), img.pixelColor(x, y).green(), img.pixelColor(x, y).blue())
                       for x in range(0, img.width() - 20) for y in range(img.height())}
            return colours, (inside.red(), inside.green(), inside.blue())

        disabled, disabled_bg = looks()
        dialog.mode_buttons[BatteryMode.DISCHARGE].setChecked(True)
        assert dialog.rate.isEnabled()
        enabled, enabled_bg = looks()
        assert disabled_bg != enabled_bg and disabled != enabled
    finally:
        qapp.setStyleSheet("")
