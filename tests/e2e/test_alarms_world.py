"""The alarms against the World: the simulated community's OPC-UA and Modbus faces, a real anvil chain and
the whole console (composition root and main window). A scenario's generator trip (frequency below
49.8 Hz), a silenced meter and a killed chain raise their alarms within 1 s of the condition plus the
on-delay; acknowledging and shelving from the alarm screen change the state, the journal and the audit
log. The World's clock runs on its own date (June 2026): on-delays still take their time and no stale-data
alarm rises because of the offset."""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from sqlalchemy import select

from console.bootstrap import build
from console.bootstrap_chain import ChainUp, chain_up
from console.config import parse
from console.store.schema import audit_log
from console.ui.main_window import MainWindow
from core.alarms import AlarmEvent, EventKind, IsaState, JournalQuery, Priority
from core.points import Sample
from core.sources import ConnectionState, SourceStatus
from tests.conftest import free_port
from tests.e2e.test_alarms_view import run
from tests.e2e.test_alarms_wired import press_in_dialog, wait_for
from tests.support.isolated import only_isolated, run_isolated
from tests.support.world_child import WorldChild

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SCENARIO = Path(__file__).parent / "scenarios" / "alarms_world.toml"
HOUSEHOLDS = 2  # 33 Modbus devices instead of 67
SILENT = "household-1-14"  # device 4 in the scenario
FREQ_DELAY_S = 1.0
SILENT_DELAY_S = 1.0
# The silent meter's read timeout: how long the console takes to call it silent. Not shorter: on a loaded
# machine the World's Modbus face may take over a second to answer, and the meter would be called silent
# before the scenario silenced it.
SILENT_TIMEOUT_S = 2.0
CHAIN_DELAY_S = 1.0
PASSWORD = "alarms-e2e"


class WorldProcess(WorldChild):
    """tests/e2e/world_process.py as a child: its stdout lines, each with the moment it was read."""

    def __init__(self, tmp: Path) -> None:
        self.config = tmp / "world-console.toml"
        self.opcua_port, self.modbus_port = free_port(), free_port()
        self.lines: list[tuple[str, float]] = []
        super().__init__("tests.e2e.world_process", [
            "--opcua-port", str(self.opcua_port), "--modbus-port", str(self.modbus_port),
            "--households", str(HOUSEHOLDS), "--scenario", str(SCENARIO), "--config-out", str(self.config)],
            stderr=tmp / "world-process.log")

    def on_line(self, line: str) -> None:
        self.lines.append((line, time.time()))

    def played(self, kind: str) -> float | None:
        """When the world played its ``kind`` event (its own clock, the same machine's)."""
        for line, _ in self.lines:
            if line.startswith(f"PLAYED {kind} "):
                return float(line.split()[2])
        return None


def without_alarms(text: str) -> str:
    """The world's console config without its own [[alarms]] tables: this test defines the alarms it checks
    (same ids, its own delays)."""
    sections = re.split(r"(?m)^(?=\[)", text)
    return "".join(s for s in sections if not s.startswith("[[alarms]]"))


def console_toml(world: WorldProcess, tmp: Path, rpc: str, deployment: Path, keystore: Path) -> str:
    text = without_alarms(world.config.read_text(encoding="utf-8"))
    # The silenced meter is polled fast, so "silent" is known one read timeout after the world silenced it.
    block = re.compile(rf'(\[\[modbus\]\]\nname = "{SILENT}"\n(?:[^\[\n].*\n)*?profile = .*\n)')
    text, n = block.subn(rf'\1timeout_s = {SILENT_TIMEOUT_S}\nreconnect_min_s = 0.2\nreconnect_max_s = 1.0\n'
                         'poll = { power = 0.2, energy = 1.0 }\n', text)
    assert n == 1, text
    return text + f"""
[historian]
url = "sqlite:///{tmp / 'console.sqlite'}"
spool = "{tmp / 'spool'}"

[chain]
enabled = true
rpc = "{rpc}"
deployment = "{deployment}"
keystore = "{keystore}"
password_env = "ENERGYNET_ALARMS_E2E_PASSWORD"
outbox = "{tmp / 'outbox.db'}"
publish_status_s = 0

[[alarms]]
id = "grid.frequency.low"
point = "grid.frequency"
type = "low"
limit = 49.8
deadband = 0.02
on_delay = {FREQ_DELAY_S}
priority = "medium"
message = "Frequency low (< 49.8 Hz)"
suppress_when = [{{ source_down = true }}]

[[alarms]]
id = "grid.frequency.ll"
point = "grid.frequency"
type = "low-low"
limit = 49.2
priority = "critical"
message = "Frequency very low (< 49.2 Hz)"

[[alarms]]
id = "world.data.stale"
point = "grid.frequency"
type = "quality"
stale_after = 5
priority = "high"
message = "No current data from the world"

[[alarms]]
id = "modbus.{SILENT}.silent"
point = "{SILENT}"
type = "external"
on_delay = {SILENT_DELAY_S}
priority = "medium"
message = "Meter {SILENT} silent"

[[alarms]]
id = "chain.down"
point = "chain"
type = "external"
on_delay = {CHAIN_DELAY_S}
priority = "high"
message = "Blockchain node unreachable"
"""


