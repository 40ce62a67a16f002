"""Gas of the hot paths against the goals (deterministic: gas, not time), warm storage as in operation."""

from __future__ import annotations

import pytest

from tests.contracts.conftest import ALICE, BOB, Suite

pytestmark = pytest.mark.contracts
GOALS = {"createOffer": 90_000, "executeTrade": 120_000, "updateStatus": 50_000}


def gas_used(chain: Suite) -> dict[str, int]:
    """Second call of each (counters, balances and status slots already non-zero)."""
    out = {}
    for _ in range(2):
        r = chain.send(chain.trade.functions.createOffer(1_000, 250_000, 3600, True), ALICE)
        out["createOffer"] = r["gasUsed"]
    oid = chain.events(chain.trade, "OfferCreated", r)[0].args.offerId
    for _ in range(2):
        out["executeTrade"] = chain.send(chain.trade.functions.executeTrade(oid, 100), BOB)["gasUsed"]
    for i in range(2):
        call = chain.grid.functions.updateStatus(50_000 + i, 230_000, 1_000, 1_000)
        out["updateStatus"] = chain.send(call)["gasUsed"]
    return out


def test_hot_paths_meet_their_gas_goals(chain: Suite) -> None:
    used = gas_used(chain)
    for fn, goal in GOALS.items():
        assert used[fn] <= goal, f"{fn} uses {used[fn]:,} gas, goal {goal:,}"
