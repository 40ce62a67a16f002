"""Capped exponential backoff with jitter, shared by all field drivers."""

from __future__ import annotations

import asyncio
import contextlib
import random


class Backoff:
    """Delays for successive reconnect attempts.

    Each failure doubles the delay up to ``max_s``; the actual wait is drawn
    uniformly from [delay/2, delay] ("equal jitter") so that many consoles
    that lost the same server do not all come back in the same instant.
    """

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        if not 0 < min_s <= max_s:
            raise ValueError(f"backoff needs 0 < min_s <= max_s, got {min_s}, {max_s}")
        self.min_s = min_s
        self.max_s = max_s
        self._rng = rng or random.Random()
        self._delay = min_s

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt; grows on each call."""
        delay = self._delay
        self._delay = min(self._delay * 2, self.max_s)
        return self._rng.uniform(delay / 2, delay)

    def reset(self) -> None:
        """Call after a success: the next failure starts small again."""
        self._delay = self.min_s


async def port_answers(host: str, port: int, timeout_s: float = 0.25) -> bool:
    """True when a TCP connection to host:port is accepted within ``timeout_s`` (closed again at once)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def wait_or_reachable(delay_s: float, host: str, port: int, probe_every_s: float = 0.5) -> bool:
    """Wait out a backoff delay, but end it as soon as an endpoint that was not answering answers.

    A server that was killed and restarts is then reconnected within ``probe_every_s`` (plus one
    connect) of its port opening, however long the backoff has grown. An endpoint that answers TCP
    already when the wait starts (the failure was something else: a refused session, a frozen server)
    is not probed: the full delay is waited, so a misbehaving server is not hammered. Returns True when
    the wait was cut short by the endpoint answering.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + delay_s
    if await port_answers(host, port, min(0.25, probe_every_s)):
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        return False
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(probe_every_s, left))
        if loop.time() < deadline and await port_answers(host, port, min(0.25, probe_every_s)):
            return True
    return False
