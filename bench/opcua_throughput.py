"""OPC-UA acquisition throughput: N items changing at rate R in another process.

Measures, for the console pipeline (OpcUaHub → AcquisitionService → a 20 Hz
snapshot pull, as the UI does) and, as the baseline in the same run, for a bare
asyncua client subscription that only counts notifications:

- notifications handled per second
- latency from the server's source timestamp to the first snapshot holding it
  (p50/p95/p99)
- CPU of this process in % of one core
- dropped updates (every item counts up by one, so a gap is a lost update)

    .venv/bin/python bench/opcua_throughput.py --items 5000 --rate-hz 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asyncua import ua  # noqa: E402
from asyncua.client.client import Client  # noqa: E402
from asyncua.common.subscription import DataChangeEvent  # noqa: E402

from bench.stats import machine, percentile  # noqa: E402
from console.services.acquisition import AcquisitionService  # noqa: E402
from core.grid import GridState  # noqa: E402
from core.points import PointDef, Sample  # noqa: E402
from core.sources import OpcUaSourceSpec, PointBinding  # noqa: E402
from drivers.opcua import OpcUaHub  # noqa: E402
from tests.conftest import free_port  # noqa: E402


class Tally:
    """Counts notifications, gaps in the counters and snapshot latencies."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.count = 0
        self.dropped = 0
        self.pending: list[float] = []
        self.latencies: list[float] = []

    def add(self, key: str, value: float, source_ts: float) -> None:
        prev = self.last.get(key)
        if prev is not None and value > prev + 1:
            self.dropped += int(value - prev - 1)
        self.last[key] = value
        self.count += 1
        self.pending.append(source_ts)

    def tick(self) -> None:
        now = time.time()
        self.latencies.extend(now - ts for ts in self.pending)
        self.pending.clear()

    def reset_window(self) -> None:
        self.count = 0
        self.dropped = 0
        self.latencies.clear()
        self.pending.clear()


async def ticker(tally: Tally, work: object, hz: float = 20.0) -> None:
    while True:
        await asyncio.sleep(1 / hz)
        work()  # type: ignore[operator]
        tally.tick()


async def measure(tally: Tally, warmup_s: float, seconds: float) -> dict[str, float]:
    await asyncio.sleep(warmup_s)
    proc = psutil.Process()
    tally.reset_window()
    c0, t0 = proc.cpu_times(), time.perf_counter()
    await asyncio.sleep(seconds)
    c1, t1 = proc.cpu_times(), time.perf_counter()
    wall = t1 - t0
    lat = tally.latencies
    return {
        "notifications_per_s": round(tally.count / wall, 1),
        "latency_p50_ms": round(percentile(lat, 50) * 1000, 1),
        "latency_p95_ms": round(percentile(lat, 95) * 1000, 1),
        "latency_p99_ms": round(percentile(lat, 99) * 1000, 1),
        "cpu_percent_of_one_core": round(((c1.user - c0.user) + (c1.system - c0.system)) / wall * 100, 1),
        "dropped_updates": tally.dropped,
        "items_seen": len(tally.last),
    }


async def run_console(endpoint: str, items: int, warmup_s: float, seconds: float) -> dict[str, float]:
    points = [PointDef(f"load.{i}", f"L{i}", "1") for i in range(items)]
    spec = OpcUaSourceSpec(
        "load", endpoint,
        tuple(PointBinding(p, node_id=f"ns=2;s=Load.{i}") for i, p in enumerate(points)),
        publishing_interval_ms=100, sampling_interval_ms=0, request_timeout_s=10,
    )
    acq = AcquisitionService(GridState(points))
    tally = Tally()

    def on_samples(batch: Sequence[Sample]) -> None:
        acq.on_samples(batch)
        for s in batch:
            tally.add(s.point, s.value, s.source_ts)

    hub = OpcUaHub([spec], on_samples, acq.on_status)
    await hub.start()
    tick = asyncio.create_task(ticker(tally, acq.snapshot))
    try:
        return await measure(tally, warmup_s, seconds)
    finally:
        tick.cancel()
        await hub.stop()


async def run_bare(endpoint: str, items: int, warmup_s: float, seconds: float) -> dict[str, float]:
    """The library alone: one subscription, a consumer that only counts."""
    client = Client(endpoint, timeout=10)
    await client.connect()
    tally = Tally()
    sub = await client.create_subscription(100, None, queue_maxsize=0)
    nodes = [client.get_node(f"ns=2;s=Load.{i}") for i in range(items)]
    await sub.subscribe_data_change(nodes, sampling_interval=ua.Double(0))

    async def consume() -> None:
        async for ev in sub:
            if isinstance(ev, DataChangeEvent):
                dv = ev.data.monitored_item.Value
                tally.add(str(ev.node.nodeid), float(ev.value), dv.SourceTimestamp.timestamp())

    consumer = asyncio.create_task(consume())
    tick = asyncio.create_task(ticker(tally, lambda: None))
    try:
        return await measure(tally, warmup_s, seconds)
    finally:
        tick.cancel()
        consumer.cancel()
        await client.disconnect()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--rate-hz", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    runs: dict[str, list[dict[str, float]]] = {"bare_asyncua": [], "console": []}
    for _ in range(args.runs):
        for name, runner in (("bare_asyncua", run_bare), ("console", run_console)):
            # A fresh load server per measurement: nothing left over from the previous client.
            port = free_port()
            server = subprocess.Popen(
                [sys.executable, str(ROOT / "bench" / "opcua_load_server.py"), "--port", str(port),
                 "--items", str(args.items), "--rate-hz", str(args.rate_hz)],
                stdout=subprocess.PIPE, text=True,
            )
            try:
                assert server.stdout is not None and server.stdout.readline().startswith("READY")
                endpoint = f"opc.tcp://127.0.0.1:{port}/load"
                runs[name].append(asyncio.run(runner(endpoint, args.items, args.warmup, args.seconds)))
            finally:
                server.kill()
                server.wait()
    medians = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in runs.items()}
    cpu = {k: v["cpu_percent_of_one_core"] for k, v in medians.items()}
    out = {
        "benchmark": "opcua_throughput",
        "items": args.items,
        "rate_hz_per_item": args.rate_hz,
        "expected_notifications_per_s": args.items * args.rate_hz,
        "publishing_interval_ms": 100,
        "seconds_per_run": args.seconds,
        "runs": args.runs,
        "median": medians,
        "console_cpu_ratio_vs_bare": round(cpu["console"] / max(cpu["bare_asyncua"], 0.1), 2),
        "all_runs": runs,
        "goal": {"dropped_updates": 0, "cpu_percent_max": 25, "latency_p95_ms_max": 250},
        "machine": machine(),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
