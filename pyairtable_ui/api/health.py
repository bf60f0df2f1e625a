"""`GET /health`: is this replica ready to serve (database reads and writes, migrations, Redis)?

It also says whether an LLM provider is configured (`"llm": "configured"` or
`"not configured"`), without counting it against readiness: a fresh instance without
a key serves every page, and the chat says what to set.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis
import sqlalchemy as sa

from pyairtable_ui.core import migrations
from pyairtable_ui.core.db import check_writable, get_engine
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.llm.setup import llm_setup

logger = logging.getLogger(__name__)


def _check_database() -> tuple[dict[str, Any], dict[str, Any]]:
    engine = get_engine()
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        current = migrations.current_revision(engine)
    except sa.exc.SQLAlchemyError as exc:
        logger.warning("health: database unreachable: %s", exc.__class__.__name__)
        return (
            {"ok": False, "error": "database unreachable"},
            {"ok": False, "error": "unknown: database unreachable"},
        )
    head = migrations.head_revision()
    migrations_state = {"ok": current == head, "current": current, "head": head}
    return {"ok": True, "backend": engine.dialect.name}, migrations_state


def _check_database_writes() -> dict[str, Any]:
    try:
        check_writable(get_engine())
    except sa.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", exc)).lower()
        logger.warning("health: database not writable: %s", exc.__class__.__name__)
        if "locked" in detail or "lock timeout" in detail:
            reason = "database is locked for writing by another process"
        elif "read-only" in detail or "readonly" in detail:
            reason = "database is read-only"
        else:
            reason = "database cannot be written to"
        return {"ok": False, "error": reason}
    return {"ok": True}


def _check_redis() -> dict[str, Any]:
    url = get_settings().redis_url
    if not url:
        return {"ok": True, "configured": False}
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        logger.warning("health: redis unreachable: %s", exc.__class__.__name__)
        return {"ok": False, "configured": True, "error": "redis unreachable"}
    finally:
        client.close()
    return {"ok": True, "configured": True}


async def health_report() -> tuple[int, dict[str, Any]]:
    """Run every readiness check off the event loop.

    Returns:
        The HTTP status (200 ready, 503 not) and the JSON body; its `llm` is
        "configured" or "not configured" and does not affect the status.
    """
    (database, migration_state), writes, redis_state = await asyncio.gather(
        asyncio.to_thread(_check_database),
        asyncio.to_thread(_check_database_writes),
        asyncio.to_thread(_check_redis),
    )
    checks = {
        "database": database,
        "database_writes": writes,
        "migrations": migration_state,
        "redis": redis_state,
    }
    ready = all(check["ok"] for check in checks.values())
    llm = "configured" if llm_setup().configured else "not configured"
    body = {"status": "ok" if ready else "unavailable", "llm": llm, "checks": checks}
    return (200 if ready else 503), body
