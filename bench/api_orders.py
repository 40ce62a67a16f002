"""Participant API under load: concurrent clients submitting signed orders (JSON on stdout).

The server side runs as in the console: MarketService on a SQLite write-ahead journal and the API on
uvicorn, on one asyncio loop with a loop-lag probe. The clients run in another process (so their CPU is
not the server loop's): ``--clients`` connections, each its own participant with its own key, sending
pre-signed orders at ``--rate`` orders/s in total, and measuring submit → ack (HTTP 201) per order.

Baseline in the same run: a bare FastAPI echo endpoint (``POST /echo`` returning its JSON body) on its own
uvicorn server on the same loop, driven by the same clients with the same bodies and rate.

    python bench/api_orders.py --clients 50 --rate 500 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import Request  # at module level: the echo route's annotation is resolved from these globals

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHAIN_ID = 31337


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# -- clients (a separate process) ----------------------------------------------------------------------------

def _orders(keys: list[str], per_client: int, product: int) -> list[list[dict[str, Any]]]:
    from eth_account import Account

    from console.api.auth import order_message, sign

    out = []
    for i, key in enumerate(keys):
        address = Account.from_key(key).address
        mine = []
        for j in range(per_client):
            side = "buy" if (i + j) % 2 else "sell"
            price = 200 + (j % 7) - (3 if side == "buy" else 0)  # overlapping around 200: about a third trade
            body = {"participant": f"p{i:02d}", "product": product, "side": side, "quantity": 100 * (1 + j % 5),
                    "price": price, "nonce": j, "tif": "gtc"}
            body["signature"] = sign("Order", order_message(address, body), CHAIN_ID, key)
            mine.append(body)
        out.append(mine)
    return out


async def _drive(url: str, path: str, bodies: list[list[dict[str, Any]]], rate: float, expect: int) -> dict[str, Any]:
    import httpx

    clients = len(bodies)
    interval = clients / rate  # each client sends one order every `interval` s
    lat: list[float] = []
    errors: dict[str, int] = {}
    start = time.perf_counter() + 0.2

    async def one(i: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            for j, body in enumerate(bodies[i]):
                due = start + (j + i / clients) * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                t0 = time.perf_counter()
                resp = await client.post(path, json=body)
                lat.append((time.perf_counter() - t0) * 1000)
                if resp.status_code != expect:
                    key = f"{resp.status_code} {resp.text[:80]}"
                    errors[key] = errors.get(key, 0) + 1

    await asyncio.gather(*(one(i) for i in range(clients)))
    elapsed = time.perf_counter() - start
    return {"orders": len(lat), "seconds": round(elapsed, 2), "orders_per_s": round(len(lat) / elapsed, 1),
            "p50_ms": round(_pct(lat, 0.50), 2), "p99_ms": round(_pct(lat, 0.99), 2),
            "max_ms": round(max(lat), 2), "errors": errors}


def client_main(args: argparse.Namespace) -> None:
    keys = json.loads(os.environ["BENCH_KEYS"])
    per_client = int(args.rate * args.seconds / args.clients)
    bodies = _orders(keys, per_client, args.product)
    print("SIGNED", flush=True)
    sys.stdin.readline()  # the server says go
    result = asyncio.run(_drive(args.url, args.path, bodies, args.rate, args.expect))
    print(json.dumps(result), flush=True)


# -- server (this process) -----------------------------------------------------------------------------------

class LagProbe:
    def __init__(self, every_s: float = 0.01) -> None:
        self.every = every_s
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.every)
            self.lags.append(max(0.0, (time.perf_counter() - t0 - self.every) * 1000))

    def start(self) -> None:
        self.lags = []
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> dict[str, float]:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return {"loop_lag_p50_ms": round(_pct(self.lags, 0.5), 2), "loop_lag_p99_ms": round(_pct(self.lags, 0.99), 2)}


async def _run_clients(args: argparse.Namespace, url: str, path: str, expect: int, keys: list[str],
                       product: int, probe: LagProbe) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--client", "--url", url, "--path", path, "--expect", str(expect),
           "--clients", str(args.clients), "--rate", str(args.rate), "--seconds", str(args.seconds),
           "--product", str(product)]
    env = {**os.environ, "BENCH_KEYS": json.dumps(keys), "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(*cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stdin is not None
    line = await proc.stdout.readline()
    assert line.strip() == b"SIGNED", line
    probe.start()
    cpu0 = time.process_time()  # this process is the server: its CPU per request does not depend on load
    proc.stdin.write(b"go\n")
    await proc.stdin.drain()
    out = await proc.stdout.readline()
    cpu = time.process_time() - cpu0
    lag = await probe.stop()
    await proc.wait()
    result: dict[str, Any] = json.loads(out)
    result.update(lag)
    result["server_cpu_ms_per_request"] = round(cpu * 1000 / max(1, result["orders"]), 3)
    return result


def _echo_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    async def echo(request: Request) -> Any:
        return await request.json()

    app.add_api_route("/echo", echo, methods=["POST"])
    return app


async def server_main(args: argparse.Namespace) -> dict[str, Any]:
    from eth_account import Account

    from console.api.app import ApiServer, create_app
    from console.api.participants import Participant, ParticipantDirectory, token_hash
    from console.services.market import MarketService
    from console.store.market_journal import SqlMarketJournal
    from core.market import MarketRules

    keys = ["0x" + secrets.token_hex(32) for _ in range(args.clients)]
    directory = ParticipantDirectory(Participant(f"p{i:02d}", Account.from_key(k).address, token_hash(k))
                                     for i, k in enumerate(keys))
    product = (int(time.time()) // 900 + 4) * 900
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.runs):
            market = MarketService(MarketRules(), SqlMarketJournal(f"sqlite:///{tmp}/market{r}.sqlite"))
            await market.start()
            api = ApiServer(create_app(market, directory, rate_per_s=10_000, burst=10_000, max_body_bytes=16_384,
                                       chain_id=CHAIN_ID), "127.0.0.1", 0)
            echo = ApiServer(_echo_app(), "127.0.0.1", 0)
            await api.start()
            await echo.start()
            probe = LagProbe()
            try:
                base = await _run_clients(args, echo.url, "/echo", 200, keys, product, probe)
                orders = await _run_clients(args, api.url, "/api/v1/trades/offer", 201, keys, product, probe)
                orders["trades"] = sum(len(v) for v in market._trades_of.values()) // 2
                orders["journal_events"] = len(market.book.journal)
            finally:
                await api.stop()
                await echo.stop()
                await market.stop()
            runs.append({"baseline_echo": base, "signed_orders": orders})
    med = {side: {k: statistics.median(r[side][k] for r in runs)
                  for k in ("orders_per_s", "p50_ms", "p99_ms", "loop_lag_p50_ms", "loop_lag_p99_ms",
                            "server_cpu_ms_per_request")}
           for side in ("baseline_echo", "signed_orders")}
    return {"clients": args.clients, "target_rate": args.rate, "seconds": args.seconds, "runs": runs,
            "median": med, "load_avg": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--expect", type=int, default=201, help=argparse.SUPPRESS)
    ap.add_argument("--product", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client_main(args)
        return
    print(json.dumps(asyncio.run(server_main(args)), indent=2))


if __name__ == "__main__":
    main()
