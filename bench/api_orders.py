"""Participant API under load: concurrent clients submitting signed orders (JSON on stdout).

The server side runs as in the console: MarketService on a SQLite write-ahead journal and the API on
uvicorn, on one asyncio loop with a loop-lag probe; once they have started, the heap is settled
(``console.heap.settle_heap``: collected and frozen) as the console and ``energynet serve`` do after their
start, and the API has built its routes in ``ApiServer.start`` as there. Nothing else runs before the
first order of a run. The clients run in ``--procs`` other processes (so their
CPU is not the server loop's): ``--clients`` raw keep-alive connections, each its own participant with its
own key, sending pre-signed orders on an open-loop schedule at ``--rate`` orders/s in total, and measuring
submit → ack (HTTP 201) per order from its due time.

Baseline in the same run: a bare FastAPI echo endpoint (``POST /echo`` returning its JSON body) on its own
uvicorn server on the same loop, driven by the same clients with the same bodies and rate.

    python bench/api_orders.py --clients 50 --rate 500 --seconds 10 [--procs 2] [--profile /tmp/api.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
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


# -- clients (separate processes) ----------------------------------------------------------------------------
#
# The load generator must cost much less than the server, or it is what the bench measures (httpx cost more
# per request than the server's whole echo). So: one raw HTTP/1.1 keep-alive connection per client on an
# asyncio Protocol, every request's bytes encoded before the run, a response parsed only for its status and
# Content-Length, and the orders signed with coincurve over the EIP-712 digest (the test suite checks that
# digest against eth_account's). Open loop (as wrk2): order j of client i is due at a fixed time whether or
# not the answer to j-1 is in; its latency is measured from that due time, so a server that falls behind
# shows its queueing instead of slowing the schedule down (coordinated omission).

def _orders(keys: list[str], first: int, per_client: int, product: int) -> list[list[bytes]]:
    from coincurve import PrivateKey
    from eth_account import Account

    from console.api.auth import fast_digest, order_message

    out = []
    for i, key in enumerate(keys, start=first):
        address = Account.from_key(key).address
        secret = PrivateKey(bytes.fromhex(key[2:]))
        mine = []
        for j in range(per_client):
            side = "buy" if (i + j) % 2 else "sell"
            price = 200 + (j % 7) - (3 if side == "buy" else 0)  # overlapping around 200: about a third trade
            body: dict[str, Any] = {"participant": f"p{i:02d}", "product": product, "side": side,
                                    "quantity": 100 * (1 + j % 5), "price": price, "nonce": j, "tif": "gtc"}
            rsv = secret.sign_recoverable(fast_digest("Order", order_message(address, body), CHAIN_ID), hasher=None)
            body["signature"] = "0x" + (rsv[:64] + bytes([rsv[64] + 27])).hex()
            mine.append(json.dumps(body, separators=(",", ":")).encode())
        out.append(mine)
    return out


def _request(host: str, path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


class _Client(asyncio.Protocol):
    """One keep-alive connection sending its requests on schedule (at most one in flight)."""

    def __init__(self, requests: list[bytes], dues: list[float], expect: int, lat: list[float],
                 errors: dict[str, int], done: asyncio.Future[None]) -> None:
        self.requests, self.dues, self.expect, self.lat, self.errors, self.done = requests, dues, expect, lat, \
            errors, done
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.next = 0  # the request to send next
        self.waiting = False  # a request is in flight

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._schedule()

    def _schedule(self) -> None:
        if self.next >= len(self.requests):
            if not self.done.done():
                self.done.set_result(None)
            return
        due = self.dues[self.next]
        if due <= self.loop.time():
            self._send()
        else:
            self.loop.call_at(due, self._send)

    def _send(self) -> None:
        assert self.transport is not None
        self.waiting = True
        self.transport.write(self.requests[self.next])

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].lower()
            at = head.find(b"content-length:")
            length = 0 if at < 0 else int(head[at + 15:].split(b"\r\n", 1)[0])
            end = head_end + 4 + length
            if len(self.buf) < end:
                return
            status = int(self.buf[9:12])
            body = self.buf[head_end + 4:end]
            self.buf = self.buf[end:]
            self.lat.append((self.loop.time() - self.dues[self.next]) * 1000)
            if status != self.expect:
                key = f"{status} {body[:100].decode(errors='replace')}"
                self.errors[key] = self.errors.get(key, 0) + 1
            self.next += 1
            self.waiting = False
            self._schedule()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            left = len(self.requests) - self.next
            key = f"connection lost with {left} requests unsent or unanswered: {exc!r}"
            self.errors[key] = self.errors.get(key, 0) + left
            self.done.set_result(None)


async def _drive(url: str, path: str, bodies: list[list[bytes]], first: int, clients: int, rate: float,
                 expect: int, start: float) -> dict[str, Any]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    loop = asyncio.get_running_loop()
    interval = clients / rate  # each client sends one order every `interval` s
    lat: list[float] = []
    errors: dict[str, int] = {}
    dones = []
    cpu0 = time.process_time()
    for k, mine in enumerate(bodies):
        i = first + k
        dues = [start + (j + i / clients) * interval for j in range(len(mine))]
        done: asyncio.Future[None] = loop.create_future()
        dones.append(done)
        requests = [_request(f"{host}:{port}", path, b) for b in mine]
        await loop.create_connection(functools.partial(_Client, requests, dues, expect, lat, errors, done),
                                     host, int(port))
    await asyncio.gather(*dones)
    elapsed = loop.time() - start
    cpu = time.process_time() - cpu0
    return {"lat": lat, "seconds": elapsed, "errors": errors, "client_cpu_s": cpu}


def client_main(args: argparse.Namespace) -> None:
    keys = json.loads(os.environ["BENCH_KEYS"])
    per_client = int(args.rate * args.seconds / args.clients)
    bodies = _orders(keys[args.first:args.first + args.count], args.first, per_client, args.product)
    print("SIGNED", flush=True)
    start = float(sys.stdin.readline())  # the server says go: at this time.monotonic() (the loops' clock)
    result = asyncio.run(_drive(args.url, args.path, bodies, args.first, args.clients, args.rate, args.expect,
                                start))
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


class GcProbe:
    """The collector's pauses on the server (``gc.callbacks``): how many collections of each generation and
    how long the longest full one stalled everything (the loop and the journal's thread: it holds the GIL)."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.total_ms = 0.0
        self.full_max_ms = 0.0
        self._t0 = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        ms = (time.perf_counter() - self._t0) * 1000
        gen = info["generation"]
        self.counts[gen] += 1
        self.total_ms += ms
        if gen == 2:
            self.full_max_ms = max(self.full_max_ms, ms)

    def start(self) -> None:
        self.counts, self.total_ms, self.full_max_ms = [0, 0, 0], 0.0, 0.0
        gc.callbacks.append(self._callback)

    def stop(self) -> dict[str, Any]:
        gc.callbacks.remove(self._callback)
        return {"gc_collections": list(self.counts), "gc_ms": round(self.total_ms, 1),
                "gc_full_max_ms": round(self.full_max_ms, 1)}


async def _run_clients(args: argparse.Namespace, url: str, path: str, expect: int, keys: list[str],
                       product: int, probe: LagProbe) -> dict[str, Any]:
    env = {**os.environ, "BENCH_KEYS": json.dumps(keys), "PYTHONPATH": str(ROOT)}
    procs = []
    share = -(-args.clients // args.procs)
    for first in range(0, args.clients, share):
        cmd = [sys.executable, __file__, "--client", "--url", url, "--path", path, "--expect", str(expect),
               "--clients", str(args.clients), "--rate", str(args.rate), "--seconds", str(args.seconds),
               "--product", str(product), "--first", str(first), "--count", str(min(share, args.clients - first))]
        procs.append(await asyncio.create_subprocess_exec(*cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                          env=env))
    for proc in procs:
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        assert line.strip() == b"SIGNED", line
    start = time.monotonic() + 0.5  # the clients connect meanwhile
    probe.start()
    collector = GcProbe()
    collector.start()
    cpu0 = time.process_time()  # this process is the server: its CPU per request does not depend on load
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"{start!r}\n".encode())
        await proc.stdin.drain()
    outs = []
    for proc in procs:
        assert proc.stdout is not None
        outs.append(json.loads(await proc.stdout.readline()))
    cpu = time.process_time() - cpu0
    lag = await probe.stop()
    gc_figures = collector.stop()
    for proc in procs:
        await proc.wait()
    lat = [x for o in outs for x in o["lat"]]
    errors: dict[str, int] = {}
    for o in outs:
        for k, n in o["errors"].items():
            errors[k] = errors.get(k, 0) + n
    elapsed = max(o["seconds"] for o in outs)
    result: dict[str, Any] = {
        "orders": len(lat), "seconds": round(elapsed, 2), "orders_per_s": round(len(lat) / elapsed, 1),
        "p50_ms": round(_pct(lat, 0.50), 2), "p99_ms": round(_pct(lat, 0.99), 2), "max_ms": round(max(lat), 2),
        "errors": errors, **lag,
        "server_cpu_ms_per_request": round(cpu * 1000 / max(1, len(lat)), 3),
        "client_cpu_ms_per_request": round(sum(o["client_cpu_s"] for o in outs) * 1000 / max(1, len(lat)), 3),
        **gc_figures, "load_avg": round(os.getloadavg()[0], 2)}
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
    from console.heap import settle_heap
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
            if not args.no_settle:
                settle_heap()  # as the console and `serve` do once their services have started (console.heap)
            probe = LagProbe()
            try:
                base = await _run_clients(args, echo.url, "/echo", 200, keys, product, probe)
                profiler = None
                if args.profile:  # cProfile of the server's loop thread during the signed orders (slows it ~2x)
                    import cProfile
                    profiler = cProfile.Profile(time.thread_time)  # CPU of the loop thread, not wall time
                    profiler.enable()
                orders = await _run_clients(args, api.url, "/api/v1/trades/offer", 201, keys, product, probe)
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(f"{args.profile}.{r}")
                orders["trades"] = market.trades_made
                orders["journal_events"] = len(market.book.journal)
            finally:
                await api.stop()
                await echo.stop()
                await market.stop()
            runs.append({"baseline_echo": base, "signed_orders": orders})
    med = {side: {k: statistics.median(r[side][k] for r in runs)
                  for k in ("orders_per_s", "p50_ms", "p99_ms", "loop_lag_p50_ms", "loop_lag_p99_ms",
                            "server_cpu_ms_per_request", "client_cpu_ms_per_request", "load_avg")}
           for side in ("baseline_echo", "signed_orders")}
    return {"clients": args.clients, "client_procs": args.procs, "target_rate": args.rate, "seconds": args.seconds,
            "runs": runs,
            "median": med, "load_avg": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", help="write a cProfile of the server during the signed orders to PROFILE.<run>")
    ap.add_argument("--no-settle", action="store_true",
                    help="skip settle_heap() after the start (the process as before it: a first-run full collection)")
    ap.add_argument("--procs", type=int, default=2, help="client processes (the clients split between them)")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
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
