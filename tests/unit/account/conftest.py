"""Fixtures for the account flows: the account layer's database and settings, the emulator."""

from __future__ import annotations

from tests.fakes.airtable_fixtures import airtable_emulator
from tests.unit.auth.conftest import (
    app_db,
    auth_engine,
    clean_engine,
    db,
    fast_hasher,
    test_settings,
)

__all__ = [  # pytest fixtures, used by name
    "airtable_emulator",
    "app_db",
    "auth_engine",
    "clean_engine",
    "db",
    "fast_hasher",
    "test_settings",
]
