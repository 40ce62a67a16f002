"""Market book benchmark: submit + match of random orders, against a bare price-level book.

Superseded by ``bench/matching.py`` (the issue's mix of limit, IOC, FOK and cancel against a bare
book that does the same matching work, checked trade for trade); kept because docs/decisions.md
quotes its figures.

1. ``limit``: N random limit orders (GTC) around a mid price in one product,
   each submitted with ``Book.submit`` (validation, matching, events, journal).
2. ``mix``: the same stream with 15 % IOC, 5 % FOK and a cancel of an earlier
   order after every 10th submission.
3. ``baseline``: the same limit stream through a bare sortedcontainers
   price-level book (SortedList of price keys, a deque per level, matching
   loop, no validation, no events) measured in the same run.

Orders are generated before timing (seeded). Medians of RUNS runs, orders/s.

    .venv/bin/python bench/market_book.py [--orders 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sortedcontainers import SortedList  # noqa: E402

from bench.stats import machine  # noqa: E402
from core.market import Book, MarketRules, OrderSpec, Side, TimeInForce  # noqa: E402

PRODUCT = 1_800_000_000
NOW = PRODUCT - 3600
MID = 2000  # base units per kWh
SPREAD_TICKS = 40


def make_stream(n: int, seed: int, mix: bool) -> list[OrderSpec]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        side = Side.BUY if rnd.random() < 0.5 else Side.SELL
        # Buys a little below mid and sells a little above, overlapping: about half the orders trade.
        offset = rnd.randint(-SPREAD_TICKS, SPREAD_TICKS // 2)
        price = MID + offset if side is Side.BUY else MID - offset
        tif = TimeInForce.GTC
        if mix:
            r = rnd.random()
            tif = TimeInForce.IOC if r < 0.15 else TimeInForce.FOK if r < 0.20 else TimeInForce.GTC
        out.append(OrderSpec(f"o{i}", f"p{rnd.randrange(50)}", PRODUCT, side, rnd.randint(1, 20) * 100, price, tif=tif))
    return out


def run_book(stream: list[OrderSpec], cancels: bool) -> tuple[float, int]:
    book = Book(MarketRules(lot=100, tick=1))
    submit, cancel = book.submit, book.cancel
    rnd = random.Random(7)
    t0 = time.perf_counter()
    for i, spec in enumerate(stream):
        submit(spec, NOW)
        if cancels and i % 10 == 9:
            victim = stream[rnd.randrange(i + 1)]
            cancel(victim.order_id, victim.participant, NOW)
    elapsed = time.perf_counter() - t0
    return elapsed, len(book.journal)


def run_baseline(stream: list[tuple[bool, int, int]]) -> float:
    """A bare price-level book: SortedList of keys (price for asks, -price for bids), deque per level."""
    keys = {True: SortedList(), False: SortedList()}  # True: bids
    levels: dict[bool, dict[int, deque[list[int]]]] = {True: {}, False: {}}
    t0 = time.perf_counter()
    for is_buy, price, qty in stream:
        opp_keys, opp_levels = keys[not is_buy], levels[not is_buy]
        limit_key = price if is_buy else -price
        while qty and opp_keys:
            key = opp_keys[0]
            if key > limit_key:
                break
            level = opp_levels[key]
            head = level[0]
            q = min(qty, head[0])
            qty -= q
            head[0] -= q
            if not head[0]:
                level.popleft()
                if not level:
                    del opp_levels[key]
                    opp_keys.remove(key)
        if qty:
            key = -price if is_buy else price
            own = levels[is_buy]
            level = own.get(key)
            if level is None:
                level = own[key] = deque()
                keys[is_buy].add(key)
            level.append([qty])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    n = args.orders
    limit_stream = make_stream(n, 1, mix=False)
    mix_stream = make_stream(n, 1, mix=True)
    bare_stream = [(s.side is Side.BUY, s.price or 0, s.quantity) for s in limit_stream]
    ours, mixed, bare = [], [], []
    events = 0
    for _ in range(args.runs):  # interleaved, so machine noise hits all three alike
        elapsed, events = run_book(limit_stream, cancels=False)
        ours.append(n / elapsed)
        mixed.append((n + n // 10) / run_book(mix_stream, cancels=True)[0])
        bare.append(n / run_baseline(bare_stream))
    result = {
        "benchmark": "market_book",
        "orders": n,
        "runs": args.runs,
        "events_per_limit_run": events,
        "book_limit_orders_per_s": round(statistics.median(ours)),
        "book_mix_requests_per_s": round(statistics.median(mixed)),
        "baseline_bare_sortedcontainers_orders_per_s": round(statistics.median(bare)),
        "ratio_book_to_baseline": round(statistics.median(ours) / statistics.median(bare), 3),
        "runs_book_limit": [round(x) for x in ours],
        "runs_baseline": [round(x) for x in bare],
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
