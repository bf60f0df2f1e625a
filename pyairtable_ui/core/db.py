"""Database engine, sessions and column types shared by every domain's models.

Imports no Reflex: services and migrations use it directly. Services take a
`SessionFactory` (`session_scope` in the app, `session_factory_for(engine)` in tests,
benchmarks and a second process) so they can run against any database.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect, Engine
from sqlmodel import Session, create_engine

from pyairtable_ui.core.settings import get_settings


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so values come back naive; this type restores UTC on
    read and refuses naive datetimes on write so no local time sneaks in.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_column(**kwargs: Any) -> sa.Column[Any]:
    """A JSON column (JSONB on PostgreSQL) for plans, arguments and snapshots."""
    return sa.Column(sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), **kwargs)


# How long a SQLite write waits for another writer before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers and one writer overlap.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url` with the settings this app needs on each backend.

    Args:
        url: A SQLAlchemy database URL.

    Returns:
        The engine. Its errors leave out the statement's values: tokens and hashes
        must not reach the log.
    """
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would pick psycopg2.
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
    )


def check_writable(engine: Engine, *, timeout_ms: int = 1000) -> None:
    """Take the database's write lock for a moment and let it go, changing nothing.

    A database can answer reads while no write can get through (SQLite held by
    another writer, a read-only PostgreSQL replica, a lock on the table): reads
    alone would call it healthy while every sign-in fails.

    Args:
        engine: The engine to check.
        timeout_ms: How long to wait for a lock before giving up.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: When no write can be made.
    """
    # A no-op update of the one-row migrations table needs the same lock as any write.
    probe = sa.text("UPDATE alembic_version SET version_num = version_num")
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={timeout_ms}")
            connection.commit()
        try:
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = {timeout_ms}")
            connection.execute(probe)
        finally:
            connection.rollback()
            if sqlite:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                connection.commit()


@functools.cache
def get_engine() -> Engine:
    """The engine for the configured DATABASE_URL, made once per process."""
    return make_engine(get_settings().database_url)


SessionFactory = Callable[[], AbstractContextManager[Session]]
"""Opens a session that commits on success and rolls back on error (`with factory() as db`)."""


def session_factory_for(engine: Engine) -> SessionFactory:
    """A session factory on `engine` that commits on success and rolls back on error.

    Args:
        engine: The database engine.

    Returns:
        A callable returning a context manager that yields a session.
    """

    @contextmanager
    def scope() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except Exception:
                session.rollback()
                raise

    return scope


def session_scope() -> AbstractContextManager[Session]:
    """A session on the app's database that commits on success and rolls back on error.

    Returns:
        A context manager yielding an open SQLModel session.
    """
    return session_factory_for(get_engine())()
