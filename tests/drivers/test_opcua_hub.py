"""The OPC-UA hub against real asyncua servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from core.points import PointDef, Quality, Sample
from core.sources import ConnectionState, OpcUaSourceSpec, PointBinding, SourceStatus
from drivers.opcua import OpcUaHub
from tests.conftest import ServerProcess, free_port

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(90)]


def spec(name: str, endpoint: str, nodes: dict[str, str], **kw: float) -> OpcUaSourceSpec:
    points = tuple(
        PointBinding(PointDef(pid, pid, "V"), node_id=node) for pid, node in nodes.items()
    )
    return OpcUaSourceSpec(
        name, endpoint, points, publishing_interval_ms=50, sampling_interval_ms=50,
        request_timeout_s=1.0, watchdog_interval_s=0.5, reconnect_min_s=0.2, reconnect_max_s=1.0, **kw,
    )


TEST_NODES = {"a": "ns=2;s=Test.A", "b": "ns=2;s=Test.B", "c": "ns=2;s=Test.C"}


class Recorder:
    """Collects what the hub reports, with the time each sample arrived."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, Sample]] = []
        self.statuses: list[SourceStatus] = []
        self.stale_marks_in: list[ConnectionState | None] = []  # the source's reported state at each stale mark

    def on_samples(self, batch: Sequence[Sample]) -> None:
        now = time.monotonic()
        self.samples.extend((now, s) for s in batch)
        state = self.statuses[-1].state if self.statuses else None
        self.stale_marks_in.extend(state for s in batch if s.quality is Quality.STALE)

    def on_status(self, status: SourceStatus) -> None:
        self.statuses.append(status)

    def latest(self, point: str) -> Sample | None:
        return next((s for _, s in reversed(self.samples) if s.point == point), None)

    def count(self, point: str, quality: Quality = Quality.GOOD, since: float = 0.0) -> int:
        return sum(1 for t, s in self.samples if s.point == point and s.quality is quality and t >= since)

    def status(self, source: str) -> SourceStatus:
        return next(s for s in reversed(self.statuses) if s.source == source)


async def wait_until(cond, timeout: float, step: float = 0.02) -> float:  # type: ignore[no-untyped-def]
    """Wait for ``cond()``; returns the seconds it took, fails after ``timeout``."""
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)
    return time.monotonic() - start


def all_good(rec: Recorder, points: Sequence[str], since: float = 0.0) -> bool:
    return all(rec.count(p, since=since) > 0 for p in points)


async def test_values_arrive_with_source_timestamps(opcua_server: ServerProcess) -> None:
    rec = Recorder()
    hub = OpcUaHub([spec("plc", opcua_server.endpoint, TEST_NODES)], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: all(rec.count(p) >= 10 for p in TEST_NODES), 10)
        a = rec.latest("a")
        assert a is not None and a.quality is Quality.GOOD
        assert 99.0 <= a.value <= 101.0  # the server publishes 100 + sin(t)
        assert abs(a.source_ts - time.time()) < 2.0
        assert a.recv_ts >= a.source_ts - 0.5
        assert rec.status("plc").state is ConnectionState.CONNECTED
    finally:
        await hub.stop()


async def test_killed_server_goes_stale_within_2s_and_recovers_on_same_port(opcua_server: ServerProcess) -> None:
    rec = Recorder()
    hub = OpcUaHub([spec("plc", opcua_server.endpoint, TEST_NODES)], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: all_good(rec, TEST_NODES), 10)
        killed_at = time.monotonic()
        opcua_server.kill()
        took = await wait_until(lambda: all(rec.count(p, Quality.STALE, killed_at) for p in TEST_NODES), 2.0)
        assert took <= 2.0
        await wait_until(lambda: rec.status("plc").state is ConnectionState.DISCONNECTED, 2.0)
        assert rec.status("plc").last_error
        # The cause before its consequences: DISCONNECTED (the source-lost alarm's condition) is reported before
        # the stale marks, so the stale-data alarm suppressed by that cause knows it when the marks come.
        assert rec.stale_marks_in and set(rec.stale_marks_in) == {ConnectionState.DISCONNECTED}

        opcua_server.start()  # same port
        back = time.monotonic()
        await wait_until(lambda: all(rec.count(p, since=back) >= 5 for p in TEST_NODES), 15)
        status = rec.status("plc")
        assert status.state is ConnectionState.CONNECTED
        assert status.reconnects >= 1
    finally:
        await hub.stop()


