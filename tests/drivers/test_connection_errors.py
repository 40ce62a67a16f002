"""Each cause of a failed connection is said as what it is, by both field
drivers, against real sockets and real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.server import Server
from cryptography.x509.oid import ExtendedKeyUsageOID

from core.points import PointDef
from core.ports import SampleSink, SampleSource, StatusSink
from core.sources import ModbusDeviceSpec, OpcUaSourceSpec, PointBinding, SecurityMode
from drivers.errors import describe_connection_error
from drivers.modbus.hub import ModbusHub
from drivers.opcua import OpcUaHub
from tests.conftest import free_port
from tests.drivers.test_opcua_hub import Recorder, wait_until

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(60)]

CLIENT_URI = "urn:energynet:console:test"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A socket that accepts TCP connections (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


def opcua_spec(endpoint: str, mode: SecurityMode = SecurityMode.NONE, cert: Path | None = None,
               key: Path | None = None) -> OpcUaSourceSpec:
    point = PointBinding(PointDef("x", "x", "1"), node_id="ns=2;s=X")
    return OpcUaSourceSpec(
        "src", endpoint, (point,), security_mode=mode,
        security_policy="Basic256Sha256" if mode is not SecurityMode.NONE else "None",
        certificate=str(cert) if cert else None, private_key=str(key) if key else None,
        application_uri=CLIENT_URI, request_timeout_s=0.5, reconnect_min_s=0.2, reconnect_max_s=0.5)


async def first_error(make: Callable[[SampleSink, StatusSink], SampleSource]) -> str:
    """Run a hub until it reports its first error, and return that error."""
    rec = Recorder()
    hub = make(rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: any(s.last_error for s in rec.statuses), 20)
    finally:
        await hub.stop()
    return next(s.last_error for s in rec.statuses if s.last_error)


async def first_opcua_error(spec: OpcUaSourceSpec) -> str:
    return await first_error(lambda samples, status: OpcUaHub([spec], samples, status))


async def first_modbus_error(host: str, port: int) -> str:
    spec = ModbusDeviceSpec("m1", host, port, 3, "eastron_sdm630.toml", timeout_s=0.5, reconnect_min_s=0.2,
                            reconnect_max_s=0.5)
    return await first_error(lambda samples, status: ModbusHub([spec], samples, status))


# ---- OPC-UA ---------------------------------------------------------------

async def test_opcua_unresolvable_host() -> None:
    error = await first_opcua_error(opcua_spec("opc.tcp://nonexistent.invalid:4840/x"))
    assert error == "cannot resolve host 'nonexistent.invalid' (check the host name, or use an IP address)"


async def test_opcua_refused() -> None:
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/x"
    error = await first_opcua_error(opcua_spec(endpoint))
    assert error == (f"cannot connect to {endpoint}: connection refused "
                     "(nothing listens on that port; is the server running?)")


async def test_opcua_silent_listener_times_out(silent_port: int) -> None:
    endpoint = f"opc.tcp://127.0.0.1:{silent_port}/x"
    error = await first_opcua_error(opcua_spec(endpoint))
    assert error == f"no answer from {endpoint} (timed out)"


@pytest.fixture
async def strict_server(tmp_path: Path) -> AsyncIterator[str]:
    """Basic256Sha256 SignAndEncrypt only, trusting only the certificates in its trust list."""
    server_key, server_cert = tmp_path / "server-key.pem", tmp_path / "server-cert.der"
    await setup_self_signed_certificate(server_key, server_cert, "urn:energynet:test:server", "localhost",
                                        [ExtendedKeyUsageOID.SERVER_AUTH], {})
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    shutil.copy(server_cert, trusted / "server-cert.der")  # a trust list of its own certificate only
    store = TrustStore([trusted], [])
    await store.load()
    server = Server()
    await server.init()
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/secure"
    server.set_endpoint(endpoint)
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    await server.load_certificate(str(server_cert))
    await server.load_private_key(str(server_key))
    server.set_certificate_validator(CertificateValidator(
        CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT, store))
    async with server:
        yield endpoint


async def test_opcua_security_none_against_a_secured_server(strict_server: str) -> None:
    error = await first_opcua_error(opcua_spec(strict_server))
    assert error == (f"{strict_server} rejected the connection's security: the server offers no endpoint with "
                     "security mode None and policy None (set security_mode / security_policy to what the "
                     "server requires)")


async def test_opcua_untrusted_client_certificate(strict_server: str, tmp_path: Path) -> None:
    key, cert = tmp_path / "client-key.pem", tmp_path / "client-cert.der"
    await setup_self_signed_certificate(key, cert, CLIENT_URI, "localhost", [ExtendedKeyUsageOID.CLIENT_AUTH], {})
    error = await first_opcua_error(opcua_spec(strict_server, SecurityMode.SIGN_AND_ENCRYPT, cert, key))
    assert error == (f"{strict_server} rejected the connection's security (BadCertificateUntrusted): "
                     "the server does not trust our certificate; add it to the server's trust list")


# ---- Modbus ---------------------------------------------------------------

async def test_modbus_unresolvable_host() -> None:
    error = await first_modbus_error("nonexistent.invalid", 502)
    assert error == "cannot resolve host 'nonexistent.invalid' (check the host name, or use an IP address)"


async def test_modbus_refused() -> None:
    port = free_port()
    error = await first_modbus_error("127.0.0.1", port)
    assert error == (f"cannot connect to 127.0.0.1:{port}: connection refused "
                     "(nothing listens on that port; is the server running?)")


async def test_modbus_silent_listener_times_out(silent_port: int) -> None:
    error = await first_modbus_error("127.0.0.1", silent_port)
    assert error == f"no answer from 127.0.0.1:{silent_port} device id 3 within 0.5 s (timed out)"


async def test_tls_handshake_with_a_plain_server_is_named_tls() -> None:
    """For drivers on TLS (Modbus/TCP security, OPC-UA over HTTPS): a peer that does not speak TLS."""
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 400 Bad Request\r\n\r\n")  # not a TLS record
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ssl.SSLError) as caught:
            await asyncio.open_connection("127.0.0.1", port, ssl=ssl.create_default_context(),
                                          server_hostname="localhost")
    finally:
        server.close()
        await server.wait_closed()
    assert describe_connection_error(caught.value, "127.0.0.1", port) == (
        f"TLS handshake with 127.0.0.1:{port} failed: WRONG_VERSION_NUMBER")
