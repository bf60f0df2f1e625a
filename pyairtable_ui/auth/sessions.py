"""Browser sessions and one-time tokens (email verification, password reset, login ticket).

Raw tokens are random 256-bit strings handed out once; the database keeps only
their SHA-256 hex, so a leaked database or backup cannot be replayed as cookies
or links. Functions flush but do not commit: the caller's `session_scope()`
commits, so a token and the email that carries it succeed or fail together.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pyairtable_ui.auth.errors import (
    TokenExpiredError,
    TokenInvalidError,
    TokenUsedError,
)
from pyairtable_ui.auth.models import AuthToken, TokenPurpose, User, UserSession
from pyairtable_ui.core.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32  # 256 bits of randomness; token_urlsafe makes 43 characters of it

# How long each kind of one-time token stays usable.
TOKEN_LIFETIMES: dict[TokenPurpose, timedelta] = {
    TokenPurpose.VERIFY_EMAIL: timedelta(hours=24),
    TokenPurpose.RESET_PASSWORD: timedelta(hours=1),
    # The login handler issues it and the browser exchanges it at once for the cookie.
    TokenPurpose.LOGIN_TICKET: timedelta(seconds=60),
    TokenPurpose.INVITE: timedelta(days=7),
}

# Recording every event's time would write to the database on every click; a
# minute's precision is plenty for "last active" on the sessions page.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# What each kind of link says when it is expired or already used.
_EXPIRED_MESSAGES: dict[TokenPurpose, str] = {
    TokenPurpose.VERIFY_EMAIL: (
        "This verification link has expired. Sign in and ask for a new verification email."
    ),
    TokenPurpose.RESET_PASSWORD: (
        "This password reset link has expired (links last one hour). "
        "Ask for a new one on the sign-in page."
    ),
    TokenPurpose.LOGIN_TICKET: "Signing in took too long. Sign in again.",
    TokenPurpose.INVITE: "This invitation has expired. Ask your admin for a new one.",
}
_USED_MESSAGES: dict[TokenPurpose, str] = {
    TokenPurpose.VERIFY_EMAIL: "This verification link was already used. You can sign in.",
    TokenPurpose.RESET_PASSWORD: (
        "This password reset link was already used. "
        "Ask for a new one on the sign-in page if you still need it."
    ),
    TokenPurpose.LOGIN_TICKET: "This sign-in was already completed. Sign in again.",
    TokenPurpose.INVITE: "This invitation was already used. Sign in instead.",
}


def hash_token(raw: str) -> str:
    """The SHA-256 hex digest under which a raw token is stored and looked up.

    A fast hash is right here (unlike passwords): the input is 256 random bits,
    so there is nothing to brute-force.

    Args:
        raw: The token as given to the browser or put in a link.

    Returns:
        64 lowercase hex characters.
    """
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token with 256 bits of entropy, URL- and cookie-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


# --- browser sessions -------------------------------------------------------------


def create_session(
    *,
    session: Session,
    user: User,
    user_agent: str = "",
    ip_address: str = "",
    lifetime: timedelta | None = None,
    now: datetime | None = None,
) -> tuple[str, UserSession]:
    """Sign a browser in: store a new session and return its raw token once.

    Args:
        session: The database session.
        user: The account signing in.
        user_agent: The browser's User-Agent, shown on the sessions page.
        ip_address: The client address, shown on the sessions page.
        lifetime: How long the session lasts; SESSION_DAYS by default.
        now: The current time (tests pass a fixed one).

    Returns:
        The raw token for the HttpOnly cookie (never stored), and the session row.
    """
    assert user.id is not None, "the user must be saved before signing in"
    now = now or utcnow()
    lifetime = lifetime or timedelta(days=get_settings().session_days)
    raw = new_token()
    row = UserSession(
        user_id=user.id,
        token_hash=hash_token(raw),
        created_at=now,
        last_used_at=now,
        expires_at=now + lifetime,
        user_agent=user_agent[:400],
        ip_address=ip_address[:64],
    )
    session.add(row)
    user.last_login_at = now
    session.add(user)
    session.flush()
    logger.info("session created user_id=%s session_id=%s ip=%s", user.id, row.id, ip_address)
    return raw, row


def get_session_by_token(
    *, session: Session, token: str | None, now: datetime | None = None
) -> UserSession | None:
    """The live session a cookie token belongs to.

    Live means: known, not revoked, not expired, and its account still active.
    Touches `last_used_at` at most once a minute.

    Args:
        session: The database session.
        token: The raw token from the cookie (None or empty when there is none).
        now: The current time (tests pass a fixed one).

    Returns:
        The session row, or None when the browser must sign in again.
    """
    if not token:
        return None
    now = now or utcnow()
    row = session.exec(
        select(UserSession).where(UserSession.token_hash == hash_token(token))
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.add(row)
        session.flush()
    return row


def revoke_session_token(
    *, session: Session, token: str | None, now: datetime | None = None
) -> bool:
    """Sign out the browser holding `token` (logout).

    Args:
        session: The database session.
        token: The raw token from the cookie.
        now: The current time (tests pass a fixed one).

    Returns:
        True when a live session was revoked.
    """
    if not token:
        return False
    result = session.exec(
        sa.update(UserSession)
        .where(
            col(UserSession.token_hash) == hash_token(token),
            col(UserSession.revoked_at).is_(None),
        )
        .values(revoked_at=now or utcnow())
    )
    session.flush()
    return bool(result.rowcount)


def revoke_all_sessions(
    *,
    session: Session,
    user: User,
    except_session_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Sign the user out everywhere, optionally keeping the current browser.

    Args:
        session: The database session.
        user: The account.
        except_session_id: The session to keep (the one making the request).
        now: The current time (tests pass a fixed one).

    Returns:
        How many sessions were revoked.
    """
    statement = sa.update(UserSession).where(
        col(UserSession.user_id) == user.id,
        col(UserSession.revoked_at).is_(None),
    )
    if except_session_id is not None:
        statement = statement.where(col(UserSession.id) != except_session_id)
    result = session.exec(statement.values(revoked_at=now or utcnow()))
    session.flush()
    count = result.rowcount
    logger.info(
        "sessions revoked user_id=%s count=%s kept_session_id=%s",
        user.id,
        count,
        except_session_id,
    )
    return count


