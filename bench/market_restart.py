"""Market restart time and memory: today's full replay of the journal vs a start from the checkpoint.

Builds one SQLite journal through a MarketService (a seeded stream as bench/market_memory.py: ``--closed``
delivery products one after another, ``--orders`` plain limit orders each from 10 participants, about half
trading, each product's gate closure ticked; then ``--open`` products with ``--open-orders`` orders each left
open), so the journal holds what a running console writes (events, order rows, fills, the live checkpoints).
Then, on that same database, alternately: a start with the checkpoint deleted (``full``: the whole journal
replayed, as every start did before migration 0011; it writes the checkpoint again) and a start from the
checkpoint (``checkpoint``), each in a fresh interpreter (imports not timed). Per start: wall seconds of
``MarketService.start()``, CPU seconds, RSS growth over the start and peak RSS (VmHWM) over the baseline.
Medians of ``--runs`` each (JSON).

    PYTHONPATH=$PWD .venv/bin/python bench/market_restart.py [--closed 110] [--orders 800] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.market import MarketRules, OrderSpec, Side

P0 = 1_800_000_000
RULES = MarketRules(tick=1, lot=100)


def _clock(t: list[float]) -> float:
    return t[0]


async def build(url: str, closed: int, orders: int, open_products: int, open_orders: int, seed: int = 1) -> dict:
    from console.services.market import MarketService
    from console.store.market_journal import SqlMarketJournal

    rng = random.Random(seed)
    clock_t = [float(P0 - 1200)]
    svc = MarketService(RULES, SqlMarketJournal(url), clock=lambda: _clock(clock_t), tick_hz=1.0)
    await svc.start()
    n = 0

    def specs(product: int, count: int) -> list[OrderSpec]:
        nonlocal n
        out = []
        for _ in range(count):
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            price = 200 + rng.randint(-10, 10) + (-3 if side is Side.BUY else 3)
            out.append(OrderSpec(f"o{n}", f"t{rng.randrange(10)}", product, side, 100 * rng.randint(1, 10), price))
            n += 1
        return out

    async def submit(batch: list[OrderSpec]) -> None:
        for i in range(0, len(batch), 250):
            await asyncio.gather(*(svc.submit(s) for s in batch[i:i + 250]))

    for k in range(closed):
        product = P0 + 900 * k
        clock_t[0] = product - 1200
        await submit(specs(product, orders))
        clock_t[0] = product - RULES.gate_closure_s
        await svc.tick()
        await asyncio.sleep(0.05)  # the tick task's closing commit, if it decided the closure first
    for k in range(closed, closed + open_products):
        await submit(specs(P0 + 900 * k, open_orders))
    out = {"events": len(svc.book.journal), "orders": n, "closed_products": closed, "open_products": open_products,
           "orders_held": len(svc.book.orders)}
    await svc.stop()
    return out


def _status(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024  # kB -> MB
    raise KeyError(key)


async def measure(url: str, mode: str) -> dict:
    """One start on ``url`` in this (fresh) interpreter: ``full`` deletes the checkpoint first."""
    from sqlalchemy import delete

    from console.services.market import MarketService
    from console.store.market_journal import SqlMarketJournal
    from console.store.schema import market_checkpoints

    journal = SqlMarketJournal(url)
    if mode == "full":
        with journal.engine.begin() as conn:
            conn.execute(delete(market_checkpoints))
    journal.next_seq()  # the engine connected (and the schema checked) before the clock starts
    svc = MarketService(RULES, journal, clock=time.time, tick_hz=1.0)
    rss0 = _status("VmRSS")
    hwm0 = _status("VmHWM")
    c0, t0 = time.process_time(), time.perf_counter()
    await svc.start()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {"mode": mode, "start_s": round(wall, 3), "cpu_s": round(cpu, 3),
           "rss_growth_mb": round(_status("VmRSS") - rss0, 1), "peak_over_base_mb": round(_status("VmHWM") - max(
               hwm0, rss0), 1), "resumed_from": svc.resumed_from, "events": len(svc.book.journal),
           "orders_held": len(svc.book.orders), "mismatches": len(svc.mismatches)}
    await svc.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--closed", type=int, default=110)
    ap.add_argument("--orders", type=int, default=800)
    ap.add_argument("--open", type=int, default=4)
    ap.add_argument("--open-orders", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.mode))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/market.sqlite"
        t0 = time.perf_counter()
        built = asyncio.run(build(url, args.closed, args.orders, args.open, args.open_orders))
        built["build_s"] = round(time.perf_counter() - t0, 1)
        built["db_mb"] = round(sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20, 1)
        runs: dict[str, list[dict]] = {"full": [], "checkpoint": []}
        for _ in range(args.runs):
            for mode in ("full", "checkpoint"):
                res = subprocess.run([sys.executable, __file__, "--measure", url, "--mode", mode], check=True,
                                     capture_output=True, text=True)
                runs[mode].append(json.loads(res.stdout.strip().splitlines()[-1]))

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[mode])

    keys = ("start_s", "cpu_s", "rss_growth_mb", "peak_over_base_mb")
    out = {"journal": built, "runs": args.runs,
           "before_full_replay": {k: med("full", k) for k in keys},
           "after_checkpoint": {k: med("checkpoint", k) for k in keys},
           "speedup": round(med("full", "start_s") / med("checkpoint", "start_s"), 1),
           "all": runs}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
