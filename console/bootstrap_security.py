"""Composition root for users and the audit chain (``energynet users …``, ``energynet audit verify``, serve).

``desktop_user`` (re-exported) lives in console/services/users.py so console/bootstrap.py can use it too.
Kept apart from console/bootstrap.py so the CLI reaches the user store and the chain check through one
named module, as the import contracts ask.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, cast

from console.config import Settings
from console.services.chain import ChainService
from console.services.market import MarketService
from console.services.participants_admin import ParticipantsAdmin
from console.services.users import UserService, desktop_user
from console.store import audit_chain
from console.store.audit_chain import ChainReport
from console.store.database import default_url, make_engine, upgrade
from console.store.historian import SqlHistorian
from console.store.users_store import SqlUserStore
from core.access import AuditWriter as AuditWriterType
from core.access import User
from core.participant_registry import ParticipantRecord, ParticipantType
from core.ports import Historian

if TYPE_CHECKING:
    from fastapi import FastAPI

    from console.services.trust import TrustService
    from drivers.opcua.certs import ClientCertificate
    from drivers.opcua.trust import TrustList

__all__ = ["build_participants", "desktop_user", "first_run_admin", "install_operator_api", "seed_records",
           "user_service", "user_service_for", "verify_audit"]


def verify_audit(url: str) -> ChainReport:
    """Check the audit hash chain of the database at ``url`` (read only)."""
    engine = make_engine(url)
    try:
        return audit_chain.verify(engine)
    finally:
        engine.dispose()


class _ChainedAudit:
    """The audit writer for user administration outside the running console (the CLI)."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    def record_audit(self, ts: float, user: str, action: str, target: str, old: str | None, new: str | None,
                     result: str) -> None:
        audit_chain.append(self.engine, ts, user, action, target, old, new, result)


@contextmanager
def user_service(url: str) -> Iterator[UserService]:
    """Users of the database at ``url`` (migrated first), their actions audited in its chain."""
    audit = _ChainedAudit(url)
    try:
        upgrade(audit.engine)
        yield UserService(SqlUserStore(audit.engine), audit)
    finally:
        audit.engine.dispose()


async def first_run_admin(settings: Settings, env: Mapping[str, str] = os.environ) -> User | None:
    """Headless ``serve`` and CI: create the admin from ENERGYNET_ADMIN_PASSWORD on the configured database
    when it has none; the account created, or None."""
    with user_service(settings.historian.url or default_url()) as users:
        return await users.ensure_admin_from_env(env)


def user_service_for(historian: SqlHistorian) -> UserService:
    """Users on the historian's database, audited through it (the desktop app and serve)."""
    return UserService(SqlUserStore(historian.engine), historian)


# ---- participant administration and the operator API (composition) ---------------------------------------


def seed_records(path: str | Path) -> list[ParticipantRecord]:
    """The old participants file's entries as register records (first run; empty when there is no file)."""
    from console.api.participants import ParticipantDirectory, ParticipantsError
    from console.config import ConfigError

    p = Path(path).expanduser()
    if not p.is_file():
        return []
    try:
        directory = ParticipantDirectory.load(p)
    except ParticipantsError as exc:
        raise ConfigError(f"[api] participants: {exc}") from exc
    now = time.time()
    return [ParticipantRecord(e.id, e.id, ParticipantType.PROSUMER, "(not set)", e.address, (), (), "standard", False,
                              e.suspended, "suspended in the participants file" if e.suspended else None,
                              e.token_sha256, None, (), now, now)
            for e in (directory.get(i) for i in directory.ids()) if e is not None]


def build_participants(settings: Settings, historian: Historian | None, chain: ChainService | None,
                       market: MarketService | None) -> ParticipantsAdmin | None:
    """The participant administration on the historian's database (None without one), registering on chain
    through the chain service's gateway, suspending in the market; seeded from [api] participants on first run."""
    engine = getattr(historian, "engine", None)
    if engine is None:
        return None
    from console.store.participants_store import SqlParticipantStore

    audit = cast(AuditWriterType, historian) if hasattr(historian, "record_audit") else None
    if market is not None:
        market.audit = audit
    seed = seed_records(settings.api.participants) if settings.api.enabled else []
    return ParticipantsAdmin(SqlParticipantStore(engine), chain=chain.gateway if chain is not None else None,
                             market=market, audit=audit, seed=seed)


def install_operator_api(app: FastAPI, historian: Historian | None, chain: ChainService | None) -> bool:
    """The operator-only routes on the participant API when the console has a user database."""
    if not isinstance(historian, SqlHistorian):
        return False
    from console.api.operator_routes import install

    install(app, user_service_for(historian), chain)
    return True


# ---- OPC-UA certificates and the server trust list ---------------------------------------------------------


def default_pki_dir() -> Path:
    from console.store.database import default_data_dir

    return default_data_dir() / "pki"


def default_trust_path() -> Path:
    from console.store.database import default_data_dir

    return default_data_dir() / "opcua-trust.json"


def create_client_certificate(directory: Path, application_uri: str, host: str | None = None, *, days: int = 730,
                              overwrite: bool = False) -> ClientCertificate:
    from drivers.opcua.certs import create_client_certificate as make

    return make(directory, application_uri, host, days=days, overwrite=overwrite)


def trust_list(path: Path | None = None) -> TrustList:
    """The OPC-UA server trust list at ``path`` (default: the data directory's, as the config loader uses)."""
    from drivers.opcua.trust import TrustList

    return TrustList(path or default_trust_path())


@contextmanager
def trust_service(url: str, path: Path | None = None) -> Iterator[TrustService]:
    """Trust decisions on the list at ``path``, audited in the chain of the database at ``url``."""
    from console.services.trust import TrustService

    audit = _ChainedAudit(url)
    try:
        upgrade(audit.engine)
        yield TrustService(trust_list(path), audit)
    finally:
        audit.engine.dispose()


def database_url(url: str | None = None, config: Path | None = None) -> str:
    """``--url``, else the config's [historian] url, else the default database."""
    if url:
        return url
    if config is not None:
        from console import config as config_mod

        return config_mod.load(config).historian.url or default_url()
    return default_url()


def users_of(historian: Historian | None) -> UserService | None:
    """The console users on the historian's database (None without a SQL historian)."""
    return user_service_for(historian) if isinstance(historian, SqlHistorian) else None


def trust_service_for(settings: Settings, historian: Historian | None) -> TrustService:
    """The OPC-UA trust decisions of the running console: on the trust list its secured sources use (the
    first one's; the default list without any), audited in the historian's chain."""
    from console.services.trust import TrustService

    path = next((Path(s.trust_list) for s in settings.sources if s.trust_list), None)
    audit = cast(AuditWriterType, historian) if hasattr(historian, "record_audit") else None
    return TrustService(trust_list(path), audit)
