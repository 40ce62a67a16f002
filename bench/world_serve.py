"""CPU of `energynet sim world` while it is used as the console uses it.

Starts ``energynet sim world`` (default community: 24 households + businesses, farms and feeder ends,
67 Modbus devices) in its own process, then from this process:

- polls every Modbus device once a second (a meter: one read of input registers 0x00–0x4B; a SunSpec
  device: its whole map in reads of ≤ 125 registers), as the console's hub would;
- subscribes to every OPC-UA variable of the world face at 50 ms (20 Hz).

After a warm-up it samples the world process's ``psutil.Process.cpu_percent`` over ``--seconds``
(100 % = one core) and prints JSON. Goal (issue 12): ≤ 50 % of one core.

    PYTHONPATH=$PWD .venv/bin/python bench/world_serve.py [--seconds 60] [--households 24]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
from asyncua import Client, ua
from pymodbus.client import AsyncModbusTcpClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import machine  # noqa: E402
from drivers.sim.devices import sunspec_layout  # noqa: E402
from drivers.sim.world.modbus_face import world_layout  # noqa: E402
from drivers.sim.world.model import World  # noqa: E402


def _free_port() -> int:
    from console.net_ports import free_port

    return free_port()  # below the ephemeral range (console/net_ports.py)


class _Sink:
    def __init__(self) -> None:
        self.changes = 0

    def datachange_notification(self, node: object, val: object, data: object) -> None:
        self.changes += 1


async def _poll(port: int, households: int, stop: asyncio.Event, counts: dict[str, int]) -> None:
    world = World()
    devices = world_layout(world.participants, households, world.network.feeder_ends)
    ends = {k: sunspec_layout(models)[1] + 2 for k, models in (("battery", (1, 802, 124)), ("pv", (1, 103, 123)))}
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2)
    await client.connect()
    try:
        while not stop.is_set():
            t0 = time.monotonic()
            for d in devices:
                if d.kind == "meter":
                    r = await client.read_input_registers(0, count=0x4C, device_id=d.device_id)
                    counts["reads"] += 1
                    counts["errors"] += r.isError()
                else:
                    end = ends["battery" if d.kind == "battery" else "pv"]
                    for start in range(40000, end, 125):
                        r = await client.read_holding_registers(start, count=min(125, end - start),
                                                                device_id=d.device_id)
                        counts["reads"] += 1
                        counts["errors"] += r.isError()
            counts["cycles"] += 1
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
    finally:
        client.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--households", type=int, default=24)
    args = ap.parse_args()
    opcua_port, modbus_port = _free_port(), _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "console", "--log-level", "warning", "sim", "world",
                             "--opcua-port", str(opcua_port), "--modbus-port", str(modbus_port),
                             "--households", str(args.households)], env=env, cwd=ROOT)
    try:
        endpoint = f"opc.tcp://127.0.0.1:{opcua_port}/energynet/world"
        for _ in range(240):
            try:
                with socket.create_connection(("127.0.0.1", opcua_port), timeout=0.5):
                    break
            except OSError:
                await asyncio.sleep(0.5)
        opc = Client(endpoint, timeout=10)
        await opc.connect()
        root = await opc.nodes.objects.get_child(["2:Community"])
        nodes = []
        for child in await root.get_children():
            if await child.read_node_class() == ua.NodeClass.Variable:
                nodes.append(child)
            else:
                nodes += list(await child.get_children())
        sink = _Sink()
        sub = await opc.create_subscription(50, sink)
        await sub.subscribe_data_change(nodes, sampling_interval=50)
        stop = asyncio.Event()
        counts = {"reads": 0, "errors": 0, "cycles": 0}
        poller = asyncio.create_task(_poll(modbus_port, args.households, stop, counts))
        await asyncio.sleep(args.warmup)
        p = psutil.Process(proc.pid)
        p.cpu_percent(None)
        t0, reads0, changes0, cycles0 = time.monotonic(), counts["reads"], sink.changes, counts["cycles"]
        cpu0 = p.cpu_times()
        samples = []
        while time.monotonic() - t0 < args.seconds:
            await asyncio.sleep(5.0)
            samples.append(p.cpu_percent(None))
        cpu1 = p.cpu_times()
        wall = time.monotonic() - t0
        stop.set()
        await poller
        await opc.disconnect()
        busy = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        print(json.dumps({
            "bench": "world_serve", "households": args.households, "seconds": round(wall, 1),
            "devices": len(world_layout(World().participants, args.households, World().network.feeder_ends)),
            "opcua_variables": len(nodes), "modbus_reads_per_s": round((counts["reads"] - reads0) / wall, 1),
            "poll_cycles_per_s": round((counts["cycles"] - cycles0) / wall, 2), "modbus_errors": counts["errors"],
            "opcua_changes_per_s": round((sink.changes - changes0) / wall, 1),
            "cpu_percent_of_one_core": round(100 * busy / wall, 1),
            "cpu_percent_samples_5s": samples, "load_average": os.getloadavg(), "machine": machine(),
        }, indent=2))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main())
