"""Settlement on a real anvil: escrow → metered delivery → proposal → dispute or finalise → pull payments."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contracts.conftest import ADMIN, ALICE, BOB, CAROL, FEE, METER_A, OUTSIDER, Suite

pytestmark = pytest.mark.contracts
PRICE = 300_000  # 0.30 ENC per kWh
DELIVERY, DISPUTE = 900, 3600  # deploy defaults


def sell(chain: Suite, amount: int, taker: str = BOB) -> tuple[Any, ...]:
    """Alice sells `amount` Wh to `taker`; returns the trade's terms as proposeSettlement wants them."""
    receipt = chain.send(chain.trade.functions.createOffer(amount, PRICE, 3600, True), ALICE)
    oid = chain.events(chain.trade, "OfferCreated", receipt)[0].args.offerId
    receipt = chain.send(chain.trade.functions.executeTrade(oid, amount), taker)
    t = chain.events(chain.settlement, "TradeOpened", receipt)[0].args
    return t.tradeId, t.seller, t.buyer, t.energyWh, t.value, t.deliveryEnd


def deliver(chain: Suite, export_wh: int) -> None:
    """Alice's meter reports `export_wh` more export (the first reading sets the baseline)."""
    meter = chain.meter.functions.meters(METER_A).call()
    if meter[2] == 0:
        chain.reading(METER_A, 0, 0)
        meter = chain.meter.functions.meters(METER_A).call()
    chain.reading(METER_A, meter[4], meter[5] + export_wh)


def owed(chain: Suite, *accounts: str) -> tuple[int, ...]:
    return tuple(chain.settlement.functions.owed(a).call() for a in accounts)


def test_full_delivery_pays_the_seller_minus_fee_and_nothing_to_the_buyer(chain: Suite) -> None:
    terms = sell(chain, 2_000)
    value = terms[4]
    assert value == 600_000
    deliver(chain, 2_500)
    chain.warp(DELIVERY)
    receipt = chain.send(chain.settlement.functions.proposeSettlement(*terms))
    ev = chain.events(chain.settlement, "SettlementProposed", receipt)[0].args
    assert (ev.deliveredWh, ev.sellerAmount, ev.fee, ev.buyerRefund) == (2_000, 597_000, 3_000, 0)
    chain.warp(DISPUTE)
    receipt = chain.send(chain.settlement.functions.finalize(*terms), OUTSIDER)  # anyone may finalise
    assert chain.events(chain.settlement, "SettlementFinalized", receipt)[0].args.deliveredWh == 2_000
    assert owed(chain, ALICE, BOB, FEE) == (597_000, 0, 3_000)
    alice0, fee0 = chain.balance(ALICE), chain.balance(FEE)
    chain.send(chain.settlement.functions.withdraw(), ALICE)
    chain.send(chain.settlement.functions.withdraw(), FEE)
    assert chain.balance(ALICE) - alice0 == 597_000
    assert chain.balance(FEE) - fee0 == 3_000
    chain.reverts(chain.settlement.functions.withdraw(), "NothingOwed", ALICE)
    chain.reverts(chain.settlement.functions.withdraw(), "NothingOwed", BOB)


def test_partial_delivery_refunds_the_buyer_pro_rata(chain: Suite) -> None:
    escrow0 = chain.balance(chain.settlement.address)
    terms = sell(chain, 2_000)
    deliver(chain, 500)
    chain.warp(DELIVERY)
    chain.send(chain.settlement.functions.proposeSettlement(*terms))
    chain.warp(DISPUTE)
    chain.send(chain.settlement.functions.finalize(*terms))
    # 500 of 2000 Wh delivered: seller earns 150,000 minus 0.5 % fee (750); buyer gets 450,000 back
    assert chain.settlement.functions.owed(ALICE).call() == 149_250
    assert chain.settlement.functions.owed(BOB).call() == 450_000
    assert chain.settlement.functions.owed(FEE).call() == 750
    before = {who: chain.balance(who) for who in (ALICE, BOB, FEE)}
    for who in (ALICE, BOB, FEE):
        chain.send(chain.settlement.functions.withdraw(), who)
    gained = {who: chain.balance(who) - before[who] for who in (ALICE, BOB, FEE)}
    assert gained == {ALICE: 149_250, BOB: 450_000, FEE: 750}
    assert chain.balance(chain.settlement.address) == escrow0  # the escrow is paid out to the last unit
    assert owed(chain, ALICE, BOB, FEE) == (0, 0, 0)


