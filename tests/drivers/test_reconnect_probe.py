"""A server that comes back is reconnected within a probe period, however long the backoff has grown;
OPC-UA losses and status changes reach the historian (real asyncua / pymodbus servers, real SQLite)."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asyncua import Server, ua
from sqlalchemy import text

from console.store.historian import SqlHistorian
from core.points import Quality
from core.sources import ConnectionState, ModbusDeviceSpec, SourceStatus
from drivers.backoff import port_answers, wait_or_reachable
from drivers.modbus.hub import ModbusHub
from drivers.opcua import OpcUaHub
from drivers.sim.devices import DeviceFleet
from tests.conftest import ServerProcess, free_port
from tests.drivers.test_opcua_hub import TEST_NODES, Recorder, spec, wait_until

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(120)]

# Backoff of 10 s with equal jitter: every wait is 5–10 s, so a reconnect within 1.5 s of the port
# opening can only come from the probe.
LONG_BACKOFF = {"reconnect_min_s": 10.0, "reconnect_max_s": 10.0}
STALE, BAD = 3, 2  # stored quality codes (order of core.points.Quality)


def state(rec: Recorder, source: str) -> ConnectionState | None:
    return next((s.state for s in reversed(rec.statuses) if s.source == source), None)


def disconnected(rec: Recorder, source: str) -> SourceStatus | None:
    s = next((s for s in reversed(rec.statuses) if s.source == source), None)
    return s if s is not None and s.state is ConnectionState.DISCONNECTED else None


async def test_opcua_server_killed_and_restarted_is_reconnected_within_a_second_of_its_port_opening() -> None:
    server = ServerProcess(free_port()).start()
    rec = Recorder()
    hub = OpcUaHub([replace(spec("plc", server.endpoint, TEST_NODES), **LONG_BACKOFF)], rec.on_samples,
                   rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: rec.count("a") >= 3, 20)
        server.kill()
        await wait_until(lambda: disconnected(rec, "plc") is not None, 10)
        lost = disconnected(rec, "plc")
        assert lost is not None and lost.retry_at is not None and lost.next_retry_s is not None
        assert 5.0 <= lost.next_retry_s <= 10.0
        assert lost.retry_at - lost.since == pytest.approx(lost.next_retry_s, abs=0.05)  # the time of the attempt
        await asyncio.sleep(1.0)  # the probe finds nothing meanwhile
        assert disconnected(rec, "plc") is not None
        await asyncio.to_thread(server.start)  # returns once the restarted server listens
        opened = time.monotonic()
        took = await wait_until(lambda: state(rec, "plc") is ConnectionState.CONNECTED, 15, step=0.01)
        assert time.time() < lost.retry_at  # the backoff alone would still be waiting
        assert took <= 1.5, f"reconnected {took:.2f} s after the port opened"
        await wait_until(lambda: rec.count("a", since=opened) >= 1, 5)
    finally:
        await hub.stop()
        server.kill()


async def test_modbus_device_fleet_stopped_and_restarted_is_reconnected_within_a_second() -> None:
    fleet = DeviceFleet(count=1, port=free_port())
    await fleet.start()
    rec = Recorder()
    device = ModbusDeviceSpec("m1", fleet.host, fleet.port, 1, "eastron_sdm630.toml", timeout_s=0.3,
                              poll_overrides=(("power", 0.2), ("energy", 0.5)), **LONG_BACKOFF)
    hub = ModbusHub([device], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: state(rec, "m1") is ConnectionState.CONNECTED, 20)
        await fleet.stop()
        await wait_until(lambda: disconnected(rec, "m1") is not None, 10)
        lost = disconnected(rec, "m1")
        assert lost is not None and lost.retry_at is not None and lost.next_retry_s is not None
        assert lost.retry_at - lost.since == pytest.approx(lost.next_retry_s, abs=0.05)
        await asyncio.sleep(1.0)
        await fleet.start()
        took = await wait_until(lambda: state(rec, "m1") is ConnectionState.CONNECTED, 15, step=0.01)
        assert time.time() < lost.retry_at
        assert took <= 1.5, f"reconnected {took:.2f} s after the port opened"
    finally:
        await hub.stop()
        await fleet.stop()


async def test_a_server_that_answers_tcp_already_is_not_probed_the_full_delay_is_waited() -> None:
    """A failure with the port open (refused session, frozen server) must not become a 0.5 s retry loop."""
    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        assert await port_answers("127.0.0.1", port)
        started = time.monotonic()
        cut_short = await wait_or_reachable(1.2, "127.0.0.1", port, probe_every_s=0.1)
        assert not cut_short and time.monotonic() - started >= 1.2
    finally:
        listener.close()
        await listener.wait_closed()
    assert not await port_answers("127.0.0.1", port)


def stored(h: SqlHistorian, key: str) -> list[tuple[int, float | None, int]]:
    with h.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(  # type: ignore[misc]
            "SELECT s.ts_us, s.value, s.quality FROM samples s JOIN points p ON p.id = s.point_id "
            "WHERE p.key = :k ORDER BY s.ts_us"), {"k": key})]


async def test_an_opcua_outage_is_stored_as_stale_marks_at_the_time_it_was_noticed(tmp_path: Path) -> None:
    server = ServerProcess(free_port()).start()
    historian = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool", flush_s=0.05)
    historian.start()
    rec = Recorder()

    def both(batch):  # type: ignore[no-untyped-def]
        rec.on_samples(batch)
        historian.record(batch)

    hub = OpcUaHub([spec("plc", server.endpoint, TEST_NODES)], both, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: all(rec.count(p) >= 3 for p in TEST_NODES), 20)
        server.kill()
        await wait_until(lambda: all(rec.count(p, Quality.STALE) >= 1 for p in TEST_NODES), 10)
    finally:
        await hub.stop()
        server.kill()
    assert await asyncio.to_thread(historian.writer.wait_idle, 10)
    try:
        for point in TEST_NODES:
            mark = next(s for _, s in rec.samples if s.point == point and s.quality is Quality.STALE)
            last_good = [s for _, s in rec.samples if s.point == point and s.quality is Quality.GOOD][-1]
            assert mark.source_ts == last_good.source_ts  # the mark carries the last value's time ...
            rows = stored(historian, point)
            # ... but is stored when the console noticed the loss, after the last value.
            assert (round(mark.recv_ts * 1e6), None, STALE) in rows
            assert rows[-1][2] == STALE and rows[-2] == (round(last_good.source_ts * 1e6), last_good.value, 0)
            # Every sample the driver produced for the point is a row (none dropped on the key).
            assert len(rows) == sum(1 for _, s in rec.samples if s.point == point)
    finally:
        historian.stop()


async def test_an_opcua_node_turning_bad_is_stored_with_bad_quality(tmp_path: Path) -> None:
    """The server flags the node BadSensorFailure and keeps the last source timestamp (as a device
    whose sensor failed does): the bad sample still reaches the historian."""
    port = free_port()
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/test")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace("urn:energynet:test")
    node = await server.nodes.objects.add_variable(ua.NodeId("Test.A", ns), ua.QualifiedName("A", ns), 0.0)
    historian = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool", flush_s=0.05)
    historian.start()
    rec = Recorder()

    def both(batch):  # type: ignore[no-untyped-def]
        rec.on_samples(batch)
        historian.record(batch)

    at = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    async with server:
        await server.write_attribute_value(node.nodeid, ua.DataValue(
            ua.Variant(230.5, ua.VariantType.Double), SourceTimestamp=at, ServerTimestamp=at))
        hub = OpcUaHub([spec("plc", f"opc.tcp://127.0.0.1:{port}/test", {"a": f"ns={ns};s=Test.A"})],
                       both, rec.on_status)
        await hub.start()
        try:
            await wait_until(lambda: rec.count("a") >= 1, 20)
            await server.write_attribute_value(node.nodeid, ua.DataValue(
                ua.Variant(230.5, ua.VariantType.Double), StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure),
                SourceTimestamp=at, ServerTimestamp=at))
            await wait_until(lambda: rec.count("a", Quality.BAD) >= 1, 10)
        finally:
            await hub.stop()
    assert await asyncio.to_thread(historian.writer.wait_idle, 10)
    try:
        bad = next(s for _, s in rec.samples if s.point == "a" and s.quality is Quality.BAD)
        assert bad.source_ts == at.timestamp()
        rows = stored(historian, "a")
        assert rows[0] == (round(at.timestamp() * 1e6), 230.5, 0)
        assert rows[1][0] == round(bad.recv_ts * 1e6) and rows[1][2] == BAD
        assert rows[1][1] is None or math.isclose(rows[1][1], 230.5)
    finally:
        historian.stop()
