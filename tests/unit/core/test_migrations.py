"""Migrations: empty -> head -> empty on this pass's database, and no drift from the models."""

from __future__ import annotations

import pytest
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


def test_a_serving_worker_migrates_in_a_child_and_never_loads_alembic(tmp_path) -> None:
    """The start-up migration runs in a child process; the health check reads plain SQL."""
    import subprocess
    import sys

    with fresh_database_url(tmp_path / "w.db") as url:
        code = (
            "import sys\n"
            "from pyairtable_ui.core import migrations\n"
            "from pyairtable_ui.core.db import make_engine\n"
            f"engine = make_engine({url!r})\n"
            "migrations.upgrade_in_child(engine)\n"
            "print(migrations.current_revision(engine), migrations.head_revision(),"
            " 'alembic' in sys.modules)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
        )
        current, head, loaded = done.stdout.split()
        assert current == head == migrations.head_revision()
        assert loaded == "False"


def test_a_failed_child_migration_stops_the_start(tmp_path, monkeypatch) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setattr(migrations.sys, "executable", "/bin/false")
    with pytest.raises(RuntimeError, match="migration failed"):
        migrations.upgrade_in_child(engine)
    engine.dispose()