def test_export_allocated_to_one_trade_is_not_counted_again(chain: Suite) -> None:
    first = sell(chain, 1_000)
    second = sell(chain, 1_000, taker=CAROL)
    deliver(chain, 1_200)
    chain.warp(DELIVERY)
    r1 = chain.send(chain.settlement.functions.proposeSettlement(*first))
    r2 = chain.send(chain.settlement.functions.proposeSettlement(*second))
    assert chain.events(chain.settlement, "SettlementProposed", r1)[0].args.deliveredWh == 1_000
    assert chain.events(chain.settlement, "SettlementProposed", r2)[0].args.deliveredWh == 200
    assert chain.settlement.functions.allocatedExportWh(ALICE).call() == 1_200


def test_dispute_within_the_window_is_decided_by_the_operator(chain: Suite) -> None:
    terms = sell(chain, 2_000)
    deliver(chain, 2_000)
    chain.warp(DELIVERY)
    chain.send(chain.settlement.functions.proposeSettlement(*terms))
    chain.reverts(chain.settlement.functions.dispute(*terms, "not mine"), "NotTradeParty", CAROL)
    receipt = chain.send(chain.settlement.functions.dispute(*terms, "meter was tampered"), BOB)
    assert chain.events(chain.settlement, "SettlementDisputed", receipt)[0].args.reason == "meter was tampered"
    chain.warp(DISPUTE)
    chain.reverts(chain.settlement.functions.finalize(*terms), "WrongState")  # disputed: no finalise
    chain.reverts(chain.settlement.functions.resolveDispute(*terms, 1_000), "AccessControlUnauthorizedAccount", BOB)
    chain.reverts(chain.settlement.functions.resolveDispute(*terms, 2_001), "DeliveredAboveTraded")
    chain.send(chain.settlement.functions.resolveDispute(*terms, 1_000))
    assert chain.settlement.functions.owed(BOB).call() == 300_000
    assert chain.settlement.functions.allocatedExportWh(ALICE).call() == 1_000
    chain.reverts(chain.settlement.functions.resolveDispute(*terms, 1_000), "WrongState")


def test_a_ruling_above_the_metered_export_allocates_only_the_metered_export(chain: Suite) -> None:
    first = sell(chain, 1_000)
    second = sell(chain, 1_000, taker=CAROL)
    deliver(chain, 300)
    chain.warp(DELIVERY)
    chain.send(chain.settlement.functions.proposeSettlement(*first))
    chain.send(chain.settlement.functions.dispute(*first, "the meter under-reads"), ALICE)
    chain.send(chain.settlement.functions.resolveDispute(*first, 1_000))  # the operator rules: all delivered
    assert owed(chain, ALICE, BOB) == (298_500, 0)
    # Only the 300 Wh on the meter are used up; the ruling's other 700 Wh were never metered export.
    assert chain.settlement.functions.allocatedExportWh(ALICE).call() == 300
    deliver(chain, 400)
    receipt = chain.send(chain.settlement.functions.proposeSettlement(*second))  # was an underflow panic
    assert chain.events(chain.settlement, "SettlementProposed", receipt)[0].args.deliveredWh == 400
    exported = chain.meter.functions.exportedWh(ALICE).call()
    assert chain.settlement.functions.allocatedExportWh(ALICE).call() == exported == 700


