"""The first run: where the config goes, which database, which chain, the first admin, all checked before
one file is written (``energynet setup`` and the wizard shown when the user has no config yet).

No Qt: console/ui/first_run_wizard.py only translates pages into :class:`Choices` and shows the answers.
The concrete checks (a database connection and its migration state, a JSON-RPC node, a keystore, the
admin account on the database) are the :class:`SetupPorts` that console/bootstrap_setup.py implements; this
module decides what is asked, in what form, and writes the config all at once or not at all.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from platformdirs import user_config_dir, user_data_dir

from console.config import ConfigError, Settings, check_database_url, check_env_name, check_rpc_url, parse
from console.services.first_run_files import FileTransaction, set_table_keys, toml_str
from console.services.users import MIN_PASSWORD_LENGTH, UserError, check_password

CONFIG_NAME = "energynet.toml"
WORLD = "world"  # Choices.devices: the simulated community (resources/world.toml)
PASSWORD_ENV = "ENERGYNET_KEYSTORE_PASSWORD"  # [chain] password_env's default (console/config.py)
USER_NAME_MAX = 100  # the users table's name column (console/store/schema.py)


def user_config_path() -> Path:
    """The user's config file: ``~/.config/energynet/energynet.toml`` on Linux (platformdirs)."""
    return Path(user_config_dir("energynet", appauthor=False)) / CONFIG_NAME


def default_sqlite_path() -> Path:
    """Where console/store/database.py keeps the historian by default (the data directory; not created here)."""
    return Path(user_data_dir("energynet", appauthor=False)) / "historian.sqlite"


