"""Field devices: production (solar, wind, storage), consumption and grid exchange per participant and in total,
every device's communication, and the live decoded values of the selected device."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from console.services.commands import COMMAND_ACTION, AuditEntry, CommandService
from console.ui.command_dialogs import (
    BATTERY_RATING_POINTS,
    INVERTER_RATING_POINTS,
    LIMIT_ENABLE_POINT,
    BatteryDialog,
    BatteryMode,
    Command,
    CommandDialog,
    PowerLimitDialog,
    RegisterDialog,
    battery_command,
    battery_mode_text,
    battery_state,
    device_label,
    first_value,
    limit_command,
    register_command,
    result_text,
    value_of,
)
from console.ui.command_history import CommandHistory
from core.bands import Band
from core.commands import CommandOutcome, Outcome
from core.grid import GridSnapshot, Reading
from core.participants import AssetKind, EnergyBalance, PowerAlignment, RoleIndex, balances, participants_of
from core.points import Quality
from core.roles import Role
from core.series import SeriesBuffer
from core.sources import DEFAULT_RATED_POWER_W, ConnectionState, ModbusDeviceSpec, SourceStatus
from core.tamper import TamperEvent
from widgets.device_table import DeviceRow, DeviceTable
from widgets.palette import combined_state, source_state
from widgets.participant_table import ParticipantTable
from widgets.point_table import PointRow, PointTable
from widgets.readout import Readout
from widgets.style import set_style_property
from widgets.trend import TrendWidget

log = logging.getLogger(__name__)
# A result stays beside the buttons this long, then lives on in the command history only.
RESULT_SHOWN_MS = 30_000
# Which totals series use which participants' powers (EnergyBalance.stale_parts): a series breaks (a gap)
# while one of them is stale or bad, rather than drawing the held value as a flat line.
SERIES_PARTS = {"consumption": frozenset({"grid", "pv", "wind", "battery"}), "solar": frozenset({"pv"}),
                "wind": frozenset({"wind"}), "grid": frozenset({"grid"}), "storage": frozenset({"battery"})}
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
        self.people = participants_of(self.devices)
        self._kinds = {a.device: a.kind for p in self.people for a in p.assets}
        self._specs = {d.name: d for d in self.devices}
        self.alignment = PowerAlignment()
        self.dialog: CommandDialog | None = None  # the open command dialog
        self._overrides: dict[str, tuple[str, float]] = {}  # device -> (what, first seen)
        self._states: dict[str, ConnectionState] = {}  # device -> its connection, as last refreshed
        # Values are found by the profile's role, learnt from the point definitions of each snapshot.
        self.roles = RoleIndex(d.name for d in self.devices)
        self._snap: GridSnapshot | None = None
        self._limits: dict[str, float] = {}
        self.tasks: set[asyncio.Task[None]] = set()  # commands under way (one at a time)
        self.history_tasks: set[asyncio.Task[None]] = set()
        self._history_loaded = False
        self.production = Readout("SOLAR", "kW", decimals=1)
        self.wind = Readout("WIND", "kW", decimals=1)
        self.storage = Readout("STORAGE (+ charging)", "kW", decimals=1)
        self.consumption = Readout("CONSUMPTION", "kW", decimals=1)
        self.net = Readout("GRID (+ import / − export)", "kW", decimals=1)
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
        self.result_timer = QTimer(self)
        self.result_timer.setSingleShot(True)
        self.result_timer.setInterval(RESULT_SHOWN_MS)
        self.result_timer.timeout.connect(self._result_faded)
        self.history = CommandHistory()
        self.history.setToolTip("Operator commands, newest first (from the audit log)")
        self.history_button = QPushButton("Command history")
        self.history_button.setToolTip("Read the operator commands of the audit log again")
        self.history_button.setEnabled(commands is not None)
        self.history_button.clicked.connect(self.load_history)
        actions = QHBoxLayout()
        actions.addWidget(self.limit_button)
        actions.addWidget(self.battery_button)
        actions.addWidget(self.write_button)
        actions.addWidget(self.command_result, 1)
        actions.addWidget(self.history_button)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.points.itemSelectionChanged.connect(self._selection_changed)

        detail = QWidget()
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_layout.addWidget(self.detail_title)
        detail_layout.addWidget(self.points, 3)
        history_title = QLabel("Commands")
        detail_layout.addWidget(history_title)
        detail_layout.addWidget(self.history, 1)
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
        self._snap = snap
        people, all_ = self.balances(snap)
        find = self.roles.lookup(snap.readings)
        by_name = {s.source: s for s in statuses}
        last_event = {e.device: e for e in events}
        rows = []
        ok = 0
        # Devices with a power value and how many of them are stale, by kind: a total's note counts the devices
        # it is made of ("2 of 20 devices" on SOLAR is of the 20 PV inverters, not of every device).
        contributing = dict.fromkeys(AssetKind, 0)
        stale_devices = dict.fromkeys(AssetKind, 0)
        for d in self.devices:
            st = by_name.get(d.name)
            kind = self._kinds[d.name]
            limit = find(d.name, Role.POWER_LIMIT)
            if limit is not None:
                self._limits[d.name] = limit.value
            power = find(d.name, Role.POWER)
            if power is not None:
                contributing[kind] += 1
                stale_devices[kind] += not power.quality.usable
            energy_role = kind.energy_role
            state = st.state if st else ConnectionState.CONNECTING
            self._states[d.name] = state
            ok += state is ConnectionState.CONNECTED
            rows.append(DeviceRow(d.name, kind.label, f"{d.host}:{d.port}/{d.device_id}", state,
                                  _value(power),
                                  _value(find(d.name, energy_role) if energy_role else None),
                                  st.reads_ok if st else 0, st.reads_failed if st else 0,
                                  st.latency_ms if st else None, (st.last_error or "") if st else "",
                                  last_event.get(d.name), self._override(d.name, snap)))
        # A total that uses a stale value is stale, and says how many of its devices are.
        def stale_note(kinds: Sequence[AssetKind]) -> str:
            return f"{sum(stale_devices[k] for k in kinds)} of {sum(contributing[k] for k in kinds)} devices"

        for readout, value, part, kinds in (
                (self.production, all_.pv_w, "pv", (AssetKind.PV,)),
                (self.wind, all_.wind_w, "wind", (AssetKind.WIND,)),
                (self.storage, all_.battery_w, "battery", (AssetKind.BATTERY,)),
                (self.consumption, all_.consumption_w, "", tuple(AssetKind)),  # meters and what is behind them
                (self.net, all_.grid_w, "grid", (AssetKind.METER,))):
            stale = (part in all_.stale_parts) if part else all_.stale
            readout.set_value(value / 1000, (Quality.STALE if stale else Quality.GOOD) if math.isfinite(value)
                              else Quality.COMM_FAILURE, Band.NORMAL,
                              (stale_note(kinds) if stale else "") if math.isfinite(value) else "no device")
        if math.isfinite(all_.soc_pct):
            stale = "battery" in all_.stale_parts
            self.storage.set_value(all_.battery_w / 1000, Quality.STALE if stale else Quality.GOOD, Band.NORMAL,
                                   # "of 5" without "devices": with the SoC it had to fit one readout at 200 %
                                   f"{stale_note((AssetKind.BATTERY,)).removesuffix(' devices')} · "
                                   f"SoC {all_.soc_pct:.0f} %" if stale
                                   else f"SoC {all_.soc_pct:.0f} %")
        # The status bar's colour for the same devices (widgets.palette: one map on every screen): none
        # answering is red there and here, some missing amber.
        shown = source_state(combined_state(self._states[d.name] for d in self.devices))
        band = {"normal": Band.NORMAL, "alert": Band.ALERT, "emergency": Band.EMERGENCY}.get(shown, Band.NORMAL)
        self.comm.set_value(float(ok), Quality.STALE if shown == "stale" else Quality.GOOD, band,
                            f"of {len(self.devices)}")
        self._trend_totals(snap.ts, all_)
        self.participants.show_rows(people, all_)
        first_fill = self.table.rowCount() == 0
        self.table.show_rows(rows)
        if first_fill and rows:
            self.table.selectRow(0)  # the detail pane starts with a device rather than empty
        self._show_detail(snap)
        self._selection_changed()  # the rows under the selection may have changed with the snapshot

    def balances(self, snap: GridSnapshot) -> tuple[list[EnergyBalance], EnergyBalance]:
        """Every participant's energy balance in ``snap`` and the total (core.participants), each
        participant's powers taken at one instant."""
        self.roles.update(snap.readings)
        return balances(self.people, self.roles.lookup(snap.readings), self.alignment)

    def record_totals(self, snap: GridSnapshot) -> None:
        """Keep the totals for the trend, also while another tab is shown (the window calls it at 4 Hz)."""
        self._record(snap.ts, self.balances(snap)[1])

    def _record(self, ts: float, all_: EnergyBalance) -> None:
        values = {"consumption": all_.consumption_w, "solar": all_.pv_w, "wind": all_.wind_w, "grid": all_.grid_w,
                  "storage": all_.battery_w}
        for name, value in values.items():
            if SERIES_PARTS[name] & all_.stale_parts:
                value = math.nan  # a gap: the trend shows no value where there is none to trust
            buf = self._totals[name]
            if not len(buf) or ts > buf.last_time():
                buf.append(ts, value / 1000)

    def _trend_totals(self, ts: float, all_: EnergyBalance) -> None:
        self._record(ts, all_)
        for name, _ in TOTALS:
            t, v = self._totals[name].arrays()
            self.totals_trend.set_series_data(name, t, v)
        self.totals_trend.end_frame()
        self.totals_trend.follow(ts)

    # --- operator overrides ------------------------------------------------------------------------

    def _override(self, device: str, snap: GridSnapshot) -> str:
        """What the operator has set that the device would not do on its own, and since when this
        console has seen it ("discharging at 2.0 kW (40 % of 5 kW) since 22:41:07"); "" for none."""
        kind = self._kinds.get(device)
        what, key = "", ""
        if kind is AssetKind.BATTERY:
            state = battery_state(snap, device, math.nan, self.rated_w(device))
            if math.isfinite(state.raw_mode) and state.mode != BatteryMode.SELF:
                what, key = battery_mode_text(state), f"mode {state.raw_mode:g} at {state.rate_pct:g} %"
        elif kind in (AssetKind.PV, AssetKind.WIND):
            limit = self.limit_pct(device, snap)
            if limit < 100:
                what = key = f"limited to {limit:g} %"
        if not what:
            self._overrides.pop(device, None)
            return ""
        seen = self._overrides.get(device)
        if seen is None or seen[0] != key:  # "since" follows the setting, not how its words come out
            seen = self._overrides[device] = (key, snap.ts)
        return f"{what} since {time.strftime('%H:%M:%S', time.localtime(seen[1]))}"

    def limit_pct(self, device: str, snap: GridSnapshot | None) -> float:
        """The active power limit in effect (% of rated): WMaxLimPct while the limit is enabled, else 100."""
        pid = self.roles.point(device, Role.POWER_LIMIT)
        enabled = value_of(snap, f"{device}.{LIMIT_ENABLE_POINT}")
        value = value_of(snap, pid) if pid is not None else math.nan
        return value if enabled == 1 and math.isfinite(value) else 100.0

    def rated_w(self, device: str) -> float:
        """The device's rated power (W): from its SunSpec points, else its configured ``rated_power_w``
        when the configuration sets one for a generator or battery; nan when neither says."""
        kind = self._kinds.get(device)
        points = BATTERY_RATING_POINTS if kind is AssetKind.BATTERY else INVERTER_RATING_POINTS
        rated = first_value(self._snap, device, points)
        spec = self._specs.get(device)
        if not math.isfinite(rated) and spec is not None and kind is not AssetKind.METER \
                and spec.rated_power_w != DEFAULT_RATED_POWER_W:
            rated = spec.rated_power_w  # the 25 kW default is a meter's plausibility bound, not a rating
        return rated

    # --- selection and commands ---------------------------------------------------------------------

    def select_device(self, device: str) -> bool:
        """Select the row of ``device`` (the command palette's way here); False when it is not shown yet."""
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.text() == device:
                self.table.selectRow(row)
                self.table.scrollToItem(item)
                return True
        return False

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
        spec = self._specs.get(device)
        prefix = f"{device}."
        rows = [PointRow(pid[len(prefix):], r.point.display(r.value), r.point.unit, r.quality,
                         max(0.0, snap.ts - r.source_ts), r.point.writable)
                for pid, r in sorted(snap.readings.items()) if pid.startswith(prefix)]
        # The profile by its file's stem (its path in the tooltip): a label asks for its whole text as its
        # minimum width, and "/work/…/drivers/profiles/eastron_sdm630.toml" held the devices table to 705 px.
        where = f"{spec.host}:{spec.port} id {spec.device_id}, {Path(str(spec.profile)).stem}" if spec else ""
        self.detail_title.setText(f"{device} — {len(rows)} values ({where})")
        tip = f"Profile {spec.profile}" if spec else ""
        if self.detail_title.toolTip() != tip:
            self.detail_title.setToolTip(tip)
        self.points.show_rows(rows)

    def _selection_changed(self) -> None:
        device = self.selected_device()
        register = self.points.selected_point()
        state = self._states.get(device or "")
        reachable = state in (ConnectionState.CONNECTED, ConnectionState.DEGRADED)
        idle = self.commands is not None and device is not None and not self.tasks and reachable
        self.limit_button.setEnabled(idle and device in self._limits)
        self.battery_button.setEnabled(idle and self._kinds.get(device or "") is AssetKind.BATTERY)
        self.write_button.setEnabled(idle and register is not None and register.writable)
        why = ("" if device is None or reachable or self.commands is None else
               f"{device} is {state.value if state else 'not connected yet'}: no command can reach it")
        self.limit_button.setToolTip(why or "Limit the active power of the selected PV or wind inverter")
        self.battery_button.setToolTip(why or "Charge or discharge the selected battery at a set power, or "
                                       "return it to self-consumption")
        if why:
            self.write_button.setToolTip(why)
        elif register is not None and not register.writable:
            self.write_button.setToolTip(f"{register.point} is read-only in the device's profile")
        else:
            self.write_button.setToolTip("Write the register selected in the device's values (e.g. a meter "
                                         "relay); only registers the profile declares writable")

    def label(self, device: str) -> str:
        spec = self._specs.get(device)
        kind = self._kinds.get(device)
        return device_label(device, spec.owner if spec else "", kind.label if kind else "device")

    def selected_register(self) -> tuple[str, float] | None:
        """(point, value in its unit) of the register selected in the detail table; the value is the
        current snapshot's (nan when it has none)."""
        device, row = self.selected_device(), self.points.selected_point()
        if device is None or row is None:
            return None
        r = self._snap.reading(f"{device}.{row.point}") if self._snap is not None else None
        return row.point, (r.point.display(r.value) if r is not None else math.nan)

    def _power_w(self, device: str) -> float:
        r = self.roles.lookup(self._snap.readings)(device, Role.POWER) if self._snap is not None else None
        return r.value if r is not None and math.isfinite(r.value) else math.nan

    def _open(self, dialog: CommandDialog) -> None:
        """Show ``dialog`` (window-modal, not a nested event loop: the asyncio loop keeps running) and
        send its command only when it is accepted, which takes the send button."""
        if self.dialog is not None:
            self.dialog.reject()
        self.dialog = dialog

        def accepted() -> None:
            cmd = dialog.command()
            if cmd is not None:
                self.send_command(cmd)

        dialog.accepted.connect(accepted)
        dialog.finished.connect(lambda _: setattr(self, "dialog", None) if self.dialog is dialog else None)
        dialog.open()

    def ask_register_value(self) -> None:
        """A writable register of the selected device: the value in its unit, confirmed in the dialog."""
        device, register, row = self.selected_device(), self.selected_register(), self.points.selected_point()
        if device is None or register is None or row is None or self.commands is None or not row.writable:
            return
        point, current = register
        self._open(RegisterDialog(device, self.label(device), point, current, row.unit, self))

    def ask_power_limit(self) -> None:
        device = self.selected_device()
        if device is None or self.commands is None:
            return
        self._open(PowerLimitDialog(device, self.label(device), self.limit_pct(device, self._snap),
                                    self.rated_w(device), self._power_w(device), self))

    def ask_battery_setpoint(self) -> None:
        """Opens on the battery's current mode and rate (its storage controls in the snapshot)."""
        device = self.selected_device()
        if device is None or self.commands is None:
            return
        soc = self.roles.lookup(self._snap.readings)(device, Role.STATE_OF_CHARGE) if self._snap else None
        state = battery_state(self._snap, device, self._power_w(device), self.rated_w(device),
                              soc.value if soc is not None else math.nan)
        self._open(BatteryDialog(device, self.label(device), state, self))

    def send_register(self, device: str, point: str, value: float, old: float | None = None) -> None:
        row = self._snap.reading(f"{device}.{point}") if self._snap is not None else None
        self.send_command(register_command(device, self.label(device), point, value,
                                           math.nan if old is None else old, row.point.unit if row else ""))

    def send_power_limit(self, device: str, percent: float) -> None:
        """Enable the limit, then set it (the point the profile names ``power_limit``)."""
        if self.roles.point(device, Role.POWER_LIMIT) is None:
            self._show_result(f"{time.strftime('%H:%M:%S')} {self.label(device)}: no power limit point "
                              "(role power_limit) — nothing was sent", ok=False)
            return
        self.send_command(limit_command(device, self.label(device), percent, self.limit_pct(device, self._snap),
                                        self.rated_w(device), self._power_w(device)))

    def send_battery_setpoint(self, device: str, mode: str, rate_pct: float = 100.0) -> None:
        self.send_command(battery_command(device, self.label(device), mode, rate_pct, self.rated_w(device)))

    def send_command(self, command: Command) -> None:
        """Send the writes in order through the audited command service; show the outcome in words."""
        assert self.commands is not None
        commands = self.commands
        self.result_timer.stop()
        self._show_result(f"{time.strftime('%H:%M:%S')} {command.label}: sending — {command.consequence}",
                          ok=True)

        async def run() -> None:
            try:
                outcome = await commands.run(command.device, command.consequence, command.steps)
            except Exception as exc:  # the command must end with a result on screen, whatever happened
                outcome = CommandOutcome(Outcome.REJECTED, f"{type(exc).__name__}: {exc}")
            now = time.time()
            self._show_result(result_text(now, command, outcome), ok=outcome.outcome is Outcome.CONFIRMED)
            self.history.add(AuditEntry(now, commands.user, COMMAND_ACTION, command.device, None,
                                        command.consequence, f"{outcome.outcome.value}: {outcome.message}"))
            self.result_timer.start()

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self._command_done)
        self._selection_changed()  # one command at a time: the buttons wait for the outcome

    def _command_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self._selection_changed()

    def _show_result(self, text: str, ok: bool) -> None:
        self.command_result.setText(text)
        self.command_result.setToolTip(text)
        set_style_property(self.command_result, "state", "normal" if ok else "alert")

    def _result_faded(self) -> None:
        self.command_result.setText("")
        self.command_result.setToolTip("")

    def load_history(self) -> None:
        """Read the operator commands of the audit log into the history list."""
        if self.commands is None:
            return
        commands = self.commands

        async def run() -> None:
            try:
                entries = await commands.history()
            except Exception as exc:  # the history is a view: say why it is empty, keep the console running
                log.warning("command history: could not read the audit log: %s", exc)
                self.history.setToolTip(f"Could not read the audit log ({type(exc).__name__}: {exc}); "
                                        "shown: this session's commands only")
                return
            self.history.setToolTip("Operator commands, newest first (from the audit log)")
            if entries:  # without an audit log the session's own entries stay
                self.history.show_entries(entries)

        task = asyncio.get_running_loop().create_task(run())
        self.history_tasks.add(task)
        task.add_done_callback(self.history_tasks.discard)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._history_loaded:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return  # no event loop to read it on (yet)
            self._history_loaded = True
            self.load_history()




def _value(reading: Reading | None) -> float:
    return reading.value if reading is not None else math.nan
