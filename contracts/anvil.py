"""A local anvil chain as a child process (npm @foundry-rs/anvil, installed by `npm ci`)."""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

# anvil's well-known development keys (mnemonic "test test ... junk"). Public: for local demo chains only.
DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)
CHAIN_ID = 31337


class AnvilError(RuntimeError):
    """anvil could not be found or started."""


def anvil_binary(start: Path | None = None) -> Path:
    """Path of the anvil binary from node_modules, searched upwards from `start` (default: this package)."""
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    system = platform.system().lower()
    rel = Path("node_modules") / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    env = os.environ.get("ENERGYNET_ANVIL")
    if env:
        return Path(env)
    for base in [start or Path.cwd(), Path(__file__).resolve().parent]:
        for d in [base, *base.parents]:
            if (d / rel).is_file():
                return d / rel
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise AnvilError(f"anvil not found ({rel} or on PATH); run `npm ci` in the project directory")


def rpc_ready(url: str, timeout: float = 0.5) -> int | None:
    """Chain id when `url` answers JSON-RPC, else None."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(json.load(resp)["result"], 16)
    except (OSError, urllib.error.URLError, ValueError, KeyError):
        return None


class Anvil:
    """anvil on 127.0.0.1:`port`; with `state`, the chain is saved there every second and on exit and
    reloaded on start, so a restarted (or killed and restarted) chain keeps its blocks."""

    def __init__(self, port: int, *, state: Path | None = None, block_time: float | None = None) -> None:
        self.port = port
        self.state = state
        self.block_time = block_time
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> Anvil:
        cmd = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(self.port), "--silent",
               "--chain-id", str(CHAIN_ID)]
        if self.state is not None:
            cmd += ["--state", str(self.state), "--state-interval", "1"]
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise AnvilError(f"anvil exited with {self.proc.returncode} on port {self.port}: {err.strip()}")
            if rpc_ready(self.url) is not None:
                log.info("anvil up at %s", self.url)
                return self
            time.sleep(0.05)
        self.stop()
        raise AnvilError(f"anvil did not answer on {self.url} within {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is saved beyond the last periodic state dump."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
