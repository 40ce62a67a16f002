"""Soak: run the demo world and the console headless for a long stretch and measure the console's memory.

The console runs in a child process (``bench/soak.py --child``) exactly as ``energynet demo`` does it
(grid simulator, device fleet and anvil as its own subprocesses), with its historian database in a
temporary data directory. The parent samples the child's ``/proc`` memory figures (and the machine's load
average) every ``--sample-s`` seconds and reports the least-squares slope of RSS (and anonymous RSS) over
*every* sample after the warm-up, in MB/min, as JSON, with the slope of each 10-minute window after it.

The warm-up is counted from the moment the demo is *fully up*, not from the launch: the console has drawn
a live frame (simulators up, drivers reading) and the demo chain is attached (gateway started, chain panel
and demand response attached, or the chain reported failed), plus ``--settle-min`` minutes (default 5:
the first rollups, retention passes and full collections after everything is loaded). On a loaded machine
the chain attaches minutes after the launch, and web3, the contracts and the outbox then add ~45 MB in one
step; a warm-up fixed from the launch put that step inside the fitted window on a busy machine and not on
a quiet one, so the figure measured the machine's load rather than the console (docs/BENCHMARKS.md, "Soak
after the flat-heap fixes"). ``--minutes`` is the length of the fitted window (default 30), so a soak runs
for "time until fully up + settle + minutes"; a demo not fully up after ``--up-timeout-min`` fails the run.

Accelerated: the historian's maintenance (rollup + retention), which runs once a minute in a console,
runs every ``--maintain-s`` seconds (default 10 s, i.e. 6x as often), so a 30-minute soak exercises as
many rollups as three hours of normal running. With ``--dispute-window-s N`` the demo chain's settlement
dispute window (3600 s as deployed) is set to N seconds once the chain is up, before the console's gateway
starts: a trade then goes from match to paid in about an hour less, so the set of open matches (every trade
between its match and its payout: ~110 min of trades with the deployed window) reaches its level inside a
soak's warm-up instead of after it. Everything else runs at its normal pace (20 Hz UI frames, 50 ms OPC-UA
publishing, Modbus polling, chain status every 5 s, the traders' rounds).

Switches for diagnosis (one part off at a time): ``--no-historian``, ``--no-maintenance``,
``--no-chain``, ``--screenshot-s`` (grab the window like the headless demo, every N s; 0 = never),
``--heaptrack`` (run the console under heaptrack, recording every C allocation with its stack),
``--port-offset`` (the demo's ports moved by N, so two soaks can run side by side).
The child also writes its own figures (glibc heap in use and free, SQLite's allocator, traced Python
memory when ``--tracemalloc``) to the samples, which tells C-heap growth from Python growth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent

MB = 1024 * 1024


# ---- the parent: start the child, sample /proc, fit the slope ---------------------------------------


def proc_memory(pid: int) -> dict[str, float]:
    """VmRSS, RssAnon and friends of a process (MB), from /proc/PID/status."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmData", "Threads"):
                parts = rest.split()
                out[key] = int(parts[0]) / 1024 if key != "Threads" else int(parts[0])
    return out


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    n = len(samples)
    if n < 3:
        return None
    mt = sum(t for t, _ in samples) / n
    mv = sum(v for _, v in samples) / n
    stt = sum((t - mt) ** 2 for t, _ in samples)
    if stt == 0:
        return None
    return sum((t - mt) * (v - mv) for t, v in samples) / stt * 60.0


