"""Composition root, first-run part: the concrete checks behind console/services/first_run.py.

A database is opened read-only (SQLite) or in a session that changes nothing (PostgreSQL) to read its
migration and its admin accounts; a JSON-RPC node is asked for its chain id, block and the deployment's
code; a keystore is decrypted. Every failure is a :class:`SetupError` naming the host, port, database,
file or URL and the cause.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from console.bootstrap_check import check_config as check_settings
from console.config import Settings
from console.services.first_run import (
    DatabaseProbe,
    DeploymentProbe,
    FirstRun,
    KeystoreProbe,
    NewKeystore,
    RpcProbe,
    SetupError,
)

CONNECT_TIMEOUT_S = 5
RPC_TIMEOUT_S = 5.0


def first_run() -> FirstRun:
    """The first-run service on the real checks."""
    return FirstRun(SetupChecks())


class SetupChecks:
    """Implements :class:`console.services.first_run.SetupPorts`."""

    def world_config(self) -> str:
        return resources.files("resources").joinpath("world.toml").read_text(encoding="utf-8")

    # ---- the database

    def probe_database(self, url: str) -> DatabaseProbe:
        from console.store.database import head_revision

        head = head_revision()
        if url.startswith("sqlite:///"):
            return _probe_sqlite(Path(url.removeprefix("sqlite:///")), url, head)
        return _probe_postgresql(url, head)

    def create_admin(self, url: str, name: str, password: str) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        from console.bootstrap_security import user_service
        from console.services.users import UserError

        async def create() -> None:
            with user_service(url) as users:
                await users.create_admin(name, password)

        try:
            asyncio.run(create())
        except UserError as exc:
            raise SetupError(f"admin account {name!r}: {exc}", "admin_name") from exc
        except SQLAlchemyError as exc:
            raise SetupError(f"cannot create the admin account in {_where(url)}: {_cause(exc)}", "database") from exc
        except Exception as exc:  # the migration before it (Alembic), the file system: still name where and what
            raise SetupError(f"cannot create the admin account in {_where(url)}: {type(exc).__name__}: {exc}",
                             "database") from exc

    # ---- the chain

    def probe_rpc(self, url: str) -> RpcProbe:
        chain_id = int(_rpc(url, "eth_chainId"), 16)
        return RpcProbe(url, chain_id, int(_rpc(url, "eth_blockNumber"), 16))

    def probe_deployment(self, path: Path, rpc: RpcProbe) -> DeploymentProbe:
        from contracts.deploy import Deployment

        try:
            dep = Deployment.read(path)
        except (OSError, ValueError) as exc:
            raise SetupError(f"{exc}; `energynet chain deploy --rpc {rpc.url} --keystore KEYSTORE` writes one",
                             "deployment") from exc
        if dep.chain_id != rpc.chain_id:
            raise SetupError(f"{path} is a deployment on chain {dep.chain_id}, but {rpc.url} is chain "
                             f"{rpc.chain_id}; choose the deployment of this chain (deployments/"
                             f"{rpc.chain_id}.json)", "deployment")
        empty = sorted(name for name, address in dep.addresses.items()
                       if _rpc(rpc.url, "eth_getCode", [address, "latest"]) in ("0x", "0x0", ""))
        if empty:
            raise SetupError(f"{path}: no contract code on chain {rpc.chain_id} at the address of "
                             f"{', '.join(empty)} (a chain restarted without its state?); deploy again",
                             "deployment")
        return DeploymentProbe(path, dep.chain_id, len(dep.addresses))

    def open_keystore(self, path: Path, password: str) -> KeystoreProbe:
        from eth_account import Account

        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SetupError(f"{path}: no such keystore file", "keystore") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise SetupError(f"{path}: not a keystore file (an Ethereum v3 JSON keystore): {exc}", "keystore") from exc
        if not isinstance(data, dict) or not ({"crypto", "Crypto"} & data.keys()):
            raise SetupError(f"{path}: not an Ethereum v3 keystore (no 'crypto' section)", "keystore")
        try:
            key = Account.decrypt(data, password)
        except ValueError as exc:
            why = "wrong password" if "MAC mismatch" in str(exc) else str(exc)
            raise SetupError(f"{path}: cannot decrypt the keystore: {why}", "keystore_password") from exc
        return KeystoreProbe(path, Account.from_key(key).address)

    def new_keystore(self, password: str) -> NewKeystore:
        from eth_account import Account

        account = Account.create()
        # eth-keyfile's default scrypt cost (n = 2**18), as geth writes operator keys; not the demo's light one
        return NewKeystore(account.address, json.dumps(Account.encrypt(account.key, password, kdf="scrypt")))

    # ---- the config

    def check_config(self, settings: Settings) -> Sequence[str]:
        return check_settings(settings).problems


def _probe_sqlite(path: Path, url: str, head: str | None) -> DatabaseProbe:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    where = f"SQLite file {path}"
    if path.is_dir():
        raise SetupError(f"{where}: is a folder; give the database file's name", "database")
    if not path.exists():
        folder = next(p for p in path.parents if p.exists())
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise SetupError(f"{where}: cannot create it, {folder} is not a folder you may write to", "database")
        return DatabaseProbe(url, where, False, None, head)
    # Read-only (mode=ro): the probe must not create, convert (WAL) or migrate anything before Finish.
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        revision, admins = _state(engine, where, head)
    except SQLAlchemyError as exc:
        raise SetupError(f"{where}: cannot read it: {_cause(exc)} (an SQLite database? choose another file or "
                         "remove it)", "database") from exc
    finally:
        engine.dispose()
    return DatabaseProbe(url, where, True, revision, head, admins)


def _probe_postgresql(url: str, head: str | None) -> DatabaseProbe:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    where = _where(url)
    driver = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        engine = create_engine(driver, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    except ArgumentError as exc:
        raise SetupError(f"{url!r} is not a usable PostgreSQL URL: {exc}", "database") from exc
    try:
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar()
            if schema is None:
                path = conn.execute(text("SHOW search_path")).scalar()
                raise SetupError(f"{where}: none of the schemas on its search_path ({path}) exists; create the "
                                 "schema or fix options=-csearch_path in the URL", "database")
            may_create = bool(conn.execute(text("SELECT has_schema_privilege(current_schema(), 'CREATE')")).scalar())
        revision, admins = _state(engine, where, head)
    except SQLAlchemyError as exc:
        raise SetupError(f"cannot connect to {where}: {_cause(exc)}", "database") from exc
    finally:
        engine.dispose()
    if revision != head and not may_create:
        raise SetupError(f"{where}: user may not create tables in schema {schema!r}, which the migration to "
                         f"{head} needs; GRANT CREATE ON SCHEMA {schema} to the user", "database")
    return DatabaseProbe(url, where, revision is not None, revision, head, admins)


def _state(engine: Any, where: str, head: str | None) -> tuple[str | None, tuple[str, ...]]:
    """The database's migration (checked to be one this console knows) and its admin accounts."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError
    from sqlalchemy import inspect, select

    from console.store.database import MIGRATIONS
    from console.store.schema import users

    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        has_users = inspect(conn).has_table("users")
        admins = tuple(conn.execute(select(users.c.name).where(users.c.role == "admin").order_by(users.c.name))
                       .scalars()) if has_users and revision is not None else ()
    if revision is not None:
        try:
            ScriptDirectory(str(MIGRATIONS)).get_revision(revision)
        except CommandError:
            raise SetupError(f"{where}: it is at migration {revision!r}, which this console does not know (head "
                             f"{head}): written by a newer version? Use that version or another database",
                             "database") from None
    return revision, admins


