"""Emails the app sends: verification and reset links, built on the configured public URL."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from pyairtable_ui import mail, routes
from pyairtable_ui.auth import service
from pyairtable_ui.auth.errors import AuthError
from pyairtable_ui.auth.models import User
from pyairtable_ui.auth.passwords import normalize_email
from pyairtable_ui.db import session_scope
from pyairtable_ui.settings import get_settings

logger = logging.getLogger(__name__)


def link_to(path: str, **query: str) -> str:
    """An absolute link to a page of this instance (PUBLIC_URL, never a request header)."""
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{get_settings().base_url}{path}{suffix}"


def send_verification(*, user_id: int) -> None:
    """Email a fresh verification link to a user whose address is not verified yet.

    Args:
        user_id: The account to verify.
    """
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None or user.email_verified_at is not None:
            return
        token = service.start_email_verification(session=db, user=user)
        email = user.email
    text = mail.verification_email(link_to(routes.VERIFY, token=token))
    mail.send_email(to=email, subject=text.subject, text=text.text)


def send_verification_to_email(email: str) -> None:
    """Resend the verification link for an address, silently doing nothing if unknown."""
    try:
        normalized = normalize_email(email)
    except AuthError:
        return
    with session_scope() as db:
        user = service.get_user_by_email(session=db, email=normalized)
        user_id = user.id if user is not None and user.email_verified_at is None else None
    if user_id is not None:
        send_verification(user_id=user_id)


def send_password_reset(email: str) -> None:
    """Email a reset link if the address has an account; the caller's reply never says."""
    with session_scope() as db:
        token = service.request_password_reset(session=db, email=email)
    if token is None:
        return
    text = mail.reset_email(link_to(routes.RESET, token=token))
    mail.send_email(to=normalize_email(email), subject=text.subject, text=text.text)