def run_parent(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="energynet-soak-"))
    diag_path = workdir / "child-diag.jsonl"
    up_path = workdir / "up.json"
    env = dict(os.environ, XDG_DATA_HOME=str(workdir / "data"), QT_QPA_PLATFORM="offscreen", QT_API="pyside6",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--diag", str(diag_path),
           "--up-file", str(up_path), "--maintain-s", str(args.maintain_s), "--screenshot-s", str(args.screenshot_s),
           "--shot", str(workdir / "screen.png"), "--sample-s", str(args.sample_s),
           "--settle-min", str(args.settle_min), "--trace-every-min", str(args.trace_every_min),
           "--trace-frames", str(args.trace_frames), "--port-offset", str(args.port_offset),
           "--dispute-window-s", str(args.dispute_window_s)]
    for flag in ("no_historian", "no_maintenance", "no_chain", "tracemalloc", "trim"):
        if getattr(args, flag):
            cmd.append("--" + flag.replace("_", "-"))
    if args.heaptrack:  # preloaded from the start (attaching with gdb later crashed the process)
        cmd = ["heaptrack", "-o", str(workdir / "heaptrack"), *cmd]
    log = open(workdir / "child.log", "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the child
    t0 = time.monotonic()
    child = _start_child(cmd, env, log, workdir)
    pid = _console_pid(child.pid) if args.heaptrack else child.pid
    print(f"soak: child pid {pid}, work dir {workdir}, {args.minutes:g} min after the warm-up "
          f"(fully up + {args.settle_min:g} min)", file=sys.stderr, flush=True)
    stop = threading.Event()  # SIGTERM / SIGINT end the soak early, with the console stopped and a report
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    samples: list[dict[str, float]] = []
    up: dict[str, Any] | None = None
    growth_seen = 0  # characters of tracemalloc-growth.txt already printed
    out = Path(args.json) if args.json else None
    try:
        while True:
            if stop.wait(args.sample_s):
                break
            if child.poll() is not None:
                print(f"soak: the console exited early (rc {child.returncode}); see {workdir / 'child.log'}",
                      file=sys.stderr)
                break
            now = time.monotonic() - t0
            row: dict[str, float] = {"t_s": round(now, 1), **proc_memory(pid), "load1": _load1()}
            samples.append(row)
            if args.verbose:
                print(json.dumps(row), file=sys.stderr, flush=True)
            if up is None and up_path.exists():
                up = json.loads(up_path.read_text(encoding="utf-8"))
                up["t_s"] = round(float(up["mono"]) - t0, 1)
                print(f"soak: demo fully up at {float(up['t_s']) / 60:.2f} min (chain: {up['chain']}); "
                      f"fitting from {float(up['t_s']) / 60 + args.settle_min:.2f} min",
                      file=sys.stderr, flush=True)
            if up is None and now > args.up_timeout_min * 60:
                print(f"soak: the demo was not fully up after {args.up_timeout_min:g} min (no live frame or no "
                      f"chain attached); see {workdir / 'child.log'}", file=sys.stderr)
                break
            growth_seen = _print_new(workdir / "tracemalloc-growth.txt", growth_seen)
            if out is not None:
                out.write_text(json.dumps(report(args, samples, diag_path, up, t0), indent=1))
            if up is not None and now >= float(up["t_s"]) + (args.settle_min + args.minutes) * 60:
                break
    finally:
        with contextlib.suppress(ProcessLookupError):  # the console itself (under heaptrack: not its script)
            os.kill(pid, signal.SIGTERM)
        try:
            child.wait(60 if args.heaptrack else 30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        log.close()
    result = report(args, samples, diag_path, up, t0)
    text = json.dumps(result, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k not in ("samples", "child")}, indent=1))
    if out is not None:
        out.write_text(text)
    if not args.keep and not args.heaptrack:
        shutil.rmtree(workdir, ignore_errors=True)
    slope, fitted = result["rss_slope_mb_per_min"], result["fitted_minutes"]
    assert isinstance(fitted, float | int)
    ok = isinstance(slope, float) and slope <= args.max_slope and fitted >= args.minutes - args.sample_s / 60
    return 0 if ok or not args.check else 1


def _load1() -> float:
    """The machine's 1-minute load average (the soak shares the machine; the figure should not depend on it)."""
    with open("/proc/loadavg", encoding="ascii") as f:
        return float(f.read().split()[0])


