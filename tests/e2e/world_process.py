"""The World in a process of its own, for the alarm e2e (tests/e2e/test_alarms_world.py).

What ``energynet sim world`` serves (the model, its runner, the OPC-UA and Modbus faces, a scenario played
by :class:`ScenarioPlayer`), plus what the test needs to measure alarm latency against it:

- the console config of this world (ports, the reduced household set) written to ``--config-out``;
- ``READY`` on stdout once both faces serve; the scenario starts on a ``GO`` line on stdin, so its times
  count from when the console is connected;
- ``PLAYED <kind> <POSIX time>`` on stdout the moment each event took effect.

SIGTERM stops it. A process of its own: the world's load flow and its servers do not share the console's
interpreter (GIL) and loop, as in the field.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path

from drivers.sim.world.console_config import console_config_toml
from drivers.sim.world.modbus_face import WorldModbusServer
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.opcua_face import WorldOpcUaServer
from drivers.sim.world.runner import WorldRunner
from drivers.sim.world.scenario import ScenarioPlayer, load_scenario


async def serve(args: argparse.Namespace) -> None:
    world = World(WorldConfig(seed=args.seed))
    runner = WorldRunner(world, speed=args.speed)
    modbus = WorldModbusServer(runner, "127.0.0.1", args.modbus_port, args.households)
    opcua = WorldOpcUaServer(runner, "127.0.0.1", args.opcua_port)
    player = ScenarioPlayer(load_scenario(Path(args.scenario)), runner, modbus)
    Path(args.config_out).write_text(console_config_toml(
        modbus.devices, len(world.network.feeder_ends), seed=args.seed, households=args.households,
        opcua_port=args.opcua_port, modbus_port=args.modbus_port), encoding="utf-8")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await modbus.start()
    await opcua.start()
    await runner.start()
    print("READY", flush=True)
    try:
        go = loop.run_in_executor(None, sys.stdin.readline)
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait({go, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            await player.start()
            told = 0
            while not stop.is_set():
                for _, event in player.played[told:]:
                    print(f"PLAYED {event.kind} {time.time():.3f}", flush=True)
                told = len(player.played)
                await asyncio.sleep(0.005)
    finally:
        await player.stop()
        await runner.stop()
        await opcua.stop()
        await modbus.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--opcua-port", type=int, required=True)
    p.add_argument("--modbus-port", type=int, required=True)
    p.add_argument("--households", type=int, default=2)
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scenario", required=True)
    p.add_argument("--config-out", required=True)
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