def _where(url: str) -> str:
    """``PostgreSQL database D on HOST:PORT as USER`` (no password) or ``SQLite file PATH``."""
    from sqlalchemy.engine import make_url

    if url.startswith("sqlite:///"):
        return f"SQLite file {url.removeprefix('sqlite:///')}"
    u = make_url(url)
    user = u.username or "(default user)"
    return f"PostgreSQL database {u.database!r} on {u.host or 'localhost'}:{u.port or 5432} as {user}"


def _cause(exc: BaseException) -> str:
    """The driver's own first line (psycopg's 'connection refused', 'database "x" does not exist', …)."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def _rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    """One JSON-RPC call; a SetupError naming the URL and the cause when the node does not answer."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=RPC_TIMEOUT_S) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        raise SetupError(f"{url}: the server answered HTTP {exc.code} {exc.reason}; is this a JSON-RPC node's "
                         "URL?", "rpc") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason.strerror if isinstance(exc.reason, OSError) and exc.reason.strerror else exc.reason
        raise SetupError(f"cannot reach the JSON-RPC node at {url}: {reason} (is the node running, are the host "
                         "and port right?)", "rpc") from exc
    except TimeoutError as exc:
        raise SetupError(f"{url}: no answer within {RPC_TIMEOUT_S:.0f} s", "rpc") from exc
    except (OSError, ValueError) as exc:
        raise SetupError(f"{url}: not a JSON-RPC answer to {method}: {exc}", "rpc") from exc
    if not isinstance(answer, dict) or "result" not in answer:
        error = answer.get("error") if isinstance(answer, dict) else answer
        raise SetupError(f"{url}: {method} failed: {error}", "rpc")
    return answer["result"]
