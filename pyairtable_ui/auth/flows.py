"""Account flows the pages await: sign in, register, ask for emails, change the password.

Each flow combines the rate limits (`pyairtable_ui.limits`), the account service and
the emails, so handlers stay thin and the rules are tested without a browser. No Reflex.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pyairtable_ui import routes
from pyairtable_ui.auth import service, sessions
from pyairtable_ui.auth.errors import (
    AuthError,
    EmailTakenError,
    InvalidEmailError,
    InvalidProfileError,
    WeakPasswordError,
    WrongPasswordError,
)
from pyairtable_ui.auth.models import OnboardingStep, User
from pyairtable_ui.auth.passwords import normalize_email
from pyairtable_ui.db import session_scope
from pyairtable_ui.limits import (
    AttemptLimiter,
    LoginLimiter,
    MailLimiter,
    format_wait,
    get_login_limiter,
    get_mail_limiter,
    get_password_change_limiter,
)
from pyairtable_ui.mail import EmailDeliveryError
from pyairtable_ui.notifications import (
    send_password_reset,
    send_registration_attempt,
    send_verification,
    send_verification_to_email,
)
from pyairtable_ui.observability import LOGINS

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

UNVERIFIED_MESSAGE = (
    "Please verify your email first: open the link we sent you. "
    "No email? Use “Send the link again” below."
)


def registered_message(email: str) -> str:
    """What registration answers, whether or not the address already had an account."""
    return (
        f"Check your email: we sent a message to {email}. "
        "Open the link in it to finish, then sign in."
    )


# --- sign in -------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInResult:
    """The outcome of a sign-in attempt.

    Attributes:
        ticket: The one-time login ticket to trade for the cookie (None: refused).
        next_path: Where to go once signed in.
        error: What to show when refused.
        unverified: The password was right but the email is not verified yet.
    """

    ticket: str | None = None
    next_path: str = ""
    error: str = ""
    unverified: bool = False


def _check_credentials(email: str, password: str) -> SignInResult:
    with session_scope() as db:
        try:
            user = service.authenticate(session=db, email=email, password=password)
        except AuthError as exc:
            return SignInResult(error=exc.message)
        if user.email_verified_at is None:
            return SignInResult(error=UNVERIFIED_MESSAGE, unverified=True)
        ticket = sessions.issue_login_ticket(session=db, user=user)
        next_path = (
            routes.CHAT if user.onboarding_step == OnboardingStep.DONE else routes.ONBOARDING
        )
        return SignInResult(ticket=ticket, next_path=next_path)


def _account_key(email: str) -> str:
    try:
        return normalize_email(email)
    except AuthError:
        return email.strip().lower()


async def sign_in(
    *,
    email: str,
    password: str,
    address: str,
    limiter: LoginLimiter | None = None,
    sleep: Sleep = asyncio.sleep,
) -> SignInResult:
    """Check an email and password under the account lock and the address slow-down.

    A locked account is refused before its password is checked. A wrong password
    counts against the account and the address, and its answer is held back by
    the address's delay; a right password is answered at once, so guesses from a
    shared address never keep other people out.

    Args:
        email: The email as typed.
        password: The password as typed.
        address: The client's address (after TRUSTED_PROXY_HOPS).
        limiter: Override the process's login limiter (tests).
        sleep: Override `asyncio.sleep` (tests).

    Returns:
        A ticket and where to go, or the message to show.
    """
    limiter = limiter or get_login_limiter()
    account = _account_key(email)
    wait = await asyncio.to_thread(limiter.check, email=account)
    if wait is not None:
        LOGINS.labels("limited").inc()
        return SignInResult(error=wait.message)

    result = await asyncio.to_thread(_check_credentials, email, password)
    if result.unverified:
        LOGINS.labels("unverified").inc()
        return result
    if result.ticket is None:
        LOGINS.labels("failed").inc()
        failed = await asyncio.to_thread(limiter.record_failure, email=account, address=address)
        if failed.delay:
            await sleep(failed.delay)
        return SignInResult(error=failed.lock.message if failed.lock else result.error)

    LOGINS.labels("ok").inc()
    await asyncio.to_thread(limiter.record_success, email=account, address=address)
    return result


# --- registration and emailed links ------------------------------------------------


@dataclass(frozen=True)
class RegisterResult:
    """The outcome of the registration form, one message per field.

    Attributes:
        done_message: The "check your email" answer (empty: not done).
        email_error: Under the email field.
        password_error: Under the password field.
        name_error: Under the name field.
        error: Under the form.
    """

    done_message: str = ""
    email_error: str = ""
    password_error: str = ""
    name_error: str = ""
    error: str = ""


def _register(email: str, password: str, name: str) -> int:
    with session_scope() as db:
        user = service.register_user(session=db, email=email, password=password, display_name=name)
        assert user.id is not None
        return user.id


async def register(
    *,
    email: str,
    password: str,
    name: str,
    address: str,
    limiter: MailLimiter | None = None,
) -> RegisterResult:
    """Create an account and email its verification link, revealing nothing about others.

    When the address already has an account the answer is the same as for a new
    one, and the owner is emailed instead ("someone tried to register with your
    address"). Registrations per client address and emails per address mailed
    are limited; over the email limit nothing is sent, with the same answer.

    Args:
        email: The email as typed.
        password: The password as typed.
        name: The display name as typed.
        address: The client's address.
        limiter: Override the process's mail limiter (tests).

    Returns:
        The message to show, or the field errors.
    """
    limiter = limiter or get_mail_limiter()
    wait = await asyncio.to_thread(limiter.allow_registration, address=address)
    if wait is not None:
        return RegisterResult(
            error="Too many accounts were created from your network. "
            f"Try again in {format_wait(wait.seconds)}."
        )
    try:
        user_id: int | None = await asyncio.to_thread(_register, email, password, name)
    except InvalidEmailError as exc:
        return RegisterResult(email_error=exc.message)
    except WeakPasswordError as exc:
        return RegisterResult(password_error=exc.message)
    except InvalidProfileError as exc:
        return RegisterResult(name_error=exc.message)
    except EmailTakenError:
        user_id = None
    except AuthError as exc:
        return RegisterResult(error=exc.message)

    normalized = normalize_email(email)
    if await asyncio.to_thread(limiter.allow_mail, email=normalized, address=address):
        try:
            if user_id is None:
                await asyncio.to_thread(send_registration_attempt, normalized)
            else:
                await asyncio.to_thread(send_verification, user_id=user_id)
        except EmailDeliveryError as exc:
            return RegisterResult(error=exc.message)
    return RegisterResult(done_message=registered_message(email.strip()))


async def _mail_if_allowed(
    email: str, address: str, send: Callable[[str], None], limiter: MailLimiter | None
) -> None:
    limiter = limiter or get_mail_limiter()
    try:
        normalized = normalize_email(email)
    except AuthError:
        return
    if await asyncio.to_thread(limiter.allow_mail, email=normalized, address=address):
        await asyncio.to_thread(send, normalized)


async def request_password_reset(
    *, email: str, address: str, limiter: MailLimiter | None = None
) -> None:
    """Email a reset link when the address has an account and the limits allow it.

    The caller answers the same in every case ("If an account exists...").

    Args:
        email: The email as typed.
        address: The client's address.
        limiter: Override the process's mail limiter (tests).

    Raises:
        EmailDeliveryError: SMTP is set but refused the message.
    """
    await _mail_if_allowed(email, address, send_password_reset, limiter)


async def resend_verification(
    *, email: str, address: str, limiter: MailLimiter | None = None
) -> None:
    """Email a new verification link when the account needs one and the limits allow it.

    Args:
        email: The email as typed.
        address: The client's address.
        limiter: Override the process's mail limiter (tests).

    Raises:
        EmailDeliveryError: SMTP is set but refused the message.
    """
    await _mail_if_allowed(email, address, send_verification_to_email, limiter)


# --- change password ------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordChangeResult:
    """The outcome of the change-password form.

    Attributes:
        changed: Whether the password is now the new one.
        current_error: Under the current-password field.
        new_error: Under the new-password field.
    """

    changed: bool = False
    current_error: str = ""
    new_error: str = ""


def paused_message(seconds: int) -> str:
    """What a user reads once too many wrong current passwords paused password changes."""
    return (
        "Too many wrong current passwords. For your safety, changing the password is "
        f"paused for {format_wait(seconds)}. Forgot it? Sign out and use “Forgot your "
        "password?” on the sign-in page."
    )


async def change_password(
    *,
    user_id: int,
    session_id: int,
    current_password: str,
    new_password: str,
    limiter: AttemptLimiter | None = None,
) -> PasswordChangeResult:
    """Change a signed-in user's password, limiting wrong current passwords per user.

    A session alone (e.g. a stolen one) must not be able to find the password by
    trying: after a few wrong current passwords, changes are refused for a while.

    Args:
        user_id: The signed-in account.
        session_id: Its browser session, which stays signed in.
        current_password: The password given as proof.
        new_password: The new password.
        limiter: Override the process's limiter (tests).

    Returns:
        Whether it changed, or the field errors.
    """
    limiter = limiter or get_password_change_limiter()
    key = str(user_id)
    wait = await asyncio.to_thread(limiter.check, key)
    if wait is not None:
        return PasswordChangeResult(current_error=paused_message(wait.seconds))

    def _change() -> None:
        with session_scope() as db:
            user = db.get(User, user_id)
            if user is None:
                raise WrongPasswordError()
            service.change_password(
                session=db,
                user=user,
                current_password=current_password,
                new_password=new_password,
                keep_session_id=session_id,
            )

    try:
        await asyncio.to_thread(_change)
    except WrongPasswordError as exc:
        lock = await asyncio.to_thread(limiter.record_failure, key)
        return PasswordChangeResult(
            current_error=paused_message(lock.seconds) if lock else exc.message
        )
    except WeakPasswordError as exc:
        return PasswordChangeResult(new_error=exc.message)
    except AuthError as exc:
        return PasswordChangeResult(current_error=exc.message)
    await asyncio.to_thread(limiter.reset, key)
    return PasswordChangeResult(changed=True)
