"""The first-run service (console/services/first_run.py) on the real checks of console/bootstrap_setup.py:
real SQLite files, a real PostgreSQL schema of its own, a real anvil with the suite deployed, real keystore
files, and the written config through the real `energynet check-config`."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from console import cli
from console.bootstrap_chain import DEMO_PASSWORD, ChainUp, chain_up
from console.bootstrap_security import user_service
from console.bootstrap_setup import SetupChecks, first_run
from console.config import ConfigError, parse
from console.services.first_run import (
    WORLD,
    AdminChoice,
    ChainChoice,
    Choices,
    FirstRun,
    SetupError,
    shown_url,
)
from console.services.first_run_files import set_table_keys
from console.store.database import head_revision
from tests.conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PASSWORD = "correct horse battery"  # 21 characters: passes the 12-character rule
# anvil's first development account (DEV_KEYS[0]); `energynet chain up` encrypts it as the operator key
OPERATOR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainUp]:
    up = chain_up(free_port(), tmp_path_factory.mktemp("chain"), houses=False)
    try:
        yield up
    finally:
        up.anvil.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A schema of its own on ENERGYNET_PG_URL (the URL's search_path points at it), dropped afterwards."""
    admin = os.environ.get("ENERGYNET_PG_URL")
    if not admin:
        pytest.skip("ENERGYNET_PG_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    import psycopg

    schema = f"setup_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{admin}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def authenticate(url: str, name: str, password: str) -> str:
    async def login() -> str:
        with user_service(url) as users:
            return (await users.authenticate(name, password, "cli")).role.value

    return asyncio.run(login())


def check_config(path: Path) -> int:
    return cli.main(["--log-level", "error", "check-config", str(path)])


def test_world_on_a_new_sqlite_file_without_chain_writes_a_config_that_passes_check_config(tmp_path: Path) -> None:
    service = first_run()
    config, db = tmp_path / "etc" / "energynet.toml", tmp_path / "data" / "historian.sqlite"
    url = service.sqlite_url(db)
    probe = service.test_database(url)
    assert (probe.exists, probe.revision, probe.head, probe.admins) == (False, None, head_revision(), ())
    assert not db.exists() and not db.parent.exists()  # the test wrote nothing
    choices = Choices(config, WORLD, url, None, AdminChoice("admin", PASSWORD))
    assert ("Chain", "none: the console runs without the chain panel") in service.summary(choices)
    done = service.finish(choices)
    assert done.config_path == config and done.admin == "admin" and done.keystore is None
    assert check_config(config) == 0
    text = config.read_text()
    assert f'url = "{url}"' in text and "[chain]\nenabled = false" in text
    assert authenticate(url, "admin", PASSWORD) == "admin"
    again = service.test_database(url)
    assert (again.exists, again.revision, again.admins) == (True, head_revision(), ("admin",))
    assert "at migration" in again.message() and "(current)" in again.message()


def test_postgresql_schema_is_probed_migrated_and_given_its_admin(tmp_path: Path, pg_url: str) -> None:
    service = first_run()
    probe = service.test_database(service.postgresql_url(pg_url))
    assert (probe.exists, probe.revision, probe.admins) == (False, None, ())
    assert probe.where == "PostgreSQL database 'test' on 127.0.0.1:5432 as postgres"
    config = tmp_path / "energynet.toml"
    service.finish(Choices(config, WORLD, pg_url, None, AdminChoice("chief", PASSWORD)))
    assert check_config(config) == 0
    assert authenticate(pg_url, "chief", PASSWORD) == "admin"
    after = service.test_database(pg_url)
    assert (after.revision, after.admins) == (head_revision(), ("chief",))
    # A second setup on that database: its admin exists, so none is asked for or created.
    second = tmp_path / "second.toml"
    with pytest.raises(SetupError, match=r"has admin accounts already \(chief\)"):
        service.finish(Choices(second, WORLD, pg_url, None, AdminChoice("other", PASSWORD)))
    assert not second.exists()
    service.finish(Choices(second, WORLD, pg_url, None, None))
    assert check_config(second) == 0


def test_postgresql_errors_name_host_port_database_and_cause(pg_url: str) -> None:
    service = first_run()
    base = os.environ["ENERGYNET_PG_URL"].rsplit("/", 1)[0]
    closed = free_port()
    with pytest.raises(SetupError) as refused:
        service.test_database(f"postgresql://postgres@127.0.0.1:{closed}/test")
    assert f"PostgreSQL database 'test' on 127.0.0.1:{closed} as postgres" in str(refused.value)
    assert "Connection refused" in str(refused.value)
    with pytest.raises(SetupError, match=r"database 'nosuch_db_x'.*database \"nosuch_db_x\" does not exist"):
        service.test_database(f"{base}/nosuch_db_x")
    with pytest.raises(SetupError, match=r"search_path \(nope_schema\).*create the schema"):
        service.test_database(pg_url.rsplit("%3D", 1)[0] + "%3Dnope_schema")
    with pytest.raises(SetupError, match="is not a PostgreSQL URL"):
        service.postgresql_url("postgres://db")
    assert shown_url("postgresql://op:s3cret@db:5432/grid") == "postgresql://op:***@db:5432/grid"
    assert "s3cret" not in service.summary(Choices(Path("/x.toml"), WORLD, "postgresql://op:s3cret@db:5432/grid"))[2][1]


def test_sqlite_that_is_not_a_database_or_from_a_newer_console_is_refused(tmp_path: Path) -> None:
    service = first_run()
    text = tmp_path / "notes.sqlite"
    text.write_text("not a database\n" * 100)
    with pytest.raises(SetupError, match="file is not a database"):
        service.test_database(service.sqlite_url(text))
    assert text.read_text() == "not a database\n" * 100
    newer = tmp_path / "newer.sqlite"
    import sqlite3

    with sqlite3.connect(newer) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999')")
    with pytest.raises(SetupError, match="at migration '9999', which this console does not know"):
        service.test_database(service.sqlite_url(newer))
    with pytest.raises(SetupError, match="full path"):
        service.sqlite_url(Path("relative.sqlite"))


def test_the_wizard_refuses_what_the_config_would_refuse_in_the_same_words() -> None:
    """One rule each (console/config.py): what the wizard lets through loads, what it refuses the config
    refuses too, with the same message."""
    service = first_run()
    cases: list[tuple[Callable[[], object], str, str, str]] = [
        (lambda: service.test_rpc("ws://127.0.0.1:8545"), '[chain]\nrpc = "ws://127.0.0.1:8545"\n', "rpc",
         "'ws://127.0.0.1:8545' is not an HTTP JSON-RPC URL; write it like http://127.0.0.1:8545"),
        (lambda: service.check_password_env("KEY-PASSWORD"), '[chain]\npassword_env = "KEY-PASSWORD"\n',
         "password_env", "'KEY-PASSWORD' is not an environment variable name (letters, digits, _; not starting "
                         "with a digit)"),
    ]
    device = '[[sources]]\nname = "plant"\nendpoint = "opc.tcp://127.0.0.1:4840/x"\n' \
             '  [[sources.points]]\n  id = "f"\n  node = "ns=2;s=F"\n  unit = "Hz"\n  kind = "frequency"\n'
    for ask, config, field, message in cases:
        with pytest.raises(SetupError) as wizard:
            ask()
        assert (str(wizard.value), wizard.value.field) == (message, field)
        with pytest.raises(ConfigError) as loaded:
            parse(device + config)
        assert str(loaded.value) == f"<config>: chain.{field}: {message}"
    ok = parse(device + '[chain]\nrpc = "https://rpc.example:8545"\npassword_env = "SITE_KEY_2"\n').chain
    assert (ok.rpc, ok.password_env) == ("https://rpc.example:8545", "SITE_KEY_2")
    service.check_password_env("SITE_KEY_2")


def test_rpc_deployment_and_keystore_on_a_real_anvil(tmp_path: Path, chain: ChainUp) -> None:
    from web3 import Web3

    service = first_run()
    rpc = service.test_rpc(chain.anvil.url)
    assert rpc.chain_id == 31337  # contracts/anvil.py starts anvil with --chain-id 31337
    assert rpc.block == Web3(Web3.HTTPProvider(chain.anvil.url)).eth.block_number  # web3's own answer
    assert rpc.block > 0  # the suite's deployment mined blocks
    dep = service.test_deployment(chain.deployment_path, rpc)
    assert dep.contracts == len(chain.deployment.addresses)
    assert service.test_keystore(chain.keystore, DEMO_PASSWORD).address == OPERATOR
    with pytest.raises(SetupError, match="wrong password"):
        service.test_keystore(chain.keystore, "not the password")
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    with pytest.raises(SetupError, match="not a keystore file"):
        service.test_keystore(junk, DEMO_PASSWORD)
    other = tmp_path / "1.json"
    other.write_text(chain.deployment_path.read_text().replace('"chainId": 31337', '"chainId": 1'))
    with pytest.raises(SetupError, match=r"deployment on chain 1, but .* is chain 31337"):
        service.test_deployment(other, rpc)
    data = json.loads(chain.deployment_path.read_text())
    data["contracts"]["MeterReading"] = "0x" + "12" * 20  # an address with no code
    gone = tmp_path / "31337.json"
    gone.write_text(json.dumps(data))
    with pytest.raises(SetupError, match="no contract code on chain 31337 at the address of MeterReading"):
        service.test_deployment(gone, rpc)


def test_unreachable_and_non_rpc_urls_say_why() -> None:
    service = first_run()
    closed = free_port()
    with pytest.raises(SetupError, match=rf"cannot reach the JSON-RPC node at http://127.0.0.1:{closed}: "
                                         r"Connection refused"):
        service.test_rpc(f"http://127.0.0.1:{closed}")

    class NotRpc(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_error(404, "Not Found")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotRpc)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(SetupError, match="answered HTTP 404"):
            service.test_rpc(f"http://127.0.0.1:{server.server_port}/")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(SetupError, match="not an HTTP JSON-RPC URL"):
        service.test_rpc("ws://127.0.0.1:8545")


def test_chain_with_a_new_operator_key_writes_a_keystore_only_its_password_opens(tmp_path: Path,
                                                                                 chain: ChainUp) -> None:
    service = first_run()
    keystore = tmp_path / "keys" / "operator.json"
    config = tmp_path / "energynet.toml"
    url = service.sqlite_url(tmp_path / "h.sqlite")
    choice = ChainChoice(chain.anvil.url, chain.deployment_path, keystore, PASSWORD, create_keystore=True,
                         password_env="SITE_KEY_PASSWORD")
    done = service.finish(Choices(config, WORLD, url, choice, AdminChoice("admin", PASSWORD)))
    assert done.keystore == keystore and stat.S_IMODE(keystore.stat().st_mode) == 0o600
    address = service.test_keystore(keystore, PASSWORD).address
    assert any(address in note for note in done.notes) and any("SITE_KEY_PASSWORD" in n for n in done.notes)
    assert check_config(config) == 0
    text = config.read_text()
    assert f'keystore = "{keystore}"' in text and 'password_env = "SITE_KEY_PASSWORD"' in text
    with pytest.raises(SetupError, match="a keystore is never overwritten"):
        service.check_new_keystore(keystore, PASSWORD, PASSWORD)


def test_existing_config_is_never_replaced_without_asking(tmp_path: Path) -> None:
    service = first_run()
    config = tmp_path / "energynet.toml"
    config.write_text("# the operator's own file\n")
    url = service.sqlite_url(tmp_path / "h.sqlite")
    assert service.check_location(config) is True
    with pytest.raises(SetupError, match="exists; confirm that it may be replaced"):
        service.finish(Choices(config, WORLD, url, None, AdminChoice("admin", PASSWORD)))
    assert config.read_text() == "# the operator's own file\n" and not (tmp_path / "h.sqlite").exists()
    service.finish(Choices(config, WORLD, url, None, AdminChoice("admin", PASSWORD), overwrite=True))
    assert check_config(config) == 0


class AdminRace(SetupChecks):
    """Another console creates an admin on the same database between the test connection and Finish
    (a real account through the real users service): the wizard's own admin is then refused."""

    def create_admin(self, url: str, name: str, password: str) -> None:
        super().create_admin(url, "earlier", PASSWORD)
        super().create_admin(url, name, password)


def test_a_failing_last_step_leaves_nothing_written_and_restores_a_replaced_file(tmp_path: Path, chain: ChainUp,
                                                                                 pg_url: str) -> None:
    service = FirstRun(AdminRace())
    config, keystore = tmp_path / "new" / "energynet.toml", tmp_path / "new" / "operator.json"
    choice = ChainChoice(chain.anvil.url, chain.deployment_path, keystore, PASSWORD, create_keystore=True)
    url = service.sqlite_url(tmp_path / "data" / "h.sqlite")
    with pytest.raises(SetupError, match="an admin account exists already"):
        service.finish(Choices(config, WORLD, url, choice, AdminChoice("admin", PASSWORD)))
    assert not (tmp_path / "new").exists() and not (tmp_path / "data").exists()  # files and folders removed
    old = tmp_path / "old.toml"
    old.write_bytes(b"# kept byte for byte\n")
    with pytest.raises(SetupError, match="an admin account exists already"):
        service.finish(Choices(old, WORLD, pg_url, None, AdminChoice("admin", PASSWORD), overwrite=True))
    assert old.read_bytes() == b"# kept byte for byte\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.toml"]


