"""Console users: creation, passwords (argon2id), login with throttling and lock, the first admin.

No Qt: the login dialog, ``energynet users`` and headless ``serve`` all come through here. Hashing costs
~110 ms of CPU (argon2-cffi defaults), so it runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import math
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from console.config import Settings
from core.access import Action, AuditWriter, LoginPolicy, PermissionDenied, Role, User, require

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
ADMIN_PASSWORD_ENV = "ENERGYNET_ADMIN_PASSWORD"
ADMIN_NAME_ENV = "ENERGYNET_ADMIN_USER"  # optional; "admin" without it
USER_ENV = "ENERGYNET_USER"


def desktop_user(settings: Settings, env: Mapping[str, str] = os.environ) -> User:
    """Who acts in the desktop app until it has a login dialog: ``[console] user``, else ENERGYNET_USER,
    else the login name, always as an operator (the role that runs the grid; nothing of an engineer's or
    admin's is open to a window nobody logged into)."""
    return User(settings.console.user or env.get(USER_ENV) or getpass.getuser(), Role.OPERATOR)


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A stored user (the hash never leaves the store and this service)."""

    name: str
    role: Role
    password_hash: str | None
    failed_logins: int
    last_failed: float | None  # POSIX s of the newest failure in a row
    locked: bool


class UserStore(Protocol):
    """Where users are kept (console/store/users_store.py). Blocking calls."""

    def get(self, name: str) -> UserRecord | None: ...
    def create(self, name: str, role: Role, password_hash: str) -> None: ...  # raises UserError if taken
    def set_password(self, name: str, password_hash: str) -> None: ...
    def set_login_state(self, name: str, failed_logins: int, last_failed: float | None, locked: bool) -> None: ...
    def has_admin(self) -> bool: ...
    def all(self) -> list[UserRecord]: ...
    def count(self) -> int: ...


class UserError(Exception):
    """A user operation that cannot be done; the message says why and what to do."""


class LoginRefused(Exception):
    """A login that did not succeed; the message is safe to show at the login prompt."""


class UserService:
    def __init__(self, store: UserStore, audit: AuditWriter | None = None, policy: LoginPolicy | None = None,
                 clock: Callable[[], float] = time.time, hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self.audit = audit
        self.policy = policy or LoginPolicy()
        self.clock = clock
        self.hasher = hasher or PasswordHasher()

    # ---- administration ------------------------------------------------------------------------------

    async def create_user(self, by: User, name: str, role: Role, password: str) -> User:
        """A new user (admins only)."""
        await self._require(by, Action.USER_ADMIN, f"user {name}")
        return await self._create(by.name, name, role, password)

    async def create_admin(self, name: str, password: str) -> User:
        """The first run's admin account; refused once any admin exists (then an admin creates users)."""
        if await asyncio.to_thread(self.store.has_admin):
            raise UserError("an admin account exists already; sign in as an admin to create more users")
        return await self._create("(first run)", name, Role.ADMIN, password)

    async def ensure_admin_from_env(self, env: Mapping[str, str]) -> User | None:
        """Headless and CI first run: create the admin from ENERGYNET_ADMIN_PASSWORD when no admin exists.
        Returns the account created, or None (an admin exists, or the variable is not set)."""
        password = env.get(ADMIN_PASSWORD_ENV)
        if not password or await asyncio.to_thread(self.store.has_admin):
            return None
        return await self.create_admin(env.get(ADMIN_NAME_ENV) or "admin", password)

    async def set_password(self, by: User, name: str, password: str) -> None:
        """A new password: the user's own, or anyone's by an admin."""
        if by.name != name:
            await self._require(by, Action.USER_ADMIN, f"user {name}")
        _check_password(password)
        if await asyncio.to_thread(self.store.get, name) is None:
            raise UserError(f"no user named {name!r}")
        digest = await asyncio.to_thread(self.hasher.hash, password)
        await asyncio.to_thread(self.store.set_password, name, digest)
        await self._audit(by.name, "user.set_password", name, "ok")

    async def unlock(self, by: User, name: str) -> None:
        """Clear failures and the lock (admins only)."""
        await self._require(by, Action.USER_ADMIN, f"user {name}")
        await asyncio.to_thread(self.store.set_login_state, name, 0, None, False)
        await self._audit(by.name, "user.unlock", name, "ok")

    async def users(self, by: User) -> list[UserRecord]:
        """Every user (admins only: who exists is for the one who manages them). The hashes stay here."""
        await self._require(by, Action.USER_ADMIN, "users")
        return [UserRecord(r.name, r.role, None, r.failed_logins, r.last_failed, r.locked)
                for r in await asyncio.to_thread(self.store.all)]

    async def has_users(self) -> bool:
        """Whether anyone can sign in (the console asks for a login at start only then)."""
        return bool(await asyncio.to_thread(self.store.count))

    async def ensure_demo_operator(self, name: str = "demo-operator") -> str:
        """The demo only: an operator account with a fresh random password each start, returned so the demo
        signs in with it at once (audited like any login). Never used outside ``energynet demo``."""
        password = secrets.token_urlsafe(24)
        digest = await asyncio.to_thread(self.hasher.hash, password)
        if await asyncio.to_thread(self.store.get, name) is None:
            await asyncio.to_thread(self.store.create, name, Role.OPERATOR, digest)
            await self._audit("(demo)", "user.create", name, "ok: role operator (demo account)")
        else:
            await asyncio.to_thread(self.store.set_password, name, digest)
            await asyncio.to_thread(self.store.set_login_state, name, 0, None, False)
            await self._audit("(demo)", "user.set_password", name, "ok: demo account, new random password")
        return password

    # ---- login ---------------------------------------------------------------------------------------

    async def authenticate(self, name: str, password: str, where: str = "console") -> User:
        """The user, or LoginRefused saying why (wrong name or password alike; throttled; locked). ``where``
        is the audit entry's target: ``console`` (the login dialog, the idle lock), ``api``, ``cli``."""
        now = self.clock()
        rec = await asyncio.to_thread(self.store.get, name)
        if rec is None or rec.password_hash is None:
            await asyncio.to_thread(self._burn, password)  # as slow as a real check: names are not probed
            await self._audit(name, "user.login", where, "refused: unknown user or no password set")
            raise LoginRefused("wrong user name or password")
        if rec.locked:
            await self._audit(name, "user.login", where, "refused: account locked")
            raise LoginRefused(f"{name} is locked after {rec.failed_logins} failed logins; an admin must "
                               "unlock it (energynet users unlock)")
        wait = self.policy.delay_after(rec.failed_logins) - (now - (rec.last_failed or now))
        if rec.failed_logins and wait > 0:
            seconds = math.ceil(wait)  # "try again in 0 s" would be refused once more
            await self._audit(name, "user.login", where, f"refused: throttled for {seconds} s")
            raise LoginRefused(f"too many failed logins for {name}: try again in {seconds} s")
        if not await asyncio.to_thread(self._verify, rec.password_hash, password):
            failures = rec.failed_logins + 1
            locked = failures >= self.policy.lock_after
            await asyncio.to_thread(self.store.set_login_state, name, failures, now, locked)
            await self._audit(name, "user.login", where,
                              f"refused: wrong password ({failures} in a row{', account locked' if locked else ''})")
            raise LoginRefused("wrong user name or password")
        await asyncio.to_thread(self.store.set_login_state, name, 0, None, False)
        if self.hasher.check_needs_rehash(rec.password_hash):  # parameters raised since it was set
            await asyncio.to_thread(self.store.set_password, name, await asyncio.to_thread(self.hasher.hash,
                                                                                          password))
        await self._audit(name, "user.login", where, "ok")
        return User(rec.name, rec.role)

    # ---- internals -----------------------------------------------------------------------------------

    async def _create(self, actor: str, name: str, role: Role, password: str) -> User:
        name = name.strip()
        if not name:
            raise UserError("a user needs a name")
        _check_password(password)
        digest = await asyncio.to_thread(self.hasher.hash, password)
        await asyncio.to_thread(self.store.create, name, role, digest)
        await self._audit(actor, "user.create", name, f"ok: role {role.value}")
        log.info("user %s created with role %s by %s", name, role.value, actor)
        return User(name, role)

    async def _require(self, by: User, action: Action, target: str) -> None:
        try:
            require(by, action)
        except PermissionDenied as exc:
            await self._audit(by.name, action.value, target, f"refused: {exc}")
            raise

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(digest, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _burn(self, password: str) -> None:
        self.hasher.hash(password)

    async def _audit(self, user: str, action: str, target: str, result: str) -> None:
        if self.audit is None:
            return
        try:
            await asyncio.to_thread(self.audit.record_audit, self.clock(), user, action, target, None, None, result)
        except Exception:
            log.exception("audit entry for %s of %s could not be stored", action, target)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters (got {len(password)})")


def check_password(password: str) -> None:
    """The password rules, for a caller that checks a password before anything is created (the first-run
    wizard); raises :class:`UserError` saying what is wrong."""
    _check_password(password)
