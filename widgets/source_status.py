"""Status-bar indicator of one data source's connection."""
from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from core.chain import ChainState
from core.sources import ConnectionState, SourceStatus
from widgets.elided_label import ElidedLabel
from widgets.palette import source_state
from widgets.style import show_state

_SYMBOL = {
    ConnectionState.CONNECTED: "●",
    ConnectionState.CONNECTING: "◌",
    ConnectionState.DEGRADED: "◐",
    ConnectionState.DISCONNECTED: "✕",
    ConnectionState.STOPPED: "■",
}


def show_connection(label: QWidget, state: ConnectionState | ChainState) -> None:
    """Colour a status label by the one source-state map (widgets/palette.py); bold when not normal."""
    show_state(label, source_state(state))


class SourceIndicator(ElidedLabel):
    """``● grid-sim connected`` — grey when fine, coloured when not; the
    tooltip carries the endpoint, the last error and the faulty points.

    The retry countdown runs live: ``next_retry_s`` is the wait the driver started
    when it reported the status, so the indicator counts it down from the moment it
    first saw that report (``clock``, monotonic by default), refreshed every frame.
    """

    def __init__(self, name: str, parent: QWidget | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name, parent)
        self.setObjectName("sourceIndicator")
        self.name = name
        self.state = ""
        self._clock = clock
        self._retry_key: tuple[object, ...] | None = None
        self._retry_at = 0.0

    def retry_in(self, status: SourceStatus) -> float | None:
        """Seconds left until the driver's next attempt (None: no retry scheduled)."""
        if status.next_retry_s is None:
            self._retry_key = None
            return None
        key = (status.state, status.since, status.reconnects, status.next_retry_s)
        if key != self._retry_key:  # a new wait started
            self._retry_key = key
            self._retry_at = self._clock() + status.next_retry_s
        return max(self._retry_at - self._clock(), 0.0)

    def show_status(self, status: SourceStatus) -> None:
        text = f"{_SYMBOL[status.state]} {status.source} {status.state.value}"
        if status.state is ConnectionState.DEGRADED and status.faults:
            text += f" ({len(status.faults)} point{'s' if len(status.faults) != 1 else ''} failed)"
        elif status.state is ConnectionState.DEGRADED:
            text += " (no data)"  # connected and silent: the tooltip says more
        left = self.retry_in(status)
        if left is not None:
            text += f", retry in {left:.1f} s" if left > 0 else ", retrying…"
        self.setText(text)
        tip = [status.endpoint, f"reconnects: {status.reconnects}"]
        if status.last_error:
            tip.append(status.last_error)
        tip.extend(f.message for f in status.faults)
        self.set_detail("\n".join(tip))
        self.state = source_state(status.state)
        show_connection(self, status.state)
