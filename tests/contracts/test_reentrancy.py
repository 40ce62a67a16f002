"""Reentrancy through a malicious settlement token: every attempt is rejected and no balance moves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contracts.anvil import Anvil
from tests.contracts.conftest import ALICE, BOB, METER_A, METER_B, Suite, build_suite, connect

pytestmark = pytest.mark.contracts
PRICE = 250_000


@pytest.fixture(scope="module")
def evil_suite(anvil: Anvil) -> Suite:
    return build_suite(connect(anvil.url), token_name="MaliciousToken")


@pytest.fixture
def evil(evil_suite: Suite) -> Iterator[Suite]:
    snap = evil_suite.w3.provider.make_request("evm_snapshot", [])["result"]
    yield evil_suite
    evil_suite.w3.provider.make_request("evm_revert", [snap])


def arm(suite: Suite, target: str, payload: str) -> None:
    suite.send(suite.token.functions.arm(target, payload))


def disarm(suite: Suite) -> None:
    arm(suite, "0x" + "00" * 20, "0x")


def balances(suite: Suite) -> tuple[int, ...]:
    return tuple(suite.balance(a) for a in (ALICE, BOB, suite.settlement.address, suite.grid.address))


def test_withdraw_reentered_from_the_token_is_rejected(evil: Suite) -> None:
    receipt = evil.send(evil.trade.functions.createOffer(1_000, PRICE, 600, False), ALICE)
    oid = evil.events(evil.trade, "OfferCreated", receipt)[0].args.offerId
    evil.send(evil.trade.functions.cancelOffer(oid), ALICE)  # 250,000 owed back to Alice
    arm(evil, evil.settlement.address, evil.settlement.encode_abi("withdraw", []))
    before = balances(evil)
    evil.reverts(evil.settlement.functions.withdraw(), "ReentrancyGuardReentrantCall", ALICE)
    assert balances(evil) == before
    assert evil.settlement.functions.owed(ALICE).call() == 250_000
    disarm(evil)  # the refused attempt left the credit intact: paid exactly once
    evil.send(evil.settlement.functions.withdraw(), ALICE)
    assert evil.balance(ALICE) - before[0] == 250_000
    evil.reverts(evil.settlement.functions.withdraw(), "NothingOwed", ALICE)


def test_execute_trade_reentered_during_escrow_is_rejected(evil: Suite) -> None:
    receipt = evil.send(evil.trade.functions.createOffer(1_000, PRICE, 600, True), ALICE)
    oid = evil.events(evil.trade, "OfferCreated", receipt)[0].args.offerId
    arm(evil, evil.trade.address, evil.trade.encode_abi("executeTrade", [oid, 1]))
    before = balances(evil)
    evil.reverts(evil.trade.functions.executeTrade(oid, 500), "ReentrancyGuardReentrantCall", BOB)
    assert balances(evil) == before
    assert evil.trade.functions.offers(oid).call()[4] == 1_000  # remaining unchanged
    assert evil.settlement.functions.nextTradeId().call() == 1  # no trade opened
    disarm(evil)
    evil.send(evil.trade.functions.executeTrade(oid, 500), BOB)
    assert evil.trade.functions.offers(oid).call()[4] == 500
    assert before[1] - evil.balance(BOB) == 125_000


def test_claim_reentered_from_the_token_is_rejected(evil: Suite) -> None:
    receipt = evil.send(evil.grid.functions.requestDemandResponse(10_000, 600, 10**9))
    ev = evil.events(evil.grid, "DemandResponseRequested", receipt)[0].args
    evil.reading(METER_A, 0, 0)
    evil.reading(METER_B, 0, 0)
    evil.send(evil.grid.functions.optIn(ev.requestId), ALICE)
    evil.warp(ev.end - evil.now() + 1)
    evil.reading(METER_A, 100, 0)
    evil.send(evil.grid.functions.recordDelivery(ev.requestId, ALICE, 900))  # verified 900 Wh
    evil.warp(3600)
    arm(evil, evil.grid.address, evil.grid.encode_abi("claimCompensation", [ev.requestId]))
    before = balances(evil)
    evil.reverts(evil.grid.functions.claimCompensation(ev.requestId), "ReentrancyGuardReentrantCall", ALICE)
    assert balances(evil) == before
    assert evil.grid.functions.enrollments(ev.requestId, ALICE).call()[2] is False  # not marked claimed
    disarm(evil)  # so the honest claim still pays, once: 900 Wh of the 1,667 Wh asked (10 kW for 10 min)
    evil.send(evil.grid.functions.claimCompensation(ev.requestId), ALICE)
    assert evil.balance(ALICE) - before[0] == 10**9 * 900 // 1_667
    evil.reverts(evil.grid.functions.claimCompensation(ev.requestId), "AlreadyClaimed", ALICE)
