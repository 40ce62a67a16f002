"""Field devices: production and consumption totals over a device table."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence

from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from console.services.commands import CommandService
from core.bands import Band
from core.commands import Outcome
from core.grid import GridSnapshot
from core.points import Quality
from core.sources import ModbusDeviceSpec, SourceStatus
from core.tamper import TamperEvent
from widgets.device_table import DeviceRow, DeviceTable
from widgets.readout import Readout

# Where a device's active power and energy are, by profile family (meters: SDM630-style ids;
# SunSpec inverters and meters: model point names).
POWER_POINTS = ("power", "inverter_three_phase.W", "inverter_single_phase.W", "inverter_split_phase.W",
                "ac_meter_abcn.W", "ac_meter_abc.W", "ac_meter_abn.W", "ac_meter_an_or_ab.W")
LIMIT_POINT = "controls.WMaxLimPct"
ENERGY_POINTS = ("energy_import", "inverter_three_phase.WH", "inverter_single_phase.WH", "inverter_split_phase.WH",
                 "ac_meter_abcn.TotWhImp")


class DevicesView(QWidget):
    """Totals (PV production, consumption, grid exchange) and every device's state."""

    def __init__(self, devices: Sequence[ModbusDeviceSpec], commands: CommandService | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.devices = list(devices)
        self.commands = commands
        self._limits: dict[str, float] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.production = Readout("PV PRODUCTION", "kW", decimals=1)
        self.consumption = Readout("CONSUMPTION (metered)", "kW", decimals=1)
        self.net = Readout("GRID EXCHANGE (+ import / − export)", "kW", decimals=1)
        self.comm = Readout("DEVICES COMMUNICATING", "", decimals=0)
        top = QHBoxLayout()
        for r in (self.production, self.consumption, self.net, self.comm):
            top.addWidget(r, 1)
        self.table = DeviceTable()
        self.limit_button = QPushButton("Set power limit…")
        self.limit_button.setToolTip("Limit the active power of the selected PV inverter (SunSpec WMaxLimPct)")
        self.limit_button.setEnabled(False)
        self.limit_button.clicked.connect(self.ask_power_limit)
        self.command_result = QLabel("")
        self.command_result.setObjectName("commandResult")
        actions = QHBoxLayout()
        actions.addWidget(self.limit_button)
        actions.addWidget(self.command_result, 1)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addWidget(self.table, 1)

    def refresh(self, snap: GridSnapshot, statuses: Sequence[SourceStatus],
                events: Sequence[TamperEvent] = ()) -> None:
        by_name = {s.source: s for s in statuses}
        last_event = {e.device: e for e in events}
        rows = []
        pv = load = net = 0.0
        stale = False
        ok = 0
        for d in self.devices:
            st = by_name.get(d.name)
            power, pq = self._first(snap, d.name, POWER_POINTS)
            limit = snap.reading(f"{d.name}.{LIMIT_POINT}")
            if limit is not None:
                self._limits[d.name] = limit.value
            energy, _ = self._first(snap, d.name, ENERGY_POINTS)
            is_inverter = d.profile.lower() == "sunspec" and snap.reading(f"{d.name}.inverter_three_phase.W")
            if math.isfinite(power):
                if is_inverter:
                    pv += power
                else:
                    net += power
                    load += max(power, 0.0)
            stale = stale or not pq.usable
            state = st.state.value if st else "connecting"
            tamper = last_event.get(d.name)
            note = (st.last_error or "") if st else ""
            if tamper is not None:
                note = f"TAMPER {time.strftime('%H:%M:%S', time.localtime(tamper.ts))}: {tamper.kind.value}"
            ok += state == "connected"
            rows.append(DeviceRow(d.name, "PV inverter" if is_inverter else "meter",
                                  f"{d.host}:{d.port}/{d.device_id}", state, power, energy,
                                  st.reads_ok if st else 0, st.reads_failed if st else 0,
                                  st.latency_ms if st else None, note))
        # Meters see consumption net of rooftop PV: add PV back for consumption.
        quality = Quality.STALE if stale else Quality.GOOD
        self.production.set_value(pv / 1000, quality, Band.NORMAL)
        self.consumption.set_value((load + pv) / 1000 if self.devices else math.nan, quality, Band.NORMAL)
        self.net.set_value(net / 1000, quality, Band.NORMAL)
        band = Band.NORMAL if ok == len(self.devices) else Band.ALERT
        self.comm.set_value(float(ok), Quality.GOOD, band, f"of {len(self.devices)}")
        self.table.show_rows(rows)

    def selected_device(self) -> str | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if len(rows) != 1:
            return None
        item = self.table.item(rows.pop(), 0)
        return item.text() if item is not None else None

    def _selection_changed(self) -> None:
        device = self.selected_device()
        self.limit_button.setEnabled(self.commands is not None and device in self._limits)

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
        assert self.commands is not None
        commands = self.commands
        self.command_result.setText(f"{device}: sending {value:g} % …")

        async def run() -> None:
            outcome = await commands.set_value(device, "controls.WMaxLim_Ena", 1)
            if outcome.outcome is Outcome.CONFIRMED:
                outcome = await commands.set_value(device, LIMIT_POINT, value, current)
            self.command_result.setText(f"{device}: {outcome.outcome.value} — {outcome.message}")
            self.command_result.setProperty("state", "normal" if outcome.outcome is Outcome.CONFIRMED else "alert")
            self.command_result.style().unpolish(self.command_result)
            self.command_result.style().polish(self.command_result)

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
