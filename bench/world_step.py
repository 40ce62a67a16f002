"""World step time vs a bare pandapower load flow, and what stepping does to an asyncio loop.

In one run, on the same Kerber "Vorstadtnetz" (294 buses, 146 loads):

- baseline:   ``pandapower.runpp(net, numba=False)`` after changing every load (what a naive world would do)
- load flow:  ``Network.solve`` (the world's load flow: recycled admittance matrix, warm start)
- world step: ``World.step`` (every device, 100 frequency sub-steps, the load flow, the snapshot)
- loop lag:   while a ``WorldRunner`` steps the world at ``--speed`` in its worker thread, how late a
              10 ms ``asyncio.sleep`` wakes up (the loop the protocol faces would run on)

Medians of ``--runs`` runs of ``--steps`` steps each.

    PYTHONPATH=$PWD .venv/bin/python bench/world_step.py [--steps 50] [--runs 3] [--speed 20]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandapower as pp  # noqa: E402

from bench.stats import machine, summary_ms  # noqa: E402
from drivers.sim.world.clock import WorldClock, utc  # noqa: E402
from drivers.sim.world.model import World, WorldConfig  # noqa: E402
from drivers.sim.world.network import Network  # noqa: E402
from drivers.sim.world.runner import WorldRunner  # noqa: E402

START = utc(2026, 6, 22, 11)  # noon in June: PV export, the hardest-working load flow of the day


def bare_runpp(steps: int) -> list[float]:
    net = copy.deepcopy(Network().grid)
    rng = np.random.default_rng(1)
    base = net.load.p_mw.to_numpy().copy()
    out = []
    for _ in range(steps):
        net.load["p_mw"] = base * rng.uniform(0.5, 1.5, len(base))
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.runpp(net, numba=False)
        out.append(time.perf_counter() - t0)
    return out


def world_solve(steps: int) -> list[float]:
    network = Network()
    rng = np.random.default_rng(1)
    n = len(network.connections)
    out = []
    for _ in range(steps):
        p = rng.uniform(500, 3000, n)
        t0 = time.perf_counter()
        network.solve(p, 0.33 * p, 0.0, islanded=False)
        out.append(time.perf_counter() - t0)
    return out


def world_step(steps: int) -> list[float]:
    world = World(WorldConfig(clock=WorldClock(start=START)))
    out = []
    for _ in range(steps):
        t0 = time.perf_counter()
        world.step()
        out.append(time.perf_counter() - t0)
    return out


async def loop_lag(steps: int, speed: float) -> tuple[list[float], list[float]]:
    runner = WorldRunner(World(WorldConfig(clock=WorldClock(start=START))), speed=speed)
    await runner.start()
    lags = []
    try:
        start_tick = runner.snapshot.t_s
        while runner.snapshot.t_s < start_tick + steps:
            t0 = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - t0 - 0.01)
        steps_s = list(runner.step_seconds)
    finally:
        await runner.stop()
    return lags, steps_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--speed", type=float, default=20.0)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"baseline_runpp": [], "world_loadflow": [], "world_step": [],
                                    "loop_lag": [], "runner_step": []}
    for _ in range(args.runs):
        runs["baseline_runpp"].append(statistics.median(bare_runpp(args.steps)))
        runs["world_loadflow"].append(statistics.median(world_solve(args.steps)))
        runs["world_step"].append(statistics.median(world_step(args.steps)))
        lags, steps = asyncio.run(loop_lag(args.steps, args.speed))
        runs["loop_lag"].append(statistics.median(lags))
        runs["runner_step"].append(statistics.median(steps))
    last_lags, _ = asyncio.run(loop_lag(args.steps, args.speed))
    baseline = statistics.median(runs["baseline_runpp"])
    result = {
        "benchmark": "world_step",
        "network": "kerber_vorstadtnetz_kabel_1 (294 buses, 146 loads)",
        "steps": args.steps, "runs": args.runs, "speed": args.speed,
        "median_ms": {k: round(statistics.median(v) * 1000, 2) for k, v in runs.items()},
        "loop_lag_last_run": summary_ms(last_lags),
        "ratio_loadflow_to_baseline": round(statistics.median(runs["world_loadflow"]) / baseline, 2),
        "ratio_step_to_baseline": round(statistics.median(runs["world_step"]) / baseline, 2),
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
