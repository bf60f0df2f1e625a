"""Invitations and who may register: the instance's "registration" rule.

An invitation is a single-use link for one address with a preset role, hashed like the
other one-time tokens (`auth.sessions.hash_token`). The rule is "open" (anyone may
register) or "invite-only"; until an admin chooses on /admin, REGISTRATION decides, by
default open for the instance's first account and invitation-only after it.

These functions do not check who is asking: the admin-only ones are reached through
`auth.service` (`create_invite`, `revoke_invite`...), which checks `require_admin` first.
They flush but do not commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from pyairtable_ui.auth.errors import (
    InvalidInviteError,
    InviteForAnotherEmailError,
    InviteUnusableError,
)
from pyairtable_ui.auth.models import Invite, Role, TokenPurpose, User
from pyairtable_ui.auth.sessions import TOKEN_LIFETIMES, hash_token, new_token
from pyairtable_ui.core.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.instance_settings import REGISTRATION_KEY, read_setting, write_setting
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

RegistrationMode = Literal["open", "invite-only"]
REGISTRATION_MODES: tuple[RegistrationMode, ...] = ("open", "invite-only")
INVITE_LIFETIME: timedelta = TOKEN_LIFETIMES[TokenPurpose.INVITE]


def chosen_registration_mode(session: Session) -> RegistrationMode | None:
    """The rule an admin chose on /admin, or None when none has been chosen yet."""
    value = read_setting(session, REGISTRATION_KEY)
    return value if value in REGISTRATION_MODES else None


def registration_mode(session: Session) -> RegistrationMode:
    """Whether anyone may register now, or only people holding an invitation.

    Args:
        session: The database session.

    Returns:
        The admin's choice; else REGISTRATION ("first-then-invite": open while the
        instance has no account, so its operator can create the first, the admin).
    """
    chosen = chosen_registration_mode(session)
    if chosen is not None:
        return chosen
    default = get_settings().registration
    if default == "first-then-invite":
        accounts = session.exec(select(func.count()).select_from(User)).one()
        return "open" if accounts == 0 else "invite-only"
    return default


def set_registration_mode(session: Session, mode: str, *, by: int | None) -> RegistrationMode:
    """Store the registration rule (the caller checked that an admin asks).

    Raises:
        InvalidInviteError: Not one of `REGISTRATION_MODES`.
    """
    if mode not in REGISTRATION_MODES:
        raise InvalidInviteError("Choose open or invite-only.")
    write_setting(session, REGISTRATION_KEY, mode, by=by)
    logger.info("registration set to %s by user_id=%s", mode, by)
    return mode  # type: ignore[return-value]


# --- invitations ----------------------------------------------------------------------


@dataclass(frozen=True)
class PendingInvite:
    """An invitation not yet used, revoked or expired, as /admin lists it.

    Attributes:
        id: The invitation's id (to revoke it).
        email: Who it is for.
        role: The role the account will have.
        expires_at: When the link stops working.
        link: The whole link when no email could carry it (a live secret), else "".
    """

    id: int
    email: str
    role: str
    expires_at: datetime
    link: str


def issue_invite(
    session: Session, *, email: str, role: Role, by: int | None, now: datetime | None = None
) -> tuple[Invite, str]:
    """Create an invitation for a normalised address; earlier pending ones for it end.

    Args:
        session: The database session.
        email: The normalised address.
        role: The role the new account gets.
        by: The inviting admin.
        now: The current time (tests pass a fixed one).

    Returns:
        The invitation row and its raw token (for the link; never stored).

    Raises:
        InvalidInviteError: The address already has an account.
    """
    now = now or utcnow()
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise InvalidInviteError(f"{email} already has an account.")
    # One live invitation per address: a new one replaces the old link.
    session.exec(
        sa.update(Invite)
        .where(
            col(Invite.email) == email,
            col(Invite.used_at).is_(None),
            col(Invite.revoked_at).is_(None),
        )
        .values(revoked_at=now, encrypted_link=None)
    )
    raw = new_token()
    invite = Invite(
        email=email,
        role=Role(role).value,
        token_hash=hash_token(raw),
        invited_by=by,
        created_at=now,
        expires_at=now + INVITE_LIFETIME,
    )
    session.add(invite)
    session.flush()
    logger.info("invite issued invite_id=%s role=%s by_user_id=%s", invite.id, invite.role, by)
    return invite, raw


def hold_invite_link(session: Session, invite: Invite, link: str) -> None:
    """Keep the link (encrypted) for the admin to pass on: no email could carry it."""
    invite.encrypted_link = encrypt_secret(link)
    session.add(invite)
    session.flush()


def pending_invites(session: Session, *, now: datetime | None = None) -> list[PendingInvite]:
    """The invitations still usable, newest first (the caller checked the admin)."""
    now = now or utcnow()
    rows = session.exec(
        select(Invite)
        .where(
            col(Invite.used_at).is_(None),
            col(Invite.revoked_at).is_(None),
            Invite.expires_at > now,
        )
        .order_by(col(Invite.created_at).desc(), col(Invite.id).desc())
    ).all()
    pending = []
    for invite in rows:
        link = ""
        if invite.encrypted_link:
            try:
                link = decrypt_secret(invite.encrypted_link)
            except SecretDecryptionError:
                link = ""  # SECRET_KEY changed: revoke it and invite again
        pending.append(
            PendingInvite(
                id=invite.id or 0,
                email=invite.email,
                role=invite.role,
                expires_at=invite.expires_at,
                link=link,
            )
        )
    return pending


def revoke(session: Session, invite_id: int, *, now: datetime | None = None) -> bool:
    """End a pending invitation at once; returns whether one was pending."""
    result = session.exec(
        sa.update(Invite)
        .where(
            col(Invite.id) == invite_id,
            col(Invite.used_at).is_(None),
            col(Invite.revoked_at).is_(None),
        )
        .values(revoked_at=now or utcnow(), encrypted_link=None)
    )
    session.flush()
    return bool(result.rowcount)


def _usable(session: Session, raw: str | None, now: datetime) -> Invite:
    invite = (
        session.exec(select(Invite).where(Invite.token_hash == hash_token(raw))).first()
        if raw
        else None
    )
    if (
        invite is None
        or invite.used_at is not None
        or invite.revoked_at is not None
        or invite.expires_at <= now
    ):
        logger.info("invite refused: unknown, used, revoked or expired")
        raise InviteUnusableError()
    return invite


def invited_email(session: Session, raw: str | None) -> str | None:
    """The address a usable invitation is for (the register page fills it in), else None."""
    try:
        return _usable(session, raw, utcnow()).email
    except InviteUnusableError:
        return None


def claim_invite(
    session: Session, *, raw: str | None, email: str, now: datetime | None = None
) -> Invite:
    """Use an invitation for the address being registered, exactly once.

    Like `sessions.consume_token`, the "used" mark is a conditional UPDATE whose row
    count decides, so two registrations racing with one link cannot both win.

    Args:
        session: The database session.
        raw: The token from the link.
        email: The normalised address typed on the form.
        now: The current time (tests pass a fixed one).

    Returns:
        The invitation (its `role` is the new account's).

    Raises:
        InviteUnusableError: Unknown, revoked, expired or used (one message for all).
        InviteForAnotherEmailError: The link was made out to another address.
    """
    now = now or utcnow()
    invite = _usable(session, raw, now)
    if invite.email != email:
        logger.info("invite refused: another address invite_id=%s", invite.id)
        raise InviteForAnotherEmailError()
    result = session.exec(
        sa.update(Invite)
        .where(
            col(Invite.id) == invite.id,
            col(Invite.used_at).is_(None),
            col(Invite.revoked_at).is_(None),
        )
        .values(used_at=now, encrypted_link=None)
    )
    if result.rowcount != 1:
        raise InviteUnusableError()
    session.flush()
    logger.info("invite used invite_id=%s", invite.id)
    return invite
