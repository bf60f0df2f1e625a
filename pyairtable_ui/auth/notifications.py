"""Emails the app sends: verification and reset links, built on the configured public URL.

Without SMTP a link cannot be emailed: it is kept (encrypted) for admins, who see it
on /admin, and the log line says so without the link (PRODUCT.md §3.8).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from pyairtable_ui import routes
from pyairtable_ui.auth import invites, service, sessions
from pyairtable_ui.auth.errors import AuthError
from pyairtable_ui.auth.models import Role, User
from pyairtable_ui.auth.passwords import normalize_email
from pyairtable_ui.core import mail
from pyairtable_ui.core.db import session_scope
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)


def link_to(path: str, **query: str) -> str:
    """An absolute link to a page of this instance (PUBLIC_URL, never a request header)."""
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{get_settings().base_url}{path}{suffix}"


def _send_link(*, to: str, token: str, link: str, text: mail.EmailText) -> None:
    if not get_settings().smtp_configured:
        with session_scope() as db:
            sessions.hold_link_for_admin(session=db, raw=token, link=link)
    mail.send_email(to=to, subject=text.subject, text=text.text)


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
    link = link_to(routes.VERIFY, token=token)
    _send_link(to=email, token=token, link=link, text=mail.verification_email(link))


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
    link = link_to(routes.RESET, token=token)
    _send_link(to=normalize_email(email), token=token, link=link, text=mail.reset_email(link))


def send_registration_attempt(email: str) -> None:
    """Tell an account's owner that someone tried to register with their address.

    Args:
        email: The (normalised) address of the existing account.
    """
    text = mail.registration_attempt_email(link_to(routes.LOGIN), link_to(routes.RESET))
    mail.send_email(to=email, subject=text.subject, text=text.text)


def send_invite(*, admin_id: int, email: str, role: Role) -> bool:
    """Invite an address: email the link, or keep it for the admin when no SMTP is set.

    The invitation and its email succeed or fail together: if the mail server refuses,
    the transaction is rolled back and no link exists that nobody received.

    Args:
        admin_id: The inviting admin (checked by `service.create_invite`).
        email: The address as typed.
        role: The role the account will have.

    Returns:
        True when the link was emailed, False when it waits on /admin.

    Raises:
        AuthError: Not an admin, not an address, or it already has an account.
        EmailDeliveryError: SMTP is set but refused the message.
    """
    with session_scope() as db:
        invite, token = service.create_invite(
            session=db, actor=service.require_admin(db.get(User, admin_id)), email=email, role=role
        )
        link = link_to(routes.REGISTER, invite=token)
        if not get_settings().smtp_configured:
            invites.hold_invite_link(db, invite, link)
            logger.info("invite link held for an admin (no SMTP_HOST) invite_id=%s", invite.id)
            return False
        days = invites.INVITE_LIFETIME.days
        text = mail.invitation_email(link, role=invite.role, days=days)
        mail.send_email(to=invite.email, subject=text.subject, text=text.text)
        return True
