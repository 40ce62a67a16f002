"""One OPC-UA source: connect, subscribe, watch the session, reconnect.

Each source runs in its own task, so a dead server or a bad node on one
source never delays another. On every connection the client is created
afresh and every point is resolved and subscribed again: a server that came
back may have restarted with a different address space.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeEvent, Subscription
from asyncua.ua.uaerrors import UaError, UaStatusCodeError, UaStringParsingError

from core.points import Quality, Sample
from core.ports import SampleSink, StatusSink
from core.sources import (
    ConnectionState,
    OpcUaSourceSpec,
    PointBinding,
    PointFault,
    SecurityMode,
    SourceStatus,
)
from drivers.backoff import Backoff, wait_or_reachable
from drivers.errors import SecurityRejected, describe_connection_error, is_security_rejection
from drivers.opcua.quality import as_float, quality_of, status_name, to_posix
from drivers.opcua.secure import secure
from drivers.opcua.trust import TrustRefused

log = logging.getLogger(__name__)


class _PublishLoopLost(logging.Filter):
    """asyncua logs "Publish iteration crashed" at ERROR with a traceback when the connection it publishes on
    is gone. That is an ordinary disconnect, which this session already reports as one line ("connection
    lost; retrying"); the traceback read like a crash to operators and failed the bundle's smoke test. Other
    publish failures keep their ERROR and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if record.getMessage().startswith("Publish iteration crashed") and isinstance(exc, ConnectionError | OSError):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info, record.exc_text = None, None
            record.msg, record.args = "publish loop stopped: %s (the connection is gone)", (exc,)
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("asyncua.client.ua_session.UaSession").addFilter(_PublishLoopLost())  # its logger


class SourceSession:
    """Keeps one OPC-UA endpoint's points flowing for as long as it runs."""

    def __init__(
        self,
        spec: OpcUaSourceSpec,
        on_samples: SampleSink,
        on_status: StatusSink,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self._on_samples = on_samples
        self._on_status = on_status
        self._clock = clock
        self._backoff = Backoff(spec.reconnect_min_s, spec.reconnect_max_s)
        self._lost = asyncio.Event()
        self._by_handle: dict[int, PointBinding] = {}  # monitored-item server handle → binding
        self._last_ts: dict[str, float] = {}
        self.value_types: dict[str, ua.VariantType] = {}  # point id → type the server sends (for display precision)
        self._pending: list[Sample] = []
        self._flush_scheduled = False
        self.status = SourceStatus(spec.name, spec.endpoint, ConnectionState.CONNECTING, clock())
        self.notifications = 0

    # ---- lifecycle -------------------------------------------------------

    async def run(self) -> None:
        """Connect and reconnect until cancelled."""
        reconnects = 0
        while True:
            self._set_status(ConnectionState.CONNECTING, reconnects=reconnects, next_retry_s=None, retry_at=None)
            client = self._make_client()
            try:
                await self._serve(client)
                error = "connection lost"
            except asyncio.CancelledError:
                # A clean stop: give the server time to delete our subscriptions.
                await self._close(client, self.spec.request_timeout_s + 1.0)
                self._mark_lost()
                self._set_status(ConnectionState.STOPPED)
                raise
            except Exception as exc:  # any failure of this source stays in this source
                error = _describe(exc, self.spec)
            # Tell the operator first: closing a frozen server's session can take its timeout. The cause
            # before its consequences: the status (the source-lost alarm's condition) before the points'
            # stale marks, so an alarm suppressed by that cause (the source's stale-data alarm) knows it
            # when the marks arrive, and a blip shorter than the source-lost on-delay raises no alarm.
            delay = self._backoff.next_delay()
            reconnects += 1
            log.warning("OPC-UA source %r: %s; retrying in %.1f s", self.spec.name, error, delay)
            self._set_status(ConnectionState.DISCONNECTED, last_error=error, reconnects=reconnects,
                             next_retry_s=delay, retry_at=self._clock() + delay)
            self._mark_lost()
            await self._close(client, 1.0)
            # A server that comes back is reconnected within a probe period, not at the end of the delay.
            host, port = endpoint_address(self.spec.endpoint)
            if await wait_or_reachable(delay, host, port):
                log.info("OPC-UA source %r: %s answers again; reconnecting now", self.spec.name, self.spec.endpoint)

    def _make_client(self) -> Client:
        spec = self.spec
        client = Client(
            spec.endpoint, timeout=spec.request_timeout_s, watchdog_intervall=spec.watchdog_interval_s
        )
        client.session_timeout = 30_000  # server drops our session 30 s after we vanish
        client.name = client.description = "EnergyNet Console"
        client.application_uri = spec.application_uri
        self._lost = asyncio.Event()
        lost = self._lost

        async def on_lost(exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = on_lost
        return client

    async def _serve(self, client: Client) -> None:
        spec = self.spec
        if spec.security_mode is not SecurityMode.NONE:
            await secure(client, spec)
        if spec.username:
            client.set_user(spec.username)
            client.set_password(spec.password or "")
        await asyncio.wait_for(client.connect(), timeout=spec.request_timeout_s * 3)
        sub = await client.create_subscription(spec.publishing_interval_ms, None, queue_maxsize=0)
        faults = await self._subscribe_all(client, sub)
        self._backoff.reset()
        state = ConnectionState.DEGRADED if faults else ConnectionState.CONNECTED
        self._set_status(state, last_error=faults[0].message if faults else None, faults=tuple(faults))
        consumer = asyncio.create_task(self._consume(sub), name=f"opcua-{spec.name}-consume")
        lost_wait = asyncio.create_task(self._lost.wait(), name=f"opcua-{spec.name}-watch")
        try:
            done, _ = await asyncio.wait({consumer, lost_wait}, return_when=asyncio.FIRST_COMPLETED)
            if consumer in done:
                consumer.result()  # re-raise a consumer failure
        finally:
            for task in (consumer, lost_wait):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _close(self, client: Client, timeout_s: float) -> None:
        # A clean close deletes our subscriptions on the server; without it the
        # server keeps serving a ghost session until the session times out.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), timeout=timeout_s)

    # ---- subscription ----------------------------------------------------

    async def _subscribe_all(self, client: Client, sub: Subscription) -> list[PointFault]:
        faults: list[PointFault] = []
        nodes: list[Node] = []
        bindings: list[PointBinding] = []
        # Namespace indexes are the server's to choose and may change on a restart:
        # `nsu=` ids are looked up in this connection's namespace array.
        namespaces: list[str] = []
        if any((b.node_id or "").startswith("nsu=") or any(e.startswith("nsu=") for e in b.browse_path)
               for b in self.spec.points):
            namespaces = list(await client.get_namespace_array())
        for binding in self.spec.points:
            try:
                nodes.append(await self._resolve(client, binding, namespaces))
                bindings.append(binding)
            except Exception as exc:
                faults.append(self._fault(binding, _describe_node_error(exc)))
        self._by_handle = {}
        self.value_types = {}  # a restarted server may send other types
        if nodes:
            results = await sub.subscribe_data_change(
                nodes, sampling_interval=ua.Double(self.spec.sampling_interval_ms)
            )
            if not isinstance(results, list):
                results = [results]
            for binding, result in zip(bindings, results, strict=True):
                if isinstance(result, ua.StatusCode):
                    faults.append(self._fault(binding, _explain_status(result)))
                else:
                    self._by_handle[result] = binding
        if faults:
            now = self._clock()
            self._on_samples([
                Sample(f.point, math.nan, self._unit(f.point), Quality.BAD, now, now) for f in faults
            ])
        return faults

    async def _resolve(self, client: Client, binding: PointBinding, namespaces: Sequence[str]) -> Node:
        if binding.node_id is not None:
            return client.get_node(node_id_on_server(binding.node_id, namespaces))
        path = [browse_name_on_server(e, namespaces) for e in binding.browse_path]
        start = client.nodes.root if path and path[0] in ("0:Objects", "Objects") else client.nodes.objects
        if start is client.nodes.root and path[0] == "Objects":
            path[0] = "0:Objects"
        return await start.get_child(path)

    def _fault(self, binding: PointBinding, problem: str) -> PointFault:
        kind = "node" if binding.node_id is not None else "browse path"
        message = (
            f"source {self.spec.name!r}, point {binding.point.id!r}, {kind} {binding.address!r}: {problem} "
            f"— check this point's address in the config"
        )
        log.error("OPC-UA %s", message)
        return PointFault(binding.point.id, binding.address, message)

    async def _consume(self, sub: Subscription) -> None:
        loop = asyncio.get_running_loop()
        async for event in sub:
            if isinstance(event, DataChangeEvent):
                self._on_data_change(event)
                if not self._flush_scheduled:
                    # Runs once the queue is drained: one batch per publish response.
                    self._flush_scheduled = True
                    loop.call_soon(self._flush)

    def _on_data_change(self, event: DataChangeEvent) -> None:
        binding = self._by_handle.get(event.data.subscription_data.server_handle or -1)
        if binding is None:
            return
        self.notifications += 1
        now = self._clock()
        dv = event.data.monitored_item.Value
        quality = quality_of(dv.StatusCode) if dv is not None else Quality.BAD
        value = as_float(event.value) * binding.scale + binding.offset
        if math.isnan(value) and quality is Quality.GOOD:
            quality = Quality.BAD  # a non-numeric value cannot be trended
        if binding.point.id not in self.value_types and dv is not None and dv.Value is not None:
            self.value_types[binding.point.id] = dv.Value.VariantType  # once per point and connection
        source_ts = to_posix(dv.SourceTimestamp or dv.ServerTimestamp, now) if dv is not None else now
        self._last_ts[binding.point.id] = source_ts
        self._pending.append(Sample(binding.point.id, value, binding.point.si_unit, quality, source_ts, now))

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._pending:
            batch, self._pending = self._pending, []
            self._on_samples(batch)

    # ---- status ----------------------------------------------------------

    def _mark_lost(self) -> None:
        """After a loss every point of this source changes quality at once:
        stale if it had a value (the last one stays shown), comm-failure if
        it never had one."""
        self._flush()
        now = self._clock()
        self._on_samples([
            Sample(b.point.id, math.nan, b.point.si_unit,
                   Quality.STALE if b.point.id in self._last_ts else Quality.COMM_FAILURE,
                   self._last_ts.get(b.point.id, now), now)
            for b in self.spec.points
        ])

    def _unit(self, point_id: str) -> str:
        return next((b.point.si_unit for b in self.spec.points if b.point.id == point_id), "")

    def _set_status(self, state: ConnectionState, **changes: object) -> None:
        now = self._clock()
        since = self.status.since if state is self.status.state else now
        if state is not ConnectionState.DEGRADED and "faults" not in changes:
            changes["faults"] = () if state is ConnectionState.CONNECTED else self.status.faults
        self.status = replace(self.status, state=state, since=since, **changes)  # type: ignore[arg-type]
        self._on_status(self.status)


def endpoint_address(endpoint: str) -> tuple[str, int]:
    """(host, TCP port) of an ``opc.tcp://`` endpoint URL (4840 when it names none)."""
    url = urlsplit(endpoint)
    return url.hostname or endpoint, url.port or 4840


def _describe(exc: BaseException, spec: OpcUaSourceSpec) -> str:
    endpoint = spec.endpoint
    host, port = endpoint_address(endpoint)
    if isinstance(exc, UaError) and str(exc).startswith("No matching endpoints"):
        # asyncua's words for: the server offers no endpoint with our mode and policy.
        exc = SecurityRejected(
            f"the server offers no endpoint with security mode {spec.security_mode.value} and policy "
            f"{spec.security_policy} (set security_mode / security_policy to what the server requires)"
        )
    if isinstance(exc, TrustRefused):  # we refused the server, not it us
        return f"{endpoint}: {exc}"
    if isinstance(exc, UaStatusCodeError) and type(exc).__name__ in ("BadUserAccessDenied", "BadIdentityTokenInvalid",
                                                                      "BadIdentityTokenRejected"):
        return (f"{endpoint} refused the user {spec.username or '(anonymous)'!r} ({type(exc).__name__}): check the "
                "source's username and its password variable")
    if isinstance(exc, UaStatusCodeError) and not is_security_rejection(exc):
        return f"{endpoint} answered {type(exc).__name__}: {exc}"
    return describe_connection_error(exc, host, port, target=endpoint)


class AddressProblem(Exception):
    """A point's address cannot be used on this server; the message says why."""


class UnknownNamespace(AddressProblem):
    """A node id or browse name names a namespace URI the server does not have."""


def node_id_on_server(text: str, namespaces: Sequence[str]) -> ua.NodeId:
    """The node id ``text`` with its namespace as an index of this server.

    ``nsu=<uri>;i=…`` (also ``s=``, ``g=``, ``b=``) is looked up in the
    server's namespace array (``namespaces``, read on this connection);
    ``ns=<index>;…`` is taken as written.
    """
    node_id = ua.NodeId.from_string(text)
    uri = getattr(node_id, "NamespaceUri", None)
    if not uri:
        return node_id
    return ua.NodeId(node_id.Identifier, ua.Int16(_namespace_index(uri, namespaces)), node_id.NodeIdType)


def browse_name_on_server(element: str, namespaces: Sequence[str]) -> str:
    """A browse path element as ``index:Name``: ``nsu=<uri>;Name`` is looked up in
    the server's namespace array; ``3:Name`` and ``Name`` are taken as written."""
    if not element.startswith("nsu="):
        return element
    uri, sep, name = element.removeprefix("nsu=").partition(";")
    if not sep or not uri or not name:
        raise AddressProblem(f"browse path element {element!r}: write it as 'nsu=<namespace URI>;<name>'")
    return f"{_namespace_index(uri, namespaces)}:{name}"


def _namespace_index(uri: str, namespaces: Sequence[str]) -> int:
    if uri not in namespaces:
        have = ", ".join(f"{i}: {u!r}" for i, u in enumerate(namespaces))
        raise UnknownNamespace(f"the server has no namespace {uri!r} (it has {have})")
    return list(namespaces).index(uri)


def _describe_node_error(exc: BaseException) -> str:
    if isinstance(exc, AddressProblem):
        return str(exc)
    if isinstance(exc, UaStatusCodeError):
        return f"{type(exc).__name__} (the server has no such node)"
    if isinstance(exc, ValueError | UaStringParsingError):
        return f"not a valid node id ({exc})"
    return f"{type(exc).__name__}: {exc}"


def _explain_status(status: ua.StatusCode) -> str:
    name = status_name(status)
    hints = {
        "BadNodeIdUnknown": "the server has no node with this id",
        "BadNodeIdInvalid": "the node id is not valid on this server",
        "BadAttributeIdInvalid": "the node has no Value (is it an object, not a variable?)",
        "BadUserAccessDenied": "the server refuses this user read access",
    }
    hint = hints.get(name)
    return f"{name} ({hint})" if hint else name


def points_of(specs: Sequence[OpcUaSourceSpec]) -> list[str]:
    """All point ids served by the given sources."""
    return [b.point.id for s in specs for b in s.points]
