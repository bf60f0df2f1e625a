"""Fixtures for the infrastructure tests: known settings, whatever `.env` or the shell say."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pyairtable_ui.core.settings import get_settings

TEST_SECRET_KEY = "unit-test-secret-key-" + "x" * 40


@pytest.fixture(autouse=True)
def known_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test SECRET_KEY and no earlier keys, no SMTP, no Redis."""
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.delenv("PREVIOUS_SECRET_KEYS", raising=False)
    monkeypatch.delenv("SMTP_HOST", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
