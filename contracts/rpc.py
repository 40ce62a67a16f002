"""An asyncio JSON-RPC provider that cannot deadlock the event loop.

web3 7's ``HTTPSessionManager`` guards its session cache with one ``threading.Lock`` shared by *every*
provider in the process. For each async request it acquires that lock in an executor thread and releases it
only when the coroutine resumes on the loop. Two things follow, both seen in our runs:

- Synchronous web3 code on the loop's thread (a test's or a bootstrap's ``Web3(HTTPProvider(...))`` making
  its first request) blocks on the lock while the coroutine that holds it waits for that same thread: the
  process hangs (the DR view test, the shutdown test).
- A request cancelled while the executor waits for the lock (a gateway stopping) leaves the lock taken for
  good once the executor gets it, and every later web3 request in the process waits forever.

The event loop is single-threaded, so a session per loop needs no lock at all: this manager keeps web3's
cache (so ``disconnect`` still closes the sessions) and replaces only the locked lookup.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector
from web3 import AsyncHTTPProvider
from web3._utils.http_session_manager import HTTPSessionManager


class LoopSessionManager(HTTPSessionManager):
    """web3's session manager, with one aiohttp session per event loop found without a thread lock."""

    async def async_cache_and_return_session(
        self, endpoint_uri: Any, session: ClientSession | None = None,
        request_timeout: ClientTimeout | None = None,
    ) -> ClientSession:
        key = f"{id(asyncio.get_running_loop())}:{endpoint_uri}"
        cached: ClientSession | None = self.session_cache.get_cache_entry(key)
        if cached is not None and not cached.closed and not cached._loop.is_closed():
            return cached
        if cached is not None:
            self.session_cache._data.pop(key, None)
            if not cached.closed and not cached._loop.is_closed():
                await cached.close()
        # As web3 builds it: a fresh connection per request, so a restarted node is never talked to over a
        # socket of its predecessor.
        fresh = session or ClientSession(raise_for_status=True,
                                         connector=TCPConnector(force_close=True, enable_cleanup_closed=True))
        _, evicted = self.session_cache.cache(key, fresh)
        for old in (evicted or {}).values():
            if not old.closed and not old._loop.is_closed():
                await old.close()
        return fresh


def async_http_provider(url: str, *, timeout: float) -> AsyncHTTPProvider:
    """An ``AsyncHTTPProvider`` for ``url`` whose requests time out after ``timeout`` seconds."""
    provider = AsyncHTTPProvider(url, request_kwargs={"timeout": timeout})
    provider._request_session_manager = LoopSessionManager()
    return provider
