"""Gas of every operator- and participant-facing call, on a real anvil, cold (first call) and warm (second).

    .venv/bin/python bench/contract_gas.py      # JSON; the table in docs/BENCHMARKS.md comes from it
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contracts.anvil import Anvil  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.contracts.conftest import ALICE, BOB, METER_A, build_suite, connect  # noqa: E402


def main() -> None:
    with Anvil(free_port()) as anvil:
        s = build_suite(connect(anvil.url))
        gas: dict[str, list[int]] = {}

        def run(name: str, call: object, sender: str | None = None) -> object:
            receipt = s.send(call, sender) if sender else s.send(call)
            gas.setdefault(name, []).append(int(receipt["gasUsed"]))
            return receipt

        offers = []
        for _ in range(2):
            r = run("EnergyTrade.createOffer (sell)", s.trade.functions.createOffer(2_000, 250_000, 3600, True), ALICE)
            offers.append(s.events(s.trade, "OfferCreated", r)[0].args.offerId)
        for _ in range(2):
            run("EnergyTrade.createOffer (buy, escrows)", s.trade.functions.createOffer(2_000, 250_000, 3600, False),
                BOB)
        for _ in range(2):
            run("EnergyTrade.executeTrade (sell offer, pays escrow)", s.trade.functions.executeTrade(offers[0], 100),
                BOB)
        run("EnergyTrade.cancelOffer", s.trade.functions.cancelOffer(offers[1]), ALICE)
        for i in range(2):
            run("GridBalance.updateStatus", s.grid.functions.updateStatus(50_000 + i, 230_000, 1_000, 1_000))
        run("GridBalance.updateStatus (with GridAlert)", s.grid.functions.updateStatus(49_500, 230_000, 1, 1))
        for _ in range(2):
            run("GridBalance.requestDemandResponse", s.grid.functions.requestDemandResponse(10_000, 600, 10**8))
        s.reading(METER_A, 0, 0)
        for i in range(2):
            ts = s.next_ts(METER_A)
            run("MeterReading.submitReading (oracle)",
                s.meter.functions.submitReading(METER_A, ts, 100 * (i + 1), 0, False))
        ts = s.next_ts(METER_A)
        batch = [(METER_A, ts + i, 1_000 + i, 0, False) for i in range(10)]
        run("MeterReading.submitReadings (10 readings)", s.meter.functions.submitReadings(batch))
        run("AchievementNFT.mint", s.nft.functions.mint(ALICE, 0))
        from tests.contracts.test_order_settlement import gas_per_match

        for n in (1, 20):
            name = f"OrderSettlement.settleBatch per matched trade (batch of {n})"
            gas[name] = [gas_per_match(s, n), gas_per_match(s, n)]
    out = {"bench": "contract_gas", "gas": {k: {"first": v[0], "warm": v[-1]} for k, v in gas.items()}}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