def _console_pid(heaptrack_pid: int) -> int:
    """The Python process heaptrack started (its shell script's child), to sample its /proc figures."""
    for _ in range(100):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{heaptrack_pid}/task").iterdir():
                for pid in (task / "children").read_text(encoding="ascii").split():
                    if "soak.py" in Path(f"/proc/{pid}/cmdline").read_text(encoding="utf-8", errors="replace"):
                        return int(pid)
        time.sleep(0.1)
    raise RuntimeError("heaptrack started no console process")


def _print_new(path: Path, seen: int) -> int:
    """Print what the child appended to ``path`` since ``seen`` characters; returns the new count."""
    if not path.exists():
        return seen
    text = path.read_text(encoding="utf-8", errors="replace")
    if len(text) > seen and text.endswith("\n\n"):
        print(text[seen:], file=sys.stderr, end="", flush=True)
        return len(text)
    return seen


def _start_child(cmd: list[str], env: dict[str, str], log: IO[str], workdir: Path,
                 attempts: int = 3) -> subprocess.Popen[bytes]:
    """Start the console; on a loaded machine a simulator can miss the demo's 20 s start-up wait (or lose
    a port race with another demo), so a child that gives up within its first minute is started again."""
    for attempt in range(1, attempts + 1):
        child = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            if _window_up(workdir / "child.log"):
                return child
            time.sleep(1)
        if child.poll() is None:
            return child
        print(f"soak: the demo did not start (attempt {attempt}, rc {child.returncode}); trying again",
              file=sys.stderr, flush=True)
    return child


def _window_up(log_path: Path) -> bool:
    """The console drew a frame with a live reading: whatever `energynet demo` starts is up."""
    return "first live frame" in log_path.read_text(encoding="utf-8", errors="replace")


