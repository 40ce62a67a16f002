"""The emergency panel: shown above every screen while the community is islanded or the frequency is outside
the emergency band (49.2–50.8 Hz); hidden — nothing to look at — when normal (ISA-101: the abnormal state is
the one with colour).

Breaker, frequency, ROCOF, the load-shedding stages with the time each tripped, the community battery's
response and what its frequency response asks of it, and two actions; each opens a confirmation whose
default is Cancel (the window's command path: console/ui/balancing_view.py). Every time shown is the
data's (the world's clock), never this console's."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout

from core.balancing.emergency import UFLS_STAGES
from core.balancing.procedure import STEPS, Step, StepState, StepStatus
from widgets.palette import STATE_COLOURS
from widgets.style import show_state


def clock_text(ts: float) -> str:
    """A time of the data (its source time: the world's clock, not this console's), "00:00:11.0"."""
    if not math.isfinite(ts):
        return "—"
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 10) % 10}"


def ask_name(breaker_closed: bool | None) -> str:
    """What the battery's frequency response is called in each mode (core.balancing.emergency.battery_ask_w)."""
    return "droop" if breaker_closed is False else "FCR"


def step_text(state: StepState) -> str:
    """A procedure step's state in words: "done 00:03:12.4 by op-1 · trading suspended", "pending · no load
    shed", "not applicable: no market in this console"."""
    if state.status is StepStatus.DONE:
        return f"done {clock_text(state.ts)} by {state.by}" + (f" · {state.detail}" if state.detail else "")
    if state.status is StepStatus.NOT_APPLICABLE:
        return f"not applicable: {state.detail}"
    return "pending" + (f" · {state.detail}" if state.detail else "")


