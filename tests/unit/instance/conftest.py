"""Fixtures for the admin flows: the account layer's database and settings."""

from __future__ import annotations

from tests.unit.auth.conftest import (
    app_db,
    auth_engine,
    clean_engine,
    db,
    fast_hasher,
    test_settings,
)

__all__ = [  # pytest fixtures, used by name
    "app_db",
    "auth_engine",
    "clean_engine",
    "db",
    "fast_hasher",
    "test_settings",
]