def report(args: argparse.Namespace, samples: list[dict[str, float]], diag_path: Path,
           up: dict[str, Any] | None, t0: float) -> dict[str, object]:
    """The figures: every slope over *all* the samples after the warm-up (fully up + settle), the slope of
    each whole 10-minute window after it, the heap figures at its start and end, the machine's load."""
    child: list[dict[str, float]] = []
    if diag_path.exists():
        for line in diag_path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):  # the line being written
                row = json.loads(line)
                if "mono" in row:  # the child's clock is the parent's (CLOCK_MONOTONIC is system-wide)
                    row["t_s"] = round(row.pop("mono") - t0, 1)
                child.append(row)
    up_s = None if up is None else float(up["t_s"])
    warm_s = None if up_s is None else up_s + args.settle_min * 60
    warm = [] if warm_s is None else [s for s in samples if s["t_s"] >= warm_s]
    warm_child = [] if warm_s is None else [c for c in child if c["t_s"] >= warm_s]

    def fit(rows: list[dict[str, float]], key: str) -> float | None:
        s = slope_mb_per_min([(r["t_s"], r[key]) for r in rows if key in r])
        return None if s is None else round(s, 3)

    def windows(rows: list[dict[str, float]], key: str) -> list[dict[str, object]]:
        """The slope of each whole 10-minute window after the warm-up (minutes from the launch)."""
        out: list[dict[str, object]] = []
        if warm_s is None or not rows:
            return out
        start = warm_s
        while start + 600 <= rows[-1]["t_s"] + args.sample_s / 2:
            part = [r for r in rows if start <= r["t_s"] < start + 600]
            out.append({"from_min": round(start / 60, 1), "to_min": round((start + 600) / 60, 1),
                        "slope_mb_per_min": fit(part, key)})
            start += 600
        return out

    def at(rows: list[dict[str, float]], key: str, index: int) -> float | None:
        return round(rows[index][key], 1) if rows and key in rows[index] else None

    loads = sorted(s["load1"] for s in warm if "load1" in s)
    fitted = round((warm[-1]["t_s"] - warm[0]["t_s"]) / 60, 2) if len(warm) > 1 else 0.0
    return {
        "minutes": round(samples[-1]["t_s"] / 60, 2) if samples else 0,
        "fully_up_min": None if up_s is None else round(up_s / 60, 2),
        "chain": None if up is None else up["chain"],
        "settle_min": args.settle_min,
        "warmup_end_min": None if warm_s is None else round(warm_s / 60, 2),
        "fitted_minutes": fitted,
        "samples_after_warmup": len(warm),
        "maintain_every_s": None if args.no_maintenance else args.maintain_s,
        "dispute_window_s": args.dispute_window_s or None,
        "parts_off": [p for p in ("historian", "maintenance", "chain") if getattr(args, "no_" + p)],
        "screenshot_every_s": args.screenshot_s or None,
        "heaptrack": args.heaptrack,
        "rss_start_mb": at(samples, "VmRSS", 0),
        "rss_warm_mb": at(warm, "VmRSS", 0),
        "rss_end_mb": at(samples, "VmRSS", -1),
        "rss_slope_mb_per_min": fit(warm, "VmRSS"),
        "rss_slope_per_10_min": windows(warm, "VmRSS"),
        "rss_anon_slope_mb_per_min": fit(warm, "RssAnon"),
        "heap_in_use_slope_mb_per_min": fit(warm_child, "heap_in_use_mb"),
        "heap_in_use_per_10_min": windows(warm_child, "heap_in_use_mb"),
        "heap_in_use_mb": [at(warm_child, "heap_in_use_mb", 0), at(warm_child, "heap_in_use_mb", -1)],
        "heap_free_slope_mb_per_min": fit(warm_child, "heap_free_mb"),
        "heap_free_mb": [at(warm_child, "heap_free_mb", 0), at(warm_child, "heap_free_mb", -1)],
        "sqlite_slope_mb_per_min": fit(warm_child, "sqlite_mb"),
        "pymalloc_total_slope_mb_per_min": fit(warm_child, "pymalloc_total_mb"),
        "pymalloc_used_slope_mb_per_min": fit(warm_child, "pymalloc_used_mb"),
        "pymalloc_total_mb": [at(warm_child, "pymalloc_total_mb", 0), at(warm_child, "pymalloc_total_mb", -1)],
        "python_traced_slope_mb_per_min": fit(warm_child, "traced_mb"),
        "threads": [at(warm, "Threads", 0), at(warm, "Threads", -1)],
        "load1_after_warmup": {"min": loads[0], "median": loads[len(loads) // 2], "max": loads[-1]} if loads else None,
        "samples": samples,
        "child": child,
    }


# ---- the child: the demo, with the switches applied and its own figures written ----------------------


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _diag_thread(path: Path, period_s: float, trim: bool, trace_every_s: float,
                 warm_at: Callable[[], float | None], trace_frames: int = 1) -> None:
    """Every ``period_s``: the child's own figures, a JSON line in ``path``; with tracemalloc, the growth
    diffs from the end of the warm-up (``warm_at()``: its monotonic time, None while not fully up)."""
    import _sqlite3

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.mallinfo2.restype = _MallInfo2
    sqlite = ctypes.CDLL(_sqlite_library(_sqlite3.__file__))
    sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    t0 = time.monotonic()
    trace_state: dict[str, object] = {}
    with open(path, "a", encoding="utf-8") as f:
        while True:
            time.sleep(period_s)
            warm = warm_at()
            if tracemalloc.is_tracing() and warm is not None:
                _traced_growth(path.with_name("tracemalloc-growth.txt"), trace_state, time.monotonic() - t0,
                               trace_every_s, warm - t0, trace_frames)
            mi = libc.mallinfo2()
            row = {"mono": round(time.monotonic(), 1),
                   "heap_in_use_mb": round((mi.uordblks + mi.hblkhd) / MB, 2),
                   "heap_free_mb": round(mi.fordblks / MB, 2),
                   "heap_mmapped_mb": round(mi.hblkhd / MB, 2),
                   **_pymalloc_stats(),
                   "sqlite_mb": round(sqlite.sqlite3_memory_used() / MB, 2),
                   "threads": threading.active_count(),
                   # full (generation 2) collections so far, and the frozen heap's size: a console whose
                   # full collections stop leaves its cyclic garbage in the heap
                   "gc_full_collections": gc.get_stats()[2]["collections"], "gc_frozen": gc.get_freeze_count()}
            if tracemalloc.is_tracing():
                row["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / MB, 2)
            if trim:
                libc.malloc_trim(0)
            f.write(json.dumps(row) + "\n")
            f.flush()


def _pymalloc_stats() -> dict[str, float]:
    """Python's own small-object heap (pymalloc): the arenas it has mapped and the bytes in its allocated
    blocks. glibc's figures do not see it (its 1 MiB arenas are mmap'd), and an arena is returned only when
    every block in it is free, so it can grow by fragmentation while the live (traced) memory stays flat.
    ``sys._debugmallocstats`` prints to the C stderr: captured for the moment it takes, with the console's
    log handlers held so no log line goes astray."""
    handlers = logging.getLogger().handlers
    for h in handlers:
        h.acquire()
    try:
        with tempfile.TemporaryFile() as tmp:
            sys.stderr.flush()
            saved = os.dup(2)
            try:
                os.dup2(tmp.fileno(), 2)
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("ascii", errors="replace")
    finally:
        for h in handlers:
            h.release()
    out: dict[str, float] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.startswith("# arenas allocated current"):
            out["pymalloc_arenas"] = int(value.replace(",", ""))
        elif key.startswith("# bytes in allocated blocks"):
            out["pymalloc_used_mb"] = round(int(value.replace(",", "")) / MB, 2)
        elif "bytes/arena" in key:  # "N arenas * 1048576 bytes/arena = total"
            out["pymalloc_total_mb"] = round(int(value.replace(",", "")) / MB, 2)
    return out


def _traced_growth(out: Path, state: dict[str, object], t_s: float, every_s: float, warmup_s: float,
                   frames: int) -> None:
    """Every ``every_s`` after the warm-up: the Python allocation sites (file:line, and the ``frames``-deep
    call stack) that grew most since the first snapshot after the warm-up, and the object types whose count
    grew, appended to ``out`` (the parent prints the last diff at the end)."""
    from collections import Counter

    if t_s < warmup_s or t_s < float(state.get("next_s", 0.0)):  # type: ignore[arg-type]
        return
    state["next_s"] = t_s + every_s
    snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__),
                                                      tracemalloc.Filter(False, __file__)])
    types = Counter(type(o).__qualname__ for o in gc.get_objects())
    baseline = state.get("snapshot")
    if baseline is None:
        state["snapshot"], state["types"], state["t0"] = snap, types, t_s
        return
    assert isinstance(baseline, tracemalloc.Snapshot)
    minutes = (t_s - float(state["t0"])) / 60  # type: ignore[arg-type]
    lines = [f"=== after {t_s:.0f} s: growth over the last {minutes:.1f} min (since {state['t0']:.0f} s) ===",
             f"traced now {tracemalloc.get_traced_memory()[0] / MB:.2f} MB", "-- by line"]
    lines += [str(d) for d in snap.compare_to(baseline, "lineno")[:25]]
    if frames > 1:
        lines.append("-- by call stack (largest 8)")
        for d in snap.compare_to(baseline, "traceback")[:8]:
            lines.append(f"{d.size_diff / 1024:+.1f} KiB, {d.count_diff:+d} blocks")
            lines += ["    " + line for line in d.traceback.format()]
    old_types = state["types"]
    assert isinstance(old_types, Counter)
    grown = sorted(((n - old_types.get(k, 0), k) for k, n in types.items()), reverse=True)[:15]
    lines.append("-- object counts grown: " + ", ".join(f"{k} {d:+d}" for d, k in grown if d > 0))
    with out.open("a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n\n")


