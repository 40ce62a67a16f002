"""Shared fixtures: free ports and real OPC-UA server processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")


async def until(pred: Callable[[], object], timeout: float = 20.0) -> None:
    """Wait (on the running loop) until ``pred()`` is true; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """A test OPC-UA server in its own process, so it can really die."""

    def __init__(self, port: int, layout: str = "test") -> None:
        self.port = port
        self.layout = layout
        self.proc: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/test"

    def start(self, timeout_s: float = 20.0) -> ServerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "support" / "opcua_server.py"),
             "--port", str(self.port), "--layout", self.layout],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        line = self.proc.stdout.readline()
        if not line.startswith("READY") or time.monotonic() > deadline:
            self.kill()
            raise RuntimeError(f"test OPC-UA server did not start on port {self.port}: {line!r}")
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(5)

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


@pytest.fixture
def opcua_server() -> Iterator[ServerProcess]:
    server = ServerProcess(free_port()).start()
    yield server
    server.kill()


@pytest.fixture
def plant_server() -> Iterator[ServerProcess]:
    server = ServerProcess(free_port(), layout="plant").start()
    yield server
    server.kill()
