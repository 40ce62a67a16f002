"""Secured OPC-UA: Basic256Sha256 / SignAndEncrypt with certificates made by asyncua."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID

from core.points import PointDef, Quality
from core.sources import ConnectionState, OpcUaSourceSpec, PointBinding, SecurityMode
from drivers.opcua import OpcUaHub
from tests.conftest import free_port
from tests.drivers.test_opcua_hub import Recorder, wait_until
from tests.support.secure_opcua import make_cert
from tests.support.secure_opcua import secured_server as serve_secured

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(60)]

CLIENT_URI = "urn:energynet:console:test"


@pytest.fixture
async def secured_server(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    key, cert = await make_cert(tmp_path, "server", "urn:energynet:test:server", ExtendedKeyUsageOID.SERVER_AUTH)
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/secure"
    async with serve_secured(endpoint, key, cert):
        yield endpoint, tmp_path


def _spec(endpoint: str, mode: SecurityMode, cert: Path | None = None, key: Path | None = None) -> OpcUaSourceSpec:
    point = PointBinding(PointDef("secure", "Secure", "1"), node_id="ns=2;s=Secure.Value")
    return OpcUaSourceSpec(
        "secure", endpoint, (point,), security_mode=mode,
        security_policy="Basic256Sha256" if mode is not SecurityMode.NONE else "None",
        certificate=str(cert) if cert else None, private_key=str(key) if key else None,
        application_uri=CLIENT_URI, publishing_interval_ms=50, reconnect_min_s=0.2, reconnect_max_s=1.0,
    )


async def test_sign_and_encrypt_with_client_certificate(secured_server: tuple[str, Path]) -> None:
    endpoint, tmp = secured_server
    key, cert = tmp / "client-key.pem", tmp / "client-cert.der"
    await setup_self_signed_certificate(key, cert, CLIENT_URI, "localhost", [ExtendedKeyUsageOID.CLIENT_AUTH], {})
    rec = Recorder()
    hub = OpcUaHub([_spec(endpoint, SecurityMode.SIGN_AND_ENCRYPT, cert, key)], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: rec.count("secure") >= 3, 15)
        sample = rec.latest("secure")
        assert sample is not None and sample.quality is Quality.GOOD and 42 <= sample.value < 43
        assert rec.status("secure").state is ConnectionState.CONNECTED
    finally:
        await hub.stop()


async def test_unsecured_client_is_refused_with_a_clear_error(secured_server: tuple[str, Path]) -> None:
    endpoint, _ = secured_server
    rec = Recorder()
    hub = OpcUaHub([_spec(endpoint, SecurityMode.NONE)], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: any(s.last_error for s in rec.statuses), 15)
        error = next(s.last_error for s in rec.statuses if s.last_error)
        assert endpoint in error
        assert rec.count("secure") == 0
    finally:
        await hub.stop()
