"""The emergency panel: shown above every screen while the community is islanded or the frequency is outside
the emergency band (49.2–50.8 Hz); hidden — nothing to look at — when normal (ISA-101: the abnormal state is
the one with colour).

Breaker, frequency, ROCOF, the load-shedding stages with the time each tripped, the community battery's
response, and two actions that each take two clicks (arm, then confirm; Esc or 10 s disarms)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from core.balancing.emergency import UFLS_STAGES
from widgets.palette import STATE_COLOURS
from widgets.style import show_state

ARM_TIMEOUT_MS = 10_000


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 10) % 10}"


class TwoClickButton(QPushButton):
    """First click arms (the text asks to confirm), the second within 10 s acts; Esc disarms."""

    def __init__(self, text: str, act: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._text, self._act = text, act
        self.armed = False
        self._disarm = QTimer(self)
        self._disarm.setSingleShot(True)
        self._disarm.setInterval(ARM_TIMEOUT_MS)
        self._disarm.timeout.connect(self.disarm)
        self.clicked.connect(self._on_click)

    def set_action_text(self, text: str) -> None:
        self._text = text
        if not self.armed:
            self.setText(text)

    def _on_click(self) -> None:
        if not self.armed:
            self.armed = True
            self.setText(f"Confirm: {self._text}?")
            self._disarm.start()
            return
        self.disarm()
        self._act()

    def disarm(self) -> None:
        self.armed = False
        self._disarm.stop()
        self.setText(self._text)

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.key() == Qt.Key.Key_Escape and self.armed:
            self.disarm()
            return
        super().keyPressEvent(event)


class EmergencyPanel(QFrame):
    def __init__(self, shed: Callable[[], None] | None, restore: Callable[[], None] | None) -> None:
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
        self.result = QLabel("")
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
        self.shed_button = TwoClickButton("Shed next stage", shed or (lambda: None))
        self.restore_button = TwoClickButton("Restore shed load", restore or (lambda: None))
        for b in (self.shed_button, self.restore_button):
            b.setEnabled(shed is not None)
            if shed is None:
                b.setToolTip("No command path: the source has no writable Control.ShedStage")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        left = QGridLayout()
        left.addWidget(self.title, 0, 0)
        left.addWidget(self.reason, 0, 1, 1, 3)
        for col, w in enumerate((self.breaker, self.frequency, self.rocof, self.battery)):
            left.addWidget(w, 1, col)
        row.addLayout(left, 3)
        row.addLayout(stages, 3)
        buttons = QGridLayout()
        buttons.addWidget(self.shed_button, 0, 0)
        buttons.addWidget(self.restore_button, 0, 1)
        buttons.addWidget(self.result, 1, 0, 1, 2)
        row.addLayout(buttons, 2)
        # the panel takes the window's width, never widens it past a 1366 px screen (it clips instead)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setVisible(False)

    def show_state(self, reason: str | None, breaker_closed: bool | None, frequency_hz: float, rocof_hz_s: float,
                   tripped_at: tuple[float, ...], next_stage_hz: float | None, shed_share: float,
                   battery_kw: float, battery_soc_pct: float) -> None:
        if reason is None:
            self.setVisible(False)
            self.shed_button.disarm()
            self.restore_button.disarm()
            return
        self.reason.setText(reason)
        self.breaker.setText("Breaker " + {True: "CLOSED", False: "OPEN", None: "?"}[breaker_closed])
        show_state(self.breaker, "emergency" if breaker_closed is False else "normal")
        self.frequency.setText(f"f {frequency_hz:.3f} Hz" if math.isfinite(frequency_hz) else "f —")
        show_state(self.frequency, "emergency" if not 49.2 <= frequency_hz <= 50.8 else
                   "alert" if not 49.8 <= frequency_hz <= 50.2 else "normal")
        self.rocof.setText(f"ROCOF {rocof_hz_s:+.3f} Hz/s" if math.isfinite(rocof_hz_s) else "ROCOF —")
        self.battery.setText(f"Battery {battery_kw:+.1f} kW, SoC {battery_soc_pct:.0f} %"
                             if math.isfinite(battery_kw) else "Battery —")
        for k, lab in enumerate(self.stage_labels):
            if k < len(tripped_at):
                lab.setText(_clock(tripped_at[k]))
                show_state(lab, "emergency")
            else:
                lab.setText("—")
                show_state(lab, "normal")
        self.shed_button.set_action_text(f"Shed stage {len(tripped_at) + 1} ({next_stage_hz:.1f} Hz relay)"
                                         if next_stage_hz is not None else "All stages shed")
        self.shed_button.setEnabled(self.restore_button.isEnabled() and next_stage_hz is not None)
        self.result.setText(f"{shed_share * 100:.1f} % of load shed" if tripped_at else "no load shed")
        self.setVisible(True)
