"""Setpoint dialogs an operator cannot fumble.

Every dialog shows the device, its rating, what it does now and the consequence of the command in
engineering words; Enter and Escape cancel (Cancel is the default button), the send button takes an
explicit click or its Alt+key. The texts are plain functions, so the words can be checked by hand.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.commands import CommandOutcome, Outcome
from core.grid import GridSnapshot
from widgets.style import set_style_property

# SunSpec immediate controls (model 123): the limit takes effect only while enabled.
LIMIT_ENABLE_POINT = "controls.WMaxLim_Ena"
# SunSpec basic storage controls (model 124): StorCtl_Mod bit 0 = charge at InWRte, bit 1 = discharge at
# OutWRte, 0 = neither (the battery runs its own self-consumption); both rates are % of WChaMax.
MODE_POINT, CHARGE_RATE_POINT, DISCHARGE_RATE_POINT = ("storage_basic.StorCtl_Mod", "storage_basic.InWRte",
                                                       "storage_basic.OutWRte")
# Where the rated power is read, first found wins. Battery: WChaMax (124) is what InWRte/OutWRte are a
# percentage of; the 802 bank's maximum charge rate otherwise. Inverter: settings WMax (121), nameplate
# WRtg (120) — the demo inverters have neither, so their rating comes from the configuration if given.
BATTERY_RATING_POINTS = ("storage_basic.WChaMax", "battery.WChaRteMax", "battery.WDisChaRteMax")
INVERTER_RATING_POINTS = ("settings.WMax", "nameplate.WRtg")


class BatteryMode:
    SELF = "self-consumption"
    CHARGE = "charge"
    DISCHARGE = "discharge"


@dataclass(frozen=True, slots=True)
class Command:
    """What the operator confirmed: the writes, what will happen (before) and what happened (after)."""

    device: str
    label: str  # "house-03 battery"
    consequence: str  # "house-03 battery: discharge at 2.0 kW (40 % of 5 kW) until changed"
    done: str  # "discharging at 2.0 kW"
    steps: tuple[tuple[str, float, float | None], ...]  # (point, value, old)


def device_label(device: str, owner: str, kind: str) -> str:
    """"house-03 battery" for house-03's battery "house-03-battery"; the device name otherwise."""
    short = {"PV inverter": "PV"}.get(kind, kind)
    if owner and owner != device and device.startswith(owner):
        return f"{owner} {short}"
    return f"{device} ({short})"


def kw(watts: float) -> str:
    """A power for the operator: "2.0 kW", "0.4 kW", "120 kW"; "—" without a value."""
    if not math.isfinite(watts):
        return "—"
    k = watts / 1000
    return f"{k:.0f} kW" if abs(k) >= 100 else f"{k:.1f} kW"


def rating(watts: float) -> str:
    """A rating as a nameplate says it: "5 kW", "4.6 kW", "50 kW"."""
    if not math.isfinite(watts):
        return "—"
    k = round(watts / 1000, 1)
    return f"{k:.0f} kW" if k.is_integer() else f"{k:.1f} kW"


def pct(value: float) -> str:
    return f"{value:.0f} %" if float(value).is_integer() else f"{value:.1f} %"


def first_value(snap: GridSnapshot | None, device: str, points: Sequence[str]) -> float:
    """The first of ``points`` of ``device`` that has a positive value in ``snap``; nan otherwise. A held
    (stale) value counts: these are ratings, which an outage does not change."""
    if snap is None:
        return math.nan
    for p in points:
        r = snap.reading(f"{device}.{p}")
        if r is not None and math.isfinite(r.value) and r.value > 0:
            return r.value
    return math.nan


def value_of(snap: GridSnapshot | None, pid: str) -> float:
    r = snap.reading(pid) if snap is not None else None
    return r.value if r is not None and math.isfinite(r.value) else math.nan


# --- battery ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BatteryState:
    """What a battery does now, read from its storage controls."""

    mode: str | None  # a BatteryMode, None when StorCtl_Mod holds something else (both bits) or nothing
    rate_pct: float  # the rate of that mode (InWRte or OutWRte), % of rated
    rated_w: float  # nan when unknown
    power_w: float  # + charging, − discharging; nan without a value
    raw_mode: float  # StorCtl_Mod as read
    soc_pct: float = math.nan  # state of charge


