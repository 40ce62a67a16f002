"""OrderSettlement on a real anvil: signed orders settle once, exactly, and every attack is refused.

Orders are signed with the console's own EIP-712 code (console/api/auth.py) in the contract's domain, so these
tests also prove that what the participant API accepts is what the contract verifies.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from console.api.auth import fast_digest, order_message, sign
from console.services.settlement import FAILURES, order_tuple
from contracts.anvil import CHAIN_ID, DEV_KEYS
from tests.contracts.conftest import ALICE, BOB, CAROL, OUTSIDER, Suite

pytestmark = pytest.mark.contracts
KEYS = {Account.from_key(k).address: k for k in DEV_KEYS}
PERIOD, GATE = 900, 300


def product_after(s: Suite, seconds: int = 3600) -> int:
    t = s.now() + seconds
    return t - t % PERIOD + PERIOD


def signed(s: Suite, who: str, side: str, qty: int, price: int | None, product: int, nonce: int, *,
           chain_id: int = CHAIN_ID, contract: str | None = "", signer: str | None = None,
           **extra: Any) -> tuple[dict[str, Any], str]:
    assert s.orders is not None
    msg = order_message(who, {"product": product, "side": side, "quantity": qty, "price": price, "nonce": nonce,
                              **extra})
    domain_contract = s.orders.address if contract == "" else contract
    return msg, sign("Order", msg, chain_id, KEYS[signer or who], domain_contract)


def match(seq: int, at: int, qty: int, price: int, buy: tuple[dict[str, Any], str],
          sell: tuple[dict[str, Any], str]) -> list[Any]:
    return [seq, at, qty, price, order_tuple(buy[0]), order_tuple(sell[0]), buy[1], sell[1]]


def oid(s: Suite, order: tuple[dict[str, Any], str]) -> bytes:
    assert s.orders is not None
    return fast_digest("Order", order[0], CHAIN_ID, s.orders.address)


def settle(s: Suite, matches: list[list[Any]], sender: str | None = None) -> tuple[Any, list[Any], list[Any]]:
    """Settle; returns (receipt, OrderSettled events, MatchFailed events)."""
    assert s.orders is not None
    r = s.send(s.orders.functions.settleBatch(matches), sender or s.w3.eth.default_account)
    return r, s.events(s.orders, "OrderSettled", r), s.events(s.orders, "MatchFailed", r)


def failure(events: list[Any]) -> list[str]:
    return [FAILURES[e.args.reason] for e in events]


def test_a_match_settles_once_into_escrow_as_a_trade_due_by_its_delivery_end(chain: Suite) -> None:
    s = chain
    assert s.orders is not None
    p = product_after(s)
    buy, sell = signed(s, BOB, "buy", 2_000, 260, p, 1), signed(s, ALICE, "sell", 2_000, 240, p, 1)
    # The contract's order hash is the console's order id.
    assert s.orders.functions.hashOrder(order_tuple(buy[0])).call() == oid(s, buy)
    bob, escrow = s.balance(BOB), s.balance(s.settlement.address)
    at = s.now()
    r, ok, bad = settle(s, [match(7, at, 1_500, 250, buy, sell)])
    # 1 500 Wh at 250 per kWh = 375 base units, paid by the buyer into Settlement.
    assert bad == [] and len(ok) == 1 and ok[0].args.value == 375 and ok[0].args.seq == 7
    assert s.balance(BOB) == bob - 375 and s.balance(s.settlement.address) == escrow + 375
    opened = s.events(s.settlement, "TradeOpened", r)[0].args
    assert (opened.seller, opened.buyer, opened.energyWh, opened.value, opened.deliveryEnd, opened.offerId) == (
        ALICE, BOB, 1_500, 375, p + PERIOD, 7)
    assert opened.tradeId == ok[0].args.tradeId
    assert s.orders.functions.filled(order_tuple(buy[0])).call() == [1_500, False]
    assert s.orders.functions.lastSeq().call() == 7
    # The same match again (a replay): refused, nothing moves.
    _, ok2, bad2 = settle(s, [match(7, at, 1_500, 250, buy, sell)])
    assert ok2 == [] and failure(bad2) == ["replayed"]
    # A later match over the remaining 500 Wh settles; 1 Wh more would overfill.
    _, ok3, bad3 = settle(s, [match(8, at, 501, 250, buy, sell), match(9, at, 500, 250, buy, sell)])
    assert failure(bad3) == ["buy-overfill"] and [e.args.seq for e in ok3] == [9]
    assert s.orders.functions.filled(order_tuple(sell[0])).call() == [2_000, False]
    assert s.balance(BOB) == bob - 375 - 125


def test_forged_signatures_wrong_chain_or_contract_and_altered_orders_are_refused(chain: Suite) -> None:
    s = chain
    p = product_after(s)
    at = s.now()
    sell = signed(s, ALICE, "sell", 1_000, 200, p, 1)
    forged = signed(s, BOB, "buy", 1_000, 300, p, 1, signer=CAROL)  # CAROL signs an order in BOB's name
    other_chain = signed(s, BOB, "buy", 1_000, 300, p, 2, chain_id=1)
    other_contract = signed(s, BOB, "buy", 1_000, 300, p, 3, contract=s.trade.address)
    no_contract = signed(s, BOB, "buy", 1_000, 300, p, 4, contract=None)  # the API's off-chain domain
    good = signed(s, BOB, "buy", 1_000, 300, p, 5)
    altered = ({**good[0], "price": 400}, good[1])  # the matcher raises the buyer's limit
    wrong_product = signed(s, BOB, "buy", 1_000, 300, p + PERIOD, 6)
    bad_sell = (sell[0], sell[1][:-2] + "1c" if sell[1].endswith("1b") else sell[1][:-2] + "1b")
    bob = s.balance(BOB)
    _, ok, bad = settle(s, [match(i + 1, at, 1_000, 250, b, sl) for i, (b, sl) in enumerate([
        (forged, sell), (other_chain, sell), (other_contract, sell), (no_contract, sell), (altered, sell),
        (wrong_product, sell), (good, bad_sell)])])
    assert ok == [] and s.balance(BOB) == bob
    assert failure(bad) == ["bad-buy-signature"] * 5 + ["product-mismatch", "bad-sell-signature"]


def test_prices_sides_self_trades_and_validity_are_checked(chain: Suite) -> None:
    s = chain
    p = product_after(s)
    at = s.now()
    sell = signed(s, ALICE, "sell", 1_000, 200, p, 1)
    buy = signed(s, BOB, "buy", 1_000, 300, p, 1)
    own = signed(s, ALICE, "buy", 1_000, 300, p, 2)
    expired = signed(s, BOB, "buy", 1_000, 300, p, 3, valid_until=at, tif="gtd")
    later = signed(s, BOB, "buy", 1_000, 300, p, 4, valid_from=at + 60)
    market = signed(s, BOB, "buy", 1_000, None, p, 5, kind="market-with-limit", tif="ioc")
    _, ok, bad = settle(s, [
        match(1, at, 1_000, 301, buy, sell),     # above the buyer's limit
        match(2, at, 1_000, 199, buy, sell),     # below the seller's limit
        match(3, at, 1_000, 250, sell, buy),     # sides swapped
        match(4, at, 1_000, 250, own, sell),     # ALICE with herself
        match(5, at, 0, 250, buy, sell),
        match(6, at, 1_000, 250, expired, sell),  # valid_until is exclusive
        match(7, at, 1_000, 250, later, sell),
        match(8, at + 3600, 1_000, 250, buy, sell),  # a match time in the future
        match(10, at, 1_000, 900, market, sell),  # no buyer limit: any price the seller accepts
    ])
    assert failure(bad) == ["price-not-crossed", "price-not-crossed", "not-buy-sell", "self-trade", "zero-quantity",
                            "buy-not-valid", "buy-not-valid", "matched-in-future"]
    assert [e.args.seq for e in ok] == [10] and ok[0].args.value == 900


def test_too_late_after_the_settle_delay_or_delivery_start(chain: Suite) -> None:
    s = chain
    p = product_after(s, 1200)
    at = s.now()
    buy, sell = signed(s, BOB, "buy", 1_000, 300, p, 1), signed(s, ALICE, "sell", 1_000, 200, p, 1)
    s.warp(901)  # max settle delay 900 s
    _, ok, bad = settle(s, [match(1, at, 1_000, 250, buy, sell)])
    assert ok == [] and failure(bad) == ["too-late"]
    _, ok, bad = settle(s, [match(2, s.now() - 10, 1_000, 250, buy, sell)])
    assert len(ok) == 1
    # Matched at or after gate closure (GATE s before delivery): refused; after delivery start: too late.
    buy2, sell2 = signed(s, BOB, "buy", 1_000, 300, p, 2), signed(s, ALICE, "sell", 1_000, 200, p, 2)
    s.warp(p - GATE - s.now())
    _, ok, bad = settle(s, [match(3, s.now(), 1_000, 250, buy2, sell2), match(4, s.now() - 2, 500, 250, buy2, sell2)])
    assert failure(bad) == ["gate-closed"] and [e.args.seq for e in ok] == [4]
    s.warp(p - s.now())
    _, ok, bad = settle(s, [match(5, s.now() - GATE - 5, 500, 250, buy2, sell2)])
    assert failure(bad) == ["too-late"]


def test_cancelled_orders_do_not_settle_and_only_the_maker_cancels(chain: Suite) -> None:
    s = chain
    assert s.orders is not None
    p = product_after(s)
    at = s.now()
    buy, sell = signed(s, BOB, "buy", 1_000, 300, p, 1), signed(s, ALICE, "sell", 1_000, 200, p, 1)
    s.reverts(s.orders.functions.cancel(order_tuple(buy[0])), "NotMaker", CAROL)
    r = s.send(s.orders.functions.cancel(order_tuple(buy[0])), BOB)
    assert s.events(s.orders, "OrderCancelled", r)[0].args.orderHash == oid(s, buy)
    _, ok, bad = settle(s, [match(1, at, 1_000, 250, buy, sell)])
    assert ok == [] and failure(bad) == ["buy-cancelled"]
    assert s.orders.functions.filled(order_tuple(buy[0])).call() == [0, True]


def test_a_cancel_raced_by_a_settlement_in_one_block(chain: Suite) -> None:
    """Both land in one block: whichever the block orders first wins; never both, never a half state."""
    s = chain
    assert s.orders is not None
    p = product_after(s)
    at = s.now()
    buy, sell = signed(s, BOB, "buy", 2_000, 300, p, 1), signed(s, ALICE, "sell", 2_000, 200, p, 1)
    bob = s.balance(BOB)
    s.w3.provider.make_request("evm_setAutomine", [False])
    try:
        t1 = s.orders.functions.settleBatch([match(1, at, 1_000, 250, buy, sell)]).transact(
            {"from": s.w3.eth.default_account, "gas": 1_000_000})
        t2 = s.orders.functions.cancel(order_tuple(buy[0])).transact({"from": BOB, "gas": 200_000})
        s.w3.provider.make_request("evm_mine", [])
    finally:
        s.w3.provider.make_request("evm_setAutomine", [True])
    r1, r2 = (s.w3.eth.get_transaction_receipt(t) for t in (t1, t2))
    assert r1["blockNumber"] == r2["blockNumber"] and r1["status"] == r2["status"] == 1
    settled = s.events(s.orders, "OrderSettled", r1)
    if r1["transactionIndex"] < r2["transactionIndex"]:  # settled first: 1 000 Wh stay settled, the rest cancelled
        assert len(settled) == 1 and s.balance(BOB) == bob - 250
        assert s.orders.functions.filled(order_tuple(buy[0])).call() == [1_000, True]
    else:
        assert settled == [] and s.balance(BOB) == bob
        assert failure(s.events(s.orders, "MatchFailed", r1)) == ["buy-cancelled"]
    # Either way nothing more of it settles.
    _, ok, bad = settle(s, [match(2, at, 1_000, 250, buy, sell)])
    assert ok == [] and failure(bad) == ["buy-cancelled"]


def test_insufficient_escrow_skips_that_match_and_settles_the_rest(chain: Suite) -> None:
    s = chain
    assert s.orders is not None
    p = product_after(s)
    at = s.now()
    s.send(s.token.functions.approve(s.settlement.address, 100), CAROL)  # covers 100 base units only
    poor = signed(s, CAROL, "buy", 1_000, 300, p, 1)
    rich = signed(s, BOB, "buy", 1_000, 300, p, 1)
    sell = signed(s, ALICE, "sell", 2_000, 200, p, 1)
    carol, bob = s.balance(CAROL), s.balance(BOB)
    _, ok, bad = settle(s, [match(1, at, 1_000, 250, poor, sell), match(2, at, 1_000, 250, rich, sell)])
    assert failure(bad) == ["escrow-failed"] and [e.args.seq for e in ok] == [2]
    assert s.balance(CAROL) == carol and s.balance(BOB) == bob - 250
    # The failed match left no fill behind: the seller's order has exactly the 1 000 Wh settled with BOB.
    assert s.orders.functions.filled(order_tuple(sell[0])).call() == [1_000, False]
    assert s.orders.functions.filled(order_tuple(poor[0])).call() == [0, False]


def test_only_a_matcher_settles_and_a_paused_contract_settles_nothing(chain: Suite) -> None:
    s = chain
    assert s.orders is not None
    p = product_after(s)
    at = s.now()
    m = match(1, at, 1_000, 250, signed(s, BOB, "buy", 1_000, 300, p, 1), signed(s, ALICE, "sell", 1_000, 200, p, 1))
    s.reverts(s.orders.functions.settleBatch([m]), "AccessControlUnauthorizedAccount", OUTSIDER)
    s.reverts(s.orders.functions.settleBatch([m]), "AccessControlUnauthorizedAccount", ALICE)
    s.reverts(s.orders.functions.settleBatch([]), "EmptyBatch")
    s.send(s.orders.functions.pause())
    s.reverts(s.orders.functions.settleBatch([m]), "EnforcedPause")
    s.send(s.orders.functions.unpause())
    assert len(settle(s, [m])[1]) == 1


def test_seed_offers_keep_working_beside_signed_orders(chain: Suite) -> None:
    s = chain
    r = s.send(s.trade.functions.createOffer(1_000, 250_000, 3600, True), ALICE)
    offer = s.events(s.trade, "OfferCreated", r)[0].args.offerId
    r = s.send(s.trade.functions.executeTrade(offer, 400), BOB)
    assert s.events(s.settlement, "TradeOpened", r)[0].args.value == 100_000


def gas_per_match(s: Suite, n: int = 20) -> int:
    """Gas of one settleBatch of `n` matches between distinct fresh orders, per match (contract state warm: one
    batch settled before; each maker's nonces run on as a client's counter does)."""
    assert s.orders is not None
    p = product_after(s)
    at = s.now()
    base = int(s.orders.functions.lastSeq().call()) + 1
    buyers, seller = (BOB, CAROL), ALICE
    settle(s, [match(base, at, 1_000, 250, signed(s, BOB, "buy", 1_000, 300, p, base * 1000),
                     signed(s, seller, "sell", 1_000, 200, p, base * 1000))])
    matches = [match(base + 1 + i, at, 1_000, 250, signed(s, buyers[i % 2], "buy", 1_000, 300, p, base * 1000 + 1 + i),
                     signed(s, seller, "sell", 1_000, 200, p, base * 1000 + 1 + i)) for i in range(n)]
    r, ok, bad = settle(s, matches)
    assert bad == [] and len(ok) == n
    return int(r["gasUsed"]) // n


def test_gas_per_matched_trade_in_a_batch_of_20(chain: Suite) -> None:
    used = gas_per_match(chain)
    assert used <= 90_000, f"{used:,} gas per matched trade, goal 90,000"


def test_a_contract_wallet_signs_through_erc1271(chain: Suite) -> None:
    """SignatureChecker: an order made by a contract wallet settles when the wallet vouches for the signature."""
    from contracts.deploy import deploy_contract

    s = chain
    wallet = deploy_contract(s.w3, "WalletMock", CAROL)
    s.send(s.token.functions.mint(wallet.address, 1_000))
    s.send(wallet.functions.approve(s.token.address, s.settlement.address, 2**255), CAROL)
    p = product_after(s)
    at = s.now()
    buy = signed(s, wallet.address, "buy", 1_000, 300, p, 1, signer=CAROL)  # the owner's key signs for the wallet
    stranger = signed(s, wallet.address, "buy", 1_000, 300, p, 2, signer=BOB)
    sell = signed(s, ALICE, "sell", 2_000, 200, p, 1)
    _, ok, bad = settle(s, [match(1, at, 1_000, 250, stranger, sell), match(2, at, 1_000, 250, buy, sell)])
    assert failure(bad) == ["bad-buy-signature"] and [e.args.seq for e in ok] == [2]
    assert s.balance(wallet.address) == 1_000 - 250
