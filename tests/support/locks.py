"""Hold a database's write lock from the test, as another process would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from pyairtable_ui.core.db import make_engine


@contextmanager
def write_lock_held(database_url: str) -> Iterator[None]:
    """While open, no other connection can write (reads still work).

    SQLite: a `BEGIN IMMEDIATE` transaction holds the database's single write lock.
    PostgreSQL: the migrations table's one row is locked, which any write check needs.

    Args:
        database_url: The database the app under test uses.
    """
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.execute(sa.text("SELECT version_num FROM alembic_version FOR UPDATE"))
            try:
                yield
            finally:
                connection.rollback()
    finally:
        engine.dispose()
