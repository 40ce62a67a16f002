"""Wires the balancing service to its two panels: the emergency panel above every screen, the balancing
panel on the grid view. Its own 10 Hz timer: the emergency panel shows within 100 ms of the sample (plus a
frame) whichever screen is open.

The emergency panel's actions take the window's one command path: a confirmation whose default is Cancel
(Enter and Escape cancel; :class:`~console.ui.command_dialogs.CommandDialog`), then the balancing service's
command through :meth:`CommandService.execute` (permission, audit entry), then the result in words with the
data's time (the world's clock)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QBoxLayout, QWidget

from console.services.balancing import BalancingService, BalancingState, EmergencyCommand
from console.ui.command_dialogs import Command, CommandDialog
from console.ui.grid_view import GridView
from core.balancing.procedure import Step, next_step
from core.commands import CommandOutcome, Outcome
from widgets.balancing_panel import BalancingPanel
from widgets.emergency_panel import EmergencyPanel, clock_text
from widgets.style import show_state

log = logging.getLogger(__name__)


def emergency_result_text(ts: float, command: EmergencyCommand, outcome: CommandOutcome) -> str:
    """"00:00:12.3 Shed stage 1 (49.0 Hz relay): stage 1 shed, 7.5 % of load — confirmed (Ufls.Stages 0 → 1)",
    at the data's time ``ts``."""
    head = f"{clock_text(ts)} {command.label}:"
    if outcome.outcome is Outcome.CONFIRMED:
        return f"{head} {command.done} — confirmed ({outcome.message})"
    why = {Outcome.NOT_CONFIRMED: "NOT confirmed", Outcome.REJECTED: "refused, nothing changed",
           Outcome.TIMED_OUT: "no answer: it may or may not have acted, check before trying again"}[outcome.outcome]
    return f"{head} {why} ({outcome.message})"


class EmergencyDialog(CommandDialog):
    """The confirmation of one emergency command: the grid's state, the consequence; Cancel is the default."""

    def __init__(self, title: str, state: BalancingState, command: EmergencyCommand, acting: str,
                 parent: QWidget | None = None) -> None:
        shed = len(state.stages_tripped_at)
        f = f"{state.frequency_hz:.3f} Hz" if math.isfinite(state.frequency_hz) else "—"
        breaker = {True: "closed (grid-connected)", False: "OPEN (islanded)", None: "unknown"}[state.breaker_closed]
        super().__init__(title, [("Breaker", breaker), ("Frequency", f),
                                 ("Load shed now", f"{shed} of 6 stages ({state.shed_share * 100:.1f} % of load)"),
                                 ("Acting as", acting)], parent)
        self.emergency = command
        self.update_consequence()

    def command(self) -> Command | None:
        c = self.emergency
        return Command("ufls", c.label, c.consequence, c.done, ())


class BalancingScreens:
    def __init__(self, parent: QWidget, layout: QBoxLayout, index: int, grid: GridView,
                 service: BalancingService) -> None:
        self.service = service
        self.parent = parent
        cmd = service.can_command
        self.emergency = EmergencyPanel(self.ask_shed if cmd else None, self.ask_restore if cmd else None,
                                        self.ask_step)
        layout.insertWidget(index, self.emergency)
        self.balancing = BalancingPanel()
        grid.top_row.addWidget(self.balancing, 0)
        self.shown_at: float | None = None  # loop time the panel was first shown (tests measure it)
        self.dialog: EmergencyDialog | None = None
        self.tasks: set[asyncio.Future[None]] = set()
        self.timer = QTimer(parent)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(100)

    def refresh(self) -> None:
        s = self.service.state()
        was = self.emergency.isVisible()
        self.emergency.show_state(s.reason, s.breaker_closed, s.frequency_hz, s.rocof_hz_s, s.stages_tripped_at,
                                  s.next_stage_hz, s.shed_share, s.battery_kw, s.battery_soc_pct, s.battery_ask_kw)
        if s.reason is not None:
            steps = self.service.procedure()
            self.emergency.show_procedure(steps, next_step(steps))
        if self.tasks:  # one command at a time: the buttons wait for the outcome
            self.emergency.shed_button.setEnabled(False)
            self.emergency.restore_button.setEnabled(False)
            for b in self.emergency.step_buttons.values():
                b.setEnabled(False)
        if self.emergency.isVisible() and not was:
            self.shown_at = time.time()
        self.balancing.show_balance(s.demand_kw, s.supply_kw, s.import_kw, s.battery_kw, s.battery_soc_pct,
                                    s.battery_ask_kw, s.breaker_closed)

    def ask_shed(self) -> None:
        command = self.service.shed_command()
        if command is not None:
            self._open("Shed load", command, self.service.shed_next_stage)

    def ask_step(self, step: Step) -> None:
        """A procedure step's button: its confirmation (the second click sends)."""
        command = self.service.step_command(step)
        if command is None:
            return
        send = {Step.MARKET: self.service.suspend_market, Step.BATTERIES: self.service.dispatch_batteries,
                Step.SHED: self.service.shed_next_stage, Step.RECONNECT: self.service.reconnect}[step]
        self._open(step.title, command, send)

    def ask_restore(self) -> None:
        command = self.service.restore_command()
        if command is not None:
            self._open("Restore shed load", command, self.service.restore)

    def _open(self, title: str, command: EmergencyCommand, send: Callable[[], Awaitable[CommandOutcome]]) -> None:
        """Window-modal (no nested event loop: asyncio keeps running); only the send button sends."""
        if self.dialog is not None:
            self.dialog.reject()
        actor = self.service.commands.actor
        dialog = EmergencyDialog(title, self.service.state(), command, f"{actor.name} ({actor.role.value})",
                                 self.parent)
        self.dialog = dialog
        dialog.accepted.connect(lambda: self._run(command, send))
        dialog.finished.connect(lambda _: setattr(self, "dialog", None) if self.dialog is dialog else None)
        dialog.open()

    def _run(self, command: EmergencyCommand, send: Callable[[], Awaitable[CommandOutcome]]) -> None:
        label = self.emergency.result
        log.warning("operator: %s", command.consequence)
        label.setText(f"{clock_text(self.service.state().data_ts)} {command.label}: sending — {command.consequence}")
        show_state(label, "normal")

        async def go() -> None:
            try:
                outcome = await send()
            except Exception as exc:  # the command must end with a result on screen, whatever happened
                log.exception("emergency command %s", command.label)
                outcome = CommandOutcome(Outcome.REJECTED, f"{type(exc).__name__}: {exc}")
            text = emergency_result_text(self.service.state().data_ts, command, outcome)
            label.setText(text)
            label.setToolTip(text)
            show_state(label, "normal" if outcome.outcome is Outcome.CONFIRMED else "alert")

        task = asyncio.ensure_future(go())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
