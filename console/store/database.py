"""Engines and migrations: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event

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


def make_engine(url: str, sqlite_busy_timeout_s: float = 30.0) -> Engine:
    """An engine tuned for the historian (WAL and normal sync on SQLite)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
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


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision``; returns the revision now current."""
    cfg = _config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
