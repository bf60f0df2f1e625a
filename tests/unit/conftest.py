"""Fixtures for service-level tests: an engine on this pass's database, the Redis server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy.engine import Engine

from pyairtable_ui.core import migrations
from pyairtable_ui.core.db import get_engine, make_engine
from pyairtable_ui.core.settings import get_settings
from tests.support.databases import fresh_database_url

# This pass's Redis (scripts/test.sh sets REDIS_URL on the second pass), else the local one.
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
def migrated_engine(tmp_path) -> Iterator[Engine]:
    """An engine on an empty database brought to head by the real migrations."""
    with fresh_database_url(tmp_path / "unit.db") as url:
        engine = make_engine(url)
        migrations.upgrade_to_head(engine)
        yield engine
        engine.dispose()


@pytest.fixture
def app_database(migrated_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The app's own engine (what `session_scope` uses) pointed at a migrated database."""
    monkeypatch.setenv("DATABASE_URL", migrated_engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield migrated_engine
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[redis.Redis]:
    """The Redis server, or a skip when it does not answer."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis at {REDIS_URL} does not answer ({exc}); the Redis store not tested")
    yield client
    client.close()
