"""The participant API's ASGI app and its server on the running loop (the console's qasync loop, or
``energynet serve``'s asyncio loop): uvicorn with ``loop="none"`` and without its signal handlers, which
belong to the application that owns the loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from console.api.participants import Directory
from console.api.problems import ApiProblem, on_api_problem, on_http, on_validation, problem_response
from console.api.production_routes import router as production_router
from console.api.ratelimit import RateLimiter
from console.api.routes import Api, router
from console.services.escrow import EscrowService
from console.services.market import MarketService
from console.services.settlement import SignedOrders

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuses a request body over ``limit`` bytes with 413 before the route sees any of it (by its
    Content-Length, or while it streams in when it has none)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0
        body: list[bytes] = []
        while True:  # read it all first: a body that grows past the limit is refused before anything runs
            message = await receive()
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await self._refuse(scope, receive, send)
                return
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        data = b"".join(body)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        resp = problem_response(413, "body", "body-too-large", f"a request body may be at most {self.limit} bytes")
        await resp(scope, receive, send)


def create_app(market: MarketService, participants: Directory, *, rate_per_s: float = 50.0,
               burst: int = 100, max_body_bytes: int = 16_384, chain_id: int = 31337, contract: str | None = None,
               signed_orders: SignedOrders | None = None, escrow: EscrowService | None = None) -> FastAPI:
    app = FastAPI(title="EnergyNet participant API", version="1", openapi_url="/api/v1/openapi.json",
                  docs_url="/api/v1/docs", redoc_url=None,
                  description="Signed orders (EIP-712) into the EnergyNet market; see docs/market.md.",
                  # No OpenTelemetry here: FastAPI would otherwise ask the global providers on every request.
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.api = Api(market, participants, RateLimiter(rate_per_s, burst), chain_id, contract,
                        signed_orders, escrow)
    app.add_exception_handler(ApiProblem, on_api_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.include_router(router)
    app.include_router(production_router)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    return app


def prepare_routes(app: FastAPI) -> None:
    """Builds what FastAPI otherwise builds on the first request to each included router: the effective
    route of every path operation (its dependencies, the pydantic adapters of its parameters and response,
    its handler), some 30 ms of CPU on the loop that the first participants' orders waited behind, in every
    new app. Generating the OpenAPI document (FastAPI's public way to walk every route) builds them all and
    leaves the document cached for ``GET /api/v1/openapi.json``."""
    app.openapi()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the loop's owner (the console, `serve`) handles SIGINT/SIGTERM and stops us


class ApiServer:
    """Serves ``app`` on ``host:port`` (0: a free port, see :attr:`port`) on the running loop."""

    def __init__(self, app: FastAPI, host: str, port: int, tls_cert: Path | None = None,
                 tls_key: Path | None = None) -> None:
        self.app, self.host, self.requested_port = app, host, port
        self.config = uvicorn.Config(app, host=host, port=port, loop="none", lifespan="off", log_level="warning",
                                     access_log=False, ws="websockets-sansio",
                                     ssl_certfile=str(tls_cert) if tls_cert else None,
                                     ssl_keyfile=str(tls_key) if tls_key else None)
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = port
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.config.ssl_certfile else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def start(self) -> None:
        # We bind the socket ourselves: uvicorn ends the process (sys.exit) when its own bind fails.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.requested_port))
        except OSError as exc:
            sock.close()
            raise OSError(f"participant API: cannot listen on {self.host}:{self.requested_port}: {exc.strerror or exc}"
                          " (is another console or service on that port? set [api] port)") from exc
        sock.set_inheritable(True)
        self.port = int(sock.getsockname()[1])
        self._sock = sock
        prepare_routes(self.app)
        server = _Server(self.config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="api-server")
        while not server.started:
            if self._task.done():
                exc2 = self._task.exception() if not self._task.cancelled() else None
                sock.close()
                raise OSError(f"participant API on {self.host}:{self.port} did not start: {exc2!r}")
            await asyncio.sleep(0.02)
        log.info("participant API on %s", self.url)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server = self._task = None
        escrow = getattr(getattr(self.app.state, "api", None), "escrow", None)  # (an app without one: none)
        if escrow is not None:  # its RPC session belongs to this loop
            await escrow.close()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
