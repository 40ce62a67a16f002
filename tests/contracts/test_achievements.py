"""Achievements on anvil: a milestone reached twice, with a console restart in between, mints one badge;
a lost outbox does not mint a second one either."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from console.services.achievements import AchievementService
from contracts.anvil import DEV_KEYS, Anvil
from contracts.deploy import Deployment, account_from_key, contract_at, deploy_suite, signing_web3
from contracts.gateway import ChainGateway
from contracts.outbox import Outbox
from core.achievements import Achievement, ParticipantRecord, badge_key, reached
from core.chain import TxState
from tests.conftest import free_port, until

pytestmark = pytest.mark.contracts
OPERATOR = account_from_key(DEV_KEYS[0])
ALICE = account_from_key(DEV_KEYS[1]).address


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Anvil, Deployment]]:
    with Anvil(free_port(), state=tmp_path / "anvil-state.json") as a:
        yield a, deploy_suite(signing_web3(a.url, OPERATOR))


def test_milestones_by_their_thresholds() -> None:
    assert reached(ParticipantRecord()) == []
    kinds = [m.kind for m in reached(ParticipantRecord(trades=1, bought_wh=500, sold_wh=0, exported_wh=999_999))]
    assert kinds == [Achievement.FIRST_TRADE]          # 1 MWh not yet; bought but never sold
    kinds = [m.kind for m in reached(ParticipantRecord(trades=3, bought_wh=1, sold_wh=1, exported_wh=1e6,
                                                       dr_delivered=1, dr_joined=10))]
    assert kinds == list(Achievement)


async def mint_first_trade(anvil: Anvil, dep: Deployment, db: Path,
                           record: dict[str, ParticipantRecord]) -> None:
    """One console run: the milestone is reached, its badge confirmed, and a second check asks nothing."""
    gw = ChainGateway(anvil.url, OPERATOR, dep, Outbox(db))
    service = AchievementService(gw, lambda: record, {"house-01": ALICE}, events=lambda: gw.outbox.events(10_000))
    await gw.start()
    try:
        service.check()
        key = badge_key(ALICE, Achievement.FIRST_TRADE)
        await until(lambda: (r := gw.record(key)) is not None and r.state is TxState.CONFIRMED)
        await until(lambda: any(b.state == "awarded" for b in service.badges()))
        assert service.check() == []             # reached again: nothing more asked for
    finally:
        await gw.stop()
        gw.outbox.close()


def badges_on_chain(url: str, dep: Deployment, holder: str) -> tuple[int, list[int]]:
    nft = contract_at(Web3(Web3.HTTPProvider(url)), "AchievementNFT", dep.addresses["AchievementNFT"])
    kinds = [int(e.args.kind) for e in nft.events.AchievementAwarded().get_logs(from_block=0)]
    return int(nft.functions.balanceOf(holder).call()), kinds


async def test_reached_twice_across_a_restart_mints_one_badge(node: tuple[Anvil, Deployment], tmp_path: Path) -> None:
    anvil, dep = node
    record = {"house-01": ParticipantRecord(trades=1)}
    db = tmp_path / "outbox.db"
    for _run in range(2):                        # the console, then the console restarted
        await mint_first_trade(anvil, dep, db, record)
    assert badges_on_chain(anvil.url, dep, ALICE) == (1, [int(Achievement.FIRST_TRADE)])

    # A console with a new, empty outbox reads the award back from the chain and asks for nothing.
    gw = ChainGateway(anvil.url, OPERATOR, dep, Outbox(tmp_path / "fresh.db"))
    service = AchievementService(gw, lambda: record, {"house-01": ALICE}, events=lambda: gw.outbox.events(10_000))
    await gw.start()
    try:
        await until(lambda: any(b.state == "awarded" for b in service.badges()))
        assert service.check() == []
        [badge] = service.badges()
        assert (badge.participant, badge.kind, badge.token_id) == ("house-01", Achievement.FIRST_TRADE, 1)
    finally:
        await gw.stop()
        gw.outbox.close()
    assert badges_on_chain(anvil.url, dep, ALICE) == (1, [int(Achievement.FIRST_TRADE)])
