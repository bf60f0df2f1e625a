"""Fixtures for the Airtable service layer: the emulator, fast clients, Redis, a tool context.

Clients here pace at 1,000 requests/s and back off for milliseconds, so tests
stay fast; the limiter tests build their own clients at the real 5 requests/s.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from sqlalchemy.engine import Engine

from pyairtable_ui.airtable.aggregate_cache import InProcessAggregateCache
from pyairtable_ui.airtable.client import AirtableClient, RetryPolicy
from pyairtable_ui.airtable.limiter import InProcessRequestPacer, RequestPacer
from pyairtable_ui.airtable.schema import InProcessSchemaCache
from pyairtable_ui.auth.models import User
from pyairtable_ui.core.db import SessionFactory, session_factory_for
from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import BASE_CRM_ID, TOKEN_FULL
from pyairtable_ui.tools import ToolContext, ToolRegistry, build_registry
from tests.fakes.airtable_fixtures import airtable_emulator, airtable_emulator_factory

FAST_RETRIES = RetryPolicy(attempts=4, rate_limit_attempts=8, backoff=0.01, max_backoff=0.2)

__all__ = ["airtable_emulator", "airtable_emulator_factory"]  # the emulator's pytest fixtures

ClientFactory = Callable[..., AirtableClient]


@pytest.fixture
def make_client() -> ClientFactory:
    """Build clients against an emulator: fast pacing and retries unless told otherwise."""

    def factory(
        emulator: AirtableEmulator,
        *,
        token: str = TOKEN_FULL,
        limiter: RequestPacer | None = None,
        retry_policy: RetryPolicy = FAST_RETRIES,
        counter: Any = None,
    ) -> AirtableClient:
        kwargs: dict[str, Any] = {}
        if counter is not None:
            kwargs["counter"] = counter
        return AirtableClient(
            token,
            api_url=emulator.url,
            limiter=limiter or InProcessRequestPacer(1000),
            retry_policy=retry_policy,
            **kwargs,
        )

    return factory


@pytest.fixture
def client(airtable_emulator: AirtableEmulator, make_client: ClientFactory) -> AirtableClient:
    """A fast client for TOKEN_FULL on the small seed."""
    return make_client(airtable_emulator)


@pytest.fixture
def schema_cache() -> InProcessSchemaCache:
    """A schema cache of the test's own (never the process's, nor Redis shared with others)."""
    return InProcessSchemaCache()


@pytest.fixture
def aggregate_cache() -> InProcessAggregateCache:
    """An aggregate cache of the test's own: a result never carries over to another test."""
    return InProcessAggregateCache()


@pytest.fixture
def redis_prefix(redis_server: redis.Redis) -> Iterator[str]:
    """A key prefix no other test run uses; its keys are deleted afterwards."""
    prefix = f"pyairtable_ui:test:{secrets.token_hex(6)}:"
    yield prefix
    keys = list(redis_server.scan_iter(match=prefix + "*"))
    if keys:
        redis_server.delete(*keys)


@pytest.fixture
def session_factory(migrated_engine: Engine) -> SessionFactory:
    """Sessions on a fresh migrated database that commit on success."""
    return session_factory_for(migrated_engine)


def _saved_user(session_factory: SessionFactory, name: str) -> int:
    with session_factory() as session:
        user = User(email=f"{name}-{secrets.token_hex(3)}@example.com")
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id


@pytest.fixture
def user_id(session_factory: SessionFactory) -> int:
    """A saved user who owns the actions."""
    return _saved_user(session_factory, "owner")


@pytest.fixture
def other_user_id(session_factory: SessionFactory) -> int:
    """A second user, who must never see the first one's actions."""
    return _saved_user(session_factory, "other")


@pytest.fixture
def registry() -> ToolRegistry:
    """Every tool."""
    return build_registry()


@contextmanager
def no_database() -> Iterator[Any]:
    """The session factory of read-only tests: reaching the database is a test bug."""
    raise AssertionError("this test has no database; use write_ctx")
    yield  # pragma: no cover


@pytest.fixture
def make_ctx(
    schema_cache: InProcessSchemaCache, aggregate_cache: InProcessAggregateCache
) -> Callable[..., ToolContext]:
    """Build a turn's context for a client and base (no database unless given one)."""

    def factory(
        client: AirtableClient,
        base_id: str | None = BASE_CRM_ID,
        *,
        session_factory: SessionFactory = no_database,
        user_id: int = 1,
    ) -> ToolContext:
        return ToolContext(
            user_id=user_id,
            base_id=base_id,
            client=client,
            session_factory=session_factory,
            confirm_threshold=20,
            schema_cache=schema_cache,
            aggregate_cache=aggregate_cache,
        )

    return factory


@pytest.fixture
def ctx(client: AirtableClient, make_ctx: Callable[..., ToolContext]) -> ToolContext:
    """A read-only turn in the CRM base with the fast client."""
    return make_ctx(client)


@pytest.fixture
def write_ctx(
    client: AirtableClient,
    make_ctx: Callable[..., ToolContext],
    session_factory: SessionFactory,
    user_id: int,
) -> ToolContext:
    """A turn in the CRM base that may propose actions (a migrated database)."""
    return make_ctx(client, session_factory=session_factory, user_id=user_id)
