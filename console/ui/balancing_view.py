"""Wires the balancing service to its two panels: the emergency panel above every screen, the balancing
panel on the grid view. Its own 10 Hz timer: the emergency panel shows within 100 ms of the sample (plus a
frame) whichever screen is open."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QBoxLayout, QWidget

from console.services.balancing import BalancingService
from console.ui.grid_view import GridView
from widgets.balancing_panel import BalancingPanel
from widgets.emergency_panel import EmergencyPanel
from widgets.style import show_state

log = logging.getLogger(__name__)


class BalancingScreens:
    def __init__(self, parent: QWidget, layout: QBoxLayout, index: int, grid: GridView,
                 service: BalancingService) -> None:
        self.service = service
        cmd = service.can_command
        self.emergency = EmergencyPanel(self._shed if cmd else None, self._restore if cmd else None)
        layout.insertWidget(index, self.emergency)
        self.balancing = BalancingPanel()
        grid.top_row.addWidget(self.balancing, 0)
        self.shown_at: float | None = None  # loop time the panel was first shown (tests measure it)
        self._tasks: set[asyncio.Future[None]] = set()
        self.timer = QTimer(parent)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(100)

    def refresh(self) -> None:
        s = self.service.state()
        was = self.emergency.isVisible()
        self.emergency.show_state(s.reason, s.breaker_closed, s.frequency_hz, s.rocof_hz_s, s.stages_tripped_at,
                                  s.next_stage_hz, s.shed_share, s.battery_kw, s.battery_soc_pct)
        if self.emergency.isVisible() and not was:
            self.shown_at = time.time()
        self.balancing.show_balance(s.demand_kw, s.supply_kw, s.import_kw, s.battery_kw, s.battery_soc_pct,
                                    s.frequency_hz, s.breaker_closed)

    def _run(self, what: str, make: Callable[[], Awaitable[None]]) -> None:
        async def go() -> None:
            label = self.emergency.result
            try:
                await make()
            except RuntimeError as exc:
                label.setText(f"{what} failed: {exc}")
                show_state(label, "emergency")
                return
            label.setText(f"{what}: sent")
            show_state(label, "normal")
        task = asyncio.ensure_future(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _shed(self) -> None:
        log.warning("operator: shed the next load-shedding stage")
        self._run("Shed next stage", self.service.shed_next_stage)

    def _restore(self) -> None:
        log.warning("operator: restore shed load")
        self._run("Restore", self.service.restore)
