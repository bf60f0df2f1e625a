"""Instance settings, read once from the environment and `.env`.

One pydantic-settings class holds everything an operator can set. It imports
nothing from Reflex so that services, migrations and tests can use it alone.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# The value shipped for development only; production refuses to start with it.
DEVELOPMENT_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105


class SettingsError(RuntimeError):
    """The settings cannot run the app; the message says what to set."""


class Settings(BaseSettings):
    """Every setting of the instance. Names match the environment variables."""

    model_config = SettingsConfigDict(
        env_file=PROJECT_ROOT / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    app_env: Literal["development", "test", "production"] = Field(
        default="development",
        description="`production` enforces a real SECRET_KEY and secure cookies.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SECRET_KEY),
        description="Signs sessions and derives the key that encrypts Airtable tokens.",
    )
    previous_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Earlier SECRET_KEY values, comma-separated: what they encrypted still "
        "opens until `manage rotate-secret` re-encrypts it under SECRET_KEY.",
    )
    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'pyairtable_ui.db'}",
        description="SQLAlchemy URL; SQLite file by default, PostgreSQL in production.",
    )
    redis_url: str | None = Field(
        default=None,
        description="When set: Reflex state, schema cache, rate limits live in Redis.",
    )
    port: int = Field(default=8000, description="The one port serving page, API and websocket.")
    public_url: str | None = Field(
        default=None,
        description="Address users reach the app at, used in emailed links and OAuth.",
    )
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        description="Reverse proxies in front of the app; the client address is taken "
        "this many entries from the right of X-Forwarded-For (0: the socket peer).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, /metrics requires `Authorization: Bearer <token>`.",
    )

    airtable_api_url: str = Field(default="https://api.airtable.com")
    airtable_web_url: str = Field(
        default="https://airtable.com",
        description="Airtable's web app: record names link to {this}/{base}/{table}/{record}.",
    )
    airtable_requests_per_second: float = Field(default=5.0, gt=0)
    airtable_sample: bool = Field(
        default=True,
        description='Offer "Try with a sample base" (off: hidden).',
    )
    airtable_sample_dir: Path = Field(
        default=PROJECT_ROOT / ".run" / "sample",
        description="Where the users' sample bases are kept (and their server's address).",
    )
    schema_cache_seconds: int = Field(default=300, ge=0)
    aggregate_cache_seconds: int = Field(
        default=60,
        ge=0,
        description="How long an aggregate's result is reused (0: never); writes through "
        "the app forget it at once.",
    )

    llm_model: str = Field(default="openai/gpt-4o-mini")
    llm_api_base: str | None = None
    llm_api_key: SecretStr | None = None
    llm_allowed_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Models the picker offers; empty means just LLM_MODEL.",
    )
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_max_steps: int = Field(default=8, ge=1)

    confirm_threshold: int = Field(default=20, ge=1)
    preview_max_age_minutes: int = Field(
        default=15,
        ge=1,
        description="A preview older than this must be refreshed before it can be approved.",
    )
    action_heartbeat_seconds: int = Field(
        default=120,
        ge=1,
        description="A running action holds a lease this long (renewed every third of it "
        "while it runs); one whose last step is older than this and whose lease ran out is "
        "shown as interrupted (its process stopped), with resume and roll back offered.",
    )
    session_days: int = Field(default=14, ge=1)

    import_max_rows: int = Field(
        default=10_000, ge=1, description="The most rows one imported file may hold."
    )
    import_max_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1, description="The largest file /automations imports."
    )
    files_dir: Path = Field(
        default=PROJECT_ROOT / "data" / "files",
        description="Where uploaded imports and written exports wait (per user, short-lived).",
    )
    registration: Literal["first-then-invite", "open", "invite-only"] = Field(
        default="first-then-invite",
        description="Who may create an account until an admin chooses on /admin: the "
        "first account only, then by invitation (default); anyone; or invitation only.",
    )
    housekeeping_interval_seconds: float = Field(
        default=600,
        gt=0,
        description="How often ended sessions are purged and abandoned chat messages closed.",
    )
    schedule_poll_seconds: float = Field(
        default=5,
        gt=0,
        description="How soon a created, edited, paused or resumed schedule takes effect "
        "(the engine reads the schedules this often).",
    )
    schedule_seconds_allowed: bool = Field(
        default=False,
        description="Accept 6-field cron with seconds first (tests); people get minutes.",
    )

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "PyAirtable UI <no-reply@localhost>"
    smtp_starttls: bool = True

    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_name: str = "single sign-on"

    airtable_oauth_client_id: str | None = None
    airtable_oauth_client_secret: SecretStr | None = None
    airtable_oauth_url: str = "https://airtable.com"

    answer_image_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts whose images answers may show; other images show as links.",
    )

    log_level: str = "INFO"
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="An OpenTelemetry collector (OTLP/HTTP, e.g. http://collector:4318): "
        "when set, each chat turn's spans (model calls, tools, Airtable requests) go there.",
    )

    @field_validator("llm_allowed_models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        # A comma-separated env var reads more naturally than a JSON list.
        if isinstance(value, str) and not value.strip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("previous_secret_keys", mode="before")
    @classmethod
    def _split_previous_keys(cls, value: object) -> object:
        # Comma-separated like the other lists; generated keys (token_urlsafe) have no comma.
        if isinstance(value, str) and not value.strip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("answer_image_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        # Comma-separated, compared with the URL's host name (lower case, no port).
        if isinstance(value, str) and not value.strip().startswith("["):
            value = value.split(",")
        if isinstance(value, list):
            return [str(host).strip().lower() for host in value if str(host).strip()]
        return value

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.app_env == "production" and (not secret or secret == DEVELOPMENT_SECRET_KEY):
            raise SettingsError(
                "SECRET_KEY must be set to a long random value when APP_ENV=production "
                '(for example: python -c "import secrets; print(secrets.token_urlsafe(48))").'
            )
        if self.app_env == "production" and len(secret) < 32:
            raise SettingsError("SECRET_KEY must be at least 32 characters in production.")
        return self

    @property
    def is_production(self) -> bool:
        """Whether the instance runs for real users (secure cookies, strict secrets)."""
        return self.app_env == "production"

    @property
    def base_url(self) -> str:
        """Where users reach the app, for links in emails and OAuth redirects.

        Never taken from request headers, which a client could forge to point a
        password-reset link at another host.
        """
        return (self.public_url or f"http://localhost:{self.port}").rstrip("/")

    @property
    def allowed_models(self) -> list[str]:
        """The models users may pick from, the default model first."""
        models = [self.llm_model, *self.llm_allowed_models]
        return list(dict.fromkeys(models))

    @property
    def smtp_configured(self) -> bool:
        """Whether emails go out over SMTP (otherwise links are logged)."""
        return bool(self.smtp_host)

    @property
    def oidc_configured(self) -> bool:
        """Whether single sign-on is offered on the login page."""
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def airtable_oauth_configured(self) -> bool:
        """Whether "Connect with Airtable" (OAuth + PKCE) is offered."""
        return bool(self.airtable_oauth_client_id)


@functools.cache
def get_settings() -> Settings:
    """The settings of this process, read once.

    Returns:
        The validated settings.

    Raises:
        SettingsError: When the environment cannot run the app.
    """
    return Settings()
