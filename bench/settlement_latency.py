"""Match -> confirmed on chain: from a trade journaled by the market to its OrderSettled event followed by the
settlement service, on anvil mining a block every second (`evm_setIntervalMining 1`, as `anvil --block-time 1`;
the suite is deployed before, with instant mining, to keep the setup short).

    .venv/bin/python bench/settlement_latency.py [--trades 200] [--rate 10]     # JSON; goal p95 <= 3 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eth_account import Account  # noqa: E402

from console.api.auth import fast_digest, order_message, sign  # noqa: E402
from console.services.market import MarketService  # noqa: E402
from console.services.settlement import MatchState, SettlementService, p95  # noqa: E402
from console.store.market_journal import SqlMarketJournal  # noqa: E402
from console.store.settlement_store import SqlSettlementStore  # noqa: E402
from contracts.anvil import CHAIN_ID, DEV_KEYS, Anvil  # noqa: E402
from contracts.gateway import ChainGateway  # noqa: E402
from contracts.outbox import Outbox  # noqa: E402
from core.market import MarketRules, OrderSpec, Side  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.contracts.conftest import ALICE, BOB, build_suite, connect  # noqa: E402
from tests.support.market_console import deployment  # noqa: E402

KEYS = {Account.from_key(k).address: k for k in DEV_KEYS}


async def run(trades: int, rate: float, tmp: Path, url: str, dep_contract: str, dep: object) -> dict[str, object]:
    db = f"sqlite:///{tmp / 'bench.sqlite'}"
    gateway = ChainGateway(url, Account.from_key(DEV_KEYS[0]), dep, Outbox(tmp / "outbox.db"),  # type: ignore[arg-type]
                           poll_interval=0.05)  # the console's defaults otherwise (health probe 1 s)
    market = MarketService(MarketRules(tick=1, lot=100), SqlMarketJournal(db))
    service = SettlementService(SqlSettlementStore(db), gateway, market, max_wait_s=0.2, poll_s=0.05)
    for part in (gateway, market, service):
        await part.start()
    t = int(time.time()) + 1800
    product = t - t % 900
    matched: dict[int, float] = {}
    done: dict[int, float] = {}

    async def watch() -> None:
        while len(done) < trades:
            now = time.monotonic()
            for seq in list(matched):
                if seq not in done:
                    m = service.match(seq)
                    if m is not None and m.state is MatchState.SETTLED:
                        done[seq] = now
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    try:
        for i in range(trades):
            specs = []
            for who, side in ((ALICE, "sell"), (BOB, "buy")):
                body = {"product": product, "side": side, "quantity": 1000, "price": 200, "nonce": i}
                msg = order_message(who, body)
                oid = "0x" + fast_digest("Order", msg, CHAIN_ID, dep_contract).hex()
                await service.remember(oid, msg, sign("Order", msg, CHAIN_ID, KEYS[who], dep_contract))
                specs.append(OrderSpec(oid, who, product, Side(side), 1000, 200))
            await market.submit(specs[0])
            outcome = await market.submit(specs[1])
            for trade in outcome.trades:
                matched[trade.seq] = time.monotonic()
            await asyncio.sleep(1 / rate)
        await asyncio.wait_for(watcher, timeout=60)
    finally:
        for part in (service, market, gateway):
            await part.stop()
    lat = [done[s] - matched[s] for s in matched]
    return {"trades": trades, "rate_per_s": rate, "p50_s": round(statistics.median(lat), 3),
            "p95_s": round(p95(lat), 3), "max_s": round(max(lat), 3), "goal_p95_s": 3.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trades", type=int, default=200)
    ap.add_argument("--rate", type=float, default=10.0)
    args = ap.parse_args()
    with Anvil(free_port()) as node, tempfile.TemporaryDirectory() as tmp:
        suite = build_suite(connect(node.url))
        dep = deployment(suite)
        suite.w3.provider.make_request("evm_setIntervalMining", [1])
        out = asyncio.run(run(args.trades, args.rate, Path(tmp), node.url, dep.addresses["OrderSettlement"], dep))
    print(json.dumps({"bench": "settlement_latency", "block_time_s": 1, **out}, indent=2))


if __name__ == "__main__":
    main()
