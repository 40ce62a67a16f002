"""Why a connection to a field device failed, said as what it is.

Both field drivers (OPC-UA, Modbus TCP) report connection failures through
:func:`describe_connection_error`, so an operator reads the same words for the
same cause whatever the protocol: a name that does not resolve, a port nobody
listens on, a host that does not answer, a server that rejects our security.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

# Status codes (asyncua exception class names) by which an OPC-UA server
# rejects the security we offer: policy, mode, certificate or its trust.
_SECURITY_REJECTIONS = {
    "BadSecurityPolicyRejected": "the server does not accept this security policy",
    "BadSecurityModeRejected": "the server does not accept this security mode",
    "BadSecurityChecksFailed": "the server's security checks failed (certificate, key or signature)",
    "BadCertificateUntrusted": "the server does not trust our certificate; add it to the server's trust list",
    "BadCertificateInvalid": "the server finds our certificate invalid",
    "BadCertificateTimeInvalid": "our certificate has expired or is not valid yet",
    "BadCertificateUriInvalid": "our certificate's application URI does not match the configured one",
    "BadCertificateUseNotAllowed": "our certificate may not be used for this",
    "BadCertificateRevoked": "our certificate has been revoked",
    "BadCertificateHostNameInvalid": "the server certificate's host name does not match the endpoint",
    "BadNoValidCertificates": "no valid certificate was offered",
    "BadIdentityTokenRejected": "the server rejects our identity token",
}


class SecurityRejected(Exception):
    """The endpoint answered, but not with the security we are configured for."""


def describe_connection_error(exc: BaseException, host: str, port: int, target: str | None = None) -> str:
    """One line naming the cause of a failed connection to ``host:port``.

    ``target`` is how the operator wrote the address (e.g. an OPC-UA endpoint
    URL); it is named instead of ``host:port`` when given.
    """
    where = target or f"{host}:{port}"
    name = type(exc).__name__
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host {host!r} (check the host name, or use an IP address)"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot connect to {where}: connection refused (nothing listens on that port; is the server running?)"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"no answer from {where} (timed out)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {where} failed: {exc.reason or exc}"
    if name in _SECURITY_REJECTIONS:
        return f"{where} rejected the connection's security ({name}): {_SECURITY_REJECTIONS[name]}"
    if isinstance(exc, SecurityRejected):
        return f"{where} rejected the connection's security: {exc}"
    if isinstance(exc, ConnectionResetError):
        return f"{where} closed the connection (reset by peer)"
    if isinstance(exc, OSError):
        return f"cannot connect to {where}: {exc.strerror or exc}"
    return f"{where}: {name}: {exc}"


def is_security_rejection(exc: BaseException) -> bool:
    """Whether ``exc`` is a server's refusal of the security we offered."""
    return isinstance(exc, SecurityRejected | ssl.SSLError) or type(exc).__name__ in _SECURITY_REJECTIONS


async def connect_failure(host: str, port: int, timeout_s: float) -> BaseException:
    """The exception a plain TCP connect to ``host:port`` raises now.

    For clients that only say *whether* they connected (pymodbus returns
    False): one more attempt, to learn *why* it failed.
    """
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=timeout_s)
    except (OSError, TimeoutError) as exc:
        return exc
    writer.close()
    return ConnectionError(f"connection to {host}:{port} failed once and succeeded on a second attempt")
