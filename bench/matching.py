"""Matching benchmark: the event-sourced ``Book`` against a bare sortedcontainers book, same stream, same run.

The stream (seeded, generated before timing) is one product, 50 participants,
buys a little below and sells a little above a mid price with overlap, so about
half the orders trade. Requests, in these proportions:

* 55 % limit (GTC) orders — they match and the remainder rests;
* 20 % IOC — they match what they can, the remainder is cancelled;
* 10 % FOK — all or nothing against the book at that instant;
* 15 % cancel of one of the last 200 limit orders (some are filled by then:
  both books then refuse the cancel).

Both books do the same matching work — price-time priority, trades at the
resting price, partial fills, IOC remainders, the FOK check, self-trade
prevention (cancel the incoming order), cancel by id — and the run checks that
they traded exactly the same quantity in the same number of trades. The bare
book (``BareBook``) is what a matcher without the rest is: a SortedList of
price keys and an insertion-ordered dict per level, the best key cached; no
validation, no order states, no events, no journal. The ``Book`` does
everything the service relies on: validates each request, keeps every
order's state, decides, applies and journals every event. It is driven
through ``decide_submit`` / ``decide_cancel``: the matching path journals
compact records that become the event objects when the journal is first read
(core/market/records.py). That reading is timed too, after each run
(``book_with_events``: requests/s counting the run plus turning the whole
journal into events, what a reader of every event pays).

Runs alternate between the two (machine noise hits both alike); the figures
are medians over ``--runs`` runs in requests per second.

Both books are measured under two garbage-collector settings, in the same run:

* ``default``: CPython's thresholds (700, 10, 10);
* ``service``: what a process that runs the book should do (docs/market.md,
  "Running the book"): ``gc.freeze()`` once its start-up state is built
  (after replaying the journal) and a first threshold of 10 000
  (``gc.set_threshold(10_000, 10, 10)``). About three objects per request
  survive in the book (the order and its events, kept by the journal), so
  with the default a young collection runs every ~250 requests.

Figures: requests per second from CPU time of this process (the headline:
on a shared machine wall time also counts the time spent waiting for a core)
and from wall time.

    .venv/bin/python bench/matching.py [--orders 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sortedcontainers import SortedList  # noqa: E402

from bench.stats import machine  # noqa: E402
from core.market import Book, MarketRules, OrderSpec, Side, TimeInForce, Traded  # noqa: E402

PRODUCT = 1_800_000_000
NOW = PRODUCT - 3600
MID = 2000  # base units per kWh
SPREAD_TICKS = 40
PARTICIPANTS = 50
MIX = (("limit", 0.55), ("ioc", 0.20), ("fok", 0.10), ("cancel", 0.15))
CANCEL_WINDOW = 200  # a cancel names one of the last this many limit orders

LIMIT, IOC, FOK, CANCEL = 0, 1, 2, 3
TIF = {LIMIT: TimeInForce.GTC, IOC: TimeInForce.IOC, FOK: TimeInForce.FOK}

# One request: (what, order id, participant, is_buy, price, quantity); a cancel has only the first three.
Request = tuple[int, str, str, bool, int, int]


def make_stream(n: int, seed: int) -> list[Request]:
    rnd = random.Random(seed)
    bounds = []
    acc = 0.0
    for _, share in MIX:
        acc += share
        bounds.append(acc)
    out: list[Request] = []
    recent: list[tuple[str, str]] = []
    for i in range(n):
        r = rnd.random()
        what = next(k for k, b in enumerate(bounds) if r < b)
        if what == CANCEL and recent:
            oid, who = recent[rnd.randrange(len(recent))]
            out.append((CANCEL, oid, who, False, 0, 0))
            continue
        if what == CANCEL:
            what = LIMIT
        is_buy = rnd.random() < 0.5
        offset = rnd.randint(-SPREAD_TICKS, SPREAD_TICKS // 2)
        price = MID + offset if is_buy else MID - offset
        oid, who = f"o{i}", f"p{rnd.randrange(PARTICIPANTS)}"
        out.append((what, oid, who, is_buy, price, rnd.randint(1, 20) * 100))
        if what == LIMIT:
            recent.append((oid, who))
            if len(recent) > CANCEL_WINDOW:
                recent.pop(0)
    return out


def book_requests(stream: list[Request]) -> list[tuple[int, OrderSpec | tuple[str, str]]]:
    """The stream as the Book's arguments (built before timing, as the API would hand them over)."""
    out: list[tuple[int, OrderSpec | tuple[str, str]]] = []
    for what, oid, who, is_buy, price, qty in stream:
        if what == CANCEL:
            out.append((what, (oid, who)))
        else:
            side = Side.BUY if is_buy else Side.SELL
            out.append((what, OrderSpec(oid, who, PRODUCT, side, qty, price, tif=TIF[what])))
    return out


