"""The emergency panel against the World in a process of its own: the community islands (the scenario opens
the breaker), the console shows the emergency panel within 1 s of the breaker sample's arrival, and the
operator's two-click "shed next stage" reaches the world's relays and comes back as a tripped stage.

The latency is measured from the console's receipt of the island sample (its ``recv_ts``, kept by the
balancing service) to the moment the panel became visible — not from a wall-clock sleep."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from sqlalchemy import select

from console.bootstrap import build
from console.config import parse
from console.services.balancing import MARKET_REASON
from console.ui.balancing_view import EmergencyDialog
from console.ui.main_window import MainWindow
from tests.conftest import free_port
from tests.e2e.test_alarms_view import run
from tests.e2e.test_alarms_wired import wait_for
from tests.support.isolated import only_isolated, run_isolated
from tests.support.world_child import WorldChild

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SCENARIO = Path(__file__).parent / "scenarios" / "island.toml"
SHED_1 = ("Shed stage 1 (49.0 Hz relay): open the relays of its connections, about 7.5 % of the community's "
          "mean load (7.5 % shed in all)")


def command_rows(app: object) -> list[tuple[str, str, str, str | None, str]]:
    """The audit log's rows about the load-shedding stages (the console's own SQLite)."""
    from console.store.schema import audit_log

    engine = app.historian.historian.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.target == "ufls").order_by(audit_log.c.id)).all()
    return [(r.user, r.action, r.target, r.new, r.result) for r in rows]


class IslandWorld(WorldChild):
    """tests/e2e/world_process.py playing scenarios/island.toml, 4 households' devices (the fourth has the
    battery the procedure dispatches: household 4-7, SunSpec 124 at unit 14)."""

    def __init__(self, tmp: Path) -> None:
        self.config = tmp / "world-console.toml"
        self.lines: list[str] = []
        super().__init__("tests.e2e.world_process", [
            "--opcua-port", str(free_port()), "--modbus-port", str(free_port()), "--households", "4",
            "--scenario", str(SCENARIO), "--config-out", str(self.config)], stderr=tmp / "world-process.log")

    def on_line(self, line: str) -> None:
        self.lines.append(line)


def console_toml(world: IslandWorld, tmp: Path) -> str:
    return world.config.read_text(encoding="utf-8") + f"""
