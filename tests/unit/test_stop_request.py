"""Signals on the qasync loop: SIGINT and SIGTERM become a stop request, never a KeyboardInterrupt."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from console.shutdown import StopRequest

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_wakes_the_qt_loop_and_is_the_stop_reason(qapp: object, sig: signal.Signals) -> None:
    import qasync
    from PySide6.QtCore import QTimer

    loop = qasync.QEventLoop(qapp)
    stop = StopRequest()
    ticks = []

    async def main() -> str:
        stop.attach(asyncio.get_running_loop())
        timer = QTimer()
        timer.timeout.connect(lambda: ticks.append(1))
        timer.start(20)  # Qt keeps running callbacks of its own meanwhile
        # Delivered while Qt sleeps in its own poll: the self-pipe notifier must wake it.
        QTimer.singleShot(200, lambda: os.kill(os.getpid(), sig))
        try:
            return await stop.wait(30)
        finally:
            timer.stop()

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with loop:
            reason = loop.run_until_complete(main())
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    assert reason == sig.name
    assert ticks  # the Qt timer ran: the wait was on the live Qt loop


def test_a_request_before_the_loop_runs_is_kept(qapp: object) -> None:
    import qasync

    stop = StopRequest()
    stop.request("window closed")
    stop.request("SIGTERM")  # the first reason is the one reported
    loop = qasync.QEventLoop(qapp)

    async def main() -> str:
        stop.attach(asyncio.get_running_loop())
        return await stop.wait(30)

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with loop:
            assert loop.run_until_complete(main()) == "window closed"
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def test_quit_after_is_a_reason_too(qapp: object) -> None:
    import qasync

    stop = StopRequest()
    loop = qasync.QEventLoop(qapp)

    async def main() -> str:
        stop.attach(asyncio.get_running_loop())
        return await stop.wait(0.2)

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with loop:
            assert loop.run_until_complete(main()) == "--quit-after 0.2 s"
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
