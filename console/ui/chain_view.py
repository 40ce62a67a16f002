"""Chain tab: the chain panel plus the operator's demand-response request (confirm before sending)."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console.services.chain import ChainService
from core.chain import ChainState, TxState
from widgets.chain_panel import ChainPanel
from widgets.style import set_style_property

TOKEN_DECIMALS = 6


class DemandResponseDialog(QDialog):
    """Reduction, duration and compensation; ranges mirror what GridBalance accepts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Request demand response")
        self.reduction_kw = QDoubleSpinBox(minimum=1, maximum=100_000, value=200, suffix=" kW", decimals=0)
        self.duration_min = QDoubleSpinBox(minimum=1, maximum=24 * 60, value=30, suffix=" min", decimals=0)
        self.compensation = QDoubleSpinBox(minimum=1, maximum=1_000_000, value=500, suffix=" ENC", decimals=2)
        form = QFormLayout(self)
        form.addRow("Load reduction", self.reduction_kw)
        form.addRow("Duration", self.duration_min)
        form.addRow("Compensation (escrowed)", self.compensation)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


def confirmation(parent: QWidget | None, title: str, text: str, action: str) -> QMessageBox:
    """A question whose default (Enter, Escape) is Cancel: a second Enter never sends anything."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, parent)
    box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    return box


def confirmed(box: QMessageBox) -> bool:
    box.exec()
    return box.buttonRole(box.clickedButton()) is QMessageBox.ButtonRole.AcceptRole


class ChainView(QWidget):
    def __init__(self, service: ChainService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.panel = ChainPanel()
        self.dr_button = QPushButton("Request demand response…")
        self.dr_button.setToolTip("Ask participants to reduce load; the compensation is escrowed on chain")
        self.dr_button.clicked.connect(self.ask_demand_response)
        self.result = QLabel("")
        self.result.setObjectName("commandResult")
        actions = QHBoxLayout()
        actions.addWidget(self.dr_button)
        # Shown only while the chain is a different one: the operator decides what happens to open commands.
        self.decide = QWidget()
        decide = QHBoxLayout(self.decide)
        decide.setContentsMargins(0, 0, 0, 0)
        self.resend_selected = QPushButton("Resend selected…")
        self.discard_selected = QPushButton("Discard selected…")
        self.resend_all = QPushButton("Resend all…")
        self.discard_all = QPushButton("Discard all…")
        for button, resend, every in ((self.resend_selected, True, False), (self.discard_selected, False, False),
                                      (self.resend_all, True, True), (self.discard_all, False, True)):
            button.clicked.connect(lambda _=False, r=resend, a=every: self.ask_decision(r, a))
            decide.addWidget(button)
        self.decide.hide()
        actions.addWidget(self.decide)
        actions.addWidget(self.result, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(actions)
        layout.addWidget(self.panel, 1)
        self._watch: str | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def refresh(self) -> None:
        st = self.service.status()
        self.panel.show_status(st)
        self.decide.setVisible(st.state is ChainState.DIFFERENT_CHAIN and bool(st.pending))
        if self._watch is not None:
            rec = self.service.record(self._watch)
            if rec is not None:
                self._set_result(f"{rec.description}: {rec.state.value}" + (f" — {rec.error}" if rec.error else ""),
                                 alert=rec.state is TxState.FAILED)
                if rec.state.done:
                    self._watch = None

    def ask_demand_response(self) -> None:
        dlg = DemandResponseDialog(self)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        kw, minutes, enc = dlg.reduction_kw.value(), dlg.duration_min.value(), dlg.compensation.value()
        if not confirmed(confirmation(
                self, "Confirm demand response",
                f"Request a reduction of {kw:.0f} kW for {minutes:.0f} min, escrowing {enc:,.2f} ENC from the "
                "operator account?", "Request")):
            return
        task = asyncio.ensure_future(self._request(kw * 1000, minutes * 60, round(enc * 10**TOKEN_DECIMALS)))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def ask_decision(self, resend: bool, every: bool) -> None:
        """Resend or discard the selected (or all) open commands of a different chain, after confirmation."""
        keys = [r.key for r in self.service.undecided()] if every else self.panel.selected_pending_keys()
        if not keys:
            self._set_result("select the commands in the pending list first", alert=True)
            return
        verb = "Resend" if resend else "Discard"
        what = "\n".join(f"• {r.description}" for r in self.service.undecided() if r.key in keys)
        consequence = ("They are signed again and sent to the chain now at this address, if still valid."
                       if resend else "They are never sent; the audit keeps the decision.")
        if not confirmed(confirmation(self, f"{verb} {len(keys)} command(s)",
                                      f"{verb} on the different chain:\n{what}\n\n{consequence}", verb)):
            return
        task = asyncio.ensure_future(self._decide(keys, resend))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _decide(self, keys: list[str], resend: bool) -> None:
        try:
            done = await (self.service.resend(keys) if resend else self.service.discard(keys))
        except ValueError as exc:
            self._set_result(f"not done: {exc}", alert=True)
            return
        self._set_result(f"{len(done)} command(s) {'queued for the new chain' if resend else 'discarded'}",
                         alert=False)

    async def _request(self, reduction_w: float, duration_s: float, compensation: int) -> None:
        try:
            self._watch = await self.service.request_demand_response(reduction_w, duration_s, compensation)
            self._set_result("demand response queued", alert=False)
        except ValueError as exc:
            self._set_result(f"not sent: {exc}", alert=True)

    def _set_result(self, text: str, alert: bool) -> None:
        self.result.setText(text)
        set_style_property(self.result, "state", "alert" if alert else "normal")
