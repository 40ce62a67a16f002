"""``energynet users create|unlock`` and ``energynet certs create|accept|list`` on a real SQLite database and
a real trust-list file: the acting user signs in, the permission table holds, every decision is audited."""

from __future__ import annotations

import asyncio
import hashlib
import stat
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from console.bootstrap_security import user_service, verify_audit
from console.cli import main
from console.services.users import LoginRefused
from console.store.database import make_engine
from console.store.schema import audit_log
from core.access import LoginPolicy
from drivers.opcua.trust import TrustList

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

ADMIN_PW = "the admin's long password"
THROTTLE_S = LoginPolicy().base_delay_s  # after one failed login the next is refused this long
OP_PW = "the operator's password"


def audit(url: str) -> list[tuple[str, str, str, str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = conn.execute(select(audit_log).order_by(audit_log.c.id))
        rows = [(r.user, r.action, r.target, r.result) for r in found]
    engine.dispose()
    return rows


def test_users_create_and_unlock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    monkeypatch.setenv("ENERGYNET_ADMIN_PASSWORD", ADMIN_PW)
    assert main(["users", "create-admin", "--url", url]) == 0
    monkeypatch.setenv("ENERGYNET_PASSWORD", ADMIN_PW)
    monkeypatch.setenv("ENERGYNET_NEW_PASSWORD", OP_PW)
    assert main(["users", "create", "--role", "operator", "--as", "admin", "op-1", "--url", url]) == 0
    assert "user op-1 created with role operator" in capsys.readouterr().out
    # An operator may not create users: refused, exit 1, the reason on stderr.
    monkeypatch.setenv("ENERGYNET_PASSWORD", OP_PW)
    assert main(["users", "create", "--role", "admin", "--as", "op-1", "sneaky", "--url", url]) == 1
    assert capsys.readouterr().err.strip() == (
        "energynet: op-1 (operator) may not do admin.users_participants; allowed for: admin")
    # A wrong password for the acting user: refused before anything is done.
    monkeypatch.setenv("ENERGYNET_PASSWORD", "not it at all")
    assert main(["users", "create", "--role", "analyst", "--as", "admin", "x-1", "--url", url]) == 1
    wrong_at = time.monotonic()
    assert capsys.readouterr().err.strip() == "energynet: wrong user name or password"

    async def lock_out() -> None:
        with user_service(url) as users:
            users.policy = type(users.policy)(base_delay_s=0.0, lock_after=3)
            for _ in range(3):
                with pytest.raises(LoginRefused):
                    await users.authenticate("op-1", "wrong password!")
            with pytest.raises(LoginRefused, match="op-1 is locked after 3 failed logins"):
                await users.authenticate("op-1", OP_PW)

    asyncio.run(lock_out())
    # The admin's wrong password above throttles the admin's next login for a second: wait it out.
    time.sleep(max(0.0, THROTTLE_S - (time.monotonic() - wrong_at)) + 0.05)
    monkeypatch.setenv("ENERGYNET_PASSWORD", ADMIN_PW)
    assert main(["users", "unlock", "op-1", "--as", "admin", "--url", url]) == 0
    assert "user op-1 unlocked" in capsys.readouterr().out

    async def sign_in() -> str:
        with user_service(url) as users:
            return (await users.authenticate("op-1", OP_PW)).name

    assert asyncio.run(sign_in()) == "op-1"
    rows = audit(url)
    assert ("admin", "user.create", "op-1", "ok: role operator") in rows
    assert ("op-1", "admin.users_participants", "user sneaky",
            "refused: op-1 (operator) may not do admin.users_participants; allowed for: admin") in rows
    assert ("admin", "user.login", "cli", "refused: wrong password (1 in a row)") in rows
    assert ("admin", "user.unlock", "op-1", "ok") in rows
    assert ("x-1", "user.create", "x-1", "ok: role analyst") not in rows
    assert verify_audit(url).ok


def test_certs_create_and_trust(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    pki = tmp_path / "pki"
    assert main(["certs", "create", "--dir", str(pki), "--uri", "urn:energynet:console:cr1", "--host", "cr1"]) == 0
    out = capsys.readouterr().out
    der = (pki / "client-cert.der").read_bytes()
    h = hashlib.sha256(der).hexdigest().upper()
    fp = ":".join(h[i:i + 2] for i in range(0, 64, 2))
    assert f"SHA-256     {fp}" in out
    assert stat.S_IMODE((pki / "client-key.pem").stat().st_mode) == 0o600
    assert (pki / "client-key.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    # Not replaced without --force (servers trust the one there).
    assert main(["certs", "create", "--dir", str(pki)]) == 2
    assert "exists; servers trust the certificate there" in capsys.readouterr().err

    # A server offered a certificate (here: any DER certificate will do as the offered one).
    trust_path = tmp_path / "trust.json"
    endpoint = "opc.tcp://plc-7:4840/"
    with pytest.raises(Exception, match="not trusted yet"):
        TrustList(trust_path).check(endpoint, der)
    monkeypatch.setenv("ENERGYNET_ADMIN_PASSWORD", ADMIN_PW)
    assert main(["users", "create-admin", "--url", url]) == 0
    monkeypatch.setenv("ENERGYNET_PASSWORD", ADMIN_PW)
    monkeypatch.setenv("ENERGYNET_NEW_PASSWORD", OP_PW)
    assert main(["users", "create", "--role", "operator", "--as", "admin", "op-1", "--url", url]) == 0
    capsys.readouterr()
    # Accepting a server certificate is a configuration change: engineers and admins.
    monkeypatch.setenv("ENERGYNET_PASSWORD", OP_PW)
    args = ["certs", "accept", endpoint, fp, "--trust-list", str(trust_path), "--url", url]
    assert main([*args, "--as", "op-1"]) == 1
    assert capsys.readouterr().err.strip() == (
        "energynet: op-1 (operator) may not do config.change; allowed for: engineer, admin")
    monkeypatch.setenv("ENERGYNET_PASSWORD", ADMIN_PW)
    assert main([*args[:3], "00" * 32, *args[4:], "--as", "admin"]) == 2  # not the fingerprint offered
    assert f"offered SHA-256 {fp}" in capsys.readouterr().err
    assert main([*args, "--as", "admin"]) == 0
    assert f"trusted {endpoint}" in capsys.readouterr().out
    TrustList(trust_path).check(endpoint, der)  # now trusted: returns
    assert main(["certs", "list", "--trust-list", str(trust_path)]) == 0
    listed = capsys.readouterr().out
    assert "trusted: 1" in listed and "waiting for a decision: 0" in listed and f"SHA-256 {fp}" in listed
    rows = audit(url)
    assert ("op-1", "config.change", f"opcua trust {endpoint}",
            "refused: op-1 (operator) may not do config.change; allowed for: engineer, admin") in rows
    assert [r for r in rows if r[1] == "opcua.trust_accept"] == [
        ("admin", "opcua.trust_accept", endpoint, "ok: O=EnergyNet,CN=EnergyNet Console")]
    assert verify_audit(url).ok
