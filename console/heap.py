"""The collector's view of a long-running console or ``serve`` process (no Qt: both entrypoints use it)."""

from __future__ import annotations

import gc


def pause_collector() -> None:
    """No cyclic collection until :func:`resume_collector` or :func:`settle_heap`: what a start builds
    (modules, the window) lives as long as the process, and the collector's runs meanwhile only walk it,
    again and again as it grows (≈ 0.3 s of the console's CPU before its window, 525 runs). The console
    resumes it once its window is shown (what comes then, a new database's migration above all, makes
    cyclic garbage: without the collector the console needed more CPU to its first live frame, not less);
    the world freezes its heap and resumes once it is built (drivers/sim/world/serve.py)."""
    gc.disable()


def resume_collector() -> None:
    """The collector on again after :func:`pause_collector`, with what the start built so far (modules, the
    window) moved to the permanent generation first: otherwise the collector's first full run walks all of
    it between the window and the first live frame. Cyclic garbage of the imports is kept with it (once,
    bounded); :func:`settle_heap` later collects and freezes what the services built."""
    gc.freeze()
    gc.enable()


def settle_heap() -> None:
    """Collect once and freeze what survived (the window, services, imported modules, the replayed market
    book) so that later full collections skip them: with a large startup heap a gen-2 collection otherwise
    stalls the loop for tens of milliseconds.

    The second collection (of nothing but what is outside the frozen heap) resets the collector's
    measure of the old generation: CPython runs a full collection only when the objects promoted since
    the last one exceed a quarter of the old generation *as the last full collection found it*, and that
    was the whole start-up heap. Without it the first full collection after the freeze waited for some
    250,000 promoted objects, hours of running, while cyclic garbage (web3's per-call classes, exception
    frames) piled up in the old generation and the heap grew (docs/BENCHMARKS.md, soak).

    Called by the entrypoints once the window is built and again once the services have started (the
    market has replayed its journal, the participant API is listening): what starting them imported and
    built would otherwise be walked by the first full collections, which come soon after a start, while the
    first participants' orders arrive (a 90–160 ms stall in the first run of ``bench/api_orders.py``,
    docs/BENCHMARKS.md)."""
    gc.collect()
    gc.freeze()
    gc.collect()
    gc.enable()  # paused by pause_collector while the process started
