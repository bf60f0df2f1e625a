"""Fixtures for service-level tests: an engine on this pass's database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from pyairtable_ui import migrations
from pyairtable_ui.db import make_engine
from tests.support.databases import fresh_database_url


@pytest.fixture
def migrated_engine(tmp_path) -> Iterator[Engine]:
    """An engine on an empty database brought to head by the real migrations."""
    with fresh_database_url(tmp_path / "unit.db") as url:
        engine = make_engine(url)
        migrations.upgrade_to_head(engine)
        yield engine
        engine.dispose()
