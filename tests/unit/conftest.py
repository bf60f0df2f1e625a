"""Fixtures for service-level tests: an engine on this pass's database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from pyairtable_ui.core import migrations
from pyairtable_ui.core.db import get_engine, make_engine
from pyairtable_ui.core.settings import get_settings
from tests.support.databases import fresh_database_url


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