def list_sessions(
    *, session: Session, user: User, now: datetime | None = None
) -> list[UserSession]:
    """The user's live sessions, most recently used first.

    Args:
        session: The database session.
        user: The account.
        now: The current time (tests pass a fixed one).

    Returns:
        Sessions neither revoked nor expired.
    """
    now = now or utcnow()
    return list(
        session.exec(
            select(UserSession)
            .where(
                UserSession.user_id == user.id,
                col(UserSession.revoked_at).is_(None),
                UserSession.expires_at > now,
            )
            .order_by(col(UserSession.last_used_at).desc(), col(UserSession.id).desc())
        ).all()
    )


# --- one-time tokens ----------------------------------------------------------------


def issue_token(
    *,
    session: Session,
    user: User,
    purpose: TokenPurpose,
    ttl: timedelta | None = None,
    now: datetime | None = None,
) -> str:
    """Create a single-use token for an emailed link or the login ticket.

    Args:
        session: The database session.
        user: The account the token acts for.
        purpose: What the token proves; it is only accepted for that purpose.
        ttl: How long it stays valid; the purpose's default (TOKEN_LIFETIMES) if None.
        now: The current time (tests pass a fixed one).

    Returns:
        The raw token, to put in a link or hand to the browser. It is not stored.
    """
    assert user.id is not None, "the user must be saved before issuing a token"
    now = now or utcnow()
    raw = new_token()
    row = AuthToken(
        user_id=user.id,
        purpose=purpose.value,
        token_hash=hash_token(raw),
        created_at=now,
        expires_at=now + (ttl or TOKEN_LIFETIMES[purpose]),
    )
    session.add(row)
    session.flush()
    logger.info("token issued user_id=%s purpose=%s token_id=%s", user.id, purpose, row.id)
    return raw


@dataclass(frozen=True)
class PendingLink:
    """A verification or reset link nobody could email, waiting for an admin to pass on.

    Attributes:
        email: The account's address.
        purpose: `verify_email` or `reset_password`.
        link: The full link (a live secret: shown to admins only).
        expires_at: When the link stops working.
    """

    email: str
    purpose: str
    link: str
    expires_at: datetime


def hold_link_for_admin(*, session: Session, raw: str, link: str) -> None:
    """Keep an emailed link, encrypted, beside its token until it is used or expires.

    Args:
        session: The database session.
        raw: The raw token inside the link.
        link: The whole link.
    """
    row = session.exec(select(AuthToken).where(AuthToken.token_hash == hash_token(raw))).one()
    row.encrypted_link = encrypt_secret(link)
    session.add(row)
    session.flush()
    logger.info("link held for an admin user_id=%s purpose=%s", row.user_id, row.purpose)


def list_pending_links(*, session: Session, now: datetime | None = None) -> list[PendingLink]:
    """The held links still usable (unused, unexpired), newest first.

    The caller checks that an admin is asking (`service.list_pending_links`).

    Args:
        session: The database session.
        now: The current time (tests pass a fixed one).

    Returns:
        The links with their accounts.
    """
    now = now or utcnow()
    rows = session.exec(
        select(AuthToken, User)
        .join(User, col(User.id) == AuthToken.user_id)
        .where(
            col(AuthToken.encrypted_link).is_not(None),
            col(AuthToken.used_at).is_(None),
            AuthToken.expires_at > now,
        )
        .order_by(col(AuthToken.created_at).desc(), col(AuthToken.id).desc())
    ).all()
    pending = []
    for token, user in rows:
        try:
            link = decrypt_secret(token.encrypted_link or "")
        except SecretDecryptionError:
            continue  # SECRET_KEY changed: the link cannot be shown; a new one can be asked for
        pending.append(
            PendingLink(
                email=user.email, purpose=token.purpose, link=link, expires_at=token.expires_at
            )
        )
    return pending


