"""Status-bar indicator of one data source's connection."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from core.sources import ConnectionState, SourceStatus
from widgets.style import set_style_property

_STATE = {
    ConnectionState.CONNECTED: ("normal", "●"),
    ConnectionState.CONNECTING: ("stale", "◌"),
    ConnectionState.DEGRADED: ("alert", "◐"),
    ConnectionState.DISCONNECTED: ("emergency", "✕"),
    ConnectionState.STOPPED: ("stale", "■"),
}


class SourceIndicator(QLabel):
    """``● grid-sim connected`` — grey when fine, coloured when not; the
    tooltip carries the endpoint, the last error and the faulty points."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(name, parent)
        self.setObjectName("sourceIndicator")
        self.name = name
        self.state = ""

    def show_status(self, status: SourceStatus) -> None:
        state, symbol = _STATE[status.state]
        text = f"{symbol} {status.source} {status.state.value}"
        if status.state is ConnectionState.DEGRADED:
            text += f" ({len(status.faults)} point{'s' if len(status.faults) != 1 else ''} failed)"
        if status.next_retry_s is not None:
            text += f", retry in {status.next_retry_s:.1f} s"
        self.setText(text)
        tip = [status.endpoint, f"reconnects: {status.reconnects}"]
        if status.last_error:
            tip.append(status.last_error)
        tip.extend(f.message for f in status.faults)
        self.setToolTip("\n".join(tip))
        if state != self.state:
            self.state = state
            set_style_property(self, "state", state)
