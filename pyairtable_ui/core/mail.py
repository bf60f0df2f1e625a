"""Outgoing email: verification and reset links over SMTP.

Without SMTP_HOST nothing is sent and only who a message was for is logged, never
its text: a live link in a log is a way into an account. The links wait for an
admin on /admin instead (see `auth.notifications`).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import NamedTuple

from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 15
# Port 465 speaks TLS from the first byte ("SMTPS"); every other port starts in
# plain text and upgrades with STARTTLS when SMTP_STARTTLS is on.
IMPLICIT_TLS_PORT = 465


class EmailDeliveryError(UserFacingError):
    """The mail server refused or could not be reached; the log has the server's answer."""

    default_message = (
        "We could not send the email just now. Try again in a few minutes, "
        "or ask your admin to check the mail settings."
    )


class EmailText(NamedTuple):
    """A subject and a plain-text body."""

    subject: str
    text: str


def verification_email(link: str) -> EmailText:
    """The "confirm your email address" message.

    Args:
        link: The full verification URL.

    Returns:
        Subject and text.
    """
    return EmailText(
        subject="Confirm your email address for PyAirtable UI",
        text=(
            "Hello,\n\n"
            "Please confirm your email address by opening this link:\n\n"
            f"{link}\n\n"
            "The link works once and expires in 24 hours.\n"
            "If you did not create an account, you can ignore this email.\n"
        ),
    )


def reset_email(link: str) -> EmailText:
    """The "reset your password" message.

    Args:
        link: The full password reset URL.

    Returns:
        Subject and text.
    """
    return EmailText(
        subject="Reset your PyAirtable UI password",
        text=(
            "Hello,\n\n"
            "Someone (hopefully you) asked to reset the password of this account.\n"
            "To choose a new password, open this link:\n\n"
            f"{link}\n\n"
            "The link works once and expires in 1 hour. Resetting signs you out "
            "on every device.\n"
            "If you did not ask for this, ignore this email: your password stays as it is.\n"
        ),
    )


def invitation_email(link: str, *, role: str, days: int) -> EmailText:
    """The "you are invited" message an admin's invitation sends.

    Args:
        link: The full registration URL with the invitation's token.
        role: The role the account will have ("admin" or "member").
        days: How many days the link works.

    Returns:
        Subject and text.
    """
    return EmailText(
        subject="You are invited to PyAirtable UI",
        text=(
            "Hello,\n\n"
            f"An admin invited you to PyAirtable UI (as {role}). To create your account, "
            "open this link:\n\n"
            f"{link}\n\n"
            f"The link works once, for this address only, and expires in {days} days.\n"
            "If you did not expect this, you can ignore this email.\n"
        ),
    )


def budget_warning_email(*, used: int, budget: int, month: str, admin_link: str) -> EmailText:
    """The message admins get once a month when Airtable requests reach 80% of the budget.

    Args:
        used: Requests counted this month.
        budget: The monthly budget.
        month: "YYYY-MM".
        admin_link: The analytics page, where the budget is raised.

    Returns:
        Subject and text.
    """
    percent = round(100 * used / budget) if budget else 100
    return EmailText(
        subject=f"PyAirtable UI has used {percent}% of its Airtable requests for {month}",
        text=(
            "Hello,\n\n"
            f"This instance has sent {used:,} of its {budget:,} Airtable requests for {month}. "
            "At 100% new Airtable reads and writes are refused until the month turns "
            "or an admin raises the budget:\n\n"
            f"{admin_link}\n"
        ),
    )


def registration_attempt_email(sign_in_link: str, reset_link: str) -> EmailText:
    """The message to an account's owner when someone registers with their address again.

    Args:
        sign_in_link: The sign-in page.
        reset_link: The "forgot your password" page.

    Returns:
        Subject and text.
    """
    return EmailText(
        subject="Someone tried to register with your PyAirtable UI address",
        text=(
            "Hello,\n\n"
            "Someone (hopefully you) tried to create a PyAirtable UI account with this "
            "address, but you already have one.\n\n"
            f"To sign in: {sign_in_link}\n"
            f"Forgot your password? Reset it here: {reset_link}\n\n"
            "If it was not you, you can ignore this email: nothing changed on your account.\n"
        ),
    )


def send_email(*, to: str, subject: str, text: str, settings: Settings | None = None) -> None:
    """Send a plain-text email, or log who it was for when SMTP is not configured.

    Args:
        to: The recipient's address.
        subject: The subject line.
        text: The plain-text body.
        settings: Override the process settings (tests).

    Raises:
        EmailDeliveryError: SMTP is configured but the message could not be sent.
    """
    settings = settings or get_settings()
    if not settings.smtp_configured:
        logger.warning(
            "EMAIL not sent (SMTP not configured) to=%s subject=%s; "
            "a link in it waits for an admin on /admin",
            to,
            subject,
        )
        return

    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=_domain_of(settings.smtp_from))
    message.set_content(text)

    host = settings.smtp_host or ""
    port = settings.smtp_port
    try:
        if port == IMPLICIT_TLS_PORT:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=SMTP_TIMEOUT_SECONDS, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS)
        with client:
            if port != IMPLICIT_TLS_PORT and settings.smtp_starttls:
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                client.login(settings.smtp_username, password)
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        # The server's reply helps the admin; it never contains our password.
        logger.error(
            "email not sent to=%s subject=%s smtp=%s:%s error=%s: %s",
            to,
            subject,
            host,
            port,
            type(exc).__name__,
            exc,
        )
        raise EmailDeliveryError() from exc
    logger.info("email sent to=%s subject=%s smtp=%s:%s", to, subject, host, port)


def _domain_of(address: str) -> str:
    # "Name <user@host>" -> "host"; make_msgid falls back to the local hostname otherwise.
    domain = address.rpartition("@")[2].strip(" >")
    return domain or "localhost"
