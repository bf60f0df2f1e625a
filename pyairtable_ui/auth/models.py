"""Users, their sessions and their one-time tokens (verification, reset, login)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from pyairtable_ui.core.db import UTCDateTime, utcnow


class Role(enum.StrEnum):
    """What a user may do on the instance."""

    ADMIN = "admin"
    MEMBER = "member"


class OnboardingStep(enum.StrEnum):
    """Where a new user stands; onboarding resumes here."""

    CONNECT = "connect"
    CHOOSE_BASE = "choose_base"
    TOUR = "tour"
    DONE = "done"


class TokenPurpose(enum.StrEnum):
    """What a one-time token proves."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose, not a secret)
    LOGIN_TICKET = "login_ticket"  # exchanged once for the HttpOnly session cookie
    INVITE = "invite"


class User(SQLModel, table=True):
    """A person with an account on this instance."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    display_name: str = Field(default="", max_length=120)
    password_hash: str | None = Field(default=None, max_length=255)
    role: str = Field(default=Role.MEMBER.value, max_length=16)
    is_active: bool = Field(default=True)
    email_verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    oidc_subject: str | None = Field(default=None, max_length=255, unique=True)
    onboarding_step: str = Field(default=OnboardingStep.CONNECT.value, max_length=16)
    default_base_id: str | None = Field(default=None, max_length=32)
    default_model: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def is_admin(self) -> bool:
        """Whether this user administers the instance."""
        return self.role == Role.ADMIN


class UserSession(SQLModel, table=True):
    """A signed-in browser. Only the hash of its cookie token is stored."""

    __tablename__ = "user_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    user_agent: str = Field(default="", max_length=400)
    ip_address: str = Field(default="", max_length=64)


class AuthToken(SQLModel, table=True):
    """A single-use, expiring token sent by email or exchanged for a cookie."""

    __tablename__ = "auth_tokens"
    __table_args__ = (sa.Index("ix_auth_tokens_user_purpose", "user_id", "purpose"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    purpose: str = Field(max_length=32)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Without SMTP the link waits here (encrypted) for an admin to pass on; see /admin.
    encrypted_link: str | None = Field(default=None, sa_type=sa.Text)


class Invite(SQLModel, table=True):
    """An admin's invitation: a single-use, expiring link for one address and a role.

    Only the SHA-256 of the link's token is kept, like the other one-time tokens
    (`auth.sessions`); without SMTP the whole link waits here, encrypted, for the admin.
    """

    __tablename__ = "invites"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, index=True)
    role: str = Field(default=Role.MEMBER.value, max_length=16)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    invited_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    encrypted_link: str | None = Field(default=None, sa_type=sa.Text)