def consume_token(
    *, session: Session, raw: str | None, purpose: TokenPurpose, now: datetime | None = None
) -> User:
    """Use a one-time token: check it and mark it used, exactly once.

    The "mark used" is a conditional UPDATE (`WHERE used_at IS NULL`) whose row
    count decides, so two requests racing with the same token cannot both win.

    Args:
        session: The database session.
        raw: The token from the link or the browser.
        purpose: The purpose the caller accepts; a token for another purpose is invalid.
        now: The current time (tests pass a fixed one).

    Returns:
        The active account the token belongs to.

    Raises:
        TokenInvalidError: Unknown token, other purpose, or the account is disabled.
        TokenExpiredError: The token is past its lifetime.
        TokenUsedError: The token was used before (including by a concurrent request).
    """
    if not raw:
        raise TokenInvalidError()
    now = now or utcnow()
    row = session.exec(select(AuthToken).where(AuthToken.token_hash == hash_token(raw))).first()
    if row is None or row.purpose != purpose.value:
        logger.info("token rejected: unknown or other purpose, wanted=%s", purpose)
        raise TokenInvalidError()
    if row.used_at is not None:
        logger.info("token rejected: already used token_id=%s", row.id)
        raise TokenUsedError(_USED_MESSAGES[purpose])
    if row.expires_at <= now:
        logger.info("token rejected: expired token_id=%s", row.id)
        raise TokenExpiredError(_EXPIRED_MESSAGES[purpose])
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        logger.info("token rejected: account disabled token_id=%s", row.id)
        raise TokenInvalidError()
    result = session.exec(
        sa.update(AuthToken)
        .where(col(AuthToken.id) == row.id, col(AuthToken.used_at).is_(None))
        # A used link is of no more use to anyone: its copy for the admin goes too.
        .values(used_at=now, encrypted_link=None)
    )
    if result.rowcount != 1:
        logger.info("token rejected: used concurrently token_id=%s", row.id)
        raise TokenUsedError(_USED_MESSAGES[purpose])
    session.flush()
    logger.info("token used user_id=%s purpose=%s token_id=%s", user.id, purpose, row.id)
    return user


def expire_unused_tokens(
    *, session: Session, user: User, purpose: TokenPurpose, now: datetime | None = None
) -> int:
    """Mark every still-unused token of one purpose as used (e.g. after a reset).

    Args:
        session: The database session.
        user: The account.
        purpose: Which tokens to retire.
        now: The current time (tests pass a fixed one).

    Returns:
        How many tokens were retired.
    """
    result = session.exec(
        sa.update(AuthToken)
        .where(
            col(AuthToken.user_id) == user.id,
            col(AuthToken.purpose) == purpose.value,
            col(AuthToken.used_at).is_(None),
        )
        .values(used_at=now or utcnow(), encrypted_link=None)
    )
    session.flush()
    return result.rowcount


def issue_login_ticket(*, session: Session, user: User) -> str:
    """A 60-second single-use ticket the browser exchanges for the session cookie.

    The login handler runs over the websocket and cannot set an HttpOnly cookie;
    it hands this ticket to the page, which calls the HTTP route that does.

    Args:
        session: The database session.
        user: The account that just authenticated.

    Returns:
        The raw ticket.
    """
    return issue_token(session=session, user=user, purpose=TokenPurpose.LOGIN_TICKET)


def exchange_login_ticket(
    *,
    session: Session,
    ticket: str | None,
    user_agent: str = "",
    ip_address: str = "",
) -> tuple[str, UserSession]:
    """Trade a login ticket for a new browser session (used by the cookie route).

    Args:
        session: The database session.
        ticket: The raw ticket from the page.
        user_agent: The browser's User-Agent.
        ip_address: The client address.

    Returns:
        The raw session token for the HttpOnly cookie, and the session row.

    Raises:
        TokenInvalidError, TokenExpiredError, TokenUsedError: The ticket cannot be used.
    """
    user = consume_token(session=session, raw=ticket, purpose=TokenPurpose.LOGIN_TICKET)
    return create_session(session=session, user=user, user_agent=user_agent, ip_address=ip_address)


def purge_expired(
    *, session: Session, now: datetime | None = None, keep: timedelta | None = None
) -> int:
    """Delete sessions and one-time tokens that ended long ago (housekeeping).

    Args:
        session: The database session.
        now: The current time (tests pass a fixed one).
        keep: How long ended rows stay for the record; 30 days by default.

    Returns:
        How many rows were deleted.
    """
    cutoff = (now or utcnow()) - (keep if keep is not None else timedelta(days=30))
    sessions_deleted = session.exec(
        sa.delete(UserSession).where(
            sa.or_(
                col(UserSession.expires_at) < cutoff,
                col(UserSession.revoked_at) < cutoff,
            )
        )
    ).rowcount
    tokens_deleted = session.exec(
        sa.delete(AuthToken).where(col(AuthToken.expires_at) < cutoff)
    ).rowcount
    session.flush()
    logger.info("purged sessions=%s tokens=%s", sessions_deleted, tokens_deleted)
    return sessions_deleted + tokens_deleted
