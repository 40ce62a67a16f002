"""What ``energynet demo`` starts besides the console (composition root: it names the chain bootstrap).

Everything starts at once: the simulators as child processes and anvil plus the contract deployment in a
worker thread, while the console imports Qt and opens its window. :class:`DemoProcesses` owns the child
processes; it stops them (terminate, wait, kill), waits for their ports to be free and removes the temp
folders. A watcher process keeps that promise when the console dies without running its shutdown (SIGKILL,
a crash): it holds the read end of a pipe only the console writes to, and at end-of-file it terminates
whatever the console registered and removes the folders.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from console import config as config_mod
from console.net_ports import free_port

log = logging.getLogger(__name__)

# The watcher: stdlib only, started with -I -S so it is up in ~20 ms. "pid N" / "group N" register a
# process (a group: the process and its own children), "dir P" a folder, "done" means the console cleaned up.
WATCHER = r"""
import os, shutil, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pids, groups, dirs = set(), set(), []
for line in sys.stdin:
    word, _, arg = line.strip().partition(" ")
    if word == "done":
        sys.exit(0)
    if word == "pid": pids.add(int(arg))
    elif word == "group": groups.add(int(arg))
    elif word == "dir": dirs.append(arg)
def send(sig):
    for p in pids:
        try: os.kill(p, sig)
        except OSError: pass
    for g in groups:
        try: os.killpg(g, sig)
        except OSError: pass
def alive():
    n = 0
    for p in pids | groups:
        try: os.kill(p, 0); n += 1
        except OSError: pass
    return n
send(signal.SIGTERM)
deadline = time.monotonic() + 5
while alive() and time.monotonic() < deadline:
    time.sleep(0.05)
send(signal.SIGKILL)
for d in dirs:
    shutil.rmtree(d, ignore_errors=True)
