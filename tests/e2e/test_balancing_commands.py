"""The emergency panel's load-shedding commands through the one command path, against the world's real
OPC-UA face (in this process) and a real SQLite audit log: each role allowed or refused (refusals audited,
nothing sent), every command one audit entry in the words confirmed, confirmed only when the world's
``Ufls.Stages`` comes back changed, and a second command while the first waits refused — a double click
sheds one stage, not two."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from console.bootstrap import build_acquisition, build_balancing
from console.config import parse
from console.services.balancing import BalancingService
from console.services.commands import CommandService
from console.store import audit_chain
from console.store.historian import SqlHistorian
from console.store.schema import audit_log
from core.access import Role, User
from core.commands import Outcome
from drivers.opcua.hub import OpcUaHub
from drivers.sim.world.console_config import console_config_toml
from drivers.sim.world.opcua_face import WorldOpcUaServer
from drivers.sim.world.runner import WorldRunner
from tests.conftest import free_port
from tests.drivers.test_opcua_hub import wait_until
from tests.drivers.test_world_islanding import night_world

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SHED_1 = ("Shed stage 1 (49.0 Hz relay): open the relays of its connections, about 7.5 % of the community's "
          "mean load (7.5 % shed in all)")
RESTORE_1 = ("Restore shed load: reconnect the 1 stage shed (7.5 % of load); with the deficit still there the "
             "relays trip again")


@pytest.fixture
def historian(tmp_path: Path) -> Iterator[SqlHistorian]:
    h = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool")
    h.start()
    yield h
    h.stop()


def audit_rows(historian: SqlHistorian) -> list[tuple[str, str, str, str | None, str]]:
    with historian.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
    return [(r.user, r.action, r.target, r.new, r.result) for r in rows]


@asynccontextmanager
async def world_and_console(historian: SqlHistorian) -> AsyncIterator[tuple[WorldRunner, BalancingService]]:
    """The night world served over OPC-UA; the console's acquisition and balancing service on its config."""
    world = night_world(battery_fcr=False)
    port = free_port()
    runner = WorldRunner(world, speed=5.0)
    face = WorldOpcUaServer(runner, port=port, rate_hz=20)
    await face.start()
    await runner.start()
    settings = parse(console_config_toml([], len(world.network.feeder_ends), opcua_port=port))
    acquisition = build_acquisition(settings)
    hub = OpcUaHub(settings.sources, acquisition.on_samples, acquisition.on_status)
    commands = CommandService(None, historian, user=User("desk", Role.OPERATOR))
    balancing = build_balancing(settings, acquisition, commands)
    assert balancing is not None and balancing.can_command
    await hub.start()
    try:
        await wait_until(lambda: balancing.state().breaker_closed is True, 60)
        yield runner, balancing
    finally:
        await hub.stop()
        await runner.stop()
        await face.stop()


async def test_load_shedding_by_role_audited_once_and_never_twice(historian: SqlHistorian) -> None:
    async with world_and_console(historian) as (runner, balancing):
        world = runner.world
        for role in (Role.ANALYST, Role.ENGINEER):  # the read-only role (no "viewer" here) and the commissioner
            user = User(f"{role.value}-1", role)
            outcome = await balancing.shed_next_stage(by=user)
            refusal = f"{user.name} ({role.value}) may not do grid.load_shed; allowed for: operator, admin"
            assert (outcome.outcome, outcome.message) == (Outcome.REJECTED, refusal)
            assert audit_rows(historian)[-1] == (user.name, "grid.load_shed", "ufls", SHED_1, "refused: " + refusal)
        await asyncio.sleep(1.0)  # 5 simulated seconds: nothing was sent, nothing shed
        assert world.ufls.stages_tripped == 0 and not balancing.state().stages_tripped_at

        # a double click: two commands at once; the second is refused while the first waits for its result
        op = User("op-1", Role.OPERATOR)
        first, second = await asyncio.gather(balancing.shed_next_stage(by=op), balancing.shed_next_stage(by=op))
        assert (first.outcome, first.message) == (Outcome.CONFIRMED, "Ufls.Stages 0 → 1")
        assert (second.outcome, second.message) == (
            Outcome.REJECTED, "the previous load-shedding command is still waiting for its result; nothing sent")
        await asyncio.sleep(1.0)
        assert world.ufls.stages_tripped == 1 and len(balancing.state().stages_tripped_at) == 1  # one, not two
        assert sorted(audit_rows(historian)[-2:]) == sorted([
            ("op-1", "command", "ufls", SHED_1, "confirmed: Ufls.Stages 0 → 1"),
            ("op-1", "command", "ufls", SHED_1, "rejected: the previous load-shedding command is still waiting "
                                                "for its result; nothing sent")])

        admin = User("admin-1", Role.ADMIN)
        outcome = await balancing.restore(by=admin)
        assert (outcome.outcome, outcome.message) == (Outcome.CONFIRMED, "Ufls.Stages 1 → 0")
        assert world.ufls.stages_tripped == 0
        assert audit_rows(historian)[-1] == ("admin-1", "command", "ufls", RESTORE_1, "confirmed: Ufls.Stages 1 → 0")
        outcome = await balancing.restore()  # the service's own user (the desk's operator): nothing to restore
        assert (outcome.outcome, outcome.message) == (Outcome.REJECTED, "no load is shed; nothing sent")
        assert audit_rows(historian)[-1] == ("desk", "command", "ufls", "Restore shed load (none is shed)",
                                             "rejected: no load is shed; nothing sent")
    assert len(audit_rows(historian)) == 6
    assert audit_chain.verify(historian.engine).ok