[historian]
url = "sqlite:///{tmp / 'console.sqlite'}"
spool = "{tmp / 'spool'}"
"""


async def islanded_console(tmp: Path, qtbot: object, shots: Path | None = None) -> dict[str, float]:
    """The scenario; returns its figures. ``shots``: save the window there (balancing, emergency panels)."""
    figures: dict[str, float] = {}
    with IslandWorld(tmp) as world:
        await wait_for(lambda: "READY" in world.lines or world.proc.poll() is not None, 150)
        assert world.proc.poll() is None, (tmp / "world-process.log").read_text()[-3000:]
        settings = parse(console_toml(world, tmp))
        app = build(settings)
        assert app.balancing is not None and app.balancing.can_command
        window = MainWindow(settings, app.acquisition, app.monitor, app.historian, app.commands,
                            balancing=app.balancing)
        if hasattr(qtbot, "addWidget"):
            qtbot.addWidget(window)
        window.resize(1366, 768)
        window.show()
        screens = window.balancing
        assert screens is not None
        try:
            await app.start()
            await wait_for(lambda: app.balancing.state().breaker_closed is True  # type: ignore[union-attr]
                           and app.acquisition.snapshot().frequency is not None, 90)
            await asyncio.sleep(1.0)  # a few frames of the normal state
            assert not screens.emergency.isVisible(), "grid-connected and in band: no emergency panel"
            if shots is not None:
                window.grab().save(str(shots / "balancing-normal.png"))
            world.go()
            await wait_for(lambda: screens.shown_at is not None, 60)
            state = app.balancing.state()
            assert state.breaker_closed is False and state.since_recv_ts is not None
            assert screens.shown_at is not None
            figures["panel_after_sample_s"] = screens.shown_at - state.since_recv_ts
            # The goal is 1 s (measured 62-129 ms on a quiet machine, printed below and in docs/BENCHMARKS.md);
            # the test allows 3 s because a loaded 2-core runner stalls the loop for up to 1.3 s, and a late
            # panel is still caught. The screenshot tool only reports it.
            assert shots is not None or figures["panel_after_sample_s"] < 3.0, figures
            assert screens.emergency.isVisible()
            assert "ISLANDED" in screens.emergency.reason.text()

            # the shed opens a confirmation whose default is Cancel: Enter (on the dialog, on a focused Send)
            # and Escape send nothing
            shed = screens.emergency.shed_button
            assert shed.text() == "Shed stage 1 (49.0 Hz relay)…"
            for how in ("enter", "enter on send", "escape"):
                QTest.mouseClick(shed, Qt.MouseButton.LeftButton)
                dialog = screens.dialog
                assert isinstance(dialog, EmergencyDialog) and dialog.isVisible(), how
                assert dialog.consequence.text() == SHED_1 and dialog.cancel_button.isDefault()
                if how == "enter on send":
                    dialog.send_button.setFocus()
                target = dialog.send_button if how == "enter on send" else dialog
                QTest.keyClick(target, Qt.Key.Key_Escape if how == "escape" else Qt.Key.Key_Return)
                assert not dialog.isVisible() and screens.dialog is None and not screens.tasks, how
            await asyncio.sleep(1.0)
            assert not app.balancing.state().stages_tripped_at, "a cancelled confirmation sheds nothing"
            assert command_rows(app) == [], "nothing sent, nothing audited"
            QTest.mouseClick(shed, Qt.MouseButton.LeftButton)
            assert screens.dialog is not None
            QTest.mouseClick(screens.dialog.send_button, Qt.MouseButton.LeftButton)
            await wait_for(lambda: len(app.balancing.state().stages_tripped_at) == 1, 30)  # type: ignore[union-attr]
            await wait_for(lambda: not screens.tasks, 30)
            # every time on the panel is the world's (its clock starts at 00:00 UTC), not this console's
            stage_ts = app.balancing.state().stages_tripped_at[0]
            figures["stage_1_world_ts"] = stage_ts
            assert abs(stage_ts - time.time()) > 86_400, "the stage's time is the data's, not the wall clock's"
            # shown at the panel's next refresh (10 Hz) after the sample: on a loaded machine not yet at once
            await wait_for(lambda: screens.emergency.stage_labels[0].text() != "—", 10)
            assert re.fullmatch(r"00:0\d:\d\d\.\d", screens.emergency.stage_labels[0].text()), \
                screens.emergency.stage_labels[0].text()
            result = screens.emergency.result.text()
            assert re.fullmatch(r"00:0\d:\d\d\.\d Shed stage 1 \(49\.0 Hz relay\): stage 1 shed, 7\.5 % of load — "
                                r"confirmed \(Ufls\.Stages 0 → 1\)", result), result
            who = app.commands.user if app.commands is not None else ""
            assert command_rows(app) == [(who, "command", "ufls", SHED_1, "confirmed: Ufls.Stages 0 → 1")]
            await procedure_steps(app, screens, figures)
            if shots is not None:
                await asyncio.sleep(2.0)  # the trends and readouts a moment into the island
                window.grab().save(str(shots / "emergency-islanded.png"))
            restore = screens.emergency.restore_button
            # enabled at the panel's next refresh after the command ended (an operator sees it light up; a
            # loaded machine made the click land before it: failed in CI)
            await wait_for(restore.isEnabled, 30)
            QTest.mouseClick(restore, Qt.MouseButton.LeftButton)
            assert screens.dialog is not None
            QTest.mouseClick(screens.dialog.send_button, Qt.MouseButton.LeftButton)
            await wait_for(lambda: not app.balancing.state().stages_tripped_at, 30)  # type: ignore[union-attr]
            await wait_for(lambda: not screens.tasks, 30)
            assert "Restore shed load: shed load restored" in screens.emergency.result.text()
            await reconnect_step(app, screens)
        finally:
            screens.timer.stop()
            window.timer.stop()
            await app.stop()
            window.close()
    return figures


async def procedure_steps(app: object, screens: object, figures: dict[str, float]) -> None:
    """The procedure after the operator's shed: step 3 done by the operator at the stage's time, step 1 then
    step 2 the next, each in two clicks (the step, Send), each one audit entry; reconnection enabled only
    within the synchrocheck's limits."""
    from core.balancing.procedure import Step, StepStatus

    panel = screens.emergency  # type: ignore[attr-defined]
    service = app.balancing  # type: ignore[attr-defined]
    who = app.commands.user  # type: ignore[attr-defined]
    await wait_for(lambda: panel.step_labels[Step.SHED].text().startswith("done "), 10)  # the next frame
    assert re.fullmatch(rf"done 00:0\d:\d\d\.\d by {who} · 1 stage, 7\.5 %",
                        panel.step_labels[Step.SHED].text()), panel.step_labels[Step.SHED].text()
    assert panel.step_buttons[Step.MARKET].text() == "▶ 1 Suspend market…"  # the next step, highlighted
    assert panel.step_buttons[Step.MARKET].font().bold()
    assert panel.step_labels[Step.MARKET].text() == "pending · trading open"
    assert panel.step_labels[Step.BATTERIES].text() == "pending · 1 battery over Modbus"
    for step, words in ((Step.MARKET, "Suspend market: halt trading in every product"),
                        (Step.BATTERIES, "Dispatch batteries: discharge 1 battery (household-4-7-battery) at 100 % "
                                         "of rated power until changed")):
        button = panel.step_buttons[step]
        await wait_for(button.isEnabled, 30)
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        dialog = screens.dialog  # type: ignore[attr-defined]
        assert isinstance(dialog, EmergencyDialog) and dialog.cancel_button.isDefault()
        assert dialog.consequence.text().startswith(words), dialog.consequence.text()
        QTest.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
        await wait_for(lambda: not screens.tasks, 60)  # type: ignore[attr-defined]
        state = next(s for s in service.procedure() if s.step is step)
        assert state.status is StepStatus.DONE and state.by == who, (state, panel.result.text())
        assert abs(state.ts - time.time()) > 86_400, "the step's time is the world's"
    assert service.market.suspension() is not None  # the market really is suspended
    from console.store.schema import audit_log

    engine = app.historian.historian.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = [(r.action, r.target, r.result) for r in conn.execute(select(audit_log).where(
            audit_log.c.target.in_(("market", "batteries", "household-4-7-battery"))).order_by(audit_log.c.id))]
    assert rows == [
        ("market.suspend", "market", "suspended"),  # the market's own entry
        ("command", "market", f"confirmed: trading suspended in all products by {who}: {MARKET_REASON}"),
        ("command", "household-4-7-battery", rows[2][2]),  # the battery's command, read back
        ("command", "batteries", "confirmed: household-4-7-battery confirmed")], rows
    assert rows[2][2].startswith("confirmed"), rows[2]