"""

SIM_CLI = [sys.executable, "-m", "console", "--log-level", "warning", "sim"]
PR_SET_PDEATHSIG = 1
# Looked up before any fork: the child between fork and exec should only make the call.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the console's main thread dies (the watcher covers the rest)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    wait_ready: bool  # the console waits for it to listen before starting the drivers


@dataclass
class DemoProcesses:
    """The demo's child processes and temp folders; :meth:`stop` is safe to call more than once."""

    children: list[Child] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    chain: concurrent.futures.Future[DemoChain | None] | None = None
    directory: Path | None = None  # the demo directory (participants file, keystores, deployment)
    # [market.maker] was on in the demo's config: the grid's market-maker starts with the chain (it signs
    # with the grid-maker keystore `chain up` writes), so the console's first build has it off.
    late_maker: bool = False
    # The participant API of the demo (on 127.0.0.1, its participants file in the demo directory, written by the
    # traders): built with the settlement once the chain is up, so the households' signed orders settle on chain.
    late_api: config_mod.ApiSettings | None = None
    modbus_port: int | None = None  # the world's Modbus face (opens seconds after its OPC-UA face)
    stop_timeout_s: float = 5.0
    _watcher: subprocess.Popen[str] | None = None
    _stopped: bool = False

    def watch(self) -> None:
        """Start the watcher that cleans up if this process dies without :meth:`stop`."""
        self._watcher = subprocess.Popen([sys.executable, "-I", "-S", "-c", WATCHER], stdin=subprocess.PIPE,
                                         text=True, process_group=0)

    def _tell(self, line: str) -> None:
        if self._watcher is not None and self._watcher.stdin is not None:
            try:
                self._watcher.stdin.write(line + "\n")
                self._watcher.stdin.flush()
            except OSError:
                log.warning("the demo's process watcher is gone; a crash could leave %s behind", line)

    def spawn(self, name: str, argv: list[str], port: int, stdout: int | None = None,
              wait_ready: bool = True, nice: int = 0) -> subprocess.Popen[bytes]:
        """Start a child in its own process group (Ctrl+C in the terminal reaches the console only, which
        then stops the children in order); it gets SIGTERM should the console die first. ``nice`` lowers
        its CPU priority: on a 2-core machine the start-ups compete for CPU, and the console and the grid
        simulator are the path to the first live frame."""

        def before_exec() -> None:
            _die_with_parent()
            if nice:
                os.nice(nice)

        proc = subprocess.Popen(argv, process_group=0, preexec_fn=before_exec, stdout=stdout)
        self.children.append(Child(name, proc, port, wait_ready))
        self._tell(f"group {proc.pid}")
        return proc

    def temp_folder(self, prefix: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=prefix))
        self.folders.append(path)
        self._tell(f"dir {path}")
        return path

    def start_chain(self, port: int, directory: Path | None = None, participants: Path | None = None) -> None:
        """``energynet chain up`` as a child (anvil, deployment, demo seeding: 1–3 s) in its own process, so
        neither its start nor web3's import competes with the console's thread; a worker thread reads the
        JSON it prints and resolves :attr:`chain`. Its anvil is in its process group: stopped with it.
        With ``participants`` it registers the world's participants once that file is written."""
        directory = directory or self.temp_folder("energynet-chain-")
        extra = ["--participants", str(participants)] if participants is not None else []
        proc = self.spawn("demo chain", [*SIM_CLI[:-1], "chain", "up", "--port", str(port), "--dir", str(directory),
                                         *extra], port, stdout=subprocess.PIPE, wait_ready=False, nice=10)
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="demo-chain")
        self.chain = pool.submit(_read_chain_up, proc)
        pool.shutdown(wait=False)

    async def ready(self, timeout_s: float = 30.0) -> None:
        """Wait until every simulator listens on its port; raises DemoFailed naming the one that did not."""
        deadline = time.monotonic() + timeout_s
        for child in [c for c in self.children if c.wait_ready]:
            while not await _listening(child.port):
                if child.proc.poll() is not None:
                    raise DemoFailed(f"the {child.name} exited with {child.proc.returncode} before listening "
                                     f"on port {child.port}")
                if time.monotonic() > deadline:
                    raise DemoFailed(f"the {child.name} did not listen on port {child.port} within {timeout_s:.0f} s")
                await asyncio.sleep(0.05)
            log.info("%s on 127.0.0.1:%d (pid %d)", child.name, child.port, child.proc.pid)

    async def modbus_listening(self, poll_s: float = 0.05) -> None:
        """Until the world's Modbus face listens (at once without one, or when no simulator runs any more): the
        device drivers start then, instead of each of them failing to connect into its back-off every few
        tenths of a second while the world is being built (a few hundred refused connections and their log
        lines and quality marks, on the console's loop, while it waits for the first live frame)."""
        port = self.modbus_port
        if port is None:
            return
        while not await _listening(port):
            if all(c.proc.poll() is not None for c in self.children if c.wait_ready):
                return
            await asyncio.sleep(poll_s)
        world = next((c for c in self.children if c.wait_ready), None)
        log.info("world Modbus face on 127.0.0.1:%d (pid %d)", port, world.proc.pid if world is not None else 0)

    def stop(self) -> None:
        """Terminate every child (its group), wait, kill after the timeout; wait for the ports to be free;
        remove the temp folders; release the watcher."""
        if self._stopped:
            return
        self._stopped = True
        for child in self.children:
            _terminate(child)
        for child in self.children:
            self._stop_child(child)
        for child in self.children:
            if not _port_free_within(child.port, 3.0):
                log.error("%s's port %d is still taken after it stopped", child.name, child.port)
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)
        if self._watcher is not None:
            self._tell("done")
            self._watcher.wait(5)
            self._watcher = None

    def _stop_child(self, child: Child) -> None:
        if child.proc.poll() is None:
            _terminate(child)
            try:
                child.proc.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %d) did not stop in %.0f s; killing it", child.name, child.proc.pid,
                            self.stop_timeout_s)
                _kill_group(child)
                child.proc.wait()
        _kill_group(child)  # the leader is gone; anything left in its group goes too


class DemoFailed(RuntimeError):
    """A simulator of the demo did not come up."""