Timing = tuple[float, float]  # (wall s, CPU s of this process)


GC_SETTINGS = {"default": (700, 10, 10), "service": (10_000, 10, 10)}


def gc_start(setting: str) -> None:
    gc.collect()
    if setting == "service":
        gc.freeze()
    gc.set_threshold(*GC_SETTINGS[setting])


def gc_end() -> None:
    gc.set_threshold(*GC_SETTINGS["default"])
    gc.unfreeze()


def run_book(requests: list[tuple[int, OrderSpec | tuple[str, str]]], setting: str) -> tuple[Timing, Book, float]:
    """(wall, CPU) of the run, the book, and the CPU s of reading its journal as events afterwards."""
    book = Book(MarketRules(lot=100, tick=1))
    submit, cancel = book.decide_submit, book.decide_cancel
    gc_start(setting)
    t0, c0 = time.perf_counter(), time.process_time()
    for what, arg in requests:
        if what == CANCEL:
            cancel(arg[0], arg[1], NOW)
        else:
            submit(arg, NOW)  # type: ignore[arg-type]
    elapsed = (time.perf_counter() - t0, time.process_time() - c0)
    c1 = time.process_time()
    _ = book.journal  # the records become events (under the same GC setting)
    materialise = time.process_time() - c1
    gc_end()
    return elapsed, book, materialise


class BareBook:
    """The matching work alone: one product, SortedList of keys + a dict per level, no events.

    Keys order the levels best first: the price for asks, minus the price for bids.
    An entry is ``[remaining, order_id, participant]``.
    """

    EMPTY = 2**62

    def __init__(self) -> None:
        self.keys = {True: SortedList(), False: SortedList()}  # True: bids
        self.levels: dict[bool, dict[int, dict[str, list[object]]]] = {True: {}, False: {}}
        self.best = {True: self.EMPTY, False: self.EMPTY}
        self.resting: dict[str, tuple[bool, int]] = {}  # order id -> (side, key)
        self.traded = 0
        self.trades = 0

    def cancel(self, oid: str) -> bool:
        where = self.resting.pop(oid, None)
        if where is None:
            return False
        is_buy, key = where
        level = self.levels[is_buy][key]
        del level[oid]
        if not level:
            self._drop_level(is_buy, key)
        return True

    def _drop_level(self, is_buy: bool, key: int) -> None:
        del self.levels[is_buy][key]
        keys = self.keys[is_buy]
        keys.remove(key)
        if key == self.best[is_buy]:
            self.best[is_buy] = keys[0] if keys else self.EMPTY

    def fillable(self, is_buy: bool, who: str, limit_key: int, need: int) -> bool:
        opp = not is_buy
        levels = self.levels[opp]
        total = 0
        for key in self.keys[opp]:
            if key > limit_key:
                break
            for entry in levels[key].values():
                if entry[2] == who:
                    return False  # self-trade prevention stops the order here
                total += entry[0]  # type: ignore[operator]
                if total >= need:
                    return True
        return False

    def submit(self, what: int, oid: str, who: str, is_buy: bool, price: int, qty: int) -> None:
        opp = not is_buy
        limit_key = price if is_buy else -price
        if what == FOK and not self.fillable(is_buy, who, limit_key, qty):
            return
        levels = self.levels[opp]
        best = self.best
        resting = self.resting
        while qty:
            key = best[opp]
            if key > limit_key:
                break
            level = levels[key]
            head = next(iter(level.values()))
            if head[2] == who:
                return  # self-trade prevention: the incoming remainder is cancelled
            avail: int = head[0]  # type: ignore[assignment]
            q = qty if qty < avail else avail
            qty -= q
            self.traded += q
            self.trades += 1
            if q == avail:
                del level[head[1]]  # type: ignore[arg-type]
                del resting[head[1]]  # type: ignore[arg-type]
                if not level:
                    self._drop_level(opp, key)
            else:
                head[0] = avail - q
        if qty and what == LIMIT:
            key = -limit_key
            own = self.levels[is_buy]
            level = own.get(key)  # type: ignore[assignment]
            if level is None:
                level = own[key] = {}
                self.keys[is_buy].add(key)
                if key < best[is_buy]:
                    best[is_buy] = key
            level[oid] = [qty, oid, who]
            resting[oid] = (is_buy, key)


