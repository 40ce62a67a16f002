"""OPC-UA server trust: a SignAndEncrypt (Basic256Sha256) asyncua server, our client certificate, the trust
list with first-use accept, a changed server certificate, and username/password identity.

Real things: asyncua servers on 127.0.0.1 with certificates made by asyncua's crypto helpers; the trust list
is a real file. The expected fingerprints are computed here with hashlib from the certificate files."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest
from asyncua.client.client import Client
from cryptography.x509.oid import ExtendedKeyUsageOID

from core.points import PointDef, Quality
from core.sources import ConnectionState, OpcUaSourceSpec, PointBinding, SecurityMode
from drivers.opcua import OpcUaHub
from drivers.opcua.secure import secure
from drivers.opcua.trust import TrustList, UntrustedCertificate, normalise_fingerprint
from tests.conftest import free_port
from tests.drivers.test_opcua_hub import Recorder, wait_until
from tests.support.secure_opcua import make_cert, secured_server

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(90)]

CLIENT_URI = "urn:energynet:console:test"


def spec(endpoint: str, tmp: Path, client: tuple[Path, Path], trust: Path, **kw: Any) -> OpcUaSourceSpec:
    point = PointBinding(PointDef("secure", "Secure", "1"), node_id="ns=2;s=Secure.Value")
    return OpcUaSourceSpec("secure", endpoint, (point,), security_mode=SecurityMode.SIGN_AND_ENCRYPT,
                           security_policy="Basic256Sha256", certificate=str(client[1]), private_key=str(client[0]),
                           application_uri=CLIENT_URI, publishing_interval_ms=50, reconnect_min_s=0.2,
                           reconnect_max_s=0.5, trust_list=str(trust), **kw)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256(path.read_bytes()).hexdigest().upper()
    return ":".join(h[i:i + 2] for i in range(0, 64, 2))


async def test_first_use_accept_then_changed_certificate_refused(tmp_path: Path) -> None:
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/secure"
    client = await make_cert(tmp_path, "client", CLIENT_URI, ExtendedKeyUsageOID.CLIENT_AUTH)
    s1 = await make_cert(tmp_path, "server-1", "urn:energynet:test:server", ExtendedKeyUsageOID.SERVER_AUTH)
    s2 = await make_cert(tmp_path, "server-2", "urn:energynet:test:server", ExtendedKeyUsageOID.SERVER_AUTH)
    trust_path = tmp_path / "data" / "opcua-trust.json"
    trust = TrustList(trust_path)
    rec = Recorder()
    hub = OpcUaHub([spec(endpoint, tmp_path, client, trust_path)], rec.on_samples, rec.on_status)
    async with secured_server(endpoint, *s1):
        await hub.start()
        try:
            # 1. Never seen: refused, the fingerprint shown, the certificate pending.
            await wait_until(lambda: any(s.last_error for s in rec.statuses), 15)
            error = next(s.last_error for s in rec.statuses if s.last_error)
            fp1 = sha256_of(s1[1])
            assert error is not None and error.startswith(f"{endpoint}: server certificate not trusted yet")
            assert fp1 in error and f"energynet certs accept {endpoint} {fp1}" in error
            assert rec.count("secure") == 0
            (pending,) = trust.pending()
            assert (pending.endpoint, pending.cert.fingerprint, pending.previous) == (endpoint, fp1, None)
            assert "O=server-1" in pending.cert.subject
            assert trust.trusted() == []
            # A mistyped fingerprint accepts nothing.
            with pytest.raises(ValueError, match="not " + normalise_fingerprint("00" * 32)):
                trust.accept(endpoint, "00" * 32, "op-1")
            # 2. Accepted (typed without colons, lower case): the session's next retry connects.
            entry = trust.accept(endpoint, fp1.replace(":", "").lower(), "op-1")
            assert (entry.by, entry.cert.fingerprint) == ("op-1", fp1)
            await wait_until(lambda: rec.count("secure") >= 3, 15)
            assert rec.status("secure").state is ConnectionState.CONNECTED
            sample = rec.latest("secure")
            assert sample is not None and sample.quality is Quality.GOOD and 42 <= sample.value < 43
        except BaseException:
            await hub.stop()
            raise
    # 3. The server comes back on the same endpoint with another certificate: refused as changed.
    mark = len(rec.statuses)
    async with secured_server(endpoint, *s2):
        try:
            fp2 = sha256_of(s2[1])
            await wait_until(lambda: any(fp2 in (s.last_error or "") for s in rec.statuses[mark:]), 20)
            error = next(s.last_error for s in rec.statuses[mark:] if fp2 in (s.last_error or ""))
            assert error == (
                f"{endpoint}: server certificate CHANGED: trusted SHA-256 {fp1}, now offered {fp2} "
                f"({trust.pending()[0].cert.subject}); refused — a replaced server or a machine in the middle. "
                "If the server's certificate was renewed on purpose, compare the fingerprint on the server and "
                f"accept it (energynet certs accept {endpoint} {fp2})")
            good_before = rec.count("secure")
            await asyncio.sleep(0.5)
            assert rec.count("secure") == good_before  # nothing read from the impostor
            assert [e.cert.fingerprint for e in trust.trusted()] == [fp1]
            assert trust.pending()[0].previous == fp1
            # Rejecting keeps it refused.
            assert trust.reject(endpoint) is True
            assert rec.status("secure").state is not ConnectionState.CONNECTED
        finally:
            await hub.stop()


async def test_username_and_password(tmp_path: Path) -> None:
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/secure"
    client = await make_cert(tmp_path, "client", CLIENT_URI, ExtendedKeyUsageOID.CLIENT_AUTH)
    srv = await make_cert(tmp_path, "server", "urn:energynet:test:server", ExtendedKeyUsageOID.SERVER_AUTH)
    trust_path = tmp_path / "trust.json"
    async with secured_server(endpoint, *srv, users=True):
        # Trust the server first, as an operator would after comparing the fingerprint.
        probe = Client(endpoint)
        with pytest.raises(UntrustedCertificate, match="not trusted yet"):
            await secure(probe, spec(endpoint, tmp_path, client, trust_path))
        TrustList(trust_path).accept(endpoint, sha256_of(srv[1]), "eng-1")
        wrong, right = Recorder(), Recorder()
        bad = OpcUaHub([spec(endpoint, tmp_path, client, trust_path, username="meter-reader", password="guess")],
                       wrong.on_samples, wrong.on_status)
        good = OpcUaHub([spec(endpoint, tmp_path, client, trust_path, username="meter-reader",
                              password="correct horse battery")], right.on_samples, right.on_status)
        await bad.start()
        await good.start()
        try:
            await wait_until(lambda: right.count("secure") >= 3, 15)
            await wait_until(lambda: any(s.last_error for s in wrong.statuses), 15)
            error = next(s.last_error for s in wrong.statuses if s.last_error)
            assert error == (f"{endpoint} refused the user 'meter-reader' (BadUserAccessDenied): check the "
                             "source's username and its password variable")
            assert wrong.count("secure") == 0
        finally:
            await bad.stop()
            await good.stop()
    assert "correct horse" not in repr(spec(endpoint, tmp_path, client, trust_path, password="correct horse"))