def test_world_alarms_in_a_process_of_their_own() -> None:
    """A whole MainWindow on its own qasync loop: in a pytest process of its own (tests/support/isolated.py)."""
    run_isolated(__file__, "test_trip_silent_meter_and_chain_outage_alarm_in_time_then_ack_and_shelve", 300)


@only_isolated
def test_trip_silent_meter_and_chain_outage_alarm_in_time_then_ack_and_shelve(  # type: ignore[no-untyped-def]
        qapp, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENERGYNET_ALARMS_E2E_PASSWORD", PASSWORD)
    figures: dict[str, float] = {}  # printed at the end (ALARM-LATENCY …)

    async def scenario() -> None:
        # the chain deploys while the world process builds its model (pandapower, pvlib: ~5 s of CPU)
        with WorldProcess(tmp_path) as world:
            chain = await asyncio.to_thread(chain_up, free_port(), tmp_path / "deployments", PASSWORD)
            try:
                # ~5 s of CPU (imports, pandapower, pvlib); much longer on a loaded machine
                await wait_for(lambda: any(line == "READY" for line, _ in world.lines)
                               or world.proc.poll() is not None, 150)
                assert world.proc.poll() is None, (tmp_path / "world-process.log").read_text()[-3000:]
                await console(world, chain)
            finally:
                chain.anvil.stop()

    async def console(world: WorldProcess, chain: ChainUp) -> None:
        settings = parse(console_toml(world, tmp_path, chain.anvil.url, chain.deployment_path, chain.keystore))
        app = build(settings)
        assert app.alarms is not None and app.historian is not None and app.chain is not None, app.chain_error
        alarms, state = app.alarms, app.alarms.engine.state
        window = MainWindow(settings, app.acquisition, app.monitor, app.historian, app.commands, app.chain,
                            app.chain_error, app.alarms)
        qtbot.addWidget(window)
        window.show()

        # when the console first received a frequency below 49.8 Hz, and when each alarm became active
        below_at: list[tuple[float, float]] = []  # (console time, source time) of the first sample below 49.8 Hz
        active_at: dict[str, list[tuple[float, float]]] = {}  # alarm → (console time, event time) of each activation

        def on_samples(batch: Sequence[Sample]) -> None:
            for s in batch:
                if not below_at and s.point == "grid.frequency" and s.value < 49.8:
                    below_at.append((time.time(), s.source_ts))

        def on_events(events: Sequence[AlarmEvent]) -> None:
            for e in events:
                if e.kind is EventKind.ACTIVATED:
                    active_at.setdefault(e.alarm, []).append((time.time(), e.ts))

        def activated_after(alarm: str, t: float) -> tuple[float, float]:
            """The alarm's first activation after console time ``t``."""
            return next(a for a in active_at.get(alarm, []) if a[0] >= t)

        silent_reports: list[float] = []  # when the console learnt that the meter did not answer

        def on_status(status: SourceStatus) -> None:
            if status.source == SILENT and status.state in (ConnectionState.DISCONNECTED, ConnectionState.CONNECTING):
                silent_reports.append(time.time())

        app.acquisition.subscribe(on_samples)
        app.acquisition.subscribe_status(on_status)
        alarms.subscribe(on_events)
        try:
            await app.start()
            def ready() -> list[str]:
                missing = []
                if not app.chain.status().up:  # type: ignore[union-attr]
                    missing.append("chain")
                if app.acquisition.snapshot().frequency is None:
                    missing.append("frequency")
                missing += [a for a in (f"modbus.{SILENT}.silent", "source.world.lost") if state(a).active]
                return missing

            try:
                await wait_for(lambda: not ready(), 60)  # 33 Modbus devices connect; slow on a loaded machine
            except AssertionError:
                raise AssertionError(f"console not ready: {ready()}") from None
            assert not state("world.data.stale").active  # the world's clock is months off: not "stale"
            world.go()

            # --- the trip: the frequency falls through 49.8 Hz; the low alarm after its 1 s on-delay
            await wait_for(lambda: state("grid.frequency.low").active, 15)
            assert len(active_at["grid.frequency.low"]) == 1
            raised = activated_after("grid.frequency.low", below_at[0][0])
            figures["frequency"] = took = raised[0] - below_at[0][0]
            assert took <= 1.0 + FREQ_DELAY_S, took
            # The on-delay is kept in the source's time, though that clock is months off. (The World stamps
            # every value of a 1 s tick with the tick's time, so in console time it can be shorter.)
            assert raised[1] - below_at[0][1] >= FREQ_DELAY_S
            # --- the silent meter: from the scenario's event (in the world process) to the alarm
            await wait_for(lambda: world.played("silent") is not None, 10)
            silenced_at = world.played("silent")
            assert silenced_at is not None
            early = [a for a in active_at.get(f"modbus.{SILENT}.silent", []) if a[0] < silenced_at]
            assert not early, (f"the meter was called silent at {early} before the scenario silenced it at "
                               f"{silenced_at} (a read timed out: machine overloaded?); world: {world.lines}")
            await wait_for(lambda: state(f"modbus.{SILENT}.silent").active, 1.0 + SILENT_DELAY_S + SILENT_TIMEOUT_S
                           + 1.0)
            raised_at = activated_after(f"modbus.{SILENT}.silent", silenced_at)[0]
            known_at = next(t for t in silent_reports if t >= silenced_at)  # a read unanswered for its timeout
            figures["silent_detect"] = known_at - silenced_at
            figures["silent"] = took = raised_at - known_at
            assert took <= 1.0 + SILENT_DELAY_S, took
            # from the world's event: the next poll (0.2 s), the read's timeout, then the alarm
            assert raised_at - silenced_at <= 0.2 + SILENT_TIMEOUT_S + 1.0 + SILENT_DELAY_S, raised_at - silenced_at
            # --- the chain outage: anvil killed mid-run
            killed_at = time.time()
            await asyncio.to_thread(chain.anvil.kill)
            await wait_for(lambda: not app.chain.status().up, 20)  # type: ignore[union-attr]  # the gateway's health check
            down_at = time.time()
            await wait_for(lambda: state("chain.down").active, 1.0 + CHAIN_DELAY_S)
            figures["chain_detect"] = down_at - killed_at
            figures["chain"] = took = activated_after("chain.down", killed_at)[0] - down_at
            assert took <= 1.0 + CHAIN_DELAY_S, took
            assert not state("grid.frequency.ll").active  # the nadir stays above 49.2 Hz

            # --- the banner on the grid tab, then the alarm screen: acknowledge, shelve
            window.refresh()
            shots = os.environ.get("ENERGYNET_ALARM_SHOTS")  # docs/screenshot-alarm-banner.png
            if shots:
                from importlib import resources

                qapp.setStyleSheet(resources.files("resources").joinpath("theme.qss").read_text(encoding="utf-8"))
                window.resize(1600, 900)
                for _ in range(10):
                    window.refresh()
                    await asyncio.sleep(0.05)
                window.grab().save(str(Path(shots) / "screenshot-alarm-banner.png"))
            banner = window.alarm_banner
            assert banner is not None
            # Only the three raised, but for what an overloaded machine raises by itself (a 600 ms loop stall
            # can drop the OPC-UA session: its data go stale; another meter's read can time out). Those are
            # right to alarm; they are named in the report and do not fail the test.
            expected = {"chain.down", "grid.frequency.low", f"modbus.{SILENT}.silent"}
            window.refresh()  # banner and these figures from the same snapshot (no await between)
            unacked = {a.id: a.priority for a in alarms.snapshot().unacknowledged()}
            extra = set(unacked) - expected
            assert expected <= set(unacked) and all(
                a in ("world.data.stale", "source.world.lost") or (a.startswith("modbus.") and a.endswith(".silent"))
                for a in extra), unacked
            figures["extra_alarms"] = len(extra)
            if extra:
                print("ALARMS-RAISED-BY-LOAD", sorted(extra))

            def counts(prios: list[Priority]) -> str:  # the banner's text for these unacknowledged priorities
                return "  ".join(f"{g} {prios.count(p)}" for g, p in zip("◆▲■●", Priority, strict=True))

            # chain down high; frequency low and the meter medium (plus any extra)
            assert banner.counts_text() == counts([Priority.HIGH, Priority.MEDIUM, Priority.MEDIUM,
                                                   *(unacked[a] for a in extra)])
            view = window.alarms_view
            assert view is not None
            QTest.mouseClick(banner, Qt.MouseButton.LeftButton)
            assert window.tabs.currentWidget() is view
            window.refresh()
            ids = view.table.visible_ids()
            assert ids.index("chain.down") < min(ids.index("grid.frequency.low"), ids.index(f"modbus.{SILENT}.silent"))
            view.table.selectRow(ids.index("grid.frequency.low"))
            QTest.keyClick(view.table, Qt.Key.Key_Space)  # acknowledge
            assert state("grid.frequency.low").isa is IsaState.ACKED_ACTIVE
            view.table.selectRow(view.table.visible_ids().index("chain.down"))
            typed = press_in_dialog(view, "RPC node maintenance CHG-88")
            QTimer.singleShot(0, lambda: QTest.keyClick(view.table, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier))
            await wait_for(lambda: bool(typed), 10)
            assert typed == ["RPC node maintenance CHG-88"]
            assert state("chain.down").isa is IsaState.SHELVED
            window.refresh()
            assert "chain.down" not in view.table.visible_ids()
            window.refresh()  # (no await before the figures below)
            left = {a.id: a.priority for a in alarms.snapshot().unacknowledged()}
            assert f"modbus.{SILENT}.silent" in left and not {"chain.down", "grid.frequency.low"} & set(left)
            assert banner.counts_text() == counts(list(left.values()))  # of ours only the meter is left

            user = getpass.getuser()
            await wait_for(lambda: alarms.stats().queued == 0, 10)
            mine = await alarms.query(JournalQuery(0, 4e9, users=frozenset({user})))
            assert [(e.alarm, e.kind, e.comment) for e in mine] == [
                ("grid.frequency.low", EventKind.ACKNOWLEDGED, ""),
                ("chain.down", EventKind.SHELVED, "RPC node maintenance CHG-88")]
            raised = await alarms.query(JournalQuery(0, 4e9, kinds=frozenset({EventKind.ACTIVATED})))
            assert expected <= {e.alarm for e in raised} <= expected | extra | {"world.data.stale", "source.world.lost"}
            historian = app.historian.historian

            def audit() -> list[tuple[str, str, str, str]]:
                with historian.engine.connect() as conn:  # type: ignore[attr-defined]
                    rows = conn.execute(select(audit_log.c.user, audit_log.c.action, audit_log.c.target,
                                               audit_log.c.result).where(audit_log.c.action.like("alarm.%"))
                                        .order_by(audit_log.c.ts_us))
                    return [tuple(r) for r in rows]  # type: ignore[misc]

            await wait_for(lambda: len(audit()) == 2, 10)
            assert audit() == [(user, "alarm.acknowledged", "grid.frequency.low", "ok"),
                               (user, "alarm.shelved", "chain.down", "RPC node maintenance CHG-88")]
        finally:
            window.timer.stop()
            await app.stop()
        print("ALARM-LATENCY " + " ".join(f"{k}={v:.3f}s" for k, v in figures.items()))

    run(qapp, scenario())
