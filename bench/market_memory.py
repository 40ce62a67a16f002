"""Memory the market book holds after a run of closed products, with and without compaction (tracemalloc).

A seeded stream: ``--products`` delivery products one after another, ``--orders`` orders each (plain GTC limit
orders of 10 participants around a mid price, so about half trade), every product's gate closure ticked
after its orders. ``keep`` is the book as it was before compaction (every order and event of the run held);
``compact`` calls ``Book.compact()`` after each closure, as the market service does once the closure is
stored. The journal is read after every order (as the service reads each command's events). Figures: bytes
traced (``tracemalloc``, after a full collection) that the book holds at the end, and per order.

    PYTHONPATH=$PWD .venv/bin/python bench/market_memory.py [--products 40] [--orders 500]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.market import Book, MarketRules, OrderSpec, Side

P0 = 1_800_000_000


def run(products: int, orders: int, compact: bool, seed: int = 1) -> dict[str, int]:
    rng = random.Random(seed)
    rules = MarketRules(tick=1, lot=100)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    book = Book(rules)
    n = 0
    for k in range(products):
        product = P0 + 900 * k
        now = product - 1200  # the previous product's gate closure (time only goes forward)
        for i in range(orders):
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            price = 200 + rng.randint(-10, 10) + (-3 if side is Side.BUY else 3)
            book.decide_submit(OrderSpec(f"o{n}", f"t{rng.randrange(10)}", product, side,
                                         100 * rng.randint(1, 10), price), now + i // 100)
            _ = book.journal  # read, as the service reads every command's events
            n += 1
        book.tick(product - rules.gate_closure_s)
        if compact:
            book.compact()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return {"orders": n, "held_bytes": held, "per_order_bytes": round(held / n), "orders_held": len(book.orders),
            "journal_next_seq": len(book.journal), "events_held": len(list(book.journal))}


async def run_service(products: int, orders: int, seed: int = 1) -> dict[str, int]:
    """The same stream through a MarketService on a SQLite journal (orders submitted 250 at a time, so the
    writer groups them), each product's gate closure ticked: what the service holds at the end (the book,
    its indexes, the journal window; the SQLite connection pool and caches are warmed before the baseline)."""
    import asyncio
    import tempfile

    from console.services.market import MarketService
    from console.store.market_journal import SqlMarketJournal

    rng = random.Random(seed)
    rules = MarketRules(tick=1, lot=100)
    clock_t = [float(P0 - 1200)]
    with tempfile.TemporaryDirectory() as tmp:
        svc = MarketService(rules, SqlMarketJournal(f"sqlite:///{tmp}/m.sqlite"), clock=lambda: clock_t[0])
        await svc.start()
        await svc.submit(OrderSpec("warm", "t0", P0 - 900, Side.SELL, 100, 200))  # a product closed first
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        n = 0
        for k in range(products):
            product = P0 + 900 * k
            clock_t[0] = product - 1200
            specs = []
            for _ in range(orders):
                side = Side.BUY if rng.random() < 0.5 else Side.SELL
                price = 200 + rng.randint(-10, 10) + (-3 if side is Side.BUY else 3)
                specs.append(OrderSpec(f"o{n}", f"t{rng.randrange(10)}", product, side, 100 * rng.randint(1, 10),
                                       price))
                n += 1
            for i in range(0, len(specs), 250):
                await asyncio.gather(*(svc.submit(s) for s in specs[i:i + 250]))
            clock_t[0] = product - rules.gate_closure_s
            await svc.tick()
            await asyncio.sleep(0.05)  # the tick task's closing commit, if it decided the closure first
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        out: dict[str, int] = {"orders": n, "held_bytes": held, "per_order_bytes": round(held / n),
                               "orders_held": len(svc.book.orders), "journal_next_seq": len(svc.book.journal)}
        await svc.stop()
        # A restart on the same journal: what the replayed service holds, and the peak while it replayed.
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        again = MarketService(rules, SqlMarketJournal(f"sqlite:///{tmp}/m.sqlite"), clock=lambda: clock_t[0])
        await again.start()
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out |= {"restart_held_bytes": held - base, "restart_peak_bytes": peak - base,
                "restart_orders_held": len(again.book.orders)}
        await again.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=40)
    ap.add_argument("--orders", type=int, default=500)
    ap.add_argument("--service", action="store_true", help="through a MarketService on SQLite (whatever this "
                    "tree's service does: run it on the tree before and after a change to compare)")
    args = ap.parse_args()
    out: dict[str, object] = {"products": args.products, "orders_per_product": args.orders}
    if args.service:
        import asyncio

        out["service"] = asyncio.run(run_service(args.products, args.orders))
    else:
        out["keep"] = run(args.products, args.orders, compact=False)
        out["compact"] = run(args.products, args.orders, compact=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
