"""EnergyTrade on a real anvil chain: offers, partial fills, cancel, expiry and every revert path."""

from __future__ import annotations

import pytest

from contracts.roles import PAUSER
from tests.contracts.conftest import ADMIN, ALICE, BOB, CAROL, ENC, OUTSIDER, Suite

pytestmark = pytest.mark.contracts
PRICE = 250_000  # 0.25 ENC per kWh


def offer(chain: Suite, *, selling: bool = True, amount: int = 2_000, duration: int = 3600, who: str = ALICE) -> int:
    receipt = chain.send(chain.trade.functions.createOffer(amount, PRICE, duration, selling), who)
    (ev,) = chain.events(chain.trade, "OfferCreated", receipt)
    return int(ev.args.offerId)


def test_sell_offer_partial_fills_escrow_exactly_the_offer_value(chain: Suite) -> None:
    oid = offer(chain, amount=2_001)
    bob0, esc0 = chain.balance(BOB), chain.balance(chain.settlement.address)
    r1 = chain.send(chain.trade.functions.executeTrade(oid, 1_000), BOB)
    r2 = chain.send(chain.trade.functions.executeTrade(oid, 1_001), CAROL)
    (t1,), (t2,) = chain.events(chain.trade, "TradeExecuted", r1), chain.events(chain.trade, "TradeExecuted", r2)
    # 2001 Wh at 0.25 ENC/kWh = 500.25 ENC... in base units ceil(2001*250000/1000) = 500250
    assert t1.args.value + t2.args.value == 500_250
    assert (t1.args.remaining, t2.args.remaining) == (1_001, 0)
    assert chain.balance(BOB) == bob0 - t1.args.value
    assert chain.balance(chain.settlement.address) == esc0 + 500_250
    opened = chain.events(chain.settlement, "TradeOpened", r1)[0].args
    assert (opened.seller, opened.buyer, opened.energyWh) == (ALICE, BOB, 1_000)
    assert chain.trade.functions.offers(oid).call()[3] is True  # closed once filled


def test_buy_offer_escrows_on_creation_and_seller_takes_delivery(chain: Suite) -> None:
    alice0 = chain.balance(ALICE)
    oid = offer(chain, selling=False, amount=4_000)
    assert chain.balance(ALICE) == alice0 - 1_000_000  # 4 kWh × 0.25 ENC
    bob0 = chain.balance(BOB)
    receipt = chain.send(chain.trade.functions.executeTrade(oid, 1_500), BOB)
    assert chain.balance(BOB) == bob0  # the seller pays nothing; it owes energy
    opened = chain.events(chain.settlement, "TradeOpened", receipt)[0].args
    assert (opened.seller, opened.buyer, opened.value) == (BOB, ALICE, 375_000)


def test_cancel_credits_the_unused_escrow_of_a_buy_offer(chain: Suite) -> None:
    oid = offer(chain, selling=False, amount=4_000)
    chain.send(chain.trade.functions.executeTrade(oid, 1_000), BOB)
    receipt = chain.send(chain.trade.functions.cancelOffer(oid), ALICE)
    assert chain.events(chain.trade, "OfferCancelled", receipt)[0].args.unfilled == 3_000
    assert chain.settlement.functions.owed(ALICE).call() == 750_000
    chain.reverts(chain.trade.functions.executeTrade(oid, 1), "OfferClosed", BOB)
    chain.reverts(chain.trade.functions.cancelOffer(oid), "OfferClosed", ALICE)


def test_expired_offer_cannot_be_taken_and_is_closed_with_refund(chain: Suite) -> None:
    oid = offer(chain, selling=False, amount=1_000, duration=60)
    chain.reverts(chain.trade.functions.closeExpired(oid), "OfferNotExpired", BOB)
    chain.warp(61)
    bob0 = chain.balance(BOB)
    chain.reverts(chain.trade.functions.executeTrade(oid, 10), "OfferExpired", BOB)
    assert chain.balance(BOB) == bob0
    chain.send(chain.trade.functions.closeExpired(oid), OUTSIDER)
    assert chain.settlement.functions.owed(ALICE).call() == 250_000


