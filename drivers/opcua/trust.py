"""Which OPC-UA server certificates the console trusts: a trust list with first-use accept.

A secured connection is only as good as the server certificate it encrypts to. asyncua fetches that
certificate over an unsecured GetEndpoints call and would use whatever comes back, so a machine in the
middle could hand it its own. Here the offered certificate is checked against a list the operator
keeps (a JSON file in the data directory, one entry per endpoint):

- an endpoint never seen: refused, and its certificate recorded as *pending* with its SHA-256
  fingerprint, so the operator can compare it with the one shown on the server and accept or reject it
  (``energynet certs accept ENDPOINT FINGERPRINT`` or the console's dialog);
- a trusted endpoint offering the same certificate: connected;
- a trusted endpoint offering another certificate: refused as *changed* (a replaced server or an
  attacker); the new one is pending until someone accepts it on purpose.

The file is read on every connection attempt, so an accept from the CLI or the console takes effect at
the session's next retry; writes are atomic (temp file + rename).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from drivers.errors import SecurityRejected

FILE_VERSION = 1


def fingerprint(der: bytes) -> str:
    """SHA-256 of the certificate's DER bytes as colon-separated upper-case hex (as UaExpert and
    openssl ``x509 -fingerprint -sha256`` show it)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def normalise_fingerprint(text: str) -> str:
    """A fingerprint typed with or without colons, any case, as :func:`fingerprint` writes it."""
    hexed = text.replace(":", "").replace(" ", "").strip().upper()
    if len(hexed) != 64 or any(c not in "0123456789ABCDEF" for c in hexed):
        raise ValueError(f"{text!r} is not a SHA-256 fingerprint (64 hex digits, colons optional)")
    return ":".join(hexed[i:i + 2] for i in range(0, 64, 2))