def test_import_keeps_the_files_settings_and_check_config_problems_stop_finish(tmp_path: Path) -> None:
    service = first_run()
    site = tmp_path / "site"
    site.mkdir()
    world = SetupChecks().world_config()
    source = site / "site.toml"
    source.write_text(world + "\n[historian]\n# tuned for this site\nbatch_rows = 1000\nurl = \"sqlite:///old\"\n")
    url = service.sqlite_url(tmp_path / "h.sqlite")
    config = site / "energynet.toml"
    service.finish(Choices(config, str(source), url, None, AdminChoice("admin", PASSWORD)))
    text = config.read_text()
    assert "# tuned for this site\nbatch_rows = 1000" in text and "sqlite:///old" not in text
    assert check_config(config) == 0
    broken = site / "broken.toml"
    broken.write_text(world.replace('kind = "frequency"', 'kind = "frequenzy"', 1))
    with pytest.raises(SetupError, match=r"sources\[0 'world'\]\.points\[0 'grid.frequency'\]\.kind"):
        service.devices(str(broken))
    # A profile that parses in the config but not as a profile: check-config's problem stops Finish.
    (site / "bad_profile.toml").write_text("name = 'bad'\n")
    source.write_text(world.replace('profile = "eastron_sdm630.toml"', 'profile = "bad_profile.toml"'))
    target = site / "other.toml"
    with pytest.raises(SetupError, match="would not pass check-config") as info:
        service.finish(Choices(target, str(source), service.sqlite_url(tmp_path / "h2.sqlite"), None,
                               AdminChoice("admin", PASSWORD)))
    assert "bad_profile.toml" in str(info.value)
    assert not target.exists() and not (tmp_path / "h2.sqlite").exists()


