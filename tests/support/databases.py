"""Empty databases for tests: a SQLite file, or a new PostgreSQL database per session."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg


def _server_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def fresh_database_url(sqlite_path: Path) -> Iterator[str]:
    """An empty database for this pass, dropped afterwards.

    With TEST_DATABASE_URL (a PostgreSQL server), a uniquely named database is
    created on that server so runs never see each other's rows; otherwise a
    SQLite file at `sqlite_path`.

    Args:
        sqlite_path: Where the SQLite file goes on the embedded pass.

    Yields:
        A SQLAlchemy URL.
    """
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{sqlite_path}"
        return
    name = f"pui_test_{secrets.token_hex(6)}"
    admin_url = _server_url(server)
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
