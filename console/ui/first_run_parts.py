"""The setup wizard's building blocks: its style, status and hint labels, a line edit with Browse, and the
page base that runs a check in a worker thread and hands the answer back to the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget, QWizardPage

from console.services.first_run import SetupError

if TYPE_CHECKING:
    from console.ui.first_run_wizard import FirstRunWizard

# Only the abnormal is coloured (ISA-101): a failed check in the alert amber the console uses.
STYLE = """
QLabel#setupStatus { font-family: "DejaVu Sans Mono", monospace; font-size: 8pt; padding: 3px 4px;
                     border: 1px solid #454b51; }
QLabel#setupStatus[state="alert"] { color: #f2c12e; border-color: #f2c12e; }
QLabel#setupHint { color: #8b9096; font-size: 8pt; }
QLineEdit { background: #25292c; border: 1px solid #50575d; padding: 2px 4px; }
QLineEdit:disabled { background: #2b2f33; border: 1px dashed #41474c; color: #5f656b; }
QRadioButton::indicator, QCheckBox::indicator { width: 12px; height: 12px; border: 1px solid #8b9096;
                                                background: #25292c; }
QRadioButton::indicator { border-radius: 7px; }
/* checked: the same size (a larger border would clip the label), a dot inside the ring */
QRadioButton::indicator:checked { background: qradialgradient(cx: 0.5, cy: 0.5, radius: 0.5, fx: 0.5, fy: 0.5,
                                  stop: 0 #d4d7da, stop: 0.55 #d4d7da, stop: 0.6 #25292c, stop: 1 #25292c); }
QCheckBox::indicator:checked { background: #a9aeb3; border-color: #d4d7da; }
QRadioButton:checked, QCheckBox:checked { color: #f2f3f4; }
"""


class CheckResult(QObject):
    """Carries a worker thread's outcome to the GUI thread (a signal emitted off it is queued)."""

    done = Signal(object, object)  # callback, result or SetupError


def status_label(name: str) -> QLabel:
    label = QLabel("")
    label.setObjectName("setupStatus")
    label.setAccessibleName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def show_status(label: QLabel, text: str, alert: bool = False) -> None:
    label.setText(text)
    label.setProperty("state", "alert" if alert else "normal")
    label.style().unpolish(label)
    label.style().polish(label)
    label.setVisible(bool(text))


def hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("setupHint")
    label.setWordWrap(True)
    return label


def browse_row(edit: QLineEdit, pick: Callable[[], str]) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    button = QPushButton("Browse…")

    def browse() -> None:
        chosen = pick()
        if chosen:
            edit.setText(chosen)

    button.clicked.connect(browse)
    layout.addWidget(button)
    return row


class SetupPage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard, title: str, subtitle: str) -> None:
        super().__init__()
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.w = wizard

    def run(self, work: Callable[[], Any], then: Callable[[Any], None], label: QLabel, busy: str) -> None:
        """``work()`` in a worker thread; ``then(result)`` (a SetupError on failure) back in the GUI thread."""
        show_status(label, busy)
        self.w.set_busy(True)

        def target() -> None:
            try:
                outcome: Any = work()
            except SetupError as exc:
                outcome = exc
            except Exception as exc:  # a check that failed in a way it does not name: still say what
                outcome = SetupError(f"{type(exc).__name__}: {exc}")
            self.w.result_signal.done.emit(then, outcome)

        threading.Thread(target=target, name="setup-check", daemon=True).start()