def test_admin_rules_are_the_users_service_rules() -> None:
    with pytest.raises(SetupError, match=r"at least 12 characters \(got 5\)"):
        FirstRun.check_admin("admin", "short", "short")
    with pytest.raises(SetupError, match="differ"):
        FirstRun.check_admin("admin", PASSWORD, PASSWORD + "x")
    with pytest.raises(SetupError, match="no spaces"):
        FirstRun.check_admin("the admin", PASSWORD, PASSWORD)
    with pytest.raises(SetupError, match="needs a user name"):
        FirstRun.check_admin("  ", PASSWORD, PASSWORD)
    assert FirstRun.check_admin(" chief ", PASSWORD, PASSWORD) == AdminChoice("chief", PASSWORD)


def test_table_editor_replaces_keys_and_keeps_the_rest() -> None:
    text = "[console]\ntitle = 'x'\n\n[historian] # ours\nurl = 'a'\nraw_days = 7.0\n\n[[reports]]\nname = 'r'\n"
    out = set_table_keys(text, "historian", {"url": '"b"'})
    assert out == text.replace("url = 'a'", 'url = "b"')  # the one line changed, in place
    assert set_table_keys("[console]\n", "chain", {"enabled": "false"}) == "[console]\n\n[chain]\nenabled = false\n"


def _cli(*args: str, config_home: Path) -> subprocess.CompletedProcess[str]:
    """``energynet`` as started from a terminal without a display (no DISPLAY, no Qt platform chosen)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["XDG_CONFIG_HOME"] = str(config_home)
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True, text=True, timeout=60,
                          env=env)


def test_run_without_a_config_and_without_a_display_says_what_to_do(tmp_path: Path) -> None:
    expected = tmp_path / "energynet" / "energynet.toml"  # platformdirs: $XDG_CONFIG_HOME/energynet/
    out = _cli("run", "--quit-after", "1", config_home=tmp_path)
    assert out.returncode == 2, out.stderr
    assert f"no config file at {expected}" in out.stderr and "energynet setup" in out.stderr
    setup = _cli("setup", config_home=tmp_path)
    assert setup.returncode == 1 and f"no config file at {expected}" in setup.stderr
    assert not expected.exists() and not expected.parent.exists()
