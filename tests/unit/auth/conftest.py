"""Fixtures for the account layer: a real database (SQLite file, and PostgreSQL when it
answers), cheap argon2 parameters, and test settings.

Service tests run once per backend through the parametrised `auth_engine`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import pyairtable_ui.models  # noqa: F401  (registers every table on SQLModel.metadata)
from pyairtable_ui.auth import passwords
from pyairtable_ui.core.db import get_engine, make_engine
from pyairtable_ui.core.settings import get_settings

# The PostgreSQL pass's server (TEST_DATABASE_URL), else the local server; each test
# session works in its own schema there and drops it afterwards.
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
TEST_SECRET_KEY = "unit-test-secret-key-" + "x" * 40

# Cheap enough for dozens of hashes per second; production keeps its own defaults.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)


@pytest.fixture(autouse=True)
def test_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Known settings for every test, whatever `.env` or the shell say."""
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("SESSION_DAYS", "14")
    # Most tests register several accounts; the invite rule has its own tests.
    monkeypatch.setenv("REGISTRATION", "open")
    monkeypatch.delenv("SMTP_HOST", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch: pytest.MonkeyPatch) -> PasswordHasher:
    """Swap the production argon2 cost for a tiny one, in tests only."""
    monkeypatch.setattr(passwords, "PASSWORD_HASHER", FAST_HASHER)
    return FAST_HASHER


def _postgres_engine(schema: str) -> Engine:
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} does not answer ({type(exc).__name__})")
    admin.dispose()
    # Every connection of this engine sees only the test's own schema.
    separator = "&" if "?" in POSTGRES_URL else "?"
    return make_engine(f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}")


def _drop_postgres_schema(schema: str) -> None:
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def auth_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """An engine with every table created, on SQLite and on PostgreSQL."""
    schema = None
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("auth-db") / "auth.db"
        engine = make_engine(f"sqlite:///{path}")
    else:
        schema = f"test_auth_{secrets.token_hex(6)}"
        engine = _postgres_engine(schema)
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()
    if schema is not None:
        _drop_postgres_schema(schema)


@pytest.fixture
def clean_engine(auth_engine: Engine) -> Iterator[Engine]:
    """The engine, emptied after the test so each test starts from no accounts."""
    yield auth_engine
    with auth_engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def db(clean_engine: Engine) -> Iterator[Session]:
    """A session on an empty database, as `session_scope` would give it."""
    with Session(clean_engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def app_db(clean_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Point the app's `session_scope()` at the test database (for flows)."""
    monkeypatch.setenv("DATABASE_URL", clean_engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield clean_engine
    get_engine().dispose()
    get_engine.cache_clear()
