"""A secured asyncua server in the test's own process (Basic256Sha256 / SignAndEncrypt), its certificates made
by asyncua's crypto helpers, and an optional username/password check: used by the OPC-UA security and trust
tests. ``ns=2;s=Secure.Value`` ticks around 42.0 every 0.1 s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.permission_rules import User as UaUser
from asyncua.crypto.permission_rules import UserRole
from asyncua.server.server import Server


class Users:
    """The server's user check: one account, 'meter-reader' with a known password."""

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> UaUser | None:
        if username == "meter-reader" and password == "correct horse battery":
            return UaUser(role=UserRole.User, name=username)
        return None


async def make_cert(tmp: Path, name: str, uri: str, usage: Any) -> tuple[Path, Path]:
    key, cert = tmp / f"{name}-key.pem", tmp / f"{name}-cert.der"
    await setup_self_signed_certificate(key, cert, uri, "localhost", [usage], {"organizationName": name})
    return key, cert


@asynccontextmanager
async def secured_server(endpoint: str, key: Path, cert: Path, users: bool = False) -> AsyncIterator[None]:
    server = Server(user_manager=Users()) if users else Server()
    await server.init()
    server.set_endpoint(endpoint)
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    if users:
        server.set_identity_tokens([ua.UserNameIdentityToken])
    await server.load_certificate(str(cert))
    await server.load_private_key(str(key))
    ns = await server.register_namespace("urn:energynet:test")
    var = await server.nodes.objects.add_variable(ua.NodeId("Secure.Value", ns), ua.QualifiedName("Value", ns), 42.0)
    async with server:
        async def tick() -> None:
            while True:
                await var.write_value(42.0 + (time.time() % 1))
                await asyncio.sleep(0.1)

        task = asyncio.create_task(tick())
        try:
            yield
        finally:
            task.cancel()