def _terminate(child: Child) -> None:
    """SIGTERM to the child itself: it stops what it started (``chain up`` its anvil) in its own order."""
    if child.proc.poll() is None:
        child.proc.terminate()


def _kill_group(child: Child) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.proc.pid, signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class DemoChain:
    """What ``energynet chain up`` printed: where the demo chain is and its files."""

    rpc: str
    deployment: Path
    keystore: Path
    maker_keystore: Path | None = None  # the grid-maker's ([market.maker]); None from an older `chain up`


def _read_chain_up(proc: subprocess.Popen[bytes]) -> DemoChain | None:
    """The JSON that ``chain up`` prints once the suite is deployed (None when it failed; it said why)."""
    assert proc.stdout is not None
    text = b""
    for line in proc.stdout:
        text += line
        if line.startswith(b"}"):
            break
    proc.stdout.close()
    try:
        out = json.loads(text)
        maker = out.get("maker_keystore")
        up = DemoChain(out["rpc"], Path(out["deployment"]), Path(out["keystore"]), Path(maker) if maker else None)
    except (ValueError, KeyError):
        log.error("demo chain not started (exit code %s); the console runs without the chain panel", proc.poll())
        return None
    log.info("demo chain on %s, contracts in %s", up.rpc, up.deployment)
    return up


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


