"""Settings: defaults, environment parsing, and the refusal of a default secret."""

from __future__ import annotations

import pytest

from pyairtable_ui.core.settings import DEVELOPMENT_SECRET_KEY, Settings, SettingsError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "APP_ENV",
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "LLM_ALLOWED_MODELS",
        "LLM_MODEL",
        "PORT",
        "PUBLIC_URL",
        "CONFIRM_THRESHOLD",
    ):
        monkeypatch.delenv(name, raising=False)


def test_embedded_defaults_need_no_service() -> None:
    settings = Settings(_env_file=None)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.redis_url is None
    assert settings.airtable_api_url == "https://api.airtable.com"
    assert settings.port == 8000
    assert settings.confirm_threshold == 20


def test_production_refuses_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(SettingsError, match="SECRET_KEY must be set"):
        Settings(_env_file=None)
    monkeypatch.setenv("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
    with pytest.raises(SettingsError, match="SECRET_KEY must be set"):
        Settings(_env_file=None)
    monkeypatch.setenv("SECRET_KEY", "")
    with pytest.raises(SettingsError, match="SECRET_KEY must be set"):
        Settings(_env_file=None)


def test_production_refuses_a_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(SettingsError, match="at least 32"):
        Settings(_env_file=None)


def test_production_starts_with_a_real_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 48)
    settings = Settings(_env_file=None)
    assert settings.is_production
    assert "x" * 48 not in repr(settings), "the secret must not appear in repr or logs"


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/app")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("LLM_MODEL", "anthropic/claude-sonnet")
    monkeypatch.setenv("LLM_ALLOWED_MODELS", "openai/gpt-4o, anthropic/claude-sonnet")
    settings = Settings(_env_file=None)
    assert settings.database_url == "postgresql://u@db/app"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.port == 9000
    assert settings.allowed_models == ["anthropic/claude-sonnet", "openai/gpt-4o"]


def test_values_come_from_a_dotenv_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=8123\nCONFIRM_THRESHOLD=5\n")
    settings = Settings(_env_file=env_file)
    assert settings.port == 8123
    assert settings.confirm_threshold == 5


def test_links_use_the_public_url_not_request_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).base_url == "http://localhost:8000"
    monkeypatch.setenv("PUBLIC_URL", "https://airtable-chat.example.com/")
    assert Settings(_env_file=None).base_url == "https://airtable-chat.example.com"


def test_bad_values_are_rejected_with_the_setting_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIRM_THRESHOLD", "0")
    with pytest.raises(Exception, match="confirm_threshold"):
        Settings(_env_file=None)
