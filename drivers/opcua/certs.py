"""The console's own OPC-UA client certificate (``energynet certs create``), made with asyncua's crypto helpers.

An application-instance certificate as OPC 10000-6 6.2.2 wants it: RSA 2048, SHA-256, the application URI
and the host name in the subject alternative names, client-auth use. The private key is written PEM/PKCS#8
with mode 0600 (owner only); the certificate DER (what OPC-UA servers and their trust lists take).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from asyncua.crypto.cert_gen import dump_private_key_as_pem, generate_private_key, generate_self_signed_app_certificate
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from drivers.opcua.trust import CertificateInfo


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    key: Path
    cert: Path
    info: CertificateInfo


def create_client_certificate(directory: Path, application_uri: str, host: str | None = None,
                              name: str = "EnergyNet Console", days: int = 365 * 2,
                              overwrite: bool = False) -> ClientCertificate:
    """Write ``client-key.pem`` and ``client-cert.der`` into ``directory``. Refuses (FileExistsError) to
    replace existing files unless ``overwrite``: servers trust the old certificate, so a new one must be
    put on their trust lists again."""
    directory.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = directory / "client-key.pem", directory / "client-cert.der"
    for p in (key_path, cert_path):
        if p.exists() and not overwrite:
            raise FileExistsError(f"{p} exists; servers trust the certificate there. Use --force to replace it "
                                  "(then add the new one to every server's trust list)")
    host = host or socket.gethostname()
    key = generate_private_key()
    cert = generate_self_signed_app_certificate(
        key, name, {"organizationName": "EnergyNet"},
        [x509.UniformResourceIdentifier(application_uri), x509.DNSName(host)],
        [ExtendedKeyUsageOID.CLIENT_AUTH], days=days)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(dump_private_key_as_pem(key))
    os.chmod(key_path, 0o600)  # also when the file existed with wider permissions
    der = cert.public_bytes(Encoding.DER)
    cert_path.write_bytes(der)
    return ClientCertificate(key_path, cert_path, CertificateInfo.of(der))
