"""``energynet sim traders``: the World's households as market participants, API clients with their own keys
(one process for the fleet; drivers/sim/traders)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def register(sim_sub: Any) -> None:
    """Add ``traders`` to the ``energynet sim`` subcommands."""
    p = sim_sub.add_parser("traders", help="the world's households trading through the participant API")
    p.add_argument("--participants", type=Path, required=True,
                   help="the world's participants file (participants.json, keystores beside it)")
    p.add_argument("--api", default="http://127.0.0.1:8600", help="the participant API's base URL")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between rounds (default 5)")
    p.add_argument("--seconds", type=float, help="stop after this many seconds (default: until Ctrl+C)")
    p.add_argument("--reference-price", type=int, default=250, help="base units per kWh the fleet prices around")
    p.add_argument("--lot", type=int, default=100, help="the market's lot, Wh ([market] lot)")
    p.add_argument("--tick", type=int, default=1, help="the market's tick ([market] tick)")
    p.add_argument("--gate-closure", type=int, default=300, help="[market] gate_closure_s")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--write-api-participants", type=Path, metavar="FILE",
                   help="write the console's [api] participants file for these households and exit")
    p.add_argument("--api-participants", type=Path, metavar="FILE",
                   help="write the console's [api] participants file, then trade (the console reads it again "
                        "when it changes)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait up to this long for the participants file and the API (the demo starts all at once)")
    p.add_argument("--rpc", help="the chain's JSON-RPC URL: with --deployment, each household first lets Settlement "
                   "pull what it buys (approve, with its own key), so its buys pass the API's escrow check")
    p.add_argument("--deployment", type=Path, help="the suite's deployment file (<chainId>.json)")
    p.set_defaults(func=cmd_traders)


def cmd_traders(args: argparse.Namespace) -> int:
    from drivers.sim.traders.households import HouseholdsError, api_participants_toml, load

    deadline = time.monotonic() + args.wait
    while not args.participants.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    try:
        households = load(args.participants)
    except HouseholdsError as exc:
        print(f"energynet sim traders: {exc}", file=sys.stderr)
        return 2
    for out in (args.write_api_participants, args.api_participants):
        if out is not None:  # written whole under a temporary name, then renamed: a reader sees all or nothing
            tmp = out.with_name(out.name + ".tmp")
            tmp.write_text(api_participants_toml(households), encoding="utf-8")
            tmp.replace(out)
            print(f"{len(households)} participants written to {out}", flush=True)
    if args.write_api_participants is not None:
        return 0
    if args.rpc and args.deployment:
        from contracts.deploy import Deployment
        from drivers.sim.traders.escrow import approve_settlement

        try:
            n = approve_settlement(args.rpc, Deployment.read(args.deployment), households,
                                   wait_s=max(5.0, deadline - time.monotonic()))
        except (OSError, TimeoutError, RuntimeError, ValueError) as exc:
            print(f"energynet sim traders: escrow not approved ({exc}); buys will be refused", file=sys.stderr)
        else:
            print(f"{n} households approved Settlement", flush=True)
    from drivers.sim.traders.fleet import Fleet
    from drivers.sim.traders.forecast import Forecaster

    forecaster = Forecaster(seed=args.seed)
    fleet = Fleet(households, args.api.rstrip("/"), forecaster.net_wh, interval_s=args.interval,
                  reference_price=args.reference_price, lot=args.lot, tick=args.tick,
                  gate_closure_s=args.gate_closure, seed=args.seed)
    print(f"traders: {len(households)} households trading through {args.api} (Ctrl+C stops)", flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        stats = await fleet.run(args.seconds, stop, wait_s=max(0.0, deadline - time.monotonic()))
        print(json.dumps({"rounds": fleet.rounds, "by_type": stats.summary(), "errors": stats.errors}, indent=2))

    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"energynet sim traders: cannot reach the API at {args.api}: {exc}", file=sys.stderr)
        return 1
    return 0