def _sqlite_library(module_file: str) -> str:
    """The libsqlite3 the sqlite3 module uses (linked dynamically on Debian; else the module itself)."""
    out = subprocess.run(["ldd", module_file], capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        if "libsqlite3" in line and "=>" in line:
            return line.split("=>")[1].split()[0]
    return module_file


class FullyUp:
    """Tells when the demo is fully up: the console drew a live frame (its "first live frame" log line) and
    the demo chain's task is done (gateway started, chain panel and demand response attached; or the chain
    failed, or the soak runs without it). Writes ``{"mono": ..., "chain": ...}`` to ``path`` then."""

    def __init__(self, path: Path, settle_s: float) -> None:
        self.path, self.settle_s = path, settle_s
        self.frame: float | None = None
        self.chain: tuple[float, str] | None = None
        self.up: float | None = None
        self.lock = threading.Lock()

    def frame_drawn(self) -> None:
        with self.lock:
            self.frame = self.frame or time.monotonic()
            self._write()

    def chain_done(self, state: str) -> None:
        with self.lock:
            self.chain = self.chain or (time.monotonic(), state)
            self._write()

    def warm_at(self) -> float | None:
        """The monotonic time the warm-up ends (fully up + settle), None while not fully up."""
        return None if self.up is None else self.up + self.settle_s

    def _write(self) -> None:
        if self.up is not None or self.frame is None or self.chain is None:
            return
        self.up = max(self.frame, self.chain[0])
        logging.getLogger("soak").info("demo fully up (chain: %s)", self.chain[1])
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"mono": self.up, "chain": self.chain[1]}), encoding="utf-8")
        tmp.replace(self.path)


