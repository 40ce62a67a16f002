"""Smoke test of the BUILT bundle: run dist/energynet/energynet as an operator would and check what it leaves.

    python installer/smoke.py [BUNDLE_DIR]        (default dist/energynet; `make dist` runs it)

Each step starts the frozen executable itself, never the source tree: the working directory is a fresh
temporary folder (so nothing is found through the project's files or node_modules) and the data directory
(XDG_DATA_HOME) is a fresh folder too (so the operator's own data is untouched and the migrations run from
an empty database).

0. ``energynet -I -S -c CODE`` runs CODE and ``energynet -m console --help`` shows the CLI: the forms the
   demo uses to start its watcher and simulators with sys.executable work in the frozen program.
1. ``energynet check-config <bundle>/_internal/resources/energynet.toml`` exits 0: the shipped config, its
   device profiles and chain files are all in the bundle.
2. ``energynet db upgrade --url sqlite:///...`` exits 0 and ``db status`` names the head revision: Alembic
   finds env.py and versions/ inside the bundle.
3. ``energynet demo --quit-after 240 --screenshot out.png`` offscreen, stopped with SIGTERM once the checks
   below have passed (at least DEMO_MIN_SECONDS after the start), exits 0. While it runs:
   - its local chain (the bundled anvil) comes up: the log says "demo chain on ...";
   - the participant API (uvicorn/FastAPI inside the console) answers real HTTP requests on the port the log
     names: ``GET /api/v1/domain`` gives chain id 31337 and the settlement contract, ``GET /api/v1/grid/status``
     a frequency (45-55 Hz) whose timestamp advances by >= 3 s between two reads (live values);
   - the trader fleet is a child of the demo running the bundle's own executable with ``sim traders``
     (installer/entry.py's ``-m console`` form), alive when the API answered; the console reads the API
     participants file it writes (N > 0 participants), and at least one household's signed orders are in the
     book: ``GET /api/v1/orders`` with that household's Bearer token lists them;
   - the PNG exists and is not blank; the log has no traceback and no ERROR line except those listed in
     ALLOWED_ERRORS, and no WARNING from the trader fleet (a failed request).

Exit status 0 when every check passes, 1 otherwise, with each failure printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ERROR lines the demo may log without the bundle being broken, each with the reason it is harmless. (A bundle
# built without node_modules has no anvil, so its demo logs "demo chain not started"; that is no longer
# allowed: without the chain there is no settlement, no participant API and no trader fleet to check.)
ALLOWED_ERRORS: tuple[tuple[str, str], ...] = ()

# An ERROR or CRITICAL record in the console's log format ("%(asctime)s %(levelname)s %(name)s: ..."), or a
# line that starts with the level. A WARNING whose text has the word ERROR in it (pymodbus logs "ERROR:
# received pdu without a corresponding request" at WARNING for a late answer) is not one.
LEVEL_ERROR = re.compile(r"^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ )?(?:ERROR|CRITICAL)\b")

# The demo runs until every check below has passed, at least DEMO_MIN_SECONDS (trends with some history in the
# screenshot) and at most DEMO_MAX_SECONDS (its own --quit-after; a check still open then is a failure).
DEMO_MIN_SECONDS = 20
DEMO_MAX_SECONDS = 240
CHAIN_ID = 31337  # anvil's
LIVE_ADVANCE_S = 3.0  # two grid statuses from the API this far apart (their timestamps): the values are live
API_LINE = re.compile(r"demo: participant API on (https?://\S+)")
CHAIN_LINE = re.compile(r"demo chain on \S+, contracts in (\S+)")
API_PARTICIPANTS_LINE = re.compile(r"participants file \S+ read again: (\d+) participants")
# The trader fleet logs a failed API request at WARNING (drivers/sim/traders/fleet.py); the demo starts it with
# --log-level warning, its stderr goes to the demo's log.
TRADER_WARNING = re.compile(r"WARNING drivers\.sim\.traders|energynet sim traders:")
# A blank or single-colour grab has a grey-level spread near 0; the console's window (panels, text, trends)
# is well above this. Measured on a good demo screenshot: see docs/install.md.
MIN_GREY_STDDEV = 8.0
MIN_DISTINCT_COLOURS = 16


@dataclass
class Smoke:
    bundle: Path
    failures: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exe(self) -> Path:
        return self.bundle / ("energynet.exe" if os.name == "nt" else "energynet")

    def run(self, name: str, args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
        t0 = time.monotonic()
        try:
            proc = subprocess.run([str(self.exe), *args], cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            self.timings[name] = time.monotonic() - t0
            out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err = (exc.stderr or b"").decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            self.failures.append(f"{name}: still running after {timeout:.0f} s (killed)")
            return -1, out + err
        self.timings[name] = time.monotonic() - t0
        log = proc.stdout + proc.stderr
        if proc.returncode != 0:
            self.failures.append(f"{name}: exit status {proc.returncode}\n{_tail(log)}")
        return proc.returncode, log


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def log_problems(log: str) -> list[str]:
    """Traceback and ERROR lines of `log` that ALLOWED_ERRORS does not excuse."""
    problems = []
    for line in log.splitlines():
        flagged = "Traceback" in line or LEVEL_ERROR.match(line)
        if flagged and not any(re.search(pattern, line) for pattern, _ in ALLOWED_ERRORS):
            problems.append(line.strip())
    return problems


def image_spread(png: Path) -> tuple[int, int, float, int]:
    """(width, height, grey-level standard deviation, distinct colours) of `png`, on a sample grid."""
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    if image.isNull():
        return 0, 0, 0.0, 0
    w, h = image.width(), image.height()
    step = max(1, min(w, h) // 200)
    greys: list[float] = []
    colours: set[int] = set()
    for y in range(0, h, step):
        for x in range(0, w, step):
            rgb = image.pixel(x, y) & 0xFFFFFF
            colours.add(rgb)
            greys.append(0.299 * (rgb >> 16 & 0xFF) + 0.587 * (rgb >> 8 & 0xFF) + 0.114 * (rgb & 0xFF))
    mean = sum(greys) / len(greys)
    stddev = (sum((g - mean) ** 2 for g in greys) / len(greys)) ** 0.5
    return w, h, stddev, len(colours)


def check_revision(s: Smoke, status_output: str, versions: Path) -> None:
    """`db status` JSON: the database is at the head, and the head is the newest migration in the bundle."""
    try:
        status = json.loads(status_output[status_output.index("{"):status_output.rindex("}") + 1])
    except ValueError:
        s.failures.append(f"db status: no JSON in its output:\n{_tail(status_output)}")
        return
    newest = max((m.group(1) for p in versions.glob("*.py")
                  if (m := re.search(r'^revision = "([^"]+)"', p.read_text(encoding="utf-8"), re.M))), default=None)
    print(f"db status: revision {status.get('revision')}, head {status.get('head')}, newest in bundle {newest}")
    if newest is None or status.get("revision") != newest or status.get("head") != newest:
        s.failures.append(f"db status: revision {status.get('revision')!r} / head {status.get('head')!r}, "
                          f"expected the bundle's newest migration {newest!r} ({versions})")


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def smoke(bundle: Path) -> Smoke:
    built = Smoke(bundle.resolve())
    if not built.exe.is_file():
        built.failures.append(f"{built.exe}: no executable; build the bundle with `make dist`")
        return built
    with tempfile.TemporaryDirectory(prefix="energynet-smoke-") as tmp_name:
        tmp = Path(tmp_name)
        # The bundle is tested where an operator would put it: away from the project. In place, under the
        # project's dist/, the frozen code would still find the project's node_modules/ (anvil) by searching
        # upwards, hiding a bundle that lacks them. Hard links make the copy instant on one file system.
        shutil.copytree(built.bundle, tmp / "energynet", symlinks=True, copy_function=_link_or_copy)
        s = Smoke(tmp / "energynet", built.failures, built.timings)
        print(f"testing a copy of {built.bundle} at {s.bundle}")
        config = s.bundle / "_internal" / "resources" / "energynet.toml"
        work = tmp / "work"
        work.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ENERGYNET_", "VIRTUAL_ENV"))}
        env.update(QT_QPA_PLATFORM="offscreen", XDG_DATA_HOME=str(tmp / "data"), XDG_CONFIG_HOME=str(tmp / "config"))

        # The interpreter forms code uses to start helpers with sys.executable (installer/entry.py).
        code, log = s.run("-c", ["-I", "-S", "-c", "import sys; print('frozen', getattr(sys, 'frozen', False))"],
                          work, env, 60)
        if code == 0 and "frozen True" not in log:
            s.failures.append(f"-I -S -c: did not run the code:\n{_tail(log)}")
        code, log = s.run("-m console", ["-m", "console", "--help"], work, env, 60)
        if code == 0 and "check-config" not in log:
            s.failures.append(f"-m console --help: no CLI help:\n{_tail(log)}")
        print(f"interpreter forms: -c in {s.timings['-c']:.1f} s, -m console in {s.timings['-m console']:.1f} s")

        code, log = s.run("check-config", ["check-config", str(config)], work, env, 120)
        print(f"check-config: exit {code} in {s.timings['check-config']:.1f} s")

        db = tmp / "historian.db"
        code, log = s.run("db upgrade", ["db", "upgrade", "--url", f"sqlite:///{db}"], work, env, 120)
        print(f"db upgrade: exit {code} in {s.timings['db upgrade']:.1f} s")
        code, log = s.run("db status", ["db", "status", "--url", f"sqlite:///{db}"], work, env, 120)
        if code == 0:
            check_revision(s, log, s.bundle / "_internal" / "console" / "store" / "migrations" / "versions")

        demo_step(s, work, env)
    return s


def http_json(url: str, token: str | None = None, timeout: float = 10.0) -> Any:
    """GET ``url`` over TCP with the standard library's HTTP client and parse the JSON body."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def children(pid: int) -> list[tuple[int, Path | None, list[str]]]:
    """(pid, executable, argv) of the processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != pid:  # fields: state, ppid, ...
                continue
            child = int(stat.parent.name)
            argv = (stat.parent / "cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
            try:
                exe: Path | None = (stat.parent / "exe").resolve(strict=True)
            except OSError:
                exe = None
            out.append((child, exe, argv))
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return out


def household_tokens(participants: Path, limit: int = 3) -> list[tuple[str, str]]:
    """(id, API token) of the first ``limit`` households with a wallet in the demo's participants file: the token
    is keccak("energynet-api-token/1" + key) of the household's key (drivers/sim/traders/households.py), the
    credential the fleet reads its own orders with."""
    from eth_account import Account
    from eth_utils.crypto import keccak

    doc = json.loads(participants.read_text(encoding="utf-8"))
    password = doc["keystores"]["demo_password"]
    out: list[tuple[str, str]] = []
    for p in doc["participants"]:
        if p.get("wallet") and p.get("keystore") and len(out) < limit:
            store = json.loads((participants.parent / p["keystore"]).read_text(encoding="utf-8"))
            key = bytes(Account.decrypt(store, password))
            out.append((str(p["id"]), keccak(b"energynet-api-token/1" + key).hex()))
    return out


@dataclass
class DemoWatch:
    """What the smoke test has seen of the running demo (each None until seen)."""

    chain_dir: Path | None = None
    api_url: str | None = None
    domain: dict[str, Any] | None = None
    grid_first: dict[str, Any] | None = None  # the first grid status with a frequency
    grid: dict[str, Any] | None = None  # a later one, its timestamp LIVE_ADVANCE_S or more after the first
    traders: tuple[int, Path | None, list[str]] | None = None
    api_participants: int | None = None
    orders: tuple[str, int] | None = None  # (household, its orders in the book)
    api_error: str = "no answer"  # the API's last refusal or connection error (until every answer is in)
    problems: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return None not in (self.domain, self.grid, self.traders, self.api_participants, self.orders)


def watch_demo(w: DemoWatch, log: str, demo_pid: int, exe: Path) -> None:
    """One look at the running demo: its log so far, its children and its participant API."""
    if w.chain_dir is None and (m := CHAIN_LINE.search(log)):
        w.chain_dir = Path(m.group(1)).parent
    if w.api_url is None and (m := API_LINE.search(log)):
        w.api_url = m.group(1).rstrip("/")
    if w.api_participants is None:  # the demo writes the file empty; the fleet writes its households into it
        counts = [int(m.group(1)) for m in API_PARTICIPANTS_LINE.finditer(log)]
        if counts and max(counts) > 0:
            w.api_participants = max(counts)
    if w.traders is None:
        for child in children(demo_pid):
            if "sim" in child[2] and "traders" in child[2][child[2].index("sim"):]:
                w.traders = child
                if child[1] != exe.resolve():
                    w.problems.append(f"demo traders: pid {child[0]} runs {child[1]}, not the bundle's {exe}")
    if w.api_url is None:
        return
    try:
        if w.domain is None:
            w.domain = http_json(w.api_url + "/api/v1/domain")
        if w.grid is None:
            grid = http_json(w.api_url + "/api/v1/grid/status")
            if isinstance(grid.get("frequency_hz"), (int, float)) and 45 <= grid["frequency_hz"] <= 55 \
                    and isinstance(grid.get("ts"), (int, float)):  # before the world's first values: missing
                if w.grid_first is None:
                    w.grid_first = grid
                elif grid["ts"] >= w.grid_first["ts"] + LIVE_ADVANCE_S:
                    w.grid = grid  # the values are live: the world's measurements keep coming
        if w.orders is None and w.traders is not None and w.chain_dir is not None \
                and (w.chain_dir / "participants.json").is_file():
            for household, token in household_tokens(w.chain_dir / "participants.json"):
                orders = http_json(w.api_url + "/api/v1/orders", token)
                if orders:
                    w.orders = (household, len(orders))
                    break
    except (OSError, ValueError, KeyError) as exc:  # not up yet or a household's first round still to come
        w.api_error = f"{type(exc).__name__}: {exc}"


def demo_step(s: Smoke, work: Path, env: dict[str, str]) -> None:
    """Step 3: the demo with its chain, participant API and trader fleet, stopped once all are seen working."""
    png = work / "out.png"
    t0 = time.monotonic()
    proc = subprocess.Popen([str(s.exe), "demo", "--quit-after", str(DEMO_MAX_SECONDS), "--screenshot", str(png)],
                            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    stdout = proc.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(stdout.readline, "")), daemon=True)
    reader.start()
    w = DemoWatch()
    traders_alive = False
    while proc.poll() is None and time.monotonic() - t0 < DEMO_MAX_SECONDS + 60:
        watch_demo(w, "".join(lines), proc.pid, s.exe)
        if w.done and not traders_alive and w.traders is not None:
            traders_alive = Path(f"/proc/{w.traders[0]}").exists()  # still trading when the API answered
        if w.done and time.monotonic() - t0 >= DEMO_MIN_SECONDS:
            break
        time.sleep(1.0)
    seen_at = time.monotonic() - t0
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # the operator's Ctrl+C / service stop: the demo shuts down in order
    try:
        code = proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
        s.failures.append("demo: still running 90 s after SIGTERM (killed)")
    reader.join(timeout=10)
    s.timings["demo"] = time.monotonic() - t0
    log = "".join(lines)
    print(f"demo: all checks seen after {seen_at:.1f} s, exit {code} in {s.timings['demo']:.1f} s")
    if code != 0:
        s.failures.append(f"demo: exit status {code}\n{_tail(log)}")
    (Path.cwd() / "build").mkdir(exist_ok=True)
    (Path.cwd() / "build" / "smoke-demo.log").write_text(log, encoding="utf-8")

    if w.chain_dir is None:
        s.failures.append("demo: its chain (the bundled anvil) did not come up: no 'demo chain on' line")
    if w.api_url is None:
        s.failures.append("demo: no participant API: no 'demo: participant API on' line in the log")
    elif w.domain is None or w.grid is None:
        s.failures.append(f"participant API at {w.api_url}: domain {w.domain}, first grid status {w.grid_first}, "
                          f"none {LIVE_ADVANCE_S:.0f} s later (last: {w.api_error})")
    else:
        assert w.grid_first is not None
        print(f"participant API at {w.api_url}: domain {w.domain}; grid {w.grid_first['frequency_hz']:.4f} Hz "
              f"then {w.grid['ts'] - w.grid_first['ts']:.1f} s later {w.grid['frequency_hz']:.4f} Hz, "
              f"{len(w.grid.get('voltages_pct') or {})} bus voltages")
        if w.domain.get("chainId") != CHAIN_ID or not str(w.domain.get("verifyingContract", "")).startswith("0x"):
            s.failures.append(f"participant API: domain {w.domain}, expected chain id {CHAIN_ID} and the "
                              "settlement contract (orders settle on the demo chain)")
    if w.traders is None:
        s.failures.append("demo: no trader fleet: no child process running `sim traders`")
    else:
        print(f"trader fleet: pid {w.traders[0]}, {w.traders[1]}: {' '.join(w.traders[2][1:8])} ...")
        if not traders_alive:
            s.failures.append(f"demo traders (pid {w.traders[0]}) had exited before the checks were done")
    if w.api_participants is None:
        s.failures.append("demo: the console never read the traders' API participants file (no participants)")
    else:
        print(f"API participants file written by the fleet: {w.api_participants} participants")
    if w.orders is None:
        s.failures.append(f"trader fleet: no household's orders in the book (GET /api/v1/orders with its token; "
                          f"last: {w.api_error})")
    else:
        print(f"trader fleet: {w.orders[0]} has {w.orders[1]} orders in the book")
    s.failures.extend(w.problems)
    for line in log_problems(log):
        s.failures.append(f"demo log: {line}")
    for line in log.splitlines():
        if TRADER_WARNING.search(line):
            s.failures.append(f"demo log (trader fleet): {line.strip()}")
    if not png.is_file():
        s.failures.append(f"demo: no screenshot at {png}")
    else:
        w_, h, stddev, colours = image_spread(png)
        print(f"screenshot: {w_}x{h}, grey stddev {stddev:.1f}, {colours} colours")
        if stddev < MIN_GREY_STDDEV or colours < MIN_DISTINCT_COLOURS:
            s.failures.append(f"demo: screenshot looks blank ({w_}x{h}, grey stddev {stddev:.1f}, "
                              f"{colours} colours; need >= {MIN_GREY_STDDEV} and >= {MIN_DISTINCT_COLOURS})")
        kept = Path.cwd() / "build" / "smoke-demo.png"
        kept.write_bytes(png.read_bytes())
        print(f"screenshot kept at {kept}; demo log at build/smoke-demo.log")


def main(argv: list[str]) -> int:
    bundle = Path(argv[1]) if len(argv) > 1 else Path("dist") / "energynet"
    s = smoke(bundle)
    if s.failures:
        print(f"\nSMOKE TEST FAILED ({len(s.failures)}):", file=sys.stderr)
        for f in s.failures:
            print(f"- {f}", file=sys.stderr)
        return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