async def test_without_a_writable_source_the_command_is_refused_and_audited(historian: SqlHistorian) -> None:
    balancing = BalancingService(CommandService(None, historian, user=User("op-1", Role.OPERATOR)), write=None)
    outcome = await balancing.shed_next_stage()
    assert outcome.outcome is Outcome.REJECTED and outcome.message.startswith("no OPC-UA command path")
    assert audit_rows(historian) == [("op-1", "command", "ufls", SHED_1, f"rejected: {outcome.message}")]


async def test_the_procedure_reconnects_only_within_the_synchrocheck(historian: SqlHistorian) -> None:
    """Against the night world over OPC-UA: grid-connected, steps 1, 2 and 4 are not applicable here (no
    market, no battery, breaker closed); islanded, the battery's droop holds the night import's deficit at
    Δf = −R · ΔP / S · f0 (by hand: −0.04 · ΔP / 250 kW · 50 Hz, about −0.31 Hz for 39 kW), outside the 0.2 Hz
    synchrocheck: reconnection is refused, audited, nothing sent. The operator sheds stages until it is in
    limits, then the breaker closes over Control.BreakerClose and the relays are re-armed by the world."""
    from core.balancing.procedure import Step, StepStatus

    async with world_and_console(historian) as (runner, balancing):
        world = runner.world
        states = {s.step: s for s in balancing.procedure()}
        assert (states[Step.MARKET].status, states[Step.MARKET].detail) == (
            StepStatus.NOT_APPLICABLE, "no market in this console")
        assert (states[Step.BATTERIES].status, states[Step.BATTERIES].detail) == (
            StepStatus.NOT_APPLICABLE, "no battery takes setpoints here")
        assert (states[Step.RECONNECT].status, states[Step.RECONNECT].detail) == (
            StepStatus.NOT_APPLICABLE, "breaker closed: not islanded")
        deficit = world.snapshot.trafo_p_w
        droop_only = -0.04 * deficit / 250e3 * 50.0
        await runner.call(lambda w: w.open_breaker())
        await wait_until(lambda: balancing.state().breaker_closed is False, 30)
        await wait_until(lambda: abs(balancing.sync().df_hz - droop_only) < 0.05, 60)  # settled on its droop
        check = balancing.sync()
        assert droop_only < -0.2 and not check.in_limits, (deficit, droop_only, check)
        reconnect = next(s for s in balancing.procedure() if s.step is Step.RECONNECT)
        assert reconnect.status is StepStatus.PENDING and not reconnect.enabled and "OUT" in reconnect.detail
        op = User("op-1", Role.OPERATOR)
        refused = await balancing.reconnect(by=op)
        assert refused.outcome is Outcome.REJECTED and refused.message.startswith("synchrocheck out of limits (Δf −0.")
        assert refused.message.endswith(" Hz (≤ 0.2) OUT · ΔV, Δφ not measured); nothing sent"), refused.message
        assert audit_rows(historian)[-1][1:3] == ("command", "breaker.main")
        await asyncio.sleep(1.0)
        assert not world.breaker_closed  # nothing was sent

        sheds = 0
        while not balancing.sync().in_limits:
            assert (await balancing.shed_next_stage(by=op)).outcome is Outcome.CONFIRMED
            sheds += 1
            # each stage takes about 7.5 % of the load off the battery; wait for the droop to settle again
            await asyncio.sleep(3.0)
        shed = next(s for s in balancing.procedure() if s.step is Step.SHED)
        assert (shed.status, shed.by) == (StepStatus.DONE, "op-1")
        outcome = await balancing.reconnect(by=op)
        assert outcome.outcome is Outcome.CONFIRMED and outcome.message.startswith("Breaker.Closed 0 → 1 (Δf "), \
            outcome.message
        assert world.breaker_closed and world.ufls.stages_tripped == 0  # the world re-arms the relays
        assert audit_rows(historian)[-1][:3] == ("op-1", "command", "breaker.main")
        done = next(s for s in balancing.procedure() if s.step is Step.RECONNECT)
        assert (done.status, done.by) == (StepStatus.DONE, "op-1")
        print(f"PROCEDURE deficit {deficit / 1e3:.1f} kW, droop {droop_only:+.3f} Hz, refused at "
              f"{check.df_hz:+.3f} Hz, {sheds} stage(s) shed, reconnected")