def first_certificate(der_or_chain: bytes) -> bytes:
    """The DER bytes of the leaf certificate (an endpoint may send a chain: DER certificates back to back;
    each is a SEQUENCE, 0x30 then a short- or long-form length, so the first ends where its length says)."""
    data = der_or_chain
    if len(data) < 2 or data[0] != 0x30:
        raise ValueError("the server sent no DER certificate")
    if data[1] < 0x80:
        return data[:2 + data[1]]  # (too short for a real certificate; load_der below would refuse it)
    n = data[1] & 0x7F
    length = int.from_bytes(data[2:2 + n], "big")
    return x509.load_der_x509_certificate(data[:2 + n + length]).public_bytes(Encoding.DER)


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What the operator sees before accepting: who the certificate names and its fingerprint."""

    fingerprint: str
    subject: str
    issuer: str
    not_before: str
    not_after: str
    application_uri: str | None

    @staticmethod
    def of(der: bytes) -> CertificateInfo:
        cert = x509.load_der_x509_certificate(der)
        uri = None
        with contextlib.suppress(x509.ExtensionNotFound):
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            uris = san.get_values_for_type(x509.UniformResourceIdentifier)
            uri = uris[0] if uris else None
        return CertificateInfo(fingerprint(der), cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(),
                               cert.not_valid_before_utc.isoformat(), cert.not_valid_after_utc.isoformat(), uri)


@dataclass(frozen=True, slots=True)
class TrustEntry:
    endpoint: str
    cert: CertificateInfo
    at: float  # accepted (trusted) or first offered (pending), POSIX s
    by: str | None = None  # who accepted it
    previous: str | None = None  # pending only: the fingerprint trusted before (a changed certificate)


class TrustRefused(SecurityRejected):
    """We refused the server (not the server us): its certificate is not on our trust list."""

    def __init__(self, message: str, endpoint: str, offered: CertificateInfo) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.offered = offered


class UntrustedCertificate(TrustRefused):
    """An endpoint seen for the first time (or whose certificate was rejected)."""


class ChangedCertificate(TrustRefused):
    """A trusted endpoint now offers a different certificate."""


class TrustList:
    """The trust list file. Blocking file I/O, small: called once per connection attempt."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock

    # ---- the check a connection makes -----------------------------------------------------------------

    def check(self, endpoint: str, der: bytes) -> CertificateInfo:
        """Return when ``der`` is the trusted certificate of ``endpoint``; raise :class:`UntrustedCertificate`
        or :class:`ChangedCertificate` otherwise (recording it as pending, to be accepted or rejected)."""
        info = CertificateInfo.of(der)
        data = self._read()
        trusted = data["trusted"].get(endpoint)
        if trusted is not None and trusted["cert"]["fingerprint"] == info.fingerprint:
            return info
        previous = trusted["cert"]["fingerprint"] if trusted is not None else None
        pending = data["pending"].get(endpoint)
        if pending is None or pending["cert"]["fingerprint"] != info.fingerprint:
            data["pending"][endpoint] = asdict(TrustEntry(endpoint, info, self.clock(), None, previous))
            self._write(data)
        accept = f"energynet certs accept {endpoint} {info.fingerprint}"
        if previous is not None:
            raise ChangedCertificate(
                f"server certificate CHANGED: trusted SHA-256 {previous}, now offered {info.fingerprint} "
                f"({info.subject}); refused — a replaced server or a machine in the middle. If the server's "
                f"certificate was renewed on purpose, compare the fingerprint on the server and accept it "
                f"({accept})", endpoint, info)
        raise UntrustedCertificate(
            f"server certificate not trusted yet: {info.subject}, SHA-256 {info.fingerprint}; compare the "
            f"fingerprint with the one shown on the server, then accept it ({accept}) or reject it",
            endpoint, info)

    # ---- what the operator does ------------------------------------------------------------------------

    def accept(self, endpoint: str, fingerprint_text: str, by: str) -> TrustEntry:
        """Trust the pending certificate of ``endpoint`` whose fingerprint is ``fingerprint_text`` (the one
        the operator compared); ValueError when nothing with that fingerprint is pending there."""
        want = normalise_fingerprint(fingerprint_text)
        data = self._read()
        pending = data["pending"].get(endpoint)
        if pending is None:
            known = ", ".join(sorted(data["pending"])) or "none"
            raise ValueError(f"no certificate is waiting for {endpoint} (pending: {known}); connect once so the "
                             "console sees it")
        if pending["cert"]["fingerprint"] != want:
            raise ValueError(f"{endpoint} offered SHA-256 {pending['cert']['fingerprint']}, not {want}: nothing "
                             "accepted (compare the fingerprint again)")
        entry = TrustEntry(endpoint, CertificateInfo(**pending["cert"]), self.clock(), by)
        data["trusted"][endpoint] = asdict(entry)
        del data["pending"][endpoint]
        self._write(data)
        return entry

    def reject(self, endpoint: str) -> bool:
        """Forget the pending certificate (it stays refused; it is shown again when next offered)."""
        data = self._read()
        if data["pending"].pop(endpoint, None) is None:
            return False
        self._write(data)
        return True

    def forget(self, endpoint: str) -> bool:
        """Stop trusting ``endpoint``'s certificate."""
        data = self._read()
        if data["trusted"].pop(endpoint, None) is None:
            return False
        self._write(data)
        return True

    def trusted(self) -> list[TrustEntry]:
        return [_entry(v) for _, v in sorted(self._read()["trusted"].items())]

    def pending(self) -> list[TrustEntry]:
        return [_entry(v) for _, v in sorted(self._read()["pending"].items())]

    # ---- the file --------------------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": FILE_VERSION, "trusted": {}, "pending": {}}
        except (OSError, ValueError) as exc:
            raise SecurityRejected(f"the OPC-UA trust list {self.path} cannot be read ({exc}); fix or remove "
                                   "the file (then accept the servers again)") from exc
        if not isinstance(raw, dict) or raw.get("version") != FILE_VERSION:
            raise SecurityRejected(f"the OPC-UA trust list {self.path} is not a version-{FILE_VERSION} trust list")
        raw.setdefault("trusted", {})
        raw.setdefault("pending", {})
        return raw

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".trust-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _entry(v: dict[str, Any]) -> TrustEntry:
    return TrustEntry(v["endpoint"], CertificateInfo(**v["cert"]), v["at"], v.get("by"), v.get("previous"))
