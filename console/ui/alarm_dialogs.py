"""Dialogs of the alarm screen: shelve (one-shot or timed, with a reason, never beyond the alarm's maximum),
a comment, and the confirmation of "acknowledge all visible" (Cancel is the default: Enter must not
acknowledge a page of alarms nobody read)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.alarms.definitions import AlarmDef
from core.alarms.state import AlarmState


class ShelveDialog(QDialog):
    """Asks how long and why; ``duration_s`` is None for one-shot (until the alarm returns to normal).

    Timed shelving is limited to the definition's ``max_shelve_s`` (whole minutes, at least one);
    one-shot is offered only while the alarm is active (Part 9 allows it only then); OK stays disabled
    until a reason is written.
    """

    def __init__(self, d: AlarmDef, state: AlarmState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Shelve {d.id}")
        self.definition = d
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"<b>{d.id}</b> — {d.message}"))
        form = QFormLayout()
        self.timed = QRadioButton("for")
        self.one_shot = QRadioButton("until it returns to normal (one-shot)")
        group = QButtonGroup(self)
        group.addButton(self.timed)
        group.addButton(self.one_shot)
        self.one_shot.setEnabled(state.active)
        self.timed.setChecked(True)
        self.max_minutes = max(1, int(d.max_shelve_s // 60))
        self.minutes = QSpinBox()
        self.minutes.setRange(1, self.max_minutes)
        self.minutes.setValue(min(60, self.max_minutes))
        self.minutes.setSuffix(" min")
        self.minutes.setToolTip(f"at most {self.max_minutes} min for this alarm")
        self.timed.toggled.connect(self.minutes.setEnabled)
        form.addRow(self.timed, self.minutes)
        form.addRow("", self.one_shot)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("why (required): e.g. sensor replaced under work order 4711")
        form.addRow("Reason", self.reason)
        layout.addLayout(form)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.reason.textChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.reason.text().strip()))

    @property
    def duration_s(self) -> float | None:
        return None if self.one_shot.isChecked() else float(self.minutes.value() * 60)

    @property
    def reason_text(self) -> str:
        return self.reason.text().strip()


class CommentDialog(QDialog):
    """A free-text remark on one alarm, kept in the journal with the user's name."""

    def __init__(self, d: AlarmDef, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Comment on {d.id}")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"<b>{d.id}</b> — {d.message}"))
        self.text = QLineEdit()
        self.text.setPlaceholderText("what you found or did")
        layout.addWidget(self.text)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.text.textChanged.connect(
            lambda t: self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(t.strip())))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)


def acknowledge_page_box(n: int, parent: QWidget | None = None) -> QMessageBox:
    """"Acknowledge N alarms?" with Cancel as the default (and Escape) button."""
    box = QMessageBox(QMessageBox.Icon.Question, "Acknowledge visible alarms",
                      f"Acknowledge all {n} unacknowledged alarm(s) shown in the list?",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, parent)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    return box
