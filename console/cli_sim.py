"""``energynet sim backfill``: the world's history into the historian (the other ``sim`` commands are in cli.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any


def register(sim_sub: Any) -> None:
    """Add ``backfill`` to the ``sim`` subcommands (``sim_sub``: argparse's subparsers action)."""
    bf = sim_sub.add_parser("backfill", help="write N days of the simulated world's history into the historian")
    bf.add_argument("--days", type=float, required=True, help="days of history, ending now (or at --end)")
    bf.add_argument("--config", type=Path, required=True, help="the console config whose [historian] to fill "
                    "and whose world points to write (resources/world.toml)")
    bf.add_argument("--households", type=int, default=24, help="households served as devices, as `sim world` "
                    "(default 24); the rest are background load")
    bf.add_argument("--end", help="ISO 8601 end of the history (default: now, to the minute)")
    bf.add_argument("--seed", type=int, default=1)
    bf.add_argument("--step", type=float, default=60.0, help="seconds between samples (1-60, default 60)")
    bf.set_defaults(func=cmd_backfill)


def cmd_backfill(args: argparse.Namespace) -> int:
    from console import config as config_mod
    from console.bootstrap_sim import backfill

    settings = config_mod.load(args.config)
    end = None
    if args.end is not None:
        try:
            end = datetime.fromisoformat(args.end)
        except ValueError:
            print(f"energynet sim backfill: --end {args.end!r} is not an ISO 8601 time, e.g. 2026-06-22T00:00Z",
                  file=sys.stderr)
            return 2
        if end.tzinfo is None:
            print(f"energynet sim backfill: --end {args.end!r} has no time zone; add Z or +01:00", file=sys.stderr)
            return 2

    def progress(done: int, total: int) -> None:
        print(f"\rbackfill: {done}/{total} ticks ({100 * done / total:.0f} %)", end="", file=sys.stderr,
              flush=True)

    try:
        report = asyncio.run(backfill(settings, args.days, args.households, end, args.seed, args.step, progress))
    except ValueError as exc:
        print(f"\nenergynet sim backfill: {exc}", file=sys.stderr)
        return 2
    print(file=sys.stderr)
    print(f"backfill: {report.samples} samples of {report.points} points ({report.ticks} ticks of "
          f"{report.step_s:g} s, {report.start.isoformat()} to {report.end.isoformat()}) into {report.url}: "
          f"{report.kept} past the deadband, {report.stored} stored, in {report.seconds:.1f} s")
    return 0 if report.stored == report.kept else 1
