"""Setting up a secured OPC-UA client: the policy and mode, our certificate, and the server's certificate
checked against the trust list before anything is encrypted to it."""

from __future__ import annotations

from pathlib import Path

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto import security_policies

from core.sources import OpcUaSourceSpec
from drivers.errors import SecurityRejected
from drivers.opcua.trust import TrustList, first_certificate


async def secure(client: Client, spec: OpcUaSourceSpec) -> None:
    """Configure ``client`` for ``spec``'s security (call before ``connect``). With a trust list the
    endpoints are listed first (unsecured, as OPC-UA discovery is), the offered server certificate is
    checked (:class:`drivers.opcua.trust.TrustRefused` when it is not trusted) and exactly that certificate
    is pinned: asyncua then refuses a session whose server presents another one."""
    policy = getattr(security_policies, f"SecurityPolicy{spec.security_policy}", None)
    if policy is None:
        raise SecurityRejected(f"unknown security policy {spec.security_policy!r}")
    mode = ua.MessageSecurityMode[spec.security_mode.value]
    server_certificate: bytes | None = None
    if spec.trust_list:
        endpoints = await client.connect_and_get_server_endpoints()
        endpoint = Client.find_endpoint(endpoints, mode, policy.URI)  # UaError 'No matching endpoints'
        if not endpoint.ServerCertificate:
            raise SecurityRejected("the server's endpoint carries no certificate")
        server_certificate = first_certificate(endpoint.ServerCertificate)
        TrustList(Path(spec.trust_list)).check(spec.endpoint, server_certificate)
    if not spec.certificate or not spec.private_key:
        raise SecurityRejected("a secured source needs our client certificate and key (energynet certs create)")
    await client.set_security(policy, spec.certificate, spec.private_key, server_certificate=server_certificate,
                              mode=mode)