async def reconnect_step(app: object, screens: object) -> None:
    """Step 4: enabled exactly when the synchrocheck's Δf is within 0.2 Hz; two clicks close the breaker over
    the world's OPC-UA face, and the emergency panel goes (grid-connected, in band)."""
    from core.balancing.procedure import Step

    panel = screens.emergency  # type: ignore[attr-defined]
    service = app.balancing  # type: ignore[attr-defined]
    button = panel.step_buttons[Step.RECONNECT]
    await wait_for(button.isEnabled, 60)
    check = service.sync()
    assert abs(check.df_hz) <= 0.2 and check.in_limits
    label = panel.step_labels[Step.RECONNECT].text()
    assert re.fullmatch(r"pending · Δf [+−]0\.\d{3} Hz \(≤ 0\.2\) · ΔV, Δφ not measured", label), label
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = screens.dialog  # type: ignore[attr-defined]
    assert isinstance(dialog, EmergencyDialog) and dialog.cancel_button.isDefault()
    assert dialog.consequence.text().startswith("Reconnect: close the transformer breaker"), dialog.consequence.text()
    QTest.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
    await wait_for(lambda: service.state().breaker_closed is True, 30)
    await wait_for(lambda: not screens.tasks, 30)  # type: ignore[attr-defined]
    assert re.fullmatch(r"00:0\d:\d\d\.\d Reconnect: breaker closed, community grid-connected — confirmed "
                        r"\(Breaker\.Closed 0 → 1 \(Δf .*\)\)", panel.result.text()), panel.result.text()
    await wait_for(lambda: not panel.isVisible(), 30)  # grid-connected and in band: no emergency

def test_emergency_panel_in_a_process_of_its_own() -> None:
    run_isolated(__file__, "test_the_emergency_panel_shows_within_a_second_of_the_island_sample", 300)


@only_isolated
def test_the_emergency_panel_shows_within_a_second_of_the_island_sample(  # type: ignore[no-untyped-def]
        qapp, qtbot, tmp_path: Path) -> None:
    figures: dict[str, float] = {}
    os.environ["TZ"] = "UTC"  # the world's clock is UTC; the panel shows the data's times in local time
    time.tzset()

    async def scenario() -> None:
        figures.update(await islanded_console(tmp_path, qtbot))

    run(qapp, scenario())
    print(f"EMERGENCY-PANEL {figures['panel_after_sample_s'] * 1000:.0f} ms after the island sample "
          f"({time.strftime('%Y-%m-%d')})")