def run_bare(stream: list[Request], setting: str) -> tuple[Timing, BareBook]:
    bare = BareBook()
    submit, cancel = bare.submit, bare.cancel
    gc_start(setting)
    t0, c0 = time.perf_counter(), time.process_time()
    for what, oid, who, is_buy, price, qty in stream:
        if what == CANCEL:
            cancel(oid)
        else:
            submit(what, oid, who, is_buy, price, qty)
    elapsed = (time.perf_counter() - t0, time.process_time() - c0)
    gc_end()
    return elapsed, bare


def check_same_work(book: Book, bare: BareBook) -> dict[str, int]:
    trades = [e for e in book.journal if isinstance(e, Traded)]
    traded = sum(e.quantity for e in trades)
    if traded != bare.traded or len(trades) != bare.trades:
        raise SystemExit(
            f"the books disagree: Book traded {traded} Wh in {len(trades)} trades, "
            f"the bare book {bare.traded} Wh in {bare.trades}"
        )
    return {"trades": len(trades), "traded_wh": traded, "events": len(book.journal)}


def rates(n: int, times: list[Timing], which: int) -> list[int]:
    return [round(n / t[which]) for t in times]


def measure(stream: list[Request], requests: list[tuple[int, OrderSpec | tuple[str, str]]], runs: int,
            setting: str) -> dict[str, object]:  # fmt: skip
    n = len(stream)
    book_times: list[Timing] = []
    bare_times: list[Timing] = []
    reads: list[float] = []
    for i in range(runs):  # alternating which goes first, so machine noise hits both alike
        for which in ("book", "bare") if i % 2 == 0 else ("bare", "book"):
            if which == "book":
                timing, _, read = run_book(requests, setting)
                book_times.append(timing)
                reads.append(read)
            else:
                bare_times.append(run_bare(stream, setting)[0])
    figures: dict[str, object] = {}
    for index, clock in ((1, "cpu"), (0, "wall")):
        book_rate = statistics.median(rates(n, book_times, index))
        bare_rate = statistics.median(rates(n, bare_times, index))
        figures[clock] = {
            "book_requests_per_s": round(book_rate),
            "bare_requests_per_s": round(bare_rate),
            "ratio_book_to_bare": round(book_rate / bare_rate, 3),
            "runs_book": rates(n, book_times, index),
            "runs_bare": rates(n, bare_times, index),
        }
    with_events = [round(n / (t[1] + r)) for t, r in zip(book_times, reads, strict=True)]
    figures["cpu"]["book_with_events_requests_per_s"] = round(statistics.median(with_events))  # type: ignore[index]
    figures["cpu"]["ratio_book_with_events_to_bare"] = round(  # type: ignore[index]
        statistics.median(with_events) / statistics.median(rates(n, bare_times, 1)), 3)
    figures["cpu"]["runs_book_with_events"] = with_events  # type: ignore[index]
    return figures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=100_000, help="requests per run (orders and cancels)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    stream = make_stream(args.orders, args.seed)
    requests = book_requests(stream)
    work = check_same_work(run_book(requests, "default")[1], run_bare(stream, "default")[1])
    result = {
        "benchmark": "matching",
        "requests": args.orders,
        "mix": {name: sum(1 for r in stream if r[0] == code) for code, (name, _) in enumerate(MIX)},
        "runs": args.runs,
        "work": work,
        "gc": {setting: measure(stream, requests, args.runs, setting) for setting in GC_SETTINGS},
        "goal": {"book_requests_per_s": 250_000, "ratio_book_to_bare": 0.5},
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
