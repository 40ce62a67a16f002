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
from core.chain import TxState
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
        actions.addWidget(self.result, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(actions)
        layout.addWidget(self.panel, 1)
        self._watch: str | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def refresh(self) -> None:
        self.panel.show_status(self.service.status())
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
        answer = QMessageBox.question(
            self, "Confirm demand response",
            f"Request a reduction of {kw:.0f} kW for {minutes:.0f} min, escrowing {enc:,.2f} ENC from the "
            "operator account?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        task = asyncio.ensure_future(self._request(kw * 1000, minutes * 60, round(enc * 10**TOKEN_DECIMALS)))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _request(self, reduction_w: float, duration_s: float, compensation: int) -> None:
        try:
            self._watch = await self.service.request_demand_response(reduction_w, duration_s, compensation)
            self._set_result("demand response queued", alert=False)
        except ValueError as exc:
            self._set_result(f"not sent: {exc}", alert=True)

    def _set_result(self, text: str, alert: bool) -> None:
        self.result.setText(text)
        set_style_property(self.result, "state", "alert" if alert else "normal")