def battery_state(snap: GridSnapshot | None, device: str, power_w: float, rated_w: float,
                  soc_pct: float = math.nan) -> BatteryState:
    raw = value_of(snap, f"{device}.{MODE_POINT}")
    mode = {0.0: BatteryMode.SELF, 1.0: BatteryMode.CHARGE, 2.0: BatteryMode.DISCHARGE}.get(raw)
    rate = value_of(snap, f"{device}.{DISCHARGE_RATE_POINT if mode == BatteryMode.DISCHARGE else CHARGE_RATE_POINT}")
    return BatteryState(mode, rate if math.isfinite(rate) else 100.0, rated_w, power_w, raw, soc_pct)


def battery_mode_text(state: BatteryState) -> str:
    """"discharging at 2.0 kW (40 % of 5 kW)", "self-consumption", "StorCtl_Mod 3 (not a mode this console sets)"."""
    if state.mode is None:
        return "mode unknown" if not math.isfinite(state.raw_mode) else (
            f"StorCtl_Mod {state.raw_mode:g} (not a mode this console sets)")
    if state.mode == BatteryMode.SELF:
        return "self-consumption"
    verb = "charging" if state.mode == BatteryMode.CHARGE else "discharging"
    return f"{verb} at {rate_text(state.rate_pct, state.rated_w)}"


def rate_text(rate_pct: float, rated_w: float) -> str:
    """"2.0 kW (40 % of 5 kW)"; "40 % of rated power" when the rating is unknown."""
    if not math.isfinite(rated_w):
        return f"{pct(rate_pct)} of rated power"
    return f"{kw(rated_w * rate_pct / 100)} ({pct(rate_pct)} of {rating(rated_w)})"


def battery_command(device: str, label: str, mode: str, rate_pct: float, rated_w: float) -> Command:
    """The writes and words of a battery setpoint: the rate first, then the mode that uses it."""
    if mode == BatteryMode.SELF:
        return Command(device, label, f"{label}: back to self-consumption (it charges from surplus PV and "
                       "covers the house's load on its own)", "in self-consumption", ((MODE_POINT, 0.0, None),))
    charge = mode == BatteryMode.CHARGE
    rate_point = CHARGE_RATE_POINT if charge else DISCHARGE_RATE_POINT
    what = rate_text(rate_pct, rated_w)
    return Command(device, label, f"{label}: {mode} at {what} until changed",
                   f"{'charging' if charge else 'discharging'} at {what}",
                   ((rate_point, rate_pct, None), (MODE_POINT, 1.0 if charge else 2.0, None)))


# --- inverter power limit --------------------------------------------------------------------------------

def limit_command(device: str, label: str, limit_pct: float, current_pct: float, rated_w: float,
                  now_w: float) -> Command:
    """Enable the limit, then set it (WMaxLimPct, % of rated power)."""
    producing = f"now producing {kw(now_w)}" if math.isfinite(now_w) else "production unknown"
    if limit_pct >= 100:
        what, done = "no limit (100 %)", "no limit (100 %)"
    elif math.isfinite(rated_w):
        what = done = f"{kw(rated_w * limit_pct / 100)} ({pct(limit_pct)} of {rating(rated_w)})"
    else:
        what = done = f"{pct(limit_pct)} of its rated power"
    verb = "remove the limit" if limit_pct >= 100 else f"limit to {what}"
    return Command(device, label, f"{label}: {verb}; {producing}", f"limited to {done}" if limit_pct < 100
                   else "limit removed (100 %)",
                   ((LIMIT_ENABLE_POINT, 1.0, None),
                    ("controls.WMaxLimPct", limit_pct, current_pct if math.isfinite(current_pct) else None)))


def register_command(device: str, label: str, point: str, value: float, current: float, unit: str) -> Command:
    unit_text = f" {unit}" if unit else ""
    old = "no value" if not math.isfinite(current) else f"{current:g}{unit_text}"
    return Command(device, label, f"{label}: write {point} from {old} to {value:g}{unit_text}",
                   f"{point} = {value:g}{unit_text}",
                   ((point, value, current if math.isfinite(current) else None),))


# --- results ---------------------------------------------------------------------------------------------

def result_text(ts: float, command: Command, outcome: CommandOutcome) -> str:
    """"22:41:07 house-03 battery: discharging at 2.0 kW — confirmed by read-back" (local time)."""
    clock = time.strftime("%H:%M:%S", time.localtime(ts))
    if outcome.outcome is Outcome.CONFIRMED:
        return f"{clock} {command.label}: {command.done} — confirmed by read-back"
    why = {Outcome.NOT_CONFIRMED: "NOT confirmed: the read-back differs",
           Outcome.REJECTED: "refused, nothing changed",
           Outcome.TIMED_OUT: "no answer: it may or may not have taken the value, check before trying again",
           }[outcome.outcome]
    return f"{clock} {command.label}: {why} ({outcome.message})"


# --- the dialogs -----------------------------------------------------------------------------------------

