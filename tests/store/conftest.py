"""Databases for store tests: a fresh SQLite file, and a fresh PostgreSQL
database on ENERGYNET_PG_URL (created and dropped per test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def _pg_admin_url() -> str | None:
    return os.environ.get("ENERGYNET_PG_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'historian.sqlite'}"
        return
    admin = _pg_admin_url()
    if not admin:
        pytest.skip("ENERGYNET_PG_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    import psycopg

    name = f"energynet_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
