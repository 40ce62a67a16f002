"""updateStatus cadence against a real anvil: on the interval, on a significant change, nothing while the chain
is down and exactly one current status when it is back - never a backlog, never a duplicate. Only the clock
is mocked; the snapshot is the acquisition's shape, changed by hand."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from web3 import Web3

from console.services.chain import ChainService, StatusCadence
from contracts.anvil import DEV_KEYS, Anvil
from contracts.deploy import Deployment, account_from_key, contract_at, deploy_suite, signing_web3
from contracts.gateway import ChainGateway
from contracts.outbox import Outbox
from core.bands import Band
from core.chain import TxState
from core.grid import GridSnapshot, Reading
from core.points import PointDef, PointKind, Quality
from tests.conftest import free_port, until

pytestmark = pytest.mark.contracts
OPERATOR = account_from_key(DEV_KEYS[0])


def reading(pid: str, kind: PointKind, value: float) -> Reading:
    return Reading(PointDef(id=pid, name=pid, unit="", kind=kind, nominal=230.0 if kind is PointKind.VOLTAGE
                            else math.nan), value, Quality.GOOD, 0.0, Band.NORMAL)


class World:
    """The grid the console sees, and the clock: both changed by the test."""

    def __init__(self) -> None:
        self.t = float(round(time.time()))  # the gateway checks validity on the real clock
        self.f, self.v, self.demand, self.supply = 50.0, 230.0, 40_000.0, 30_000.0

    def clock(self) -> float:
        return self.t

    def snapshot(self) -> GridSnapshot:
        return GridSnapshot(ts=self.t, frequency=reading("f", PointKind.FREQUENCY, self.f), rocof_hz_s=0.0,
                            rocof_quality=Quality.GOOD, voltages=(reading("v", PointKind.VOLTAGE, self.v),),
                            demand=reading("d", PointKind.DEMAND, self.demand),
                            supply=reading("s", PointKind.SUPPLY, self.supply), active_event=None, last_event=None)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Anvil, Deployment]]:
    with Anvil(free_port(), state=tmp_path / "anvil-state.json") as a:
        yield a, deploy_suite(signing_web3(a.url, OPERATOR))


def on_chain(url: str, dep: Deployment) -> list[tuple[int, int, int, int]]:
    grid = contract_at(Web3(Web3.HTTPProvider(url)), "GridBalance", dep.addresses["GridBalance"])
    return [(e.args.frequencyMhz, e.args.voltageMv, e.args.demandW, e.args.supplyW)
            for e in grid.events.StatusUpdated().get_logs(from_block=0)]


def test_the_cadence_rule_by_hand() -> None:
    c = StatusCadence(every_s=10.0, frequency_mhz=50, voltage_pct=2.0, power_pct=10.0, power_floor_w=1_000)
    last = (50_000, 230_000, 40_000, 30_000)
    assert c.due(0.0, None, None, last) == "first"
    assert c.due(9.9, 0.0, last, last) is None
    assert c.due(10.0, 0.0, last, last) == "interval"
    assert c.due(0.5, 0.0, last, (49_900, 230_000, 40_000, 30_000)) is None      # within min_gap_s
    assert c.due(2.0, 0.0, last, (49_951, 230_000, 40_000, 30_000)) is None      # 49 mHz < 50
    assert c.due(2.0, 0.0, last, (49_950, 230_000, 40_000, 30_000)) == "frequency"
    assert c.due(2.0, 0.0, last, (50_000, 225_400, 40_000, 30_000)) == "voltage"  # 4.6 V = 2.0 % of 230 V
    assert c.due(2.0, 0.0, last, (50_000, 225_500, 40_000, 30_000)) is None
    # 10 % of the larger of demand and supply (40 kW) is 4 kW.
    assert c.due(2.0, 0.0, last, (50_000, 230_000, 44_000, 30_000)) == "power"
    assert c.due(2.0, 0.0, last, (50_000, 230_000, 43_999, 33_999)) is None
    # A quiet grid: 10 % of 2 kW is 200 W, below the 1 kW floor - a 900 W change is not news.
    quiet = (50_000, 230_000, 2_000, 0)
    assert c.due(2.0, 0.0, quiet, (50_000, 230_000, 2_900, 0)) is None
    assert c.due(2.0, 0.0, quiet, (50_000, 230_000, 3_000, 0)) == "power"


async def test_interval_on_change_and_one_status_after_an_outage(node: tuple[Anvil, Deployment],
                                                                tmp_path: Path) -> None:
    anvil, dep = node
    world = World()
    gw = ChainGateway(anvil.url, OPERATOR, dep, Outbox(tmp_path / "outbox.db"), health_interval=0.3)
    svc = ChainService(gw, world.snapshot, publish_every_s=10.0, clock=world.clock,
                       cadence=StatusCadence(every_s=10.0))
    await gw.start()  # the service's own loop is not started: the test ticks it at the mocked times
    try:
        await until(lambda: gw.status().up, timeout=10)
        sent = []

        async def tick(dt: float) -> None:
            world.t += dt
            if (cmd := svc.publish_tick()) is not None:
                sent.append(cmd.key)
                if gw.status().up:  # on chain before the next tick: a real second passes between them
                    assert (await gw.wait(cmd.key, timeout=20)).state is TxState.CONFIRMED

        await tick(0)                      # first status at once
        for _ in range(9):
            await tick(1)                  # 1..9 s: nothing changed, not due
        await tick(1)                      # 10 s: the interval
        world.f = 49.93
        await tick(2)                      # 12 s: -70 mHz, published on change
        await tick(1)                      # 13 s: the same again, not news
        world.demand = 46_000.0
        await tick(1)                      # 14 s: +6 kW of 46 kW > 10 %
        assert len(sent) == 4

        await asyncio.sleep(1.5)  # anvil saves its state every second: the four are kept across the restart
        anvil.kill()
        await until(lambda: not gw.status().up, timeout=10)
        world.f = 49.70
        for _ in range(60):
            await tick(1)                  # a minute of outage, big changes: nothing is queued
        assert len(sent) == 4 and not gw.status().pending
        anvil.start()
        await until(lambda: gw.status().up, timeout=20)
        world.v = 228.0
        await tick(1)                      # back: the one current status
        await tick(1)
        assert len(sent) == 5
        assert (await gw.wait(sent[-1], timeout=20)).state is TxState.CONFIRMED
        await asyncio.sleep(0.5)
    finally:
        await gw.stop()
    statuses = on_chain(anvil.url, dep)
    # anvil restarts from its saved state: what it lost of the first four was broadcast again, once.
    assert statuses == [(50_000, 230_000, 40_000, 30_000), (50_000, 230_000, 40_000, 30_000),
                        (49_930, 230_000, 40_000, 30_000), (49_930, 230_000, 46_000, 30_000),
                        (49_700, 228_000, 46_000, 30_000)]


def test_a_stale_snapshot_is_not_published_twice(tmp_path: Path) -> None:
    """The same snapshot (no new data) is the same command key: the outbox keeps it once."""
    world = World()
    outbox = Outbox(tmp_path / "o.db")

    class Up:  # the gateway's status and submit, on a real outbox (no node needed to queue)
        def status(self) -> object:
            return replace_status

        def submit(self, cmd: object) -> bool:
            return outbox.add(cmd)  # type: ignore[arg-type]

    from core.chain import ChainStatus
    replace_status = ChainStatus(True, "", 1, 1, "", None, None, 6, (), (), ())
    svc = ChainService(Up(), world.snapshot, publish_every_s=10.0, clock=world.clock)  # type: ignore[arg-type]
    assert svc.publish_tick() is not None
    snap = world.snapshot()
    svc.snapshot = lambda: replace(snap)  # the clock moves on, the data does not
    world.t += 30
    assert svc.publish_tick() is None
    assert len(outbox.records(done=False)) == 1
