"""Users on a real SQLite database: argon2 hashes, throttled logins with a fake clock, the first admin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from console.bootstrap_security import user_service
from console.services.users import LoginRefused, UserError, UserService
from console.store.schema import audit_log, users
from core.access import LoginPolicy, PermissionDenied, Role, User

PASSWORD = "correct horse battery"


class FakeClock:
    def __init__(self, t: float = 1_764_630_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def service(tmp_path: Path) -> Iterator[UserService]:
    with user_service(f"sqlite:///{tmp_path / 'h.sqlite'}") as svc:
        svc.clock = FakeClock()
        svc.policy = LoginPolicy(base_delay_s=1.0, max_delay_s=300.0, lock_after=4)
        yield svc


def _audit(svc: UserService) -> list[tuple[str, str, str, str]]:
    engine = svc.store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
    return [(r.user, r.action, r.target, r.result) for r in rows]


async def test_password_is_stored_as_argon2id_and_verifies(service: UserService) -> None:
    await service.create_admin("root", PASSWORD)
    with service.store.engine.connect() as conn:  # type: ignore[attr-defined]
        digest = conn.execute(select(users.c.password_hash).where(users.c.name == "root")).scalar_one()
    assert digest.startswith("$argon2id$") and PASSWORD not in digest
    assert await service.authenticate("root", PASSWORD) == User("root", Role.ADMIN)


async def test_failed_logins_are_throttled_exponentially_then_locked(service: UserService) -> None:
    clock = service.clock
    assert isinstance(clock, FakeClock)
    await service.create_admin("root", PASSWORD)
    with pytest.raises(LoginRefused, match=r"^wrong user name or password$"):
        await service.authenticate("root", "wrong one")  # failure 1: next try 1 s later
    with pytest.raises(LoginRefused, match=r"^too many failed logins for root: try again in 1 s$"):
        await service.authenticate("root", PASSWORD)  # even the right password is not checked
    clock.t += 1.0
    with pytest.raises(LoginRefused, match=r"^wrong user name or password$"):
        await service.authenticate("root", "wrong two")  # failure 2: 2 s
    clock.t += 1.5
    with pytest.raises(LoginRefused, match=r"try again in 1 s"):  # 0.5 s left, shown rounded up
        await service.authenticate("root", PASSWORD)
    clock.t += 0.5
    with pytest.raises(LoginRefused):
        await service.authenticate("root", "wrong three")  # failure 3: 4 s
    clock.t += 3.0
    with pytest.raises(LoginRefused, match=r"try again in 1 s"):
        await service.authenticate("root", PASSWORD)
    clock.t += 1.0
    with pytest.raises(LoginRefused):
        await service.authenticate("root", "wrong four")  # failure 4 = lock_after: locked
    clock.t += 1000.0
    with pytest.raises(LoginRefused, match=r"^root is locked after 4 failed logins; an admin must unlock it"):
        await service.authenticate("root", PASSWORD)
    results = [r for (_, action, _, r) in _audit(service) if action == "user.login"]
    assert results == ["refused: wrong password (1 in a row)", "refused: throttled for 1 s",
                       "refused: wrong password (2 in a row)", "refused: throttled for 1 s",
                       "refused: wrong password (3 in a row)", "refused: throttled for 1 s",
                       "refused: wrong password (4 in a row, account locked)", "refused: account locked"]
    await service.unlock(User("root", Role.ADMIN), "root")
    assert (await service.authenticate("root", PASSWORD)).role is Role.ADMIN


async def test_success_resets_the_failures(service: UserService) -> None:
    await service.create_admin("root", PASSWORD)
    with pytest.raises(LoginRefused):
        await service.authenticate("root", "nope nope nope")
    service.clock.t += 1.0  # type: ignore[attr-defined]
    await service.authenticate("root", PASSWORD)
    with pytest.raises(LoginRefused, match=r"^wrong user name or password$"):  # no throttle carried over
        await service.authenticate("root", "nope nope nope")


async def test_unknown_user_reads_like_a_wrong_password(service: UserService) -> None:
    with pytest.raises(LoginRefused, match=r"^wrong user name or password$"):
        await service.authenticate("nobody", PASSWORD)
    assert _audit(service) == [("nobody", "user.login", "console", "refused: unknown user or no password set")]


async def test_first_run_admin_from_the_environment_once(service: UserService) -> None:
    assert await service.ensure_admin_from_env({}) is None
    made = await service.ensure_admin_from_env({"ENERGYNET_ADMIN_PASSWORD": PASSWORD})
    assert made == User("admin", Role.ADMIN)
    assert await service.ensure_admin_from_env({"ENERGYNET_ADMIN_PASSWORD": "another password!"}) is None
    assert await service.authenticate("admin", PASSWORD) == User("admin", Role.ADMIN)
    with pytest.raises(UserError, match=r"an admin account exists already"):
        await service.create_admin("second", PASSWORD)
    assert _audit(service)[0] == ("(first run)", "user.create", "admin", "ok: role admin")


async def test_only_admins_create_users_and_short_passwords_are_refused(service: UserService) -> None:
    admin = await service.create_admin("root", PASSWORD)
    with pytest.raises(UserError, match=r"^a password needs at least 12 characters \(got 5\)$"):
        await service.create_user(admin, "ann", Role.ANALYST, "short")
    ann = await service.create_user(admin, "ann", Role.ANALYST, PASSWORD)
    with pytest.raises(PermissionDenied, match=r"^ann \(analyst\) may not do admin.users_participants; "
                                               r"allowed for: admin$"):
        await service.create_user(ann, "eve", Role.ADMIN, PASSWORD)
    with pytest.raises(UserError, match=r"a user named 'ann' exists already"):
        await service.create_user(admin, "ann", Role.OPERATOR, PASSWORD)
    assert _audit(service)[-1][1:] == ("admin.users_participants", "user eve",
                                       "refused: ann (analyst) may not do admin.users_participants; "
                                       "allowed for: admin")


def test_cli_create_admin_non_interactively(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    env = {**os.environ, "ENERGYNET_ADMIN_PASSWORD": PASSWORD}
    cmd = [sys.executable, "-m", "console", "users", "create-admin", "--url", url, "--name", "root"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    assert (first.returncode, first.stdout.strip()) == (0, "admin account root created")
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    assert again.returncode == 2
    assert again.stderr.strip() == ("energynet: an admin account exists already; sign in as an admin to create "
                                    "more users")


SOURCE = ('[[sources]]\nname = "s"\nendpoint = "opc.tcp://127.0.0.1:4840/x"\n'
          '  [[sources.points]]\n  id = "f"\n  node = "ns=2;s=F"\n  unit = "Hz"\n  kind = "frequency"\n')


def test_desktop_user_from_config_then_environment_always_an_operator(tmp_path: Path) -> None:
    from console.bootstrap_security import desktop_user
    from console.config import parse

    named = parse('[console]\nuser = "op-anna"\n' + SOURCE)
    assert desktop_user(named, {"ENERGYNET_USER": "bob"}) == User("op-anna", Role.OPERATOR)
    unnamed = parse(SOURCE)
    assert desktop_user(unnamed, {"ENERGYNET_USER": "bob"}) == User("bob", Role.OPERATOR)
    assert unnamed.console.idle_lock_s == 900.0


async def test_first_run_admin_on_the_configured_database(tmp_path: Path) -> None:
    from console.bootstrap_security import first_run_admin
    from console.config import parse

    settings = parse(f'[historian]\nurl = "sqlite:///{tmp_path / "cfg.sqlite"}"\n' + SOURCE)
    env = {"ENERGYNET_ADMIN_PASSWORD": PASSWORD, "ENERGYNET_ADMIN_USER": "ops-admin"}
    assert await first_run_admin(settings, env) == User("ops-admin", Role.ADMIN)
    assert await first_run_admin(settings, env) is None  # an admin exists now
