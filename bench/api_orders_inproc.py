"""The server's CPU per signed order without HTTP or clients: the participant API's ASGI app called directly
on one loop with the bench's orders (as ``bench/api_orders.py`` signs them), one at a time, with the
market's journal writer on SQLite as in the console. JSON on stdout; ``--profile FILE`` writes a cProfile.

    python bench/api_orders_inproc.py --orders 3000 --runs 3

CPU is ``time.process_time()`` (every thread, so the journal's commits too) per order; it does not include
what uvicorn's HTTP parsing costs (the echo baseline of ``bench/api_orders.py`` shows that).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_orders import CHAIN_ID, _orders  # noqa: E402


async def _one_run(keys: list[str], bodies: list[bytes], tmp: str, r: int, profile: str | None) -> dict[str, Any]:
    from eth_account import Account

    from console.api.app import create_app
    from console.api.participants import Participant, ParticipantDirectory, token_hash
    from console.services.market import MarketService
    from console.store.market_journal import SqlMarketJournal
    from core.market import MarketRules

    directory = ParticipantDirectory(Participant(f"p{i:02d}", Account.from_key(k).address, token_hash(k))
                                     for i, k in enumerate(keys))
    journal = SqlMarketJournal(f"sqlite:///{tmp}/inproc{r}.sqlite")
    journal_cpu = [0.0]
    append = journal.append

    def timed_append(batches: Any) -> None:  # the journal writer's CPU (its thread's), apart from the loop's
        t = time.thread_time()
        try:
            append(batches)
        finally:
            journal_cpu[0] += time.thread_time() - t

    journal.append = timed_append  # type: ignore[method-assign]
    market = MarketService(MarketRules(), journal)
    await market.start()
    app = create_app(market, directory, rate_per_s=10_000, burst=10_000, max_body_bytes=16_384, chain_id=CHAIN_ID)
    statuses: dict[int, int] = {}

    path = "/api/v1/trades/offer"

    async def call(body: bytes) -> None:
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
                 "root_path": "", "query_string": b"", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode())]}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        await app(scope, receive, send)

    # Concurrent as under load (several orders waiting for the same group commit), 50 in flight.
    inflight = 50
    profiler = cProfile.Profile() if profile else None
    cpu0, t0 = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    for k in range(0, len(bodies), inflight):
        await asyncio.gather(*(call(b) for b in bodies[k:k + inflight]))
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{profile}.{r}")
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    await market.stop()
    return {"orders": len(bodies), "statuses": statuses, "cpu_ms_per_order": round(cpu * 1000 / len(bodies), 3),
            "journal_cpu_ms_per_order": round(journal_cpu[0] * 1000 / len(bodies), 3),
            "wall_ms_per_order": round(wall * 1000 / len(bodies), 3), "load_avg": round(os.getloadavg()[0], 2)}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    keys = ["0x" + secrets.token_hex(32) for _ in range(50)]
    product = (int(time.time()) // 900 + 4) * 900
    per_client = args.orders // len(keys)
    signed = _orders(keys, 0, per_client, product)
    bodies = [signed[i][j] for j in range(per_client) for i in range(len(keys))]  # the bench's interleaving
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.runs):
            runs.append(await _one_run(keys, bodies, tmp, r, args.profile))
    return {"runs": runs, "median_cpu_ms_per_order": statistics.median(x["cpu_ms_per_order"] for x in runs),
            "median_journal_cpu_ms_per_order": statistics.median(x["journal_cpu_ms_per_order"] for x in runs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile")
    print(json.dumps(asyncio.run(main_async(ap.parse_args())), indent=2))


if __name__ == "__main__":
    main()
