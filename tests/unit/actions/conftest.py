"""Fixtures for the safe-writes service tests: the Airtable layer's, plus users and emulators."""

from __future__ import annotations

import secrets

import pytest

from pyairtable_ui.auth.models import Role, User
from pyairtable_ui.core.db import SessionFactory
from pyairtable_ui.emulator import AirtableEmulator, build_seed
from tests.unit.airtable.conftest import (
    aggregate_cache,
    airtable_emulator,
    airtable_emulator_factory,
    client,
    make_client,
    make_ctx,
    other_user_id,
    registry,
    schema_cache,
    session_factory,
    user_id,
)

__all__ = [
    "aggregate_cache",
    "airtable_emulator",
    "airtable_emulator_factory",
    "client",
    "make_client",
    "make_ctx",
    "other_user_id",
    "registry",
    "schema_cache",
    "session_factory",
    "user_id",
]


@pytest.fixture
def items_emulator(airtable_emulator_factory) -> AirtableEmulator:
    """The small seed plus an Items table of 40 records, rate limit off."""
    return airtable_emulator_factory(build_seed(big_table_records=40))


@pytest.fixture
def admin_id(session_factory: SessionFactory) -> int:
    """An administrator, who sees everyone's history."""
    with session_factory() as session:
        user = User(email=f"admin-{secrets.token_hex(3)}@example.com", role=Role.ADMIN.value)
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id
