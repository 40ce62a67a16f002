"""The settlement service's memory stays bounded (issue 11, soak): signed orders and their nonces live in the
store once written; only a match not yet settled keeps its two signed orders in memory; a delivered one is due
for its dispute window end to be read (once) until it moves on."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from console.services.settlement import (
    PRUNE_EVERY_S,
    MatchRecord,
    MatchState,
    NonceReused,
    SettlementService,
    SignedOrder,
)
from console.store.settlement_store import SqlSettlementStore

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
PRODUCT = 1_800_000_000


def _message(who: str, nonce: int) -> dict[str, Any]:
    return {"participant": who, "product": PRODUCT, "side": 1, "quantity": 1000, "price": 200, "hasPrice": True,
            "kind": 0, "tif": 0, "validFrom": 0, "validUntil": 0, "condition": "", "grid": 0, "nonce": nonce}


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def test_signed_orders_and_nonces_are_not_kept_once_stored(db_url: str) -> None:
    store = SqlSettlementStore(db_url)
    service = SettlementService(store, chain=None, market=None)  # type: ignore[arg-type]  # not reached here
    assert store.order_with_nonce(ALICE, "0") is None  # the schema is made (as the console's start-up does)

    async def run() -> None:
        writer = asyncio.create_task(service._order_writer())
        # 200 signed orders, as a round of traders sends them concurrently
        await asyncio.gather(*(service.remember(f"0x{i:064x}", _message(ALICE, i), "0x" + "11" * 65)
                               for i in range(200)))
        assert (len(service._orders), len(service._nonces)) == (0, 0)  # all 200 are in the store only
        assert len(store.signed([f"0x{i:064x}" for i in range(200)])) == 200
        with pytest.raises(NonceReused, match="nonce 7 of"):  # the store still refuses a reused nonce
            await service.remember("0x" + "ee" * 32, _message(ALICE, 7), "0x" + "22" * 65)
        assert len(service._nonces) == 0
        await service.remember("0x" + "ee" * 32, _message(ALICE, 7_000), "0x" + "22" * 65)  # a new nonce: taken
        writer.cancel()

    asyncio.run(run())
    store.close()


def test_only_matches_on_their_way_to_the_chain_keep_their_signed_orders(db_url: str) -> None:
    store = SqlSettlementStore(db_url)
    clock = Clock()
    service = SettlementService(store, chain=None, market=None, clock=clock)  # type: ignore[arg-type]
    # 10 matches between orders b<i> / s<i>: 4 paid, 2 failed, one settled (escrowed, waiting for its delivery to
    # end), one in its dispute window, one matched (waiting for a batch), one batched (its settleBatch sent)
    states = [MatchState.PAID] * 4 + [MatchState.FAILED] * 2 + [
        MatchState.SETTLED, MatchState.DELIVERED, MatchState.MATCHED, MatchState.BATCHED]
    made = {}
    for i, state in enumerate(states):
        m = MatchRecord(i, PRODUCT - 100, PRODUCT, 200, 1000, f"b{i}", f"s{i}", recorded=1.0, updated=1.0)
        made[i] = replace(m, state=state, trade_id=100 + i if state in (MatchState.SETTLED, MatchState.DELIVERED)
                          else None)
        service._put(made[i])
        for side, who in (("b", BOB), ("s", ALICE)):
            service._orders[f"{side}{i}"] = SignedOrder(f"{side}{i}", who, _message(who, i), "0x" + "11" * 65)
    assert len(service._orders) == 20

    service._prune()
    assert sorted(service._orders) == ["b8", "b9", "s8", "s9"]  # the unsettled two's orders: 4 of 20
    assert service._unread_final == {7: 107}  # the delivered one: its dispute window end is to be read
    # the batch settles and the match in its dispute window is paid: the next prune, PRUNE_EVERY_S later
    for seq, state in ((9, MatchState.SETTLED), (7, MatchState.PAID)):
        before = made[seq]
        service._put(replace(before, state=state), before)
    clock.t += PRUNE_EVERY_S
    service._prune()
    assert sorted(service._orders) == ["b8", "s8"]
    assert service._unread_final == {}
    store.close()
