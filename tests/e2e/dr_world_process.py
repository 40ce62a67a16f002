"""The World in a process of its own for the demand-response e2e (tests/e2e/test_dr_world.py).

What ``energynet sim world`` serves for DR (the model, its runner at ``--speed`` × real time, the Modbus
face, the participants file with every participant's and every meter's keystore), plus the ground truth the
test compares the M&V with: every 50 ms one line ``T <world POSIX time> <JSON>`` on stdout, the JSON mapping
each participant id whose flexible load has been curtailed to the energy (Wh) its EV charger and heat pump
did not draw because of their limit (``World.flex_curtailed_wh``, the model's own figure). ``READY`` once the
Modbus face serves and the participants file is written; the world's clock starts on a ``GO`` line on
stdin (the test's parties are set up by then). SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from datetime import datetime
from pathlib import Path

from drivers.sim.world.clock import WorldClock
from drivers.sim.world.modbus_face import WorldModbusServer
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.participants import participant_id, write_participants
from drivers.sim.world.runner import WorldRunner


async def serve(args: argparse.Namespace) -> None:
    start = datetime.fromisoformat(args.start)
    world = World(WorldConfig(seed=args.seed, clock=WorldClock(start, args.tick), load_noise=args.load_noise,
                              substep_s=args.substep))
    runner = WorldRunner(world, speed=args.speed)
    modbus = WorldModbusServer(runner, "127.0.0.1", args.modbus_port, args.households)
    write_participants(Path(args.participants_out), world.participants, modbus.devices, host="127.0.0.1",
                       modbus_port=args.modbus_port, seed=args.seed, start=start,
                       scrypt_n=2**8)  # cheap keystores: 46 of them at the demo's 2^14 took 36 s on a loaded runner
    ids = {p.connection: participant_id(p.name) for p in world.participants}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await modbus.start()
    print("READY", flush=True)
    # the clock runs from the test's GO line on
    go: asyncio.Future[str] | None = loop.run_in_executor(None, sys.stdin.readline)
    try:
        while not stop.is_set():
            if go is not None and go.done():
                await runner.start()
                go = None
            s = runner.snapshot
            curtailed = world.flex_curtailed_wh.copy()  # read between ticks or during one: either is a state
            truth = {ids[c]: round(float(curtailed[c]), 3) for c in range(len(curtailed)) if curtailed[c] > 0}
            print(f"T {s.time.timestamp():.1f} {json.dumps(truth)}", flush=True)
            await asyncio.sleep(0.05)
    finally:
        await runner.stop()
        await modbus.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--modbus-port", type=int, required=True)
    p.add_argument("--households", type=int, default=4)
    p.add_argument("--speed", type=float, default=60.0)
    p.add_argument("--tick", type=float, default=30.0)
    p.add_argument("--substep", type=float, default=0.5)
    p.add_argument("--load-noise", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--start", required=True, help="the world clock's start, ISO 8601 with its offset")
    p.add_argument("--participants-out", required=True)
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