def port_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:``port`` (a server could bind it now; TIME_WAIT leftovers do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_free_within(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not port_free(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEMO_CONFIG = RESOURCES / "world.toml"  # the console against the default world (drivers/sim/world/console_config.py)
DEMO_SCENARIO = RESOURCES / "scenarios" / "demo.toml"
WORLD_SOURCE = "world"


def demo_settings() -> config_mod.Settings:
    """The demo's console configuration: resources/world.toml (ports are replaced by :func:`start_demo`)."""
    return config_mod.load(DEMO_CONFIG)


def start_demo(settings: config_mod.Settings, opcua_port: int, modbus_port: int = 5020,
               chain_port: int = 8545) -> tuple[DemoProcesses, config_mod.Settings]:
    """Start the simulated world and the chain (nothing waited for) and point the settings at them; a port
    that is taken is replaced by a free one.

    One demo directory holds what the world and the chain write: ``participants.json``, the participants'
    keystores in ``keys/``, the deployment, the operator's keystore and the outbox (removed at the end).
    The world's clock starts at a daytime at the site (``sim world`` without ``--start``), so PV produces."""
    port = opcua_port if opcua_port and port_free(opcua_port) else free_port()  # 0: any free port
    world = next((s for s in settings.sources if s.name == WORLD_SOURCE), None)
    if world is None:
        raise DemoFailed(f"the demo config has no [[sources]] named {WORLD_SOURCE!r} (the world's OPC-UA face); "
                         f"use {DEMO_CONFIG}")
    settings = replace(settings, sources=tuple(
        replace(s, endpoint=f"opc.tcp://127.0.0.1:{port}/energynet/world") if s.name == WORLD_SOURCE else s
        for s in settings.sources
    ))
    modbus_port = modbus_port if modbus_port and port_free(modbus_port) else free_port()
    settings = replace(settings, modbus=tuple(replace(d, port=modbus_port) for d in settings.modbus))
    demo = DemoProcesses()
    demo.watch()
    directory = demo.temp_folder("energynet-demo-")
    demo.directory = directory
    settings, demo.late_maker = demo_market(settings, directory)
    demo.late_api = demo_api(settings, directory)
    settings = replace(settings, api=replace(settings.api, enabled=False))  # built late (run_console)
    participants = directory / "participants.json"
    # Only the OPC-UA port is waited for: the world publishes the frequency a second or two after its start
    # and opens its Modbus port once the model is built; the device drivers connect within 0.5 s of that.
    demo.spawn("simulated world", [*SIM_CLI, "world", "--opcua-port", str(port), "--modbus-port", str(modbus_port),
                                   "--scenario", str(DEMO_SCENARIO), "--participants-out", str(participants)],
               port)
    demo.modbus_port = modbus_port
    demo.start_chain(chain_port if chain_port and port_free(chain_port) else free_port(), directory, participants)
    return demo, settings


def demo_market(settings: config_mod.Settings, directory: Path) -> tuple[config_mod.Settings, bool]:
    """The demo's market: its journal in the demo ``directory`` (unless the config names one), and the
    market-maker off until the chain is up; True when [market.maker] was on (:func:`chain_settings` turns it
    on again with the keystore the chain wrote)."""
    market = settings.market
    if market.enabled and market.journal_url is None:
        # The book and its settlement state belong to this demo's fresh chain: a journal kept in the user's
        # database would hold the last demo's signed orders and matches, which this chain never saw.
        market = replace(market, journal_url=f"sqlite:///{directory}/market.db")
    late = market.enabled and market.maker.enabled
    if market.maker.enabled:
        market = replace(market, maker=replace(market.maker, enabled=False))
    return replace(settings, market=market), late


DEMO_API_PORT = 8600
# A round of the demo's traders (every household, two products) is ~90 signed orders for the console's loop;
# not a multiple of uvicorn's 5 s keep-alive, so a household's next request does not race the server closing
# its idle connection ("Server disconnected without sending a response").
TRADERS_INTERVAL_S = 12


def demo_api(settings: config_mod.Settings, directory: Path,
             port: int = DEMO_API_PORT) -> config_mod.ApiSettings | None:
    """The demo's participant API (None without the market): on 127.0.0.1, ``port`` unless it is taken, its
    participants file ``api-participants.toml`` in the demo ``directory``, empty until the traders write the
    world's households into it (the API follows the file). The console's first build has [api] off (it stays
    so in ``settings``): :func:`console.app.run_console` builds the API with the settlement once the chain is up."""
    if not settings.market.enabled:
        return None
    path = directory / "api-participants.toml"
    path.write_text("", encoding="utf-8")
    return replace(settings.api, enabled=True, host="127.0.0.1", port=port if port and port_free(port) else free_port(),
                   participants=path, tls_cert=None, tls_key=None, chain_id=None)


def traders_argv(settings: config_mod.Settings, api_url: str, participants: Path, api_participants: Path) -> list[str]:
    """``energynet sim traders`` for the demo: the world's households trading through the demo's API with their
    own keys, writing the API's participants file first, trading by the market's rules; with the chain on, each
    first lets Settlement pull its buys (its own key signs the approval)."""
    m, c = settings.market, settings.chain
    chain = ["--rpc", c.rpc, "--deployment", str(c.deployment)] if c.enabled else []
    return [*SIM_CLI, "traders", *chain, "--participants", str(participants), "--api", api_url,
            "--api-participants", str(api_participants), "--wait", "120", "--interval", str(TRADERS_INTERVAL_S),
            "--reference-price", str(m.base_price),
            "--lot", str(m.lot), "--tick", str(m.tick), "--gate-closure", str(m.gate_closure_s)]


class DemoTraders:
    """The traders' process as a part of the late shutdown: stopped before the API it trades through."""

    def __init__(self, demo: DemoProcesses, proc: subprocess.Popen[bytes]) -> None:
        self.demo, self.proc = demo, proc

    async def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(asyncio.to_thread(self.proc.wait), self.demo.stop_timeout_s)
            except TimeoutError:
                log.warning("demo traders (pid %d) did not stop in %.0f s; killing them", self.proc.pid,
                            self.demo.stop_timeout_s)
                self.proc.kill()


def chain_settings(settings: config_mod.Settings, up: DemoChain, maker: bool = False) -> config_mod.Settings:
    """The settings with the demo chain switched on, and with ``maker`` the grid's market-maker signing with
    the grid-maker keystore the chain wrote."""
    directory = up.deployment.parent
    chain = replace(settings.chain, enabled=True, rpc=up.rpc, deployment=up.deployment,
                    keystore=up.keystore, outbox=directory / "outbox.db", publish_status_s=5.0)
    market = settings.market
    if maker and up.maker_keystore is not None:
        market = replace(market, maker=replace(market.maker, enabled=True, keystore=up.maker_keystore))
    return replace(settings, chain=chain, market=market)