async def test_frozen_server_is_detected_by_the_watchdog(opcua_server: ServerProcess) -> None:
    """A server that hangs without closing the socket (SIGSTOP) is also caught."""
    rec = Recorder()
    hub = OpcUaHub([spec("plc", opcua_server.endpoint, TEST_NODES)], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: all_good(rec, TEST_NODES), 10)
        frozen_at = time.monotonic()
        opcua_server.freeze()
        took = await wait_until(lambda: all(rec.count(p, Quality.STALE, frozen_at) for p in TEST_NODES), 2.0)
        assert took <= 2.0
        opcua_server.thaw()
        back = time.monotonic()
        await wait_until(lambda: all(rec.count(p, since=back) >= 5 for p in TEST_NODES), 15)
    finally:
        await hub.stop()


async def test_one_bad_node_is_reported_and_the_others_keep_updating(opcua_server: ServerProcess) -> None:
    rec = Recorder()
    nodes = {**TEST_NODES, "ghost": "ns=2;s=Test.DoesNotExist"}
    hub = OpcUaHub([spec("plc", opcua_server.endpoint, nodes)], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: all(rec.count(p) >= 10 for p in TEST_NODES), 10)
        status = rec.status("plc")
        assert status.state is ConnectionState.DEGRADED
        (fault,) = status.faults
        assert fault.point == "ghost"
        assert "'ghost'" in fault.message and "ns=2;s=Test.DoesNotExist" in fault.message
        assert "BadNodeIdUnknown" in fault.message
        ghost = rec.latest("ghost")
        assert ghost is not None and ghost.quality is Quality.BAD
        mark = time.monotonic()
        await wait_until(lambda: all(rec.count(p, since=mark) >= 10 for p in TEST_NODES), 5)
    finally:
        await hub.stop()


async def test_bad_browse_path_names_the_point(opcua_server: ServerProcess) -> None:
    rec = Recorder()
    good = PointBinding(PointDef("a", "a", "V"), node_id="ns=2;s=Test.A")
    lost = PointBinding(PointDef("lost", "lost", "V"), browse_path=("2:Test", "2:Nope"))
    source = OpcUaSourceSpec("plc", opcua_server.endpoint, (good, lost), publishing_interval_ms=50)
    hub = OpcUaHub([source], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: rec.count("a") >= 5, 10)
        (fault,) = rec.status("plc").faults
        assert fault.point == "lost" and "2:Test/2:Nope" in fault.message
    finally:
        await hub.stop()


async def test_unreachable_endpoint_retries_with_a_clear_error_while_others_flow(
    opcua_server: ServerProcess,
) -> None:
    rec = Recorder()
    dead_endpoint = f"opc.tcp://127.0.0.1:{free_port()}/nothing"
    hub = OpcUaHub(
        [spec("plc", opcua_server.endpoint, TEST_NODES), spec("dead", dead_endpoint, {"x": "ns=2;s=X"})],
        rec.on_samples, rec.on_status,
    )
    await hub.start()
    try:
        await wait_until(lambda: rec.status("dead").reconnects >= 3 if any(
            s.source == "dead" for s in rec.statuses) else False, 10)
        status = rec.status("dead")
        assert status.state in (ConnectionState.DISCONNECTED, ConnectionState.CONNECTING)
        errors = [s.last_error for s in rec.statuses if s.source == "dead" and s.last_error]
        assert errors and "connection refused" in errors[-1] and dead_endpoint in errors[-1]
        delays = [s.next_retry_s for s in rec.statuses if s.source == "dead" and s.next_retry_s is not None]
        assert all(0 < d <= 1.0 for d in delays)  # capped at reconnect_max_s
        await wait_until(lambda: all(rec.count(p) >= 10 for p in TEST_NODES), 10)
        assert rec.status("plc").state is ConnectionState.CONNECTED
    finally:
        await hub.stop()