def test_settlement_revert_paths(chain: Suite) -> None:
    terms = sell(chain, 1_000)
    funds = (chain.balance(chain.settlement.address), *owed(chain, ALICE, BOB, FEE))
    args = chain.reverts(chain.settlement.functions.proposeSettlement(*terms), "DeliveryNotOver")
    assert args["deliveryEnd"] == terms[5]
    chain.reverts(chain.settlement.functions.proposeSettlement(*terms), "AccessControlUnauthorizedAccount", BOB)
    forged = (terms[0], terms[1], terms[2], terms[3], terms[4] // 2, terms[5])
    chain.warp(DELIVERY)
    chain.reverts(chain.settlement.functions.proposeSettlement(*forged), "TermsMismatch")
    chain.reverts(chain.settlement.functions.proposeSettlement(99, *terms[1:]), "UnknownTrade")
    chain.reverts(chain.settlement.functions.dispute(*terms, "early"), "WrongState", BOB)
    chain.reverts(chain.settlement.functions.finalize(*terms), "WrongState", OUTSIDER)
    chain.send(chain.settlement.functions.proposeSettlement(*terms))
    chain.reverts(chain.settlement.functions.proposeSettlement(*terms), "WrongState")
    chain.reverts(chain.settlement.functions.finalize(*forged), "TermsMismatch")
    chain.reverts(chain.settlement.functions.dispute(*forged, "forged"), "TermsMismatch", BOB)
    chain.reverts(chain.settlement.functions.finalize(*terms), "DisputeWindowOpen")
    chain.warp(DISPUTE)
    chain.reverts(chain.settlement.functions.dispute(*terms, "late"), "DisputeWindowClosed", BOB)
    chain.reverts(chain.settlement.functions.resolveDispute(*terms, 0), "WrongState")  # never disputed
    assert (chain.balance(chain.settlement.address), *owed(chain, ALICE, BOB, FEE)) == funds
    chain.send(chain.settlement.functions.finalize(*terms))
    chain.reverts(chain.settlement.functions.finalize(*terms), "WrongState")
    # Nothing was delivered: the buyer is owed the whole escrow, once.
    assert owed(chain, ALICE, BOB, FEE) == (funds[1], funds[2] + terms[4], funds[3])


def test_only_the_market_moves_escrow_and_fees_are_capped(chain: Suite) -> None:
    bob0 = chain.balance(BOB)
    chain.reverts(chain.settlement.functions.escrowFrom(BOB, 1), "AccessControlUnauthorizedAccount", OUTSIDER)
    chain.reverts(chain.settlement.functions.refund(OUTSIDER, 10**9), "AccessControlUnauthorizedAccount", OUTSIDER)
    chain.reverts(chain.settlement.functions.openTrade(1, ALICE, BOB, 1, 1), "AccessControlUnauthorizedAccount", ADMIN)
    assert chain.balance(BOB) == bob0
    chain.reverts(chain.settlement.functions.setParameters(FEE, 1_001, 1, 1), "FeeTooHigh")
    chain.reverts(chain.settlement.functions.setParameters(FEE, 10, 1, 1), "AccessControlUnauthorizedAccount", BOB)
    chain.send(chain.settlement.functions.setParameters(FEE, 100, 60, 60))
    assert chain.settlement.functions.feeBps().call() == 100


def test_paused_settlement_refuses_proposals_but_still_pays_what_is_owed(chain: Suite) -> None:
    terms = sell(chain, 1_000)
    deliver(chain, 1_000)
    chain.warp(DELIVERY)
    chain.send(chain.settlement.functions.pause())
    chain.reverts(chain.settlement.functions.proposeSettlement(*terms), "EnforcedPause")
    assert chain.settlement.functions.proposals(terms[0]).call()[0] == 0  # State.None
    assert chain.settlement.functions.allocatedExportWh(ALICE).call() == 0
    # A buy offer escrows through the paused settlement: refused.
    carol0 = chain.balance(CAROL)
    chain.reverts(chain.trade.functions.createOffer(1_000, PRICE, 60, False), "EnforcedPause", CAROL)
    assert chain.balance(CAROL) == carol0
    chain.send(chain.settlement.functions.unpause())
    chain.send(chain.settlement.functions.proposeSettlement(*terms))
    chain.warp(DISPUTE)
    chain.send(chain.settlement.functions.pause())
    chain.reverts(chain.settlement.functions.finalize(*terms), "EnforcedPause")
    chain.send(chain.settlement.functions.unpause())
    chain.send(chain.settlement.functions.finalize(*terms))
    chain.send(chain.settlement.functions.pause())
    alice0 = chain.balance(ALICE)
    receipt = chain.send(chain.settlement.functions.withdraw(), ALICE)
    assert chain.events(chain.settlement, "Withdrawn", receipt)[0].args.value == 298_500
    assert chain.balance(ALICE) - alice0 == 298_500
