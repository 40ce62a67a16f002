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
    chain.send(chain.settlement.functions.finalize(*terms), OUTSIDER)  # anyone may finalise
    alice0, fee0 = chain.balance(ALICE), chain.balance(FEE)
    chain.send(chain.settlement.functions.withdraw(), ALICE)
    chain.send(chain.settlement.functions.withdraw(), FEE)
    assert chain.balance(ALICE) - alice0 == 597_000
    assert chain.balance(FEE) - fee0 == 3_000
    chain.reverts(chain.settlement.functions.withdraw(), "NothingOwed", ALICE)
    chain.reverts(chain.settlement.functions.withdraw(), "NothingOwed", BOB)


def test_partial_delivery_refunds_the_buyer_pro_rata(chain: Suite) -> None:
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
    bob0 = chain.balance(BOB)
    chain.send(chain.settlement.functions.withdraw(), BOB)
    assert chain.balance(BOB) - bob0 == 450_000


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


def test_settlement_revert_paths(chain: Suite) -> None:
    terms = sell(chain, 1_000)
    chain.reverts(chain.settlement.functions.proposeSettlement(*terms), "DeliveryNotOver")
    chain.reverts(chain.settlement.functions.proposeSettlement(*terms), "AccessControlUnauthorizedAccount", BOB)
    forged = (terms[0], terms[1], terms[2], terms[3], terms[4] // 2, terms[5])
    chain.warp(DELIVERY)
    chain.reverts(chain.settlement.functions.proposeSettlement(*forged), "TermsMismatch")
    chain.reverts(chain.settlement.functions.proposeSettlement(99, *terms[1:]), "UnknownTrade")
    chain.reverts(chain.settlement.functions.dispute(*terms, "early"), "WrongState", BOB)
    chain.send(chain.settlement.functions.proposeSettlement(*terms))
    chain.reverts(chain.settlement.functions.proposeSettlement(*terms), "WrongState")
    chain.reverts(chain.settlement.functions.finalize(*terms), "DisputeWindowOpen")
    chain.warp(DISPUTE)
    chain.reverts(chain.settlement.functions.dispute(*terms, "late"), "DisputeWindowClosed", BOB)
    chain.send(chain.settlement.functions.finalize(*terms))
    chain.reverts(chain.settlement.functions.finalize(*terms), "WrongState")


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


def test_paused_settlement_still_pays_what_is_owed(chain: Suite) -> None:
    terms = sell(chain, 1_000)
    deliver(chain, 1_000)
    chain.warp(DELIVERY)
    chain.send(chain.settlement.functions.proposeSettlement(*terms))
    chain.warp(DISPUTE)
    chain.send(chain.settlement.functions.finalize(*terms))
    chain.send(chain.settlement.functions.pause())
    # A buy offer escrows through the paused settlement: refused.
    chain.reverts(chain.trade.functions.createOffer(1_000, PRICE, 60, False), "EnforcedPause", CAROL)
    alice0 = chain.balance(ALICE)
    chain.send(chain.settlement.functions.withdraw(), ALICE)
    assert chain.balance(ALICE) - alice0 == 298_500
