"""A user's connection to Airtable. The token is stored encrypted, never in plain text."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlmodel import Field, SQLModel

from pyairtable_ui.core.db import UTCDateTime, json_column, utcnow


class ConnectionKind(enum.StrEnum):
    """How the user gave us access."""

    PERSONAL_ACCESS_TOKEN = "pat"  # noqa: S105 (a kind, not a secret)
    OAUTH = "oauth"
    # A private copy of the demo bases on the app's own sample server (pyairtable_ui.sample).
    SAMPLE = "sample"


class AirtableConnection(SQLModel, table=True):
    """The Airtable account a user connected, with its encrypted credentials."""

    __tablename__ = "airtable_connections"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, unique=True, ondelete="CASCADE")
    kind: str = Field(default=ConnectionKind.PERSONAL_ACCESS_TOKEN.value, max_length=16)
    encrypted_token: str
    encrypted_refresh_token: str | None = None
    token_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Last characters only, so the settings page can say which token is connected.
    token_hint: str = Field(default="", max_length=16)
    airtable_user_id: str = Field(default="", max_length=32)
    airtable_email: str = Field(default="", max_length=320)
    scopes: list[str] = Field(default_factory=list, sa_column=json_column(nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    checked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AirtableUsage(SQLModel, table=True):
    """Airtable requests one user's clients sent to one base on one UTC day.

    Counted in memory by `airtable.usage` and added here in batches (never a write per
    request); the analytics page reads it. `base_id` is "meta" for account-wide calls.
    """

    __tablename__ = "airtable_usage"

    # The key starts with the day: the analytics page reads a range of days.
    day: str = Field(primary_key=True, max_length=10)  # "YYYY-MM-DD"
    user_id: int = Field(primary_key=True, foreign_key="users.id", ondelete="CASCADE")
    base_id: str = Field(primary_key=True, max_length=32)
    requests: int = 0
    rate_limited: int = 0  # answered 429
