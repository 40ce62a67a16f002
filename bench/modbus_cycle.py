"""Modbus poll cycle: 50 devices × 4 register blocks = 200 reads per cycle.

The device fleet (real pymodbus server, SDM630 register maps) runs in another
process. Measured for the console's ModbusHub (one task per device, block
reads, decoding, samples) and, as the baseline in the same run, for bare
pymodbus clients issuing the same 200 reads concurrently with no decoding:

- cycle time: from the start of a poll cycle to the last device's batch
- CPU of this process in % of one core

    .venv/bin/python bench/modbus_cycle.py
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pymodbus.client import AsyncModbusTcpClient  # noqa: E402

from bench.stats import machine, percentile  # noqa: E402
from core.points import Sample  # noqa: E402
from core.sources import ModbusDeviceSpec  # noqa: E402
from drivers.modbus.hub import ModbusHub  # noqa: E402
from drivers.modbus.profile import parse_profile, plan_blocks  # noqa: E402
from tests.conftest import free_port  # noqa: E402

DEVICES = 50
INTERVAL_S = 1.0
SECONDS = 12.0
RUNS = 3
# Four separate blocks per device (max_gap 0): 200 reads per cycle for 50 devices.
PROFILE = {
    "profile": {"name": "bench meter", "table": "input", "max_gap": 0},
    "poll_groups": {"power": INTERVAL_S},
    "points": [{"id": f"{name}{i}", "address": a + offset, "type": "float32", "unit": "W"}
               for i, a in enumerate((0x00, 0x0A, 0x34, 0x46)) for name, offset in (("p", 0), ("q", 2))],
}


def cpu_seconds() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


async def run_hub(port: int, profile_path: Path) -> dict[str, float]:
    arrivals: dict[float, list[float]] = defaultdict(list)

    def on_samples(batch: Sequence[Sample]) -> None:
        now = time.time()
        arrivals[round(batch[0].recv_ts, 1)].append(now)

    specs = [ModbusDeviceSpec(f"d{i}", "127.0.0.1", port, i, str(profile_path), timeout_s=1.0)
             for i in range(1, DEVICES + 1)]
    hub = ModbusHub(specs, on_samples, lambda st: None)
    await hub.start()
    await asyncio.sleep(3.0)  # connect, first cycles
    arrivals.clear()
    c0, w0 = cpu_seconds(), time.perf_counter()
    await asyncio.sleep(SECONDS)
    c1, w1 = cpu_seconds(), time.perf_counter()
    await hub.stop()
    # Cycle time: first request of the cycle (sample recv_ts) to the last device's batch.
    cycles = [max(ts) - start for start, ts in arrivals.items() if len(ts) >= DEVICES * 0.9]
    return {"cycle_ms_median": statistics.median(cycles) * 1000, "cycle_ms_p95": percentile(cycles, 95) * 1000,
            "cycles": len(cycles), "cpu_percent_of_one_core": (c1 - c0) / (w1 - w0) * 100}


async def run_bare(port: int, blocks: list[tuple[int, int]]) -> dict[str, float]:
    clients = [AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1.0, retries=0) for _ in range(DEVICES)]
    for c in clients:
        await c.connect()

    async def device(i: int, c: AsyncModbusTcpClient) -> None:
        for start, count in blocks:
            rr = await c.read_input_registers(start, count=count, device_id=i)
            assert not rr.isError()

    cycles = []
    c0, w0 = cpu_seconds(), time.perf_counter()
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        started = time.perf_counter()
        await asyncio.gather(*(device(i + 1, c) for i, c in enumerate(clients)))
        cycles.append(time.perf_counter() - started)
        await asyncio.sleep(max(0.0, INTERVAL_S - (time.perf_counter() - started)))
    c1, w1 = cpu_seconds(), time.perf_counter()
    for c in clients:
        c.close()
    return {"cycle_ms_median": statistics.median(cycles) * 1000, "cycle_ms_p95": percentile(cycles, 95) * 1000,
            "cycles": len(cycles), "cpu_percent_of_one_core": (c1 - c0) / (w1 - w0) * 100}


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    import tempfile

    profile = parse_profile(PROFILE, "bench")
    blocks = [(b.start, b.count) for b in plan_blocks(profile)]
    assert len(blocks) == 4, blocks
    port = free_port()
    fleet = subprocess.Popen([sys.executable, "-c",
                              "import asyncio, sys; from drivers.sim.devices import run_device_fleet; "
                              f"asyncio.run(run_device_fleet('127.0.0.1', {port}, {DEVICES}, inverter_every=0))"],
                             cwd=str(ROOT))
    try:
        time.sleep(3.0)
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "bench.toml"
            lines = ['[profile]', 'name = "bench meter"', 'table = "input"', 'max_gap = 0',
                     '[poll_groups]', f'power = {INTERVAL_S}']
            for p in profile.points:
                lines += ['[[points]]', f'id = "{p.id}"', f'address = {p.address}', 'type = "float32"',
                          f'unit = "{p.unit}"']
            path.write_text("\n".join(lines) + "\n")
            runs: dict[str, list[dict[str, float]]] = {"console_hub": [], "bare_pymodbus": []}
            for _ in range(RUNS):
                runs["bare_pymodbus"].append(asyncio.run(run_bare(port, blocks)))
                runs["console_hub"].append(asyncio.run(run_hub(port, path)))
    finally:
        fleet.kill()
    med = {k: {m: round(statistics.median(r[m] for r in v), 1) for m in v[0]} for k, v in runs.items()}
    print(json.dumps({
        "benchmark": "modbus_cycle",
        "devices": DEVICES, "blocks_per_cycle": DEVICES * len(blocks), "interval_s": INTERVAL_S,
        "seconds_per_run": SECONDS, "runs": RUNS,
        "median": med,
        "cycle_ratio_vs_bare": round(
            med["console_hub"]["cycle_ms_median"] / med["bare_pymodbus"]["cycle_ms_median"], 2),
        "goal": {"cycle_ms_max": 200},
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
