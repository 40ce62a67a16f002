"""Engines and migrations: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event

# Alembic is imported where a migration runs (a worker thread after the console's window is up): at module
# level it was ~0.4 s of CPU on the way to the console's first frame (bench/startup.py).
if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def default_data_dir() -> Path:
    """The user's data directory for EnergyNet (created on demand)."""
    from platformdirs import user_data_dir

    path = Path(user_data_dir("energynet", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_url() -> str:
    return f"sqlite:///{default_data_dir() / 'historian.sqlite'}"


_tune_lock = threading.Lock()
_tuned: bool | None = None
_SQLITE_CONFIG_PAGECACHE = 7  # sqlite3.h
_PAGE_CACHE_BULK_KIB = 2048  # at least the default cache_size (-2000 = 2,000 KiB), so every page comes from it


def tune_sqlite_page_cache() -> bool:
    """Each connection's page cache in one block, allocated once, instead of one malloc per page.

    By default SQLite allocates a page at a time (~4.3 KiB each) and frees them whenever the cache is
    cleared, which in WAL mode is every time *another* connection has written: the historian's readers
    dropped and refilled up to 2 MB each after every batch the writer committed. Those small blocks, freed
    and refilled among the console's long-lived allocations, left glibc's heap growing by fragmentation
    while the memory in use stayed flat (docs/BENCHMARKS.md, "Soak from fully up"). With
    ``SQLITE_CONFIG_PAGECACHE`` (no buffer, a negative size) each connection takes one bulk block of its
    cache size at its first page (2 MiB: glibc maps it on its own, outside the heap) and recycles pages
    within it. The setting can only change while SQLite is shut down, so it is applied only while SQLite
    holds no memory at all (no connection open), at the first engine; otherwise it is skipped.
    Returns True when applied (once per process)."""
    global _tuned
    with _tune_lock:
        if _tuned is None:
            _tuned = _apply_page_cache()
        return _tuned


def _apply_page_cache() -> bool:
    import ctypes

    path = _sqlite_library()
    if path is None:
        return False
    try:
        lib = ctypes.CDLL(path)
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        lib.sqlite3_compileoption_used.argtypes = [ctypes.c_char_p]
        # Nothing in use means no connection is open (each holds memory); without memory statistics a zero
        # would prove nothing, so then SQLite is left alone.
        if lib.sqlite3_compileoption_used(b"DEFAULT_MEMSTATUS=0") or lib.sqlite3_memory_used() != 0:
            return False
        if lib.sqlite3_shutdown() != 0:
            return False
        ok = lib.sqlite3_config(ctypes.c_int(_SQLITE_CONFIG_PAGECACHE), ctypes.c_void_p(None), ctypes.c_int(0),
                                ctypes.c_int(-_PAGE_CACHE_BULK_KIB)) == 0
        return bool(lib.sqlite3_initialize() == 0 and ok)
    except (OSError, AttributeError):  # not the SQLite we expect: its defaults
        return False


def _sqlite_library() -> str | None:
    """The shared libsqlite3 the sqlite3 module is linked with, from this process's memory map (Linux
    distributions link it dynamically); None elsewhere (a statically linked SQLite keeps its defaults)."""
    import _sqlite3  # noqa: F401 - maps the library

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                if "/libsqlite3" in line:
                    return line.split(maxsplit=5)[-1].strip()
    except OSError:
        pass
    return None


def make_engine(url: str, sqlite_busy_timeout_s: float = 30.0) -> Engine:
    """An engine tuned for the historian (WAL and normal sync on SQLite)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        tune_sqlite_page_cache()
        engine = create_engine(url, connect_args={"timeout": sqlite_busy_timeout_s})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; fine for a spool-backed writer
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=2)


class MigratedOnFirstUse:
    """A store's engine: made from ``url`` (or the one given) when first asked for and migrated to head then,
    so building a store does no I/O. ``on_create`` runs once on an engine made here (a connect listener)."""

    def __init__(self, url: str | None, engine: Engine | None = None,
                 on_create: Callable[[Engine], None] | None = None) -> None:
        if url is None and engine is None:
            raise ValueError("a database URL or an engine")
        self.url = url
        self._engine = engine
        self._on_create = on_create
        self._migrated = False

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            assert self.url is not None
            self._engine = make_engine(self.url)
            if self._on_create is not None:
                self._on_create(self._engine)
        if not self._migrated:
            upgrade(self._engine)
            self._migrated = True
        return self._engine

    def dispose(self) -> None:
        """Close the pool's connections (nothing when no engine was made)."""
        if self._engine is not None:
            self._engine.dispose()


def _config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision``; returns the revision now current.

    A database already at the head is left as it is without importing Alembic (≈ 0.7 s of CPU, on the
    console's database thread beside its first live frame; docs/decisions.md, "Start-up order")."""
    if revision == "head":
        head = _head_from_files()
        if head is not None and _current_revisions(engine) == (head,):
            return head
    from alembic import command

    cfg = _config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return current_revision(engine)


_REVISION = re.compile(r'^revision\s*(?::\s*str\s*)?=\s*["\']([^"\']+)["\']\s*$', re.MULTILINE)
_DOWN = re.compile(r'^down_revision\s*(?::[^=]+)?=\s*(None|["\']([^"\']+)["\'])\s*$', re.MULTILINE)


def _head_from_files() -> str | None:
    """The one head of the migration scripts, read from their ``revision`` / ``down_revision`` lines; None
    when the scripts are not one plain chain (a merge, branches, a line this does not read): Alembic decides."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for script in MIGRATIONS.joinpath("versions").glob("*.py"):
        if script.name.startswith("__"):
            continue
        text = script.read_text(encoding="utf-8")
        rev, down = _REVISION.findall(text), _DOWN.findall(text)
        if len(rev) != 1 or len(down) != 1:
            return None
        revisions.add(rev[0])
        if down[0][0] != "None":
            downs.add(down[0][1])
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 and downs <= revisions else None


def _current_revisions(engine: Engine) -> tuple[str, ...] | None:
    """The revisions in the database's ``alembic_version`` table, sorted; None when there is no such table."""
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return tuple(sorted(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))))


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
