"""Apply and inspect Alembic migrations from code (start-up, health check, tests).

Alembic is imported inside the functions that need it, and a serving worker runs its
start-up migration in a child process (`upgrade_in_child`): Alembic and the migration
scripts cost a process about 10 MB that it would keep for its whole life, while it
needs them for a second at start. The health check reads the revision with plain SQL
and compares it with the head the child reported.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pyairtable_ui.core.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every replica.
_PG_MIGRATION_LOCK = 7_311_402_118

# The head revision as the start-up migration reported it (see `upgrade_in_child`).
_known_head: str | None = None


def alembic_config() -> Config:
    """The project's Alembic configuration, without touching logging."""
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["configure_logging"] = False
    return config


def head_revision() -> str | None:
    """The newest revision in `alembic/versions` (as reported at start-up when known)."""
    if _known_head is not None:
        return _known_head
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database.

    Read from Alembic's own table with plain SQL, so the health check loads no Alembic.
    """
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    return str(rows[0][0]) if len(rows) == 1 else None


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database to the newest revision.

    Replicas starting together on PostgreSQL take an advisory lock so only one
    migrates; the others wait and then find nothing to do.

    Args:
        engine: The database to migrate.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext

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


def upgrade_in_child(engine: Engine) -> None:
    """`upgrade_to_head` in a child Python process, for a serving worker at start.

    The child reads the same settings (environment and `.env`); its log lines go to
    the same stderr. A database only this process can see (SQLite in memory) is
    migrated here instead.

    Raises:
        RuntimeError: The child failed (its output says why).
    """
    global _known_head
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        upgrade_to_head(engine)
        return
    done = subprocess.run(
        [sys.executable, "-m", "pyairtable_ui.core.migrations"],
        env={**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False)},
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"database migration failed (exit {done.returncode}); see the log")
    head = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    _known_head = head or None


def _main() -> None:
    """Child of `upgrade_in_child`: migrate the settings' database, print the head."""
    from pyairtable_ui.core.db import get_engine
    from pyairtable_ui.core.observability import configure_logging
    from pyairtable_ui.core.settings import get_settings

    configure_logging(get_settings().log_level)
    upgrade_to_head(get_engine())
    print(head_revision() or "")


if __name__ == "__main__":
    _main()
