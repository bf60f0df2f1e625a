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
