"""Field devices: production (solar, wind, storage), consumption and grid exchange per participant and in total,
every device's communication, and the live decoded values of the selected device."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from console.services.commands import CommandService
from core.bands import Band
from core.commands import Outcome
from core.grid import GridSnapshot
from core.points import Quality
from core.series import SeriesBuffer
from core.sources import ModbusDeviceSpec, SourceStatus
from core.tamper import TamperEvent
from widgets.device_table import DeviceRow, DeviceTable
from widgets.participant_table import ParticipantRow, ParticipantTable, total
from widgets.point_table import PointRow, PointTable
from widgets.readout import Readout
from widgets.style import set_style_property
from widgets.trend import TrendWidget

# Where a device's values are, by profile family (meters: SDM630-style ids; SunSpec model point names).
POWER_POINTS = ("power", "inverter_three_phase.W", "inverter_single_phase.W", "inverter_split_phase.W",
                "ac_meter_abcn.W", "ac_meter_abc.W", "ac_meter_abn.W", "ac_meter_an_or_ab.W")
ENERGY_POINTS = ("energy_import", "inverter_three_phase.WH", "inverter_single_phase.WH", "inverter_split_phase.WH",
                 "ac_meter_abcn.TotWhImp")
EXPORT_POINTS = ("energy_export", "ac_meter_abcn.TotWhExp")
BATTERY_POWER = ("battery.W",)  # + charging (as the EnergyNet simulator reports it)
BATTERY_SOC = ("battery.SoC", "storage_basic.ChaState")
LIMIT_POINT = "controls.WMaxLimPct"
KIND_NAMES = {"meter": "meter", "pv": "PV inverter", "wind": "wind turbine", "battery": "battery"}
# Totals trended on the tab: (series, label); kept for an hour at the tab's refresh rate.
TOTALS = (("consumption", "Consumption"), ("solar", "Solar"), ("wind", "Wind"), ("grid", "Grid (+ import)"),
          ("storage", "Storage (+ charging)"))
TOTALS_CAPACITY = 4 * 3600


class DevicesView(QWidget):
    """Totals, participants, devices and the selected device's values; setpoints with confirmation."""

    def __init__(self, devices: Sequence[ModbusDeviceSpec], commands: CommandService | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.devices = list(devices)
        self.commands = commands
        self._limits: dict[str, float] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.production = Readout("SOLAR", "kW", decimals=1)
        self.wind = Readout("WIND", "kW", decimals=1)
        self.storage = Readout("STORAGE (+ charging)", "kW", decimals=1)
        self.consumption = Readout("CONSUMPTION", "kW", decimals=1)
        self.net = Readout("GRID EXCHANGE (+ import / − export)", "kW", decimals=1)
        self.comm = Readout("DEVICES COMMUNICATING", "", decimals=0)
        top = QHBoxLayout()
        for r in (self.production, self.wind, self.storage, self.consumption, self.net, self.comm):
            top.addWidget(r, 1)
        self.participants = ParticipantTable()
        self.totals_trend = TrendWidget("Production and consumption, all participants", "kW")
        for name, label in TOTALS:
            self.totals_trend.add_series(name, label)
        self.totals_trend.show_legend()
        self.totals_trend.set_window(600.0)
        self._totals = {name: SeriesBuffer(TOTALS_CAPACITY) for name, _ in TOTALS}
        self.table = DeviceTable()
        self.points = PointTable()
        self.detail_title = QLabel("Select a device to see its values")
        self.limit_button = QPushButton("Set power limit…")
        self.limit_button.setToolTip("Limit the active power of the selected PV or wind inverter (SunSpec WMaxLimPct)")
        self.limit_button.setEnabled(False)
        self.limit_button.clicked.connect(self.ask_power_limit)
        self.battery_button = QPushButton("Battery setpoint…")
        self.battery_button.setToolTip("Charge or discharge the selected battery at a set power, or return it to "
                                       "self-consumption (SunSpec storage controls)")
        self.battery_button.setEnabled(False)
        self.battery_button.clicked.connect(self.ask_battery_setpoint)
        self.write_button = QPushButton("Write register…")
        self.write_button.setToolTip("Write the register selected in the device's values (e.g. a meter relay); "
                                     "only registers the profile declares writable take a value")
        self.write_button.setEnabled(False)
        self.write_button.clicked.connect(self.ask_register_value)
        self.command_result = QLabel("")
        self.command_result.setObjectName("commandResult")
        actions = QHBoxLayout()
        actions.addWidget(self.limit_button)
        actions.addWidget(self.battery_button)
        actions.addWidget(self.write_button)
        actions.addWidget(self.command_result, 1)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.points.itemSelectionChanged.connect(self._selection_changed)

        detail = QWidget()
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_layout.addWidget(self.detail_title)
        detail_layout.addWidget(self.points, 1)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.table)
        lower.addWidget(detail)
        lower.setSizes([900, 500])
        upper = QSplitter(Qt.Orientation.Horizontal)
        upper.addWidget(self.participants)
        upper.addWidget(self.totals_trend)
        upper.setSizes([900, 500])
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(upper)
        body.addWidget(lower)
        body.setSizes([340, 460])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addWidget(body, 1)

    def refresh(self, snap: GridSnapshot, statuses: Sequence[SourceStatus],
                events: Sequence[TamperEvent] = ()) -> None:
        by_name = {s.source: s for s in statuses}
        last_event = {e.device: e for e in events}
        rows = []
        ok = 0
        for d in self.devices:
            st = by_name.get(d.name)
            power, _ = self._first(snap, d.name, BATTERY_POWER if d.kind == "battery" else POWER_POINTS)
            limit = snap.reading(f"{d.name}.{LIMIT_POINT}")
            if limit is not None:
                self._limits[d.name] = limit.value
            energy, _ = self._first(snap, d.name, ENERGY_POINTS)
            state = st.state.value if st else "connecting"
            tamper = last_event.get(d.name)
            note = (st.last_error or "") if st else ""
            if tamper is not None:
                note = f"TAMPER {time.strftime('%H:%M:%S', time.localtime(tamper.ts))}: {tamper.kind.value}"
            ok += state == "connected"
            rows.append(DeviceRow(d.name, KIND_NAMES.get(d.kind, d.kind), f"{d.host}:{d.port}/{d.device_id}", state,
                                  power, energy, st.reads_ok if st else 0, st.reads_failed if st else 0,
                                  st.latency_ms if st else None, note))
        people = self.participant_rows(snap)
        all_ = total(people)
        quality = Quality.STALE if all_.stale else Quality.GOOD
        for readout, value in ((self.production, all_.pv_w), (self.wind, all_.wind_w),
                               (self.storage, all_.battery_w), (self.consumption, all_.consumption_w),
                               (self.net, all_.grid_w)):
            readout.set_value(value / 1000, quality if math.isfinite(value) else Quality.COMM_FAILURE, Band.NORMAL,
                              "" if math.isfinite(value) else "no device")
        if math.isfinite(all_.soc_pct):
            self.storage.set_value(all_.battery_w / 1000, quality, Band.NORMAL, f"SoC {all_.soc_pct:.0f} %")
        band = Band.NORMAL if ok == len(self.devices) else Band.ALERT
        self.comm.set_value(float(ok), Quality.GOOD, band, f"of {len(self.devices)}")
        self._trend_totals(snap.ts, all_)
        self.participants.show_rows(people)
        first_fill = self.table.rowCount() == 0
        self.table.show_rows(rows)
        if first_fill and rows:
            self.table.selectRow(0)  # the detail pane starts with a device rather than empty
        self._show_detail(snap)

    def record_totals(self, snap: GridSnapshot) -> None:
        """Keep the totals for the trend, also while another tab is shown (the window calls it at 4 Hz)."""
        self._record(snap.ts, total(self.participant_rows(snap)))

    def _record(self, ts: float, all_: ParticipantRow) -> None:
        values = {"consumption": all_.consumption_w, "solar": all_.pv_w, "wind": all_.wind_w, "grid": all_.grid_w,
                  "storage": all_.battery_w}
        for name, value in values.items():
            buf = self._totals[name]
            if not len(buf) or ts > buf.last_time():
                buf.append(ts, value / 1000)

    def _trend_totals(self, ts: float, all_: ParticipantRow) -> None:
        self._record(ts, all_)
        for name, _ in TOTALS:
            t, v = self._totals[name].arrays()
            self.totals_trend.set_series_data(name, t, v)
        self.totals_trend.end_frame()
        self.totals_trend.follow(ts)

    def participant_rows(self, snap: GridSnapshot) -> list[ParticipantRow]:
        """Per participant: the meter's net exchange, its generators and battery; consumption is what the
        meter imports plus what the generators make, less what the battery takes."""
        owners: dict[str, list[ModbusDeviceSpec]] = {}
        for d in self.devices:
            owners.setdefault(d.owner, []).append(d)
        out = []
        for owner, devs in owners.items():
            grid = pv = wind = battery = soc = imported = exported = math.nan
            stale = False

            def add(acc: float, value: float) -> float:
                return value if math.isnan(acc) else acc + (0.0 if math.isnan(value) else value)

            for d in devs:
                if d.kind == "meter":
                    value, q = self._first(snap, d.name, POWER_POINTS)
                    grid = add(grid, value)
                    imported = add(imported, self._first(snap, d.name, ENERGY_POINTS)[0])
                    exported = add(exported, self._first(snap, d.name, EXPORT_POINTS)[0])
                elif d.kind == "battery":
                    value, q = self._first(snap, d.name, BATTERY_POWER)
                    battery = add(battery, value)
                    soc = self._first(snap, d.name, BATTERY_SOC)[0]
                else:
                    value, q = self._first(snap, d.name, POWER_POINTS)
                    if d.kind == "wind":
                        wind = add(wind, value)
                    else:
                        pv = add(pv, value)
                stale = stale or not q.usable
            consumption = math.nan
            if math.isfinite(grid):
                consumption = grid + _z(pv) + _z(wind) - _z(battery)
            out.append(ParticipantRow(owner, grid, consumption, pv, wind, battery, soc, imported, exported, stale))
        return out

    def selected_device(self) -> str | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if len(rows) != 1:
            return None
        item = self.table.item(rows.pop(), 0)
        return item.text() if item is not None else None

    def _show_detail(self, snap: GridSnapshot) -> None:
        device = self.selected_device()
        if device is None:
            self.points.setRowCount(0)
            self.detail_title.setText("Select a device to see its values")
            return
        spec = next((d for d in self.devices if d.name == device), None)
        prefix = f"{device}."
        rows = [PointRow(pid[len(prefix):], r.value, r.point.unit, r.quality, max(0.0, snap.ts - r.source_ts))
                for pid, r in sorted(snap.readings.items()) if pid.startswith(prefix)]
        where = f"{spec.host}:{spec.port} id {spec.device_id}, profile {spec.profile}" if spec else ""
        self.detail_title.setText(f"{device} — {len(rows)} values ({where})")
        self.points.show_rows(rows)

    def _selection_changed(self) -> None:
        device = self.selected_device()
        spec = next((d for d in self.devices if d.name == device), None)
        self.limit_button.setEnabled(self.commands is not None and device in self._limits)
        self.battery_button.setEnabled(self.commands is not None and spec is not None and spec.kind == "battery")
        self.write_button.setEnabled(self.commands is not None and self.selected_register() is not None)

    def selected_register(self) -> tuple[str, float] | None:
        """(point, shown value) of the register selected in the detail table."""
        rows = {i.row() for i in self.points.selectedIndexes()}
        if len(rows) != 1:
            return None
        r = rows.pop()
        point, value = self.points.item(r, 0), self.points.item(r, 1)
        if point is None or value is None:
            return None
        try:
            return point.text(), float(value.text().replace(",", ""))
        except ValueError:
            return point.text(), math.nan

    def ask_register_value(self) -> None:
        """Any register of the selected device: enter, confirm, then write, read back and audit. The device
        session refuses registers the profile does not declare writable, and values outside its range."""
        device, register = self.selected_device(), self.selected_register()
        if device is None or register is None or self.commands is None:
            return
        point, current = register
        value, ok = QInputDialog.getDouble(self, "Write register", f"{device}.{point}:",
                                           current if math.isfinite(current) else 0.0, -1e12, 1e12, 3)
        if not ok:
            return
        shown = "no value" if not math.isfinite(current) else f"{current:g}"
        answer = QMessageBox.question(self, "Confirm write", f"Write {device}.{point} from {shown} to {value:g}?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.send_register(device, point, value, current if math.isfinite(current) else None)

    def send_register(self, device: str, point: str, value: float, old: float | None = None) -> None:
        self._run(device, [(point, value, old)], f"writing {point} …")

    def ask_power_limit(self) -> None:
        """Two steps: enter the limit, confirm it; then send, verify and report."""
        device = self.selected_device()
        if device is None or self.commands is None:
            return
        current = self._limits.get(device, 100.0)
        value, ok = QInputDialog.getDouble(self, "Active power limit", f"Limit for {device} (% of rated power):",
                                           current, 0.0, 100.0, 0)
        if not ok:
            return
        answer = QMessageBox.question(
            self, "Confirm power limit",
            f"Set the active power limit of {device} from {current:g} % to {value:g} %?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.send_power_limit(device, value, current)

    def send_power_limit(self, device: str, value: float, current: float | None = None) -> None:
        self._run(device, [("controls.WMaxLim_Ena", 1.0, None), (LIMIT_POINT, value, current)],
                  f"sending {value:g} % …")

    def ask_battery_setpoint(self) -> None:
        """Percent of the battery's rated power: + charge, − discharge, 0 back to self-consumption."""
        device = self.selected_device()
        if device is None or self.commands is None:
            return
        value, ok = QInputDialog.getDouble(
            self, "Battery setpoint", f"{device}: % of rated power (+ charge, − discharge, 0 = self-consumption):",
            0.0, -100.0, 100.0, 0)
        if not ok:
            return
        what = ("return to self-consumption" if value == 0 else
                f"{'charge' if value > 0 else 'discharge'} at {abs(value):g} % of rated power")
        answer = QMessageBox.question(self, "Confirm battery setpoint", f"{device}: {what}?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.send_battery_setpoint(device, value)

    def send_battery_setpoint(self, device: str, percent: float) -> None:
        """The rate first, then the mode that uses it (StorCtl_Mod bit 0 charge, bit 1 discharge)."""
        if percent > 0:
            steps = [("storage_basic.InWRte", percent, None), ("storage_basic.StorCtl_Mod", 1.0, None)]
        elif percent < 0:
            steps = [("storage_basic.OutWRte", -percent, None), ("storage_basic.StorCtl_Mod", 2.0, None)]
        else:
            steps = [("storage_basic.StorCtl_Mod", 0.0, None)]
        self._run(device, steps, f"setpoint {percent:+g} % …")

    def _run(self, device: str, steps: list[tuple[str, float, float | None]], sending: str) -> None:
        """Send the writes in order, stop at the first that is not confirmed, and show the outcome."""
        assert self.commands is not None
        commands = self.commands
        self.command_result.setText(f"{device}: {sending}")

        async def run() -> None:
            outcome = None
            for point, value, old in steps:
                outcome = await commands.set_value(device, point, value, old)
                if outcome.outcome is not Outcome.CONFIRMED:
                    break
            assert outcome is not None
            self.command_result.setText(f"{device}: {outcome.outcome.value} — {outcome.message}")
            set_style_property(self.command_result, "state",
                               "normal" if outcome.outcome is Outcome.CONFIRMED else "alert")

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @staticmethod
    def _first(snap: GridSnapshot, device: str, candidates: Sequence[str]) -> tuple[float, Quality]:
        for point in candidates:
            r = snap.reading(f"{device}.{point}")
            if r is not None:
                return r.value, r.quality
        return math.nan, Quality.GOOD


def _z(v: float) -> float:
    return 0.0 if math.isnan(v) else v
