"""The one way to stop: SIGINT, SIGTERM, window close and ``--quit-after`` all end in :func:`shutdown`.

A :class:`StopRequest` remembers the first reason to stop and wakes the coroutine waiting on the loop.
Signals reach it through ``loop.add_signal_handler``: asyncio's self-pipe is a reader on the loop (a
QSocketNotifier under qasync), so a signal wakes Qt from its sleep at once and the handler runs as an
ordinary callback, never as a KeyboardInterrupt raised inside some other callback.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from typing import Protocol

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stoppable(Protocol):
    async def stop(self) -> None: ...


class Children(Protocol):
    """What a command started outside this process (simulators, anvil): stopped last."""

    def stop(self) -> None: ...


class StopRequest:
    """The first reason to stop, and a wake-up for whoever waits for it."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def request(self, reason: str) -> None:
        """Ask to stop (any number of times; the first reason is the one reported)."""
        if self.reason is None:
            self.reason = reason
            log.info("stopping: %s", reason)
        if self._event is not None:
            self._event.set()

    def catch_signals_early(self) -> None:
        """Before any loop runs: SIGINT/SIGTERM only record the request (no KeyboardInterrupt mid-start)."""
        for sig in SIGNALS:
            signal.signal(sig, lambda signum, _frame: self.request(signal.Signals(signum).name))

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Route SIGINT/SIGTERM through ``loop`` (call on the loop, before awaiting :meth:`wait`)."""
        self._loop = loop
        self._event = asyncio.Event()
        if self.reason is not None:
            self._event.set()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self.request, sig.name)

    def detach(self) -> None:
        """Back to recording only: a second Ctrl+C while the children are stopped must not cut that short."""
        if self._loop is not None and not self._loop.is_closed():
            for sig in SIGNALS:
                self._loop.remove_signal_handler(sig)
        self._loop = None
        self.catch_signals_early()

    async def wait(self, timeout: float | None = None) -> str:
        """The reason, once stop is requested (``"quit-after"`` when ``timeout`` s pass first)."""
        assert self._event is not None, "attach() the request to the loop first"
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            self.request(f"--quit-after {timeout:g} s")
        assert self.reason is not None
        return self.reason


async def shutdown(application: Stoppable | None, first: Sequence[Stoppable] = (),
                   children: Children | None = None) -> None:
    """The ordered shutdown, the same for every way to stop.

    ``first`` are parts started after the application (the demo's late chain service). Then the application
    stops newest part first: chain, commands (no more operator commands), drivers (no more samples), the
    historian (writes or spools everything queued), the loop monitor. Last the processes the command started
    (simulators, anvil), their ports freed and their temporary folders removed."""
    notice = getattr(application, "stopping", None)
    if callable(notice):  # before the late parts stop: the chain closing is no alarm either
        notice()
    for part in first:
        try:
            await part.stop()
        except Exception:
            log.exception("%s did not stop cleanly", type(part).__name__)
    if application is not None:
        await application.stop()
    if children is not None:
        await asyncio.to_thread(children.stop)