def test_over_fill_and_double_execute_are_rejected_without_moving_funds(chain: Suite) -> None:
    oid = offer(chain, amount=1_000)
    bob0 = chain.balance(BOB)
    args = chain.reverts(chain.trade.functions.executeTrade(oid, 1_001), "OverFill", BOB)
    assert (args["requested"], args["remaining"]) == (1_001, 1_000)
    chain.send(chain.trade.functions.executeTrade(oid, 1_000), BOB)
    paid = bob0 - chain.balance(BOB)
    chain.reverts(chain.trade.functions.executeTrade(oid, 1_000), "OfferClosed", BOB)
    chain.reverts(chain.trade.functions.executeTrade(oid, 1), "OfferClosed", CAROL)
    assert bob0 - chain.balance(BOB) == paid == 250_000


@pytest.mark.parametrize(
    ("args", "error"),
    [((0, PRICE, 60, True), "ZeroAmount"), ((1, 0, 60, True), "ZeroPrice"),
     ((1, PRICE, 0, True), "DurationOutOfRange"), ((1, PRICE, 8 * 86400, True), "DurationOutOfRange"),
     ((2**128, PRICE, 60, True), "AmountTooLarge")],
)
def test_create_offer_rejects_bad_arguments(chain: Suite, args: tuple[int, int, int, bool], error: str) -> None:
    chain.reverts(chain.trade.functions.createOffer(*args), error, ALICE)


def test_only_registered_participants_trade(chain: Suite) -> None:
    chain.reverts(chain.trade.functions.createOffer(1_000, PRICE, 60, True), "NotParticipant", OUTSIDER)
    oid = offer(chain)
    chain.reverts(chain.trade.functions.executeTrade(oid, 10), "NotParticipant", OUTSIDER)
    chain.send(chain.meter.functions.removeParticipant(BOB))
    chain.reverts(chain.trade.functions.executeTrade(oid, 10), "NotParticipant", BOB)


def test_maker_rules(chain: Suite) -> None:
    oid = offer(chain)
    chain.reverts(chain.trade.functions.executeTrade(oid, 10), "OwnOffer", ALICE)
    chain.reverts(chain.trade.functions.cancelOffer(oid), "NotMaker", BOB)
    chain.reverts(chain.trade.functions.executeTrade(999, 10), "UnknownOffer", BOB)
    chain.reverts(chain.trade.functions.executeTrade(oid, 0), "ZeroAmount", BOB)


def test_pause_stops_trading_and_needs_the_pauser_role(chain: Suite) -> None:
    oid = offer(chain)
    args = chain.reverts(chain.trade.functions.pause(), "AccessControlUnauthorizedAccount", BOB)
    assert args["neededRole"] == PAUSER
    chain.send(chain.trade.functions.pause(), ADMIN)
    bob0 = chain.balance(BOB)
    chain.reverts(chain.trade.functions.executeTrade(oid, 10), "EnforcedPause", BOB)
    chain.reverts(chain.trade.functions.createOffer(1_000, PRICE, 60, True), "EnforcedPause", ALICE)
    assert chain.balance(BOB) == bob0
    chain.send(chain.trade.functions.unpause(), ADMIN)
    chain.send(chain.trade.functions.executeTrade(oid, 10), BOB)


def test_buy_offer_without_allowance_is_rejected(chain: Suite) -> None:
    chain.send(chain.token.functions.approve(chain.settlement.address, 0), CAROL)
    chain.reverts(chain.trade.functions.createOffer(1_000, PRICE, 60, False), "ERC20InsufficientAllowance", CAROL)
    assert chain.trade.functions.nextOfferId().call() == 1
    assert ENC  # one credit has 6 decimals (see conftest)