class _FrameLog(logging.Handler):
    """Calls ``on_frame`` when the console logs its first live frame."""

    def __init__(self, on_frame: Callable[[], None]) -> None:
        super().__init__(logging.INFO)
        self.on_frame = on_frame

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("first live frame"):
            self.on_frame()


def _watch_chain(up: FullyUp) -> None:
    """``MainWindow.attach_chain`` reports to ``up`` when the task that called it (the demo's chain task,
    which attaches demand response next) is done."""
    from console.ui.main_window import MainWindow

    attach = MainWindow.attach_chain

    def attach_chain(self: MainWindow, chain: Any, error: str | None) -> None:
        attach(self, chain, error)
        state = "attached" if chain is not None else f"failed: {error}"
        task = asyncio.current_task()
        if task is None:
            up.chain_done(state)
        else:
            task.add_done_callback(lambda _t: up.chain_done(state))

    setattr(MainWindow, "attach_chain", attach_chain)  # noqa: B010


def _shorten_dispute_window(seconds: int) -> None:
    """Once `chain up` printed the demo chain, set its Settlement's dispute window to ``seconds`` (the operator
    is the suite's admin), and only then hand the chain to the console: its gateway, which signs with the same
    key, starts after this transaction is mined and reads the account's nonce then."""
    from console import bootstrap_demo

    original = bootstrap_demo._read_chain_up

    def read_chain_up(proc: subprocess.Popen[bytes]) -> Any:
        up = original(proc)
        if up is None:
            return up
        from contracts.anvil import DEV_KEYS
        from contracts.deploy import Deployment, account_from_key, contract_at, signing_web3, transact

        dep = Deployment.read(up.deployment)
        w3 = signing_web3(up.rpc, account_from_key(DEV_KEYS[0]))
        settlement = contract_at(w3, "Settlement", dep.addresses["Settlement"]).functions
        fee_account, fee_bps = settlement.feeAccount().call(), settlement.feeBps().call()
        delivery, before = settlement.deliveryWindow().call(), settlement.disputeWindow().call()
        transact(w3, settlement.setParameters(fee_account, fee_bps, delivery, seconds))
        logging.getLogger("soak").info("demo chain: dispute window %d s -> %d s", before,
                                       settlement.disputeWindow().call())
        return up

    setattr(bootstrap_demo, "_read_chain_up", read_chain_up)  # noqa: B010


