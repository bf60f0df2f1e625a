"""Apply and inspect Alembic migrations from code (start-up, health check, tests)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from pyairtable_ui.core.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every replica.
_PG_MIGRATION_LOCK = 7_311_402_118


def alembic_config() -> Config:
    """The project's Alembic configuration, without touching logging."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["configure_logging"] = False
    return config


def head_revision() -> str | None:
    """The newest revision in `alembic/versions`."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database to the newest revision.

    Replicas starting together on PostgreSQL take an advisory lock so only one
    migrates; the others wait and then find nothing to do.

    Args:
        engine: The database to migrate.
    """
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        config.attributes["connection"] = connection
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(config, "head")
        after = MigrationContext.configure(connection).get_current_revision()
    if before != after:
        logger.info("database migrated from %s to %s", before or "empty", after)