class CommandDialog(QDialog):
    """Facts, input, consequence; Cancel is the default, Enter and Escape cancel, sending needs Alt+S or a
    click. ``command()`` is what would be sent (None while the input is not complete)."""

    def __init__(self, title: str, facts: Sequence[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("commandDialog")
        self.setWindowTitle(title)
        self.setModal(True)
        self.facts = QFormLayout()
        self.fact_texts = dict(facts)  # what the dialog states about the device (for tests)
        for name, text in facts:
            label = QLabel(text)
            label.setObjectName("commandFact")
            self.facts.addRow(f"{name}:", label)
        self.inputs = QFormLayout()
        self.consequence = QLabel("")
        self.consequence.setObjectName("commandConsequence")
        self.consequence.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setDefault(True)
        self.cancel_button.clicked.connect(self.reject)
        self.send_button = QPushButton("&Send")
        self.send_button.setObjectName("sendButton")
        self.send_button.setAutoDefault(False)  # Enter on a focused Send still cancels (keyPressEvent)
        self.send_button.setToolTip("Sends the command (Alt+S); Enter and Escape cancel")
        self.send_button.clicked.connect(self.accept)
        hint = QLabel("Enter or Esc: cancel  ·  Alt+S: send")
        hint.setObjectName("commandHint")
        buttons = QHBoxLayout()
        buttons.addWidget(hint)
        buttons.addStretch(1)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(self.facts)
        layout.addLayout(self.inputs)
        layout.addWidget(self.consequence)
        layout.addLayout(buttons)
        self.setMinimumWidth(460)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.reject()  # never "Enter, Enter sends"
            return
        super().keyPressEvent(event)

    def command(self) -> Command | None:
        raise NotImplementedError

    def unchanged(self) -> bool:
        """True when the input is what the device does already (nothing to send)."""
        return False

    def update_consequence(self) -> None:
        cmd = self.command()
        same = cmd is not None and self.unchanged()
        self.send_button.setEnabled(cmd is not None and not same)
        self.consequence.setText("Choose what to do." if cmd is None else
                                 f"No change: {cmd.label} is already {cmd.done}" if same else cmd.consequence)
        set_style_property(self.consequence, "state", "normal" if same or cmd is None else "command")


def _spin_pct(box: QDoubleSpinBox, start_pct: float, rated_w: float) -> float:
    """The box's value as % of ``rated_w``: the percentage it opened on while it still shows the value it opened
    on (the box rounds to 0.1 kW: 60 % of 33.76 kW shows 20.3 kW, which is 60.1 %), never above 100 % (the box's
    maximum is the rating rounded up: 33.8 kW of 33.76 kW)."""
    v = box.value()
    if v == box.property("start_value"):
        return start_pct
    return min(100.0, round(100 * v * 1000 / rated_w, 1)) if math.isfinite(rated_w) else v


def _spin(maximum: float, value: float, suffix: str, decimals: int) -> QDoubleSpinBox:
    """Typing beyond the range is refused as it is typed (the spin box validates every key)."""
    box = QDoubleSpinBox()
    box.setRange(0.0, maximum)
    box.setDecimals(decimals)
    box.setSuffix(suffix)
    box.setValue(min(max(value, 0.0), maximum))
    box.setProperty("start_value", box.value())
    box.setKeyboardTracking(True)
    return box


class BatteryDialog(CommandDialog):
    """Mode and rate; opens on what the battery does now."""

    def __init__(self, device: str, label: str, state: BatteryState, parent: QWidget | None = None) -> None:
        rated = rating(state.rated_w) if math.isfinite(state.rated_w) else "not reported by the device"
        power = ("—" if not math.isfinite(state.power_w) else
                 f"{kw(abs(state.power_w))} {'charging' if state.power_w > 0 else 'discharging'}"
                 if abs(state.power_w) >= 1 else "idle (0 kW)")
        soc = f"{state.soc_pct:.0f} %" if math.isfinite(state.soc_pct) else "—"
        super().__init__("Battery setpoint", [("Device", f"{label}  ({device})"), ("Rated power", rated),
                                              ("Now", power), ("State of charge", soc),
                                              ("Mode", battery_mode_text(state))], parent)
        self.device, self.label, self.rated_w, self.state = device, label, state.rated_w, state
        self.modes = QButtonGroup(self)
        row = QHBoxLayout()
        self.mode_buttons: dict[str, QRadioButton] = {}
        for mode, text in ((BatteryMode.SELF, "Self-&consumption"), (BatteryMode.CHARGE, "C&harge"),
                           (BatteryMode.DISCHARGE, "&Discharge")):
            b = QRadioButton(text)
            self.modes.addButton(b)
            self.mode_buttons[mode] = b
            row.addWidget(b)
            b.toggled.connect(self._mode_changed)
        self.inputs.addRow("Mode:", row)
        known = math.isfinite(state.rated_w)
        # In kW when the rating is known (the % follows), in % of rated otherwise.
        self.rate = (_spin(state.rated_w / 1000, state.rated_w * state.rate_pct / 100_000, " kW", 1) if known
                     else _spin(100.0, state.rate_pct, " %", 0))
        self.rate.valueChanged.connect(self.update_consequence)
        self.inputs.addRow("Rate:", self.rate)
        if state.mode is not None:
            self.mode_buttons[state.mode].setChecked(True)
        self._mode_changed()
        self.rate.setFocus()

    def selected_mode(self) -> str | None:
        return next((m for m, b in self.mode_buttons.items() if b.isChecked()), None)

    def rate_pct(self) -> float:
        return _spin_pct(self.rate, min(max(self.state.rate_pct, 0.0), 100.0), self.rated_w)

    def _mode_changed(self) -> None:
        self.rate.setEnabled(self.selected_mode() in (BatteryMode.CHARGE, BatteryMode.DISCHARGE))
        self.update_consequence()

    def unchanged(self) -> bool:
        mode = self.selected_mode()
        if mode != self.state.mode:
            return False
        return mode == BatteryMode.SELF or abs(self.rate_pct() - self.state.rate_pct) < 0.05

    def command(self) -> Command | None:
        mode = self.selected_mode()
        if mode is None:
            return None
        return battery_command(self.device, self.label, mode, self.rate_pct(), self.rated_w)


class PowerLimitDialog(CommandDialog):
    """The limit in kW (the % follows) when the rating is known, in % otherwise."""

    def __init__(self, device: str, label: str, current_pct: float, rated_w: float, now_w: float,
                 parent: QWidget | None = None) -> None:
        rated = rating(rated_w) if math.isfinite(rated_w) else "not reported by the device"
        limit = ("none (100 %)" if not math.isfinite(current_pct) or current_pct >= 100 else
                 rate_text(current_pct, rated_w))
        super().__init__("Active power limit", [("Device", f"{label}  ({device})"), ("Rated power", rated),
                                                ("Producing now", kw(now_w)), ("Limit now", limit)], parent)
        self.device, self.label, self.rated_w, self.now_w = device, label, rated_w, now_w
        self.current_pct = current_pct
        start = current_pct if math.isfinite(current_pct) else 100.0
        self.limit = (_spin(rated_w / 1000, rated_w * start / 100_000, " kW", 1) if math.isfinite(rated_w)
                      else _spin(100.0, start, " %", 0))
        self.limit.valueChanged.connect(self.update_consequence)
        self.inputs.addRow("Limit:", self.limit)
        self.update_consequence()
        self.limit.setFocus()

    def limit_pct(self) -> float:
        start = self.current_pct if math.isfinite(self.current_pct) else 100.0
        return _spin_pct(self.limit, min(max(start, 0.0), 100.0), self.rated_w)

    def unchanged(self) -> bool:
        current = self.current_pct if math.isfinite(self.current_pct) else 100.0
        return abs(self.limit_pct() - current) < 0.05

    def command(self) -> Command | None:
        return limit_command(self.device, self.label, self.limit_pct(), self.current_pct, self.rated_w, self.now_w)


class RegisterDialog(CommandDialog):
    """One writable register: the value in the register's unit."""

    def __init__(self, device: str, label: str, point: str, current: float, unit: str,
                 parent: QWidget | None = None) -> None:
        shown = "no value" if not math.isfinite(current) else f"{current:g} {unit}".strip()
        super().__init__("Write register", [("Device", f"{label}  ({device})"), ("Register", point),
                                            ("Value now", shown)], parent)
        self.device, self.label, self.point, self.current, self.unit = device, label, point, current, unit
        self.value = QDoubleSpinBox()
        self.value.setRange(-1e12, 1e12)
        self.value.setDecimals(3)
        self.value.setSuffix(f" {unit}" if unit else "")
        self.value.setValue(current if math.isfinite(current) else 0.0)
        self.value.valueChanged.connect(self.update_consequence)
        self.inputs.addRow("New value:", self.value)
        self.update_consequence()
        self.value.setFocus()

    def unchanged(self) -> bool:
        return math.isfinite(self.current) and self.value.value() == round(self.current, 3)

    def command(self) -> Command | None:
        return register_command(self.device, self.label, self.point, self.value.value(), self.current, self.unit)