def run_child(args: argparse.Namespace) -> int:
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(args.trace_frames)
    from console import cli
    from console import config as config_mod
    from console.app import run_console, tune_malloc

    up = FullyUp(Path(args.up_file), args.settle_min * 60)
    logging.getLogger("console.app").addHandler(_FrameLog(up.frame_drawn))
    threading.Thread(target=_diag_thread, args=(Path(args.diag), args.sample_s, args.trim,
                                                args.trace_every_min * 60, up.warm_at, args.trace_frames),
                     daemon=True, name="soak-diag").start()

    original_load = config_mod.load

    def load(path: Path) -> config_mod.Settings:
        settings = original_load(path)
        historian = replace(settings.historian, enabled=not args.no_historian,
                            maintain_every_s=1e9 if args.no_maintenance else args.maintain_s)
        return replace(settings, historian=historian)

    # The demo as `energynet demo` runs it, with the soak's settings and launcher patched in.
    setattr(config_mod, "load", load)  # noqa: B010 - console.cli looks it up on the module
    if args.no_chain:
        setattr(cli, "_demo_chain", lambda settings: (None, settings))  # noqa: B010

    def launch(settings: config_mod.Settings, _args: argparse.Namespace, stop: object = None,
               demo: object = None) -> int:
        shot = Path(args.shot) if args.screenshot_s else None
        tune_malloc()  # as run_console does first: the window's import below is then made with it
        _watch_chain(up)
        if getattr(demo, "chain", None) is None:
            up.chain_done("off")
        return run_console(settings, shot, None, args.screenshot_s or None, stop=stop, demo=demo)  # type: ignore[arg-type]

    setattr(cli, "_launch", launch)  # noqa: B010
    if args.dispute_window_s:
        _shorten_dispute_window(args.dispute_window_s)
    # SIGTERM from the parent: the console's own ordered shutdown (console.shutdown) stops it and the demo.
    off = args.port_offset
    ports = ["--port", str(4840 + off), "--modbus-port", str(5020 + off), "--chain-port", str(8545 + off)]
    return cli.main(["demo", *(ports if off else [])])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0,
                   help="minutes of samples after the warm-up, all fitted (default 30)")
    p.add_argument("--settle-min", type=float, default=5.0,
                   help="the warm-up: minutes after the demo is fully up (live frame, chain attached); default 5")
    p.add_argument("--up-timeout-min", type=float, default=10.0,
                   help="fail when the demo is not fully up after this many minutes (default 10)")
    p.add_argument("--sample-s", type=float, default=10.0, help="sampling period (default 10 s)")
    p.add_argument("--maintain-s", type=float, default=10.0, help="historian maintenance period (default 10 s)")
    p.add_argument("--screenshot-s", type=float, default=0.0, help="grab the window every N s (0 = never)")
    p.add_argument("--dispute-window-s", type=int, default=0,
                   help="set the demo chain's settlement dispute window to N s (0 = as deployed, 3600 s)")
    p.add_argument("--no-historian", action="store_true")
    p.add_argument("--no-maintenance", action="store_true")
    p.add_argument("--no-chain", action="store_true")
    p.add_argument("--tracemalloc", action="store_true",
                   help="trace Python allocations in the child; every --trace-every-min after the warm-up the top "
                        "growing allocation sites are printed (and kept in tracemalloc-growth.txt)")
    p.add_argument("--trace-every-min", type=float, default=2.0, help="tracemalloc diff period (default 2 min)")
    p.add_argument("--trace-frames", type=int, default=1,
                   help="call-stack depth traced (default 1 = the allocating line; >1 adds the stacks)")
    p.add_argument("--heaptrack", action="store_true",
                   help="run the console under heaptrack (recording in the kept work directory; heaptrack_print)")
    p.add_argument("--port-offset", type=int, default=0,
                   help="the demo's ports (OPC-UA 4840, Modbus 5020, anvil 8545) plus N: soaks side by side")
    p.add_argument("--trim", action="store_true", help="malloc_trim(0) in the child after every sample")
    p.add_argument("--json", help="write the full result (with every sample) to this file")
    p.add_argument("--max-slope", type=float, default=0.2, help="MB/min allowed with --check (default 0.2)")
    p.add_argument("--check", action="store_true", help="exit 1 when the RSS slope is above --max-slope")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, database)")
    p.add_argument("-v", "--verbose", action="store_true", help="print every sample to stderr")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--diag", help=argparse.SUPPRESS)
    p.add_argument("--shot", help=argparse.SUPPRESS)
    p.add_argument("--up-file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    return run_child(args) if args.child else run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
