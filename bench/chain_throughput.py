"""Chain throughput on a real anvil: the console's pipelined gateway vs sequential send-and-wait.

Both send the same `GridBalance.updateStatus` transactions from the operator account, in the same run,
on the same chain:

- baseline: web3.py sync, sign locally, send, wait for the receipt, next (what a naive client does)
- gateway:  ChainGateway.submit() of all commands at once; the clock stops when every one is confirmed

Reports transactions per second (median of several runs) and the ratio.

    .venv/bin/python bench/chain_throughput.py [--tx 300] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import machine  # noqa: E402
from contracts.anvil import DEV_KEYS, Anvil  # noqa: E402
from contracts.deploy import Deployment, account_from_key, contract_at, deploy_suite, signing_web3  # noqa: E402
from contracts.gateway import ChainGateway  # noqa: E402
from contracts.outbox import Outbox  # noqa: E402
from core.chain import ChainCommand, TxState  # noqa: E402

OPERATOR = account_from_key(DEV_KEYS[0])


def sequential(url: str, dep: Deployment, n: int, offset: int) -> float:
    w3 = signing_web3(url, OPERATOR)
    grid = contract_at(w3, "GridBalance", dep.addresses["GridBalance"])
    t0 = time.perf_counter()
    for i in range(n):
        tx = grid.functions.updateStatus(50_000 + offset + i, 230_000, 1_000, 1_000).transact()
        w3.eth.wait_for_transaction_receipt(tx)  # web3.py's default polling
    return n / (time.perf_counter() - t0)


async def pipelined(url: str, dep: Deployment, n: int, offset: int, tmp: Path) -> float:
    gw = ChainGateway(url, OPERATOR, dep, Outbox(tmp / "outbox.db"))
    await gw.start()
    while not gw.status().up:
        await asyncio.sleep(0.01)
    keys = [f"s-{offset + i}" for i in range(n)]
    t0 = time.perf_counter()
    for i, key in enumerate(keys):
        gw.submit(ChainCommand(key, "GridBalance", "updateStatus", (50_000 + offset + i, 230_000, 1_000, 1_000), key))
    while True:
        counts = gw.outbox.counts()
        if counts.get(TxState.CONFIRMED, 0) + counts.get(TxState.FAILED, 0) >= n:
            break
        await asyncio.sleep(0.005)
    rate = n / (time.perf_counter() - t0)
    failed = gw.outbox.counts().get(TxState.FAILED, 0)
    await gw.stop()
    if failed:
        raise RuntimeError(f"{failed} gateway transactions failed")
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tx", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from tests.conftest import free_port

    seq: list[float] = []
    pipe: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        for run in range(args.runs):
            # A fresh chain per run (anvil slows down as it fills); the order alternates so that neither
            # side always meets the fuller chain.
            with Anvil(free_port()) as anvil:
                dep = deploy_suite(signing_web3(anvil.url, OPERATOR))
                order = (0, 1) if run % 2 == 0 else (1, 0)
                for side in order:
                    if side == 0:
                        seq.append(sequential(anvil.url, dep, args.tx, 0))
                    else:
                        pipe.append(asyncio.run(pipelined(anvil.url, dep, args.tx, 5_000, Path(d) / str(run))))
    out = {
        "bench": "chain_throughput",
        "transactions_per_run": args.tx,
        "runs": args.runs,
        "sequential_tx_per_s": [round(x, 1) for x in seq],
        "gateway_tx_per_s": [round(x, 1) for x in pipe],
        "sequential_median": round(statistics.median(seq), 1),
        "gateway_median": round(statistics.median(pipe), 1),
        "ratio_gateway_vs_sequential": round(statistics.median(pipe) / statistics.median(seq), 2),
        "goal_tx_per_s": 150,
        "machine": machine(),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
