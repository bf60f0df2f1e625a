"""Migrations: empty -> head -> empty on this pass's database, and no drift from the models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pyairtable_ui.core import migrations
from pyairtable_ui.core.db import make_engine
from pyairtable_ui.models import metadata
from tests.support.databases import fresh_database_url


def test_upgrade_from_empty_to_head_and_back(tmp_path) -> None:
    with fresh_database_url(tmp_path / "m.db") as url:
        engine = make_engine(url)
        assert migrations.current_revision(engine) is None
        migrations.upgrade_to_head(engine)
        assert migrations.current_revision(engine) == migrations.head_revision()
        tables = set(sa.inspect(engine).get_table_names())
        assert set(metadata.tables) <= tables

        config = migrations.alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        engine.dispose()


def test_upgrade_twice_changes_nothing(tmp_path) -> None:
    with fresh_database_url(tmp_path / "m.db") as url:
        engine = make_engine(url)
        migrations.upgrade_to_head(engine)
        migrations.upgrade_to_head(engine)
        assert migrations.current_revision(engine) == migrations.head_revision()
        engine.dispose()


def test_models_and_migrations_agree(tmp_path) -> None:
    """A model change without a migration fails here: run `alembic revision --autogenerate`."""
    with fresh_database_url(tmp_path / "m.db") as url:
        engine = make_engine(url)
        migrations.upgrade_to_head(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            diff = compare_metadata(context, metadata)
        engine.dispose()
    assert diff == []
