"""Memory a MarketService holds for the participants' trade histories, and the history query's time (issue 11).

A seeded stream through a MarketService on a SQLite journal: ``--trades`` trades (100 Wh each, at one
price) between ``--participants`` participants, ``--per-product`` trades per delivery product, each
product's gate closure ticked after its trades (so the book compacts the closed product, as in a run). Each
trade is a resting sell then a buy that takes it (submitted 250 at a time, so the writer groups them).
Figures: bytes traced (``tracemalloc``, after a full collection, the SQLite pool warmed before the baseline)
that the service holds at the end, and the time of ``trades_of(p, 1000)`` for the participant with the
most trades (median of ``--runs`` calls, after one warm-up call). Whatever this tree's service does: run it
on the tree before and after a change to compare (``trades_of`` sync before issue 11, async after).

    PYTHONPATH=$PWD .venv/bin/python bench/market_history_memory.py [--trades 50000] [--participants 70]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.services.market import MarketService
from console.store.market_journal import SqlMarketJournal
from core.market import MarketRules, OrderSpec, Side

P0 = 1_800_000_000


async def history(svc: MarketService, who: str, limit: int) -> list[object]:
    out = svc.trades_of(who, limit)
    return list(await out if inspect.isawaitable(out) else out)


async def run(trades: int, participants: int, per_product: int, runs: int, seed: int = 1) -> dict[str, object]:
    rng = random.Random(seed)
    rules = MarketRules(tick=1, lot=100)
    clock_t = [float(P0 - 1200)]
    counts: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        svc = MarketService(rules, SqlMarketJournal(f"sqlite:///{tmp}/m.sqlite"), clock=lambda: clock_t[0])
        await svc.start()
        await svc.submit(OrderSpec("warm", "p0", P0 - 900, Side.SELL, 100, 200))  # a product closed first
        await history(svc, "p0", 1000)
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        n = 0
        for k in range(0, trades, per_product):
            product = P0 + 900 * (k // per_product)
            clock_t[0] = product - 1200
            for i in range(k, min(k + per_product, trades), 250):
                pairs = []
                for j in range(i, min(i + 250, k + per_product, trades)):
                    seller, buyer = rng.sample(range(participants), 2)
                    pairs.append((OrderSpec(f"s{j}", f"p{seller}", product, Side.SELL, 100, 200),
                                  OrderSpec(f"b{j}", f"p{buyer}", product, Side.BUY, 100, 200)))
                    counts[f"p{seller}"] += 1
                    counts[f"p{buyer}"] += 1
                await asyncio.gather(*(svc.submit(s) for s, _ in pairs))
                outs = await asyncio.gather(*(svc.submit(b) for _, b in pairs))
                n += sum(len(o.trades) for o in outs)
            clock_t[0] = product - rules.gate_closure_s
            await svc.tick()
            await asyncio.sleep(0.05)  # the tick task's closing commit, if it decided the closure first
        wall = time.perf_counter() - t0
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        who, most = counts.most_common(1)[0]
        got = await history(svc, who, 1000)  # warm-up (and a check)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            await history(svc, who, 1000)
            times.append(time.perf_counter() - t)
        await svc.stop()
    return {"trades": n, "participants": participants, "trades_per_product": per_product,
            "held_bytes": held, "held_mb": round(held / 2**20, 2), "per_trade_bytes": round(held / n),
            "orders_held": len(svc.book.orders), "run_s": round(wall, 1),
            "history_participant": who, "history_participant_trades": most, "history_rows": len(got),
            "history_1000_ms_median": round(statistics.median(times) * 1000, 2),
            "history_1000_ms_min": round(min(times) * 1000, 2), "history_runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trades", type=int, default=50_000)
    ap.add_argument("--participants", type=int, default=70)
    ap.add_argument("--per-product", type=int, default=5_000)
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args.trades, args.participants, args.per_product, args.runs)), indent=2))


if __name__ == "__main__":
    main()
