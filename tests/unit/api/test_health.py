"""`/health` reports a database that answers reads but cannot be written to."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from pyairtable_ui.api import health
from pyairtable_ui.core.db import check_writable
from pyairtable_ui.state.outages import DATABASE_BUSY, REDIS_DOWN, describe_failure
from tests.support.locks import write_lock_held


@pytest.fixture
def app_engine(migrated_engine, monkeypatch):
    monkeypatch.setattr(health, "get_engine", lambda: migrated_engine)
    return migrated_engine


def test_health_is_ready_when_the_database_takes_writes(app_engine) -> None:
    status, body = asyncio.run(health.health_report())
    assert status == 200
    assert body["checks"]["database_writes"] == {"ok": True}


def test_health_is_503_and_names_the_write_check_while_another_process_holds_the_lock(
    app_engine,
) -> None:
    with write_lock_held(app_engine.url.render_as_string(hide_password=False)):
        started = time.monotonic()
        status, body = asyncio.run(health.health_report())
        elapsed = time.monotonic() - started
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True  # reads still work
    assert body["checks"]["database_writes"] == {
        "ok": False,
        "error": "database is locked for writing by another process",
    }
    assert elapsed < 4
    # Once the lock is gone, the check passes again and changed nothing.
    check_writable(app_engine)
    assert asyncio.run(health.health_report())[0] == 200


def test_a_write_blocked_by_the_lock_is_described_as_a_busy_database(app_engine) -> None:
    with write_lock_held(app_engine.url.render_as_string(hide_password=False)):
        with pytest.raises(sa.exc.OperationalError) as raised:
            check_writable(app_engine, timeout_ms=200)
    assert describe_failure(raised.value) == DATABASE_BUSY


def test_a_redis_that_does_not_answer_is_named() -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    with pytest.raises(redis.RedisError) as raised:
        client.ping()
    # Wrapped the way Reflex's state manager surfaces it.
    try:
        raise RuntimeError("could not get state") from raised.value
    except RuntimeError as wrapped:
        assert describe_failure(wrapped) == REDIS_DOWN


@pytest.mark.parametrize(
    ("values", "reported"),
    [({}, "not configured"), ({"llm_api_key": "sk-health-key-123456"}, "configured")],
)
def test_health_says_whether_an_llm_is_configured_and_stays_ready_without_one(
    app_engine, monkeypatch, values, reported
) -> None:
    from pyairtable_ui.core.settings import Settings
    from pyairtable_ui.llm import setup

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    monkeypatch.setattr(setup, "get_settings", lambda: settings)

    status, body = asyncio.run(health.health_report())

    assert status == 200
    assert body["status"] == "ok"
    assert body["llm"] == reported
    assert "sk-health-key-123456" not in str(body)
