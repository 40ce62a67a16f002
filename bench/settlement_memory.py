"""Memory the settlement service holds after N finished matches (issue 11), measured with tracemalloc.

    PYTHONPATH=$PWD .venv/bin/python -m bench.settlement_memory --matches 20000

N journaled trades are recorded (in rounds of 200, as the step records what the market sent), settled (trade id,
value, delivery end, tx hash) and paid, through the service's own store path on a SQLite file; then the Python
memory still allocated (tracemalloc, after a gc) is compared with before the first round, and the time of the
step's in-memory passes (prune, batch, track batches) and of counts() is taken. Run against an older tree
(``PYTHONPATH=<its root>``) the same rounds go through what that tree's step did (``store.record`` then the
in-memory map).

With ``--open`` the N matches are recorded and settled but not paid: each is OPEN, waiting for its delivery to
end (the long wait of a match in the demo), and the memory held per open match is reported
(``held_B_per_open_match``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

from console.services.settlement import MatchRecord, MatchState, SettlementService
from console.store.settlement_store import SqlSettlementStore

PRODUCT = 1_800_000_000
ROUND = 200


async def _record(service: SettlementService, fresh: list[MatchRecord]) -> None:
    if hasattr(service, "_record"):
        await service._record(fresh)
    else:  # an older tree: what its _take_trades did
        await asyncio.to_thread(service.store.record, fresh)
        service._matches.update({m.seq: m for m in fresh})


async def run(n: int, tmp: Path, open_only: bool = False) -> dict[str, object]:
    store = SqlSettlementStore(f"sqlite:///{tmp / 'bench.sqlite'}")
    service = SettlementService(store, chain=None, market=None)  # type: ignore[arg-type]  # store paths only
    store.counts() if hasattr(store, "counts") else store.matches()  # schema made before measuring
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    for start in range(0, n, ROUND):
        fresh = [MatchRecord(i, PRODUCT - 100, PRODUCT, 200, 1000, f"0x{i:064x}", f"0x{i + n:064x}",
                             recorded=time.time(), updated=time.time()) for i in range(start, min(n, start + ROUND))]
        await _record(service, fresh)
        settled = [replace(m, state=MatchState.SETTLED, trade_id=m.seq + 1, value=200, delivery_end=PRODUCT + 900,
                           tx_hash=f"0x{m.seq:064x}") for m in fresh]
        await service._save(settled)
        if not open_only:
            await service._save([replace(m, state=MatchState.PAID, delivered_wh=1000) for m in settled])
    fill_s = time.perf_counter() - t0
    service._prune()  # as the step does every PRUNE_EVERY_S
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    top = [f"{st.traceback[0].filename.rsplit('/', 2)[-1]}:{st.traceback[0].lineno} {st.size / 1e6:.3f} MB"
           for st in tracemalloc.take_snapshot().statistics("lineno")[:5]]
    tracemalloc.stop()
    t1 = time.perf_counter()
    for _ in range(100):
        service._prune()
        await service._batch()
        await service._track_batches()
    step_ms = (time.perf_counter() - t1) * 1000 / 100
    t2 = time.perf_counter()
    for _ in range(100):
        counts = service.counts()
    counts_ms = (time.perf_counter() - t2) * 1000 / 100
    store.close()
    per = {"held_B_per_open_match": round(held / n, 1)} if open_only else {"held_B_per_match": round(held / n, 1)}
    return {"matches": n, "open": open_only, "held_MB": round(held / 1e6, 3), **per,
            "in_memory_records": len(service._matches) + len(getattr(service, "_recent", {}))
            + len(getattr(service, "_waiting_recent", {})),
            "waiting_compact": len(getattr(service, "_waiting", {})),
            "step_passes_ms": round(step_ms, 3), "counts_ms": round(counts_ms, 3),
            "counts": {s.value: c for s, c in counts.items()}, "fill_s": round(fill_s, 1), "top": top}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--matches", type=int, default=20_000)
    ap.add_argument("--open", action="store_true",
                    help="settle the matches but do not pay them: memory per OPEN match (waiting for delivery)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(args.matches, Path(tmp), args.open))))


if __name__ == "__main__":
    main()
