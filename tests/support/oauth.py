"""Fixtures for the OAuth flows (SSO sign-in, Connect with Airtable): the local provider,
known settings, a fresh database. Imported by the modules that test those flows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import pyairtable_ui.models  # noqa: F401  (registers every table on SQLModel.metadata)
from pyairtable_ui.auth import oidc
from pyairtable_ui.core.db import get_engine, make_engine
from pyairtable_ui.core.settings import get_settings
from tests.fakes.oauth import OAuthProvider

TEST_SECRET_KEY = "oauth-unit-test-secret-key-" + "y" * 40
_FEATURE_ENV = (
    "OIDC_ISSUER",
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "OIDC_NAME",
    "AIRTABLE_OAUTH_CLIENT_ID",
    "AIRTABLE_OAUTH_CLIENT_SECRET",
    "AIRTABLE_OAUTH_URL",
    "PUBLIC_URL",
    "REDIS_URL",
    "SMTP_HOST",
)


@pytest.fixture(autouse=True)
def test_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Known settings, no SSO or Airtable OAuth unless a test turns them on."""
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    for name in _FEATURE_ENV:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    oidc.clear_caches()
    yield
    get_settings.cache_clear()
    oidc.clear_caches()


@pytest.fixture(scope="module")
def shared_provider() -> Iterator[OAuthProvider]:
    """One provider per module (generating its RSA keys takes a moment)."""
    with OAuthProvider() as provider:
        yield provider


@pytest.fixture
def provider(shared_provider: OAuthProvider) -> OAuthProvider:
    """The provider, with default behaviour and no memory of earlier tests."""
    shared_provider.reset()
    return shared_provider


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite database with every table."""
    engine = make_engine(f"sqlite:///{tmp_path / 'oauth.db'}")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session on an empty database, as `session_scope` would give it."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def app_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> Iterator[Engine]:
    """Point the app's `session_scope()` at the test database."""
    monkeypatch.setenv("DATABASE_URL", str(engine.url))
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield engine
    get_engine().dispose()
    get_engine.cache_clear()


def follow_authorization(url: str) -> dict[str, str]:
    """Open an authorization URL as the browser would; the query of the redirect back."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 302, response.text
    return dict(parse_qsl(urlsplit(response.headers["location"]).query))
