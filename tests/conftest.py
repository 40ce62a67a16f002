"""Shared fixtures: free ports and real OPC-UA server processes."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from console import net_ports

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The tests never touch the user's data and cache folders (~/.local/share/energynet: historian, outboxes,
# trust list; ~/.cache/energynet): a database migrated by another checkout broke tests there. One fresh
# folder per test session, inherited by the processes the tests start.
_SESSION_HOME = tempfile.mkdtemp(prefix="energynet-tests-")
os.environ["XDG_DATA_HOME"] = os.path.join(_SESSION_HOME, "data")
os.environ["XDG_CACHE_HOME"] = os.path.join(_SESSION_HOME, "cache")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_SESSION_HOME, "config")  # QSettings: layouts, theme
os.environ.setdefault("QT_API", "pyside6")


@pytest.fixture(autouse=True)
def _own_window_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test's windows keep their layouts and theme in a settings folder of their own: one test's saved
    window (its size, its docks) must not open the next test's window (console/ui/layout_menus.py)."""
    if "PySide6.QtCore" in sys.modules:
        from PySide6.QtCore import QSettings

        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                          str(tmp_path_factory.mktemp("window-settings")))


async def until(pred: Callable[[], object], timeout: float = 20.0) -> None:
    """Wait (on the running loop) until ``pred()`` is true; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def free_port() -> int:
    return net_ports.free_port()  # below the ephemeral range: see console/net_ports.py


class ServerProcess:
    """A test OPC-UA server in its own process, so it can really die."""

    def __init__(self, port: int, layout: str = "test", args: tuple[str, ...] = ()) -> None:
        self.port = port
        self.layout = layout
        self.args = args  # more options of tests/support/opcua_server.py
        self.proc: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/test"

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "support" / "opcua_server.py"),
             "--port", str(self.port), "--layout", self.layout, *self.args],
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

    def hold(self) -> None:
        """Toggle the server's hold: it stays up and answers, but publishes no new value (SIGUSR1)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGUSR1)


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


# Interpreter exit with Qt loaded: the session-wide QApplication and whatever widgets, plots and qasync
# loops tests left to the garbage collector are then destroyed in no defined order, and PySide6 can
# segfault there (CI once crashed after "827 passed"). The results are reported by then, so the process
# ends with pytest's own exit status without that teardown.
_EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)
    status = config.stash.get(_EXIT_STATUS, None)
    if status is None or "PySide6.QtWidgets" not in sys.modules:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