SUBSTATION = {"f": "nsu=urn:acme:substation;i=5001", "u": "nsu=urn:acme:substation;s=Bay1.U"}


async def test_nsu_points_follow_their_namespace_when_a_restart_renumbers_it() -> None:
    """Before the restart urn:acme:substation is ns=2; after it, ns=3, and ns=2
    holds decoys with the same identifiers (7777.0, -1.0)."""
    server = ServerProcess(free_port(), layout="substation").start()
    rec = Recorder()
    hub = OpcUaHub([spec("sub", server.endpoint, SUBSTATION)], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: all_good(rec, SUBSTATION), 10)
        f, u = rec.latest("f"), rec.latest("u")
        assert f is not None and f.value == 49.95
        assert u is not None and u.value == pytest.approx(20.4, rel=1e-7)  # a Float on the server
        server.kill()
        await wait_until(lambda: rec.status("sub").state is ConnectionState.DISCONNECTED, 5)
        server.layout = "substation-renumbered"
        server.start()  # same port, urn:acme:substation now ns=3
        back = time.monotonic()
        await wait_until(lambda: all_good(rec, SUBSTATION, since=back), 15)
        after = [(s.point, s.value) for t, s in rec.samples if t >= back and s.quality is Quality.GOOD]
        assert {p for p, _ in after} == {"f", "u"}
        assert all(v == 49.95 for p, v in after if p == "f")
        assert all(v == pytest.approx(20.4, rel=1e-7) for p, v in after if p == "u")
        assert rec.status("sub").state is ConnectionState.CONNECTED and rec.status("sub").faults == ()
    finally:
        await hub.stop()
        server.kill()


async def test_unknown_namespace_uri_is_a_fault_naming_the_uri_and_the_servers_namespaces() -> None:
    server = ServerProcess(free_port(), layout="substation").start()
    rec = Recorder()
    nodes = {**SUBSTATION, "ghost": "nsu=urn:acme:nowhere;i=5001"}
    hub = OpcUaHub([spec("sub", server.endpoint, nodes)], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: all_good(rec, SUBSTATION), 10)
        status = rec.status("sub")
        assert status.state is ConnectionState.DEGRADED
        (fault,) = status.faults
        assert fault.point == "ghost"
        assert fault.message == (
            "source 'sub', point 'ghost', node 'nsu=urn:acme:nowhere;i=5001': the server has no namespace "
            "'urn:acme:nowhere' (it has 0: 'http://opcfoundation.org/UA/', 1: 'urn:freeopcua:python:server', "
            "2: 'urn:acme:substation') — check this point's address in the config")
        ghost = rec.latest("ghost")
        assert ghost is not None and ghost.quality is Quality.BAD
    finally:
        await hub.stop()
        server.kill()


async def test_browse_path_with_nsu_names_finds_the_namespace_by_uri() -> None:
    """In the renumbered layout ns=2 is the decoy: '2:F' finds it, the URI finds the substation."""
    server = ServerProcess(free_port(), layout="substation-renumbered").start()
    rec = Recorder()
    by_uri = PointBinding(PointDef("f", "f", "Hz"), browse_path=("nsu=urn:acme:substation;F",))
    by_index = PointBinding(PointDef("decoy", "decoy", "Hz"), browse_path=("2:F",))
    malformed = PointBinding(PointDef("bad", "bad", "Hz"), browse_path=("nsu=urn:acme:substation",))
    source = OpcUaSourceSpec("sub", server.endpoint, (by_uri, by_index, malformed), publishing_interval_ms=50)
    hub = OpcUaHub([source], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: all_good(rec, ["f", "decoy"]), 10)
        assert [(p, s.value) for p in ("f", "decoy") if (s := rec.latest(p))] == [("f", 49.95), ("decoy", 7777.0)]
        (fault,) = rec.status("sub").faults
        assert fault.message == (
            "source 'sub', point 'bad', browse path 'nsu=urn:acme:substation': browse path element "
            "'nsu=urn:acme:substation': write it as 'nsu=<namespace URI>;<name>' — check this point's address "
            "in the config")
    finally:
        await hub.stop()
        server.kill()
