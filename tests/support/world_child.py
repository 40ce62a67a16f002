"""A simulated World in a process of its own, as the end-to-end tests run it (tests/e2e/world_process.py,
tests/e2e/dr_world_process.py): started with ``python -m <module> <args>`` from the project's root, it
builds its model and waits for ``GO`` on its stdin; a reader thread hands each stdout line to
:meth:`WorldChild.on_line`. A subclass sets up what ``on_line`` fills *before* calling ``__init__`` (the
reader starts there). Used as a context manager, the process is stopped on the way out."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

ROOT = Path(__file__).resolve().parents[2]


class WorldChild:
    def __init__(self, module: str, args: Sequence[str], stderr: Path | None = None) -> None:
        """``stderr``: a file for the child's log (default: the test's own stderr)."""
        self.stderr = stderr
        self._err: IO[str] | None = stderr.open("w") if stderr is not None else None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def on_line(self, line: str) -> None:
        """One stdout line of the world's, stripped (on the reader thread)."""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.on_line(line.strip())

    def go(self) -> None:
        """Start the world's scenario (its clock runs from here)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("GO\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        """End the process: terminate, and kill it if it has not gone within 10 s."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self._err is not None:
            self._err.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
