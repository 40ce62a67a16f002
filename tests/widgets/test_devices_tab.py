"""The field-devices tab offscreen, fed with point definitions and samples directly; figures worked out by hand."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from console.ui.devices_view import DevicesView
from core.grid import GridState
from core.points import PointDef, Quality, Sample
from core.roles import Role
from core.sources import ConnectionState, ModbusDeviceSpec, SourceStatus
from core.tamper import TamperEvent, TamperKind
from widgets.device_table import COMM, LAST_ERROR, TAMPER
from widgets.palette import ALERT, EMERGENCY, TEXT

pytestmark = pytest.mark.widgets


def spec(name: str, device_id: int, profile: str = "eastron_sdm630.toml", participant: str = "",
         asset: str = "") -> ModbusDeviceSpec:
    return ModbusDeviceSpec(name, "127.0.0.1", 5020, device_id, profile, participant=participant, asset=asset)


def point(pid: str, role: Role | None, unit: str = "W", writable: bool = False) -> PointDef:
    return PointDef(pid, pid, unit, role=role.value if role else None, writable=writable)


def feed(state: GridState, now: float, values: dict[str, float]) -> None:
    state.apply([Sample(pid, v, "W", Quality.GOOD, now, now) for pid, v in values.items()])


class WriterStub:
    """Stands in for the command service only so that the write buttons can be enabled; nothing is sent."""


def test_totals_by_role_and_comm_state(qtbot) -> None:  # type: ignore[no-untyped-def]
    # h1: a meter importing 1.2 kW. h2: a meter whose power point is "P_total", exporting 0.3 kW while its
    # PV makes 1.0 kW, so h2 uses 0.7 kW. h3: a PV inverter of its own (3.0 kW), no meter.
    view = DevicesView([spec("h1", 1), spec("h2", 2, participant="h2"),
                        spec("h2-pv", 102, "sunspec", participant="h2"), spec("h3", 3, "sunspec")])
    qtbot.addWidget(view)
    state = GridState([])
    state.define([point("h1.power", Role.POWER), point("h2.P_total", Role.POWER), point("h2.power", None),
                  point("h2-pv.inverter_three_phase.W", Role.POWER), point("h3.inverter_three_phase.W", Role.POWER),
                  point("h1.energy_import", Role.ENERGY_IMPORT, "Wh")])
    now = time.time()
    state.apply([Sample("h1.power", 1200.0, "W", Quality.GOOD, now, now),
                 Sample("h1.energy_import", 12_345.0, "Wh", Quality.GOOD, now, now),
                 Sample("h2.P_total", -300.0, "W", Quality.GOOD, now, now),
                 Sample("h2.power", 9999.0, "W", Quality.GOOD, now, now),  # a vendor name without the role
                 Sample("h2-pv.inverter_three_phase.W", 1000.0, "W", Quality.GOOD, now, now),
                 Sample("h3.inverter_three_phase.W", 3000.0, "W", Quality.GOOD, now, now)])
    statuses = [SourceStatus("h1", "modbus://x", ConnectionState.CONNECTED, now, reads_ok=10, latency_ms=2.5),
                SourceStatus("h2", "modbus://x", ConnectionState.DISCONNECTED, now, last_error="no answer"),
                SourceStatus("h2-pv", "modbus://x", ConnectionState.CONNECTED, now),
                SourceStatus("h3", "modbus://x", ConnectionState.CONNECTED, now)]
    view.refresh(state.snapshot(now), statuses)
    assert view.production.text == "4.0"  # 1.0 + 3.0 kW
    assert view.net.text == "0.9"  # 1.2 − 0.3 kW
    assert view.consumption.text == "1.9"  # h1 1.2 + h2 0.7 (h3 has no meter)
    assert view.comm.text == "3" and view.comm.state == "alert"
    rows = {r[0]: r for r in view.table.row_texts()}
    assert rows["h2"][COMM] == "disconnected" and rows["h2"][LAST_ERROR] == "no answer"
    assert rows["h2"][4] == "-0.30"  # the P_total point, not the role-less "power"
    assert rows["h3"][1] == "PV inverter" and rows["h1"][4] == "1.20" and rows["h1"][5] == "12.3"
    r_h2 = [r[0] for r in view.table.row_texts()].index("h2")
    assert view.table.cell_colour(r_h2, COMM) == EMERGENCY
    people = {r[0]: r for r in view.participants.row_texts()}
    assert people["h2"][2] == "0.70" and people["h2"][7] == "100"
    # None answering: red, as the status bar's "Modbus 0/4" and the rows (one colour map on every screen).
    view.refresh(state.snapshot(now), [SourceStatus(s.source, s.endpoint, ConnectionState.DISCONNECTED, now)
                                       for s in statuses])
    assert (view.comm.text, view.comm.state) == ("0", "emergency")
    view.refresh(state.snapshot(now), statuses)
    assert people["h1"][7] == "0"
    # All participants: 1.9 kW used, 4.0 kW made locally → 100 %; the rows add up to the total.
    assert people["All participants"][1:4] == ["0.90", "1.90", "4.00"]
    assert people["All participants"][7] == "100"


def test_total_row_takes_its_share_from_the_sums(qtbot) -> None:  # type: ignore[no-untyped-def]
    # a: imports 1.2 kW, PV 3.0 kW, battery charging 0.8 kW → uses 3.4 kW, 2.2 kW of it its own (65 %).
    # b: imports 0.8 kW, nothing else (0 %). Together: 4.2 kW used, 2.2 kW own → 52 % (the mean would say 32 %).
    view = DevicesView([spec("a", 1, participant="a"), spec("a-pv", 101, "sunspec", participant="a"),
                        spec("a-bat", 151, "sunspec", participant="a", asset="battery"), spec("b", 2)])
    qtbot.addWidget(view)
    state = GridState([])
    state.define([point("a.power", Role.POWER), point("a-pv.W", Role.POWER), point("a-bat.W", Role.POWER),
                  point("a-bat.SoC", Role.STATE_OF_CHARGE, "%"), point("b.power", Role.POWER)])
    now = time.time()
    feed(state, now, {"a.power": 1200.0, "a-pv.W": 3000.0, "a-bat.W": 800.0, "a-bat.SoC": 64.0, "b.power": 800.0})
    view.refresh(state.snapshot(now), [])
    people = {r[0]: r for r in view.participants.row_texts()}
    assert people["a"][1:8] == ["1.20", "3.40", "3.00", "", "0.80", "64", "65"]
    assert people["b"][1:3] == ["0.80", "0.80"] and people["b"][7] == "0"
    assert people["All participants"][1:8] == ["2.00", "4.20", "3.00", "", "0.80", "64", "52"]
    assert view.storage.text == "0.8" and view.storage.state == "normal"


def test_negative_consumption_is_shown_in_amber(qtbot) -> None:  # type: ignore[no-untyped-def]
    # Exports 2.0 kW while its PV reports 1.0 kW: −1.0 kW "consumption" does not fit; it is shown, in amber.
    view = DevicesView([spec("p", 1, participant="p"), spec("p-pv", 101, "sunspec", participant="p")])
    qtbot.addWidget(view)
    state = GridState([])
    state.define([point("p.power", Role.POWER), point("p-pv.W", Role.POWER)])
    now = time.time()
    feed(state, now, {"p.power": -2000.0, "p-pv.W": 1000.0})
    view.refresh(state.snapshot(now), [])
    assert view.participants.row_texts()[0][2] == "-1.00"
    item = view.participants.item(0, 2)
    assert item is not None and item.data(Qt.ItemDataRole.UserRole) == ALERT
    solar = view.participants.item(0, 3)
    assert solar is not None and solar.data(Qt.ItemDataRole.UserRole) == TEXT


def test_tamper_findings_have_their_own_column_and_leave_the_error_alone(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = DevicesView([spec("h1", 1), spec("h2", 2)])
    qtbot.addWidget(view)
    now = time.time()
    event = TamperEvent("h1", "energy_import", TamperKind.COUNTER_RESET, now, 0.0, 5000.0, "5000 Wh → 0 Wh")
    view.refresh(GridState([]).snapshot(now),
                 [SourceStatus("h1", "modbus://x", ConnectionState.DEGRADED, now, last_error="exception 2 at 72"),
                  SourceStatus("h2", "modbus://x", ConnectionState.CONNECTED, now)], [event])
    rows = {r[0]: r for r in view.table.row_texts()}
    assert rows["h1"][COMM] == "degraded" and rows["h1"][LAST_ERROR] == "exception 2 at 72"
    assert rows["h1"][TAMPER] == f"{time.strftime('%H:%M:%S', time.localtime(now))} energy counter was reset"
    assert rows["h2"][TAMPER] == ""
    r1 = [r[0] for r in view.table.row_texts()].index("h1")
    assert view.table.cell_colour(r1, TAMPER) == ALERT
    item = view.table.item(r1, TAMPER)
    assert item is not None and "5000 Wh → 0 Wh" in item.toolTip()


def test_selected_register_value_comes_from_the_snapshot_and_only_writable_ones_can_be_written(
        qtbot) -> None:  # type: ignore[no-untyped-def]
    view = DevicesView([spec("m", 1)], commands=WriterStub())  # type: ignore[arg-type]
    qtbot.addWidget(view)
    state = GridState([])
    state.define([point("m.energy", Role.ENERGY_IMPORT, "Wh"), point("m.relay", None, "", writable=True)])
    now = time.time()
    state.apply([Sample("m.energy", 123_456_789.25, "Wh", Quality.GOOD, now, now),
                 Sample("m.relay", 1.0, "", Quality.GOOD, now, now)])
    view.refresh(state.snapshot(now), [SourceStatus("m", "modbus://x", ConnectionState.CONNECTED, now)])
    texts = {r[0]: r for r in view.points.row_texts()}
    assert texts["energy"][1] == "1.23457e+08" and texts["energy"][3] == "r" and texts["relay"][3] == "rw"
    view.points.selectRow([r[0] for r in view.points.row_texts()].index("energy"))
    assert view.selected_register() == ("energy", 123_456_789.25)  # the cell text would give 123,457,000
    assert not view.write_button.isEnabled()  # read-only in the profile
    view.points.selectRow([r[0] for r in view.points.row_texts()].index("relay"))
    assert view.selected_register() == ("relay", 1.0) and view.write_button.isEnabled()
    # The device drops off: no command can reach it, and the button says so.
    view.refresh(state.snapshot(now), [SourceStatus("m", "modbus://x", ConnectionState.DISCONNECTED, now)])
    assert not view.write_button.isEnabled()
    assert view.write_button.toolTip() == "m is disconnected: no command can reach it"


def test_totals_trend_keeps_what_happened_while_another_tab_was_shown(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = DevicesView([spec("m", 1, participant="h"), spec("pv", 101, "sunspec", participant="h", asset="pv")])
    qtbot.addWidget(view)
    state = GridState([])
    state.define([point("m.power", Role.POWER), point("pv.inverter_three_phase.W", Role.POWER)])
    now = time.time()
    for i, pv in enumerate((1000.0, 2000.0, 3000.0)):
        t = now + i
        state.apply([Sample("m.power", 500.0 - pv, "W", Quality.GOOD, t, t),
                     Sample("pv.inverter_three_phase.W", pv, "W", Quality.GOOD, t, t)])
        if i < 2:
            view.record_totals(state.snapshot(t))  # the tab is not shown
        else:
            view.refresh(state.snapshot(t), [])
    _, solar = view.totals_trend.curve_data("solar")
    assert list(solar) == [1.0, 2.0, 3.0]
    _, consumption = view.totals_trend.curve_data("consumption")
    assert list(consumption) == [0.5, 0.5, 0.5]  # the house uses 0.5 kW whatever its PV makes


def test_a_stale_total_counts_the_devices_of_its_own_kind(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Two houses with a meter and a PV inverter each, a third PV inverter on its own: 2 meters, 3 PV. One PV
    inverter (p2) and one meter (m1) stale. SOLAR: 1 of its 3 PV inverters; GRID: 1 of the 2 meters; CONSUMPTION
    (meters and what is behind them): 2 of all 5. SOLAR said "2 of 5 devices" (every device) before."""
    view = DevicesView([spec("m1", 1, participant="a"), spec("p1", 101, "sunspec", participant="a", asset="pv"),
                        spec("m2", 2, participant="b"), spec("p2", 102, "sunspec", participant="b", asset="pv"),
                        spec("p3", 103, "sunspec")])
    qtbot.addWidget(view)
    state = GridState([])
    state.define([point(f"{d}.power", Role.POWER) for d in ("m1", "m2")]
                 + [point(f"{d}.W", Role.POWER) for d in ("p1", "p2", "p3")])
    now = time.time()
    good = {"m1.power": 200.0, "m2.power": 300.0, "p1.W": 1000.0, "p2.W": 1500.0, "p3.W": 2000.0}
    state.apply([Sample(pid, v, "W", Quality.STALE if pid in ("m1.power", "p2.W") else Quality.GOOD, now, now)
                 for pid, v in good.items()])
    view.refresh(state.snapshot(now), [])
    assert view.production.tag == "STALE · 1 of 3 devices"
    assert view.net.tag == "STALE · 1 of 2 devices"
    assert view.consumption.tag == "STALE · 2 of 5 devices"
    # all fresh again: no note anywhere
    state.apply([Sample(pid, v, "W", Quality.GOOD, now + 1, now + 1) for pid, v in good.items()])
    view.refresh(state.snapshot(now + 1), [])
    assert (view.production.tag, view.net.tag, view.consumption.tag) == ("", "", "")
