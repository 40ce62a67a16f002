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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=40)
    ap.add_argument("--orders", type=int, default=500)
    args = ap.parse_args()
    out = {"products": args.products, "orders_per_product": args.orders,
           "keep": run(args.products, args.orders, compact=False),
           "compact": run(args.products, args.orders, compact=True)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
