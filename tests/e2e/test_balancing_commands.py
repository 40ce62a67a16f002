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