class SetupError(Exception):
    """A first-run input or check that failed; the message names what, where and what to do.
    ``field`` names the input it is about (the wizard puts the message beside it)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


# ---- what the checks find -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DatabaseProbe:
    """A database as the test connection found it."""

    url: str
    where: str  # "SQLite file PATH" / "PostgreSQL database D on HOST:PORT as USER"
    exists: bool  # the file exists / the database has a migration table
    revision: str | None  # its migration now (None: empty)
    head: str | None  # this console's newest migration
    admins: tuple[str, ...] = ()  # admin accounts it holds already

    def message(self) -> str:
        if not self.exists or self.revision is None:
            state = f"empty; created at migration {self.head} on Finish"
        elif self.revision == self.head:
            state = f"at migration {self.revision} (current)"
        else:
            state = f"at migration {self.revision}; migrated to {self.head} on Finish"
        admins = f"; admin accounts: {', '.join(self.admins)}" if self.admins else "; no admin account yet"
        return f"{self.where}: {state}{admins}"


@dataclass(frozen=True, slots=True)
class RpcProbe:
    url: str
    chain_id: int
    block: int

    def message(self) -> str:
        return f"{self.url}: chain id {self.chain_id}, block {self.block:,}"


@dataclass(frozen=True, slots=True)
class DeploymentProbe:
    path: Path
    chain_id: int
    contracts: int

    def message(self) -> str:
        return f"{self.path}: {self.contracts} contracts deployed on chain {self.chain_id}"


@dataclass(frozen=True, slots=True)
class KeystoreProbe:
    path: Path
    address: str

    def message(self) -> str:
        return f"{self.path}: decrypts; operator account {self.address}"


@dataclass(frozen=True, slots=True)
class NewKeystore:
    """A fresh operator key, encrypted (the keystore file's text); written on Finish."""

    address: str
    text: str


class SetupPorts(Protocol):
    """The concrete checks (console/bootstrap_setup.py). Each raises :class:`SetupError` naming the cause.
    Blocking: the wizard calls them from a worker thread."""

    def world_config(self) -> str: ...  # the simulated community's config text (resources/world.toml)
    def probe_database(self, url: str) -> DatabaseProbe: ...  # connects; writes nothing
    def probe_rpc(self, url: str) -> RpcProbe: ...
    def probe_deployment(self, path: Path, rpc: RpcProbe) -> DeploymentProbe: ...
    def open_keystore(self, path: Path, password: str) -> KeystoreProbe: ...
    def new_keystore(self, password: str) -> NewKeystore: ...
    def create_admin(self, url: str, name: str, password: str) -> None: ...  # migrates the database first
    def check_config(self, settings: Settings) -> Sequence[str]: ...  # check-config's problems


# ---- what the operator chose ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainChoice:
    rpc: str
    deployment: Path
    keystore: Path
    password: str
    create_keystore: bool = False  # a new operator key at ``keystore`` (which must not exist)
    password_env: str = PASSWORD_ENV


@dataclass(frozen=True, slots=True)
class AdminChoice:
    name: str
    password: str


@dataclass(frozen=True, slots=True)
class Choices:
    config_path: Path
    devices: str  # WORLD, or the path of a config file to import
    database_url: str
    chain: ChainChoice | None = None  # None: no chain (the console runs without the chain panel)
    admin: AdminChoice | None = None  # None only when the database has an admin already
    overwrite: bool = False  # the operator agreed to replace an existing config file


@dataclass(frozen=True, slots=True)
class DevicesSummary:
    """The field devices a config brings: its text and what it holds."""

    source: str  # "the simulated community" / the imported file
    text: str
    opcua_sources: int
    opcua_points: int
    modbus_devices: int

    def message(self) -> str:
        return (f"{self.source}: {self.opcua_sources} OPC-UA source(s) with {self.opcua_points} points, "
                f"{self.modbus_devices} Modbus devices")


@dataclass(frozen=True, slots=True)
class Finished:
    config_path: Path
    keystore: Path | None  # the new keystore written, if one was created
    admin: str | None
    notes: tuple[str, ...] = field(default=())  # what the operator still has to do


# ---- the service ----------------------------------------------------------------------------------------


class FirstRun:
    """Checks each page's inputs and writes the result. Every method raises :class:`SetupError`."""

    def __init__(self, ports: SetupPorts) -> None:
        self.ports = ports

    # -- page (a): the config file and the field devices

    def check_location(self, path: Path) -> bool:
        """Whether a config file exists at ``path`` already (the wizard then asks before replacing it);
        raises when the file cannot be written there."""
        path = path.expanduser()
        if path.suffix != ".toml":
            raise SetupError(f"{path}: the config file's name must end in .toml", "config_path")
        if path.is_dir():
            raise SetupError(f"{path} is a folder; give the config file's name, e.g. {path / CONFIG_NAME}",
                             "config_path")
        folder = _nearest_existing(path.parent)
        if not folder.is_dir():
            raise SetupError(f"{path}: {folder} is a file, not a folder", "config_path")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise SetupError(f"{path}: cannot create files in {folder} (no write permission); choose a folder "
                             "of your own, e.g. " + str(user_config_path().parent), "config_path")
        if path.exists() and not os.access(path, os.W_OK):
            raise SetupError(f"{path} exists and is read-only; choose another file", "config_path")
        return path.exists()

    def devices(self, source: str) -> DevicesSummary:
        """The field devices: the simulated community, or an existing config file to import (which must
        load as it is: its problems are listed, each with its key)."""
        if source == WORLD:
            text, where, name = self.ports.world_config(), None, "the simulated community (energynet sim world)"
        else:
            path = Path(source).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise SetupError(f"{path}: cannot read the config to import: {why}", "devices") from exc
            where, name = path, str(path)
        try:
            settings = parse(text, where)
        except ConfigError as exc:
            raise SetupError(f"the config to import has problems:\n{exc}", "devices") from exc
        return DevicesSummary(name, text, len(settings.sources), sum(len(s.points) for s in settings.sources),
                              len(settings.modbus))

    # -- page (b): the database

    @staticmethod
    def sqlite_url(path: Path) -> str:
        path = path.expanduser()
        if not path.is_absolute():
            raise SetupError(f"{path}: give the SQLite file's full path (relative paths depend on where the "
                             "console is started)", "database")
        if path.is_dir():
            raise SetupError(f"{path} is a folder; give the database file's name, e.g. "
                             f"{path / 'historian.sqlite'}", "database")
        return _checked(check_database_url, f"sqlite:///{path}", "database")

    @staticmethod
    def postgresql_url(url: str) -> str:
        """A PostgreSQL URL as the config accepts it, with the database named (the wizard's one stricter rule:
        without it, libpq would pick the user's name as the database)."""
        url = url.strip()
        match = re.match(r"^postgresql(\+psycopg)?://[^/?#]+/[^/?#]+(\?.*)?$", url)
        if match is None:
            raise SetupError(f"{url!r} is not a PostgreSQL URL; write it like "
                             "postgresql://USER@HOST:5432/DATABASE (a password as USER:PASSWORD@, or in ~/.pgpass)",
                             "database")
        return _checked(check_database_url, url, "database")

    def test_database(self, url: str) -> DatabaseProbe:
        return self.ports.probe_database(url)

    # -- page (c): the chain

    def test_rpc(self, url: str) -> RpcProbe:
        return self.ports.probe_rpc(_checked(check_rpc_url, url.strip(), "rpc"))

    def test_deployment(self, path: Path, rpc: RpcProbe) -> DeploymentProbe:
        return self.ports.probe_deployment(path.expanduser().absolute(), rpc)

    def test_keystore(self, path: Path, password: str) -> KeystoreProbe:
        path = path.expanduser().absolute()
        if not password:
            raise SetupError(f"{path}: enter the keystore's password", "keystore")
        return self.ports.open_keystore(path, password)

    @staticmethod
    def check_new_keystore(path: Path, password: str, again: str) -> None:
        """A new keystore's file and password: the file must not exist (a key is never overwritten)."""
        path = path.expanduser()
        if path.exists():
            raise SetupError(f"{path} exists; a keystore is never overwritten (its key would be lost): choose "
                             "another file name, or 'use an existing keystore'", "keystore")
        folder = _nearest_existing(path.parent)
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise SetupError(f"{path}: cannot create files in {folder}", "keystore")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise SetupError(f"the keystore password needs at least {MIN_PASSWORD_LENGTH} characters "
                             f"(got {len(password)})", "keystore_password")
        if password != again:
            raise SetupError("the two keystore passwords differ; type them again", "keystore_password")

    @staticmethod
    def check_password_env(name: str) -> None:
        _checked(check_env_name, name, "password_env")

    # -- page (d): the admin account

    @staticmethod
    def check_admin(name: str, password: str, again: str) -> AdminChoice:
        """The rules console/services/users.py applies when it creates the account, checked first."""
        name = name.strip()
        if not name:
            raise SetupError("the admin account needs a user name", "admin_name")
        if len(name) > USER_NAME_MAX or any(c.isspace() for c in name):
            raise SetupError(f"user name {name!r}: at most {USER_NAME_MAX} characters, no spaces", "admin_name")
        try:
            check_password(password)
        except UserError as exc:
            raise SetupError(str(exc), "admin_password") from None
        if password != again:
            raise SetupError("the two passwords differ; type them again", "admin_password")
        return AdminChoice(name, password)

    # -- page (e): the summary and Finish

    def render(self, choices: Choices) -> str:
        """The config text Finish writes: the devices' config with [historian] url and [chain] set."""
        devices = self.devices(choices.devices)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        origin = "resources/world.toml" if choices.devices == WORLD else str(Path(choices.devices).expanduser())
        text = (f"# Written by `energynet setup` on {stamp} from {origin}.\n"
                f"# Check it with `energynet check-config {choices.config_path}`.\n\n" + devices.text)
        text = set_table_keys(text, "historian", {"enabled": "true", "url": toml_str(choices.database_url)})
        chain = choices.chain
        if chain is None:
            text = set_table_keys(text, "chain", {"enabled": "false"})
        else:
            text = set_table_keys(text, "chain", {
                "enabled": "true", "rpc": toml_str(chain.rpc),
                "deployment": toml_str(str(chain.deployment.expanduser().absolute())),
                "keystore": toml_str(str(chain.keystore.expanduser().absolute())),
                "password_env": toml_str(chain.password_env)})
        self._verify_rendered(text, choices, origin)
        return text

    def summary(self, choices: Choices) -> list[tuple[str, str]]:
        chain = choices.chain
        rows = [("Config file", f"{choices.config_path}" + (" (replaces the existing file)" if choices.overwrite
                                                             else "")),
                ("Field devices", self.devices(choices.devices).message()),
                ("Database", shown_url(choices.database_url))]
        if chain is None:
            rows.append(("Chain", "none: the console runs without the chain panel"))
        else:
            rows += [("Chain RPC", chain.rpc), ("Deployment", str(chain.deployment)),
                     ("Operator keystore", f"{chain.keystore}" + (" (new)" if chain.create_keystore else "")),
                     ("Keystore password", f"read from ${chain.password_env} when the console starts")]
        rows.append(("Admin account", choices.admin.name if choices.admin else "exists already (none created)"))
        rows.append(("Then", "\n".join(self._notes(choices, "" if chain and chain.create_keystore else None))))
        return rows

    def finish(self, choices: Choices) -> Finished:
        """Check everything again, then write the keystore (if new) and the config and create the admin;
        if any step fails, what was written is removed again (and a replaced config restored)."""
        path = choices.config_path.expanduser().absolute()
        if self.check_location(path) and not choices.overwrite:
            raise SetupError(f"{path} exists; confirm that it may be replaced, or choose another file", "config_path")
        text = self.render(choices)
        settings = parse(text, path)  # render verified it loads
        database = self.ports.probe_database(choices.database_url)
        admin = choices.admin
        if database.admins and admin is not None:
            raise SetupError(f"{database.where} has admin accounts already ({', '.join(database.admins)}); "
                             "sign in with one of them to create more users", "admin_name")
        if not database.admins and admin is None:
            raise SetupError(f"{database.where} has no admin account: give one (user name and password)",
                             "admin_name")
        if admin is not None:
            admin = self.check_admin(admin.name, admin.password, admin.password)
        chain, new_key = choices.chain, None
        if chain is not None:
            self.check_password_env(chain.password_env)
            rpc = self.test_rpc(chain.rpc)
            self.test_deployment(chain.deployment, rpc)
            if chain.create_keystore:
                self.check_new_keystore(chain.keystore, chain.password, chain.password)
                new_key = self.ports.new_keystore(chain.password)
            else:
                self.test_keystore(chain.keystore, chain.password)
        undo = FileTransaction()
        try:
            if new_key is not None and chain is not None:
                undo.place(chain.keystore.expanduser().absolute(), new_key.text, mode=0o600)
            problems = list(self.ports.check_config(settings))
            if problems:
                raise SetupError("the config would not pass check-config:\n" + "\n".join(problems), "summary")
            undo.place(path, text, replace=choices.overwrite)
            if admin is not None:
                undo.database(choices.database_url)
                self.ports.create_admin(choices.database_url, admin.name, admin.password)
        except OSError as exc:  # the disk: full, read-only, a name taken by a folder
            undo.roll_back()
            raise SetupError(f"cannot write {exc.filename or path}: {exc.strerror or exc}; nothing was written",
                             "summary") from exc
        except BaseException:
            undo.roll_back()
            raise
        return Finished(path, chain.keystore.expanduser().absolute() if new_key is not None and chain else None,
                        admin.name if admin else None,
                        tuple(self._notes(choices, new_key.address if new_key is not None else None)))

    # -- internals

    def _verify_rendered(self, text: str, choices: Choices, origin: str) -> None:
        """The written file must load and say what was chosen: an imported file that sets [historian] or
        [chain] in a form the line editor does not rewrite (dotted keys, inline tables) is refused."""
        try:
            raw = tomllib.loads(text)
            parse(text, choices.config_path.expanduser().absolute())
        except (tomllib.TOMLDecodeError, ConfigError) as exc:
            raise SetupError(f"the config written from {origin} would not load:\n{exc}\nwrite it beside the "
                             "imported file, or edit the imported file's [historian] and [chain] tables into "
                             "plain [table] form", "devices") from exc
        historian, chain = raw.get("historian", {}), raw.get("chain", {})
        want_chain = choices.chain
        if historian.get("url") != choices.database_url or chain.get("enabled") != (want_chain is not None) or (
                want_chain is not None and chain.get("rpc") != want_chain.rpc):
            raise SetupError(f"{origin} sets [historian] or [chain] in a form the wizard cannot rewrite (dotted "
                             "keys or an inline table); write them as plain [historian] / [chain] tables", "devices")

    @staticmethod
    def _notes(choices: Choices, new_address: str | None) -> list[str]:
        notes = []
        if choices.devices == WORLD:
            notes.append("start the simulated community first: energynet sim world")
        chain = choices.chain
        if chain is not None:
            notes.append(f"set {chain.password_env} to the keystore password in the console's environment")
        if new_address is not None:
            account = f"the new operator account {new_address}" if new_address else "the new operator account"
            notes.append(f"{account} needs ether for gas and the operator role on the deployed contracts (the "
                         "deployer grants it)")
        own = choices.config_path.expanduser().absolute() == user_config_path()  # run finds it without --config
        notes.append("start the console: energynet run" + ("" if own else f" --config {choices.config_path}"))
        return notes


def _checked(rule: Callable[[str], str], value: str, field: str) -> str:
    """``value`` through one of console/config.py's rules (the ones the written config is loaded with)."""
    try:
        return rule(value)
    except ValueError as exc:
        raise SetupError(str(exc), field) from None


def shown_url(url: str) -> str:
    """A database URL without its password."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def _nearest_existing(path: Path) -> Path:
    for p in (path, *path.parents):
        if p.exists():
            return p
    return Path(path.anchor or "/")