class EmergencyPanel(QFrame):
    def __init__(self, shed: Callable[[], None] | None, restore: Callable[[], None] | None,
                 step: Callable[[Step], None] | None = None) -> None:
        super().__init__()
        self.setObjectName("emergencyPanel")
        self.setFrameShape(QFrame.Shape.Box)
        self.setStyleSheet(f"#emergencyPanel {{ border: 2px solid {STATE_COLOURS['emergency']}; }}")
        self.title = QLabel("EMERGENCY")
        show_state(self.title, "emergency")
        self.reason = QLabel("")
        show_state(self.reason, "emergency")
        self.breaker = QLabel("")
        self.frequency = QLabel("")
        self.rocof = QLabel("")
        self.battery = QLabel("")
        self.shed_share = QLabel("")
        self.result = QLabel("")  # the last command's result, in words, at the data's time
        self.result.setObjectName("commandResult")
        self.stage_labels: list[QLabel] = []
        stages = QGridLayout()
        stages.setHorizontalSpacing(10)
        stages.addWidget(QLabel("UFLS"), 0, 0)
        stages.addWidget(QLabel("tripped"), 1, 0)
        for k, s in enumerate(UFLS_STAGES):
            stages.addWidget(QLabel(f"{k + 1}: {s.threshold_hz:.1f} Hz"), 0, k + 1)
            lab = QLabel("—")
            self.stage_labels.append(lab)
            stages.addWidget(lab, 1, k + 1)
        self.shed_button = QPushButton("Shed next stage…")
        self.restore_button = QPushButton("Restore shed load…")
        self.commandable = shed is not None
        for b, act in ((self.shed_button, shed), (self.restore_button, restore)):
            b.setAutoDefault(False)
            b.setEnabled(act is not None)
            if act is None:
                b.setToolTip("No command path: the source has no writable Control.ShedStage")
            else:
                b.clicked.connect(act)
        # the islanding procedure: one button per step (its confirmation: the second click) and its state
        self.step_buttons: dict[Step, QPushButton] = {}
        self.step_labels: dict[Step, QLabel] = {}
        procedure = QGridLayout()
        procedure.setHorizontalSpacing(10)
        procedure.setVerticalSpacing(0)
        self.procedure_title = QLabel("Procedure")
        procedure.addWidget(self.procedure_title, 0, 0)
        for k, st in enumerate(STEPS):
            b = QPushButton(f"{k + 1} {st.title}…")
            b.setAutoDefault(False)
            b.setEnabled(False)
            if step is not None:
                b.clicked.connect(lambda _=False, st=st: step(st))
            lab = QLabel("")
            lab.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.step_buttons[st], self.step_labels[st] = b, lab
            procedure.addWidget(b, 0, k + 1)
            procedure.addWidget(lab, 1, k + 1)
            procedure.setColumnStretch(k + 1, 12 if st is Step.RECONNECT else 10)  # its sync check is longest
        self.steppable = step is not None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 4, 8, 4)
        outer.setSpacing(2)
        row = QHBoxLayout()
        outer.addLayout(row)
        left = QGridLayout()
        left.addWidget(self.title, 0, 0)
        left.addWidget(self.reason, 0, 1, 1, 3)
        for col, w in enumerate((self.breaker, self.frequency, self.rocof)):
            left.addWidget(w, 1, col)
        row.addLayout(left, 3)
        row.addLayout(stages, 3)
        buttons = QGridLayout()
        buttons.addWidget(self.shed_button, 0, 0)
        buttons.addWidget(self.restore_button, 0, 1)
        buttons.addWidget(self.shed_share, 1, 0, 1, 2)
        row.addLayout(buttons, 2)
        # the battery and the last command's result share the bottom row (beside the stages the battery's
        # text with its ask clipped)
        bottom = QHBoxLayout()
        bottom.setSpacing(24)
        bottom.addWidget(self.battery)
        bottom.addWidget(self.result, 1)
        outer.addLayout(bottom)
        outer.addLayout(procedure)
        # the panel takes the window's width, never widens it past a 1366 px screen (it clips instead)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setVisible(False)

    def show_state(self, reason: str | None, breaker_closed: bool | None, frequency_hz: float, rocof_hz_s: float,
                   tripped_at: tuple[float, ...], next_stage_hz: float | None, shed_share: float,
                   battery_kw: float, battery_soc_pct: float, battery_ask_kw: float = math.nan) -> None:
        if reason is None:
            self.setVisible(False)
            return
        self.reason.setText(reason)
        self.breaker.setText("Breaker " + {True: "CLOSED", False: "OPEN", None: "?"}[breaker_closed])
        show_state(self.breaker, "emergency" if breaker_closed is False else "normal")
        self.frequency.setText(f"f {frequency_hz:.3f} Hz" if math.isfinite(frequency_hz) else "f —")
        show_state(self.frequency, "emergency" if not 49.2 <= frequency_hz <= 50.8 else
                   "alert" if not 49.8 <= frequency_hz <= 50.2 else "normal")
        self.rocof.setText(f"ROCOF {rocof_hz_s:+.3f} Hz/s" if math.isfinite(rocof_hz_s) else "ROCOF —")
        ask = (f" ({ask_name(breaker_closed)} asks {battery_ask_kw:+.1f})" if math.isfinite(battery_ask_kw)
               else "")
        self.battery.setText(f"Battery {battery_kw:+.1f} kW{ask}, SoC {battery_soc_pct:.0f} %"
                             if math.isfinite(battery_kw) else "Battery —")
        for k, lab in enumerate(self.stage_labels):
            if k < len(tripped_at):
                lab.setText(clock_text(tripped_at[k]))
                show_state(lab, "emergency")
            else:
                lab.setText("—")
                show_state(lab, "normal")
        self.shed_button.setText(f"Shed stage {len(tripped_at) + 1} ({next_stage_hz:.1f} Hz relay)…"
                                 if next_stage_hz is not None else "All stages shed")
        self.shed_button.setEnabled(self.commandable and next_stage_hz is not None)
        self.restore_button.setEnabled(self.commandable and bool(tripped_at))
        self.shed_share.setText(f"{shed_share * 100:.1f} % of load shed" if tripped_at else "no load shed")
        self.setVisible(True)

    def show_procedure(self, states: tuple[StepState, ...], next_step: Step | None) -> None:
        """Each step's state; the next one's button (the first pending) in bold with a marker, the rest plain."""
        for st in states:
            b, lab = self.step_buttons[st.step], self.step_labels[st.step]
            k = STEPS.index(st.step) + 1
            is_next = st.step is next_step
            b.setText(f"{'▶ ' if is_next else ''}{k} {st.step.title}…")
            b.setEnabled(self.steppable and st.status is StepStatus.PENDING and st.enabled)
            font = b.font()
            if font.bold() != is_next:
                font.setBold(is_next)
                b.setFont(font)
            text = step_text(st)
            lab.setText(text)
            lab.setToolTip(text)
            show_state(lab, "normal")  # plain: the next step's button carries the mark (bold, ▶)
