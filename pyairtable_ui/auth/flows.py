"""Account flows the pages await: who is signed in, sign in (password or single sign-on),
register, follow emailed links, change the password.

Each flow combines the rate limits (`pyairtable_ui.auth.limits`), the account service and
the emails, so handlers stay thin and the rules are tested without a browser. No Reflex.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pyairtable_ui import routes
from pyairtable_ui.auth import invites, oidc, service, sessions
from pyairtable_ui.auth.errors import (
    AuthError,
    EmailTakenError,
    InvalidEmailError,
    InvalidProfileError,
    InviteForAnotherEmailError,
    InviteUnusableError,
    RegistrationClosedError,
    TokenError,
    WeakPasswordError,
    WrongPasswordError,
)
from pyairtable_ui.auth.limits import (
    AttemptLimiter,
    LoginLimiter,
    MailLimiter,
    format_wait,
    get_login_limiter,
    get_mail_limiter,
    get_password_change_limiter,
)
from pyairtable_ui.auth.models import OnboardingStep, User
from pyairtable_ui.auth.notifications import (
    send_password_reset,
    send_registration_attempt,
    send_verification,
    send_verification_to_email,
)
from pyairtable_ui.auth.passwords import normalize_email
from pyairtable_ui.core.db import session_scope
from pyairtable_ui.core.mail import EmailDeliveryError
from pyairtable_ui.core.observability import LOGINS
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

UNVERIFIED_MESSAGE = (
    "Please verify your email first: open the link we sent you. "
    "No email? Use “Send the link again” below."
)
# Without SMTP_HOST no email goes out: links wait on /admin, and the pages say so.
UNVERIFIED_NO_MAIL_MESSAGE = (
    "Please verify your email first. This instance sends no email: your admin has "
    "the verification link and will pass it on to you."
)
FIRST_ACCOUNT_MESSAGE = (
    "Your account is ready, and it is this instance's admin (the first account). "
    "No mail server is set, so there was no email to confirm: sign in now."
)


def _mail_is_sent() -> bool:
    return get_settings().smtp_configured


def unverified_message() -> str:
    """What sign-in answers to a right password whose email is not verified yet."""
    return UNVERIFIED_MESSAGE if _mail_is_sent() else UNVERIFIED_NO_MAIL_MESSAGE


def registered_message(email: str) -> str:
    """What registration answers, whether or not the address already had an account."""
    if not _mail_is_sent():
        return (
            f"Thanks: the account for {email} needs its email confirmed. This instance "
            "sends no email, so your admin will pass the verification link on to you. "
            "Open it, then sign in."
        )
    return (
        f"Check your email: we sent a message to {email}. "
        "Open the link in it to finish, then sign in."
    )


def reset_requested_message() -> str:
    """What "forgot your password" answers, whether or not the address has an account."""
    if not _mail_is_sent():
        return (
            "If an account exists for that address, its link to choose a new password "
            "is waiting for your admin, who will pass it on (this instance sends no "
            "email). The link works for one hour."
        )
    return (
        "If an account exists for that address, we sent it a link to choose a new "
        "password. The link works for one hour."
    )


def resent_message() -> str:
    """What "Send the link again" answers."""
    if not _mail_is_sent():
        return (
            "If that account needs verifying, a new link is waiting for your admin, "
            "who will pass it on."
        )
    return "If that account needs verifying, a new link is on its way."


# --- who is signed in ----------------------------------------------------------------


@dataclass(frozen=True)
class SignedInUser:
    """The few facts about the signed-in user the pages show.

    Attributes:
        id: The user's id.
        session_id: The id of the browser's session row.
        email: The account's email.
        display_name: The name shown in the app.
        is_admin: Whether the account is an admin.
        onboarding_step: Where onboarding stands ("done" once finished).
        default_base_id: The base new conversations start with, if any.
    """

    id: int
    session_id: int
    email: str
    display_name: str
    is_admin: bool
    onboarding_step: str
    default_base_id: str | None


def _signed_in_user(token: str | None) -> SignedInUser | None:
    if not token:
        return None
    with session_scope() as db:
        row = sessions.get_session_by_token(session=db, token=token)
        user = db.get(User, row.user_id) if row is not None else None
        if row is None or row.id is None or user is None or user.id is None:
            return None
        return SignedInUser(
            id=user.id,
            session_id=row.id,
            email=user.email,
            display_name=user.display_name,
            is_admin=user.is_admin,
            onboarding_step=user.onboarding_step,
            default_base_id=user.default_base_id,
        )


async def signed_in_user(token: str | None) -> SignedInUser | None:
    """The user a session cookie signs in, checked against the session row now.

    Args:
        token: The raw session token from the HttpOnly cookie, if any.

    Returns:
        The user, or None when the session is missing, expired or revoked.
    """
    return await asyncio.to_thread(_signed_in_user, token)


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
            return SignInResult(error=unverified_message(), unverified=True)
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


def _open_session_with_ticket(ticket: str, user_agent: str, address: str) -> str | None:
    with session_scope() as db:
        try:
            raw, _row = sessions.exchange_login_ticket(
                session=db, ticket=ticket, user_agent=user_agent, ip_address=address
            )
        except TokenError as exc:
            logger.info("login ticket refused: %s", exc.__class__.__name__)
            return None
        return raw


async def open_session_with_ticket(*, ticket: str, user_agent: str, address: str) -> str | None:
    """Trade the one-time login ticket of a sign-in for a browser session.

    Args:
        ticket: The ticket `sign_in` returned to the page.
        user_agent: The browser's user agent, for the sessions list.
        address: The client's address.

    Returns:
        The raw session token for the HttpOnly cookie, or None when the ticket is
        unknown, used or expired.
    """
    return await asyncio.to_thread(_open_session_with_ticket, ticket, user_agent, address)


def _sign_out(token: str) -> None:
    with session_scope() as db:
        sessions.revoke_session_token(session=db, token=token)


async def sign_out(*, token: str) -> None:
    """End the browser session of this cookie token.

    Args:
        token: The raw session token from the cookie.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database could not record it.
    """
    await asyncio.to_thread(_sign_out, token)


def _sign_in_with_sso(
    identity: oidc.OIDCIdentity, next_path: str, user_agent: str, address: str
) -> tuple[str, str]:
    with session_scope() as db:
        user = oidc.sign_in_with_oidc(session=db, identity=identity)
        raw_token, _row = sessions.create_session(
            session=db, user=user, user_agent=user_agent, ip_address=address
        )
        # As the password login does: unfinished onboarding comes first.
        if user.onboarding_step != OnboardingStep.DONE:
            return raw_token, routes.ONBOARDING
        return raw_token, next_path


async def sign_in_with_sso(
    *, identity: oidc.OIDCIdentity, next_path: str, user_agent: str, address: str
) -> tuple[str, str]:
    """Sign in the person the provider vouched for: find or create the account, open a session.

    Args:
        identity: What `oidc.finish_sign_in` returned.
        next_path: Where to go once signed in (already a safe local path).
        user_agent: The browser's user agent, for the sessions list.
        address: The client's address.

    Returns:
        The raw session token for the cookie, and where to go (onboarding first
        while it is unfinished).

    Raises:
        oidc.OIDCError: The account cannot be signed in (disabled, email taken...).
    """
    return await asyncio.to_thread(_sign_in_with_sso, identity, next_path, user_agent, address)


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


INVITED_MESSAGE = "Your account is ready (the invitation proved your address): sign in now."


def _register(email: str, password: str, name: str, invite: str | None) -> tuple[int, str]:
    with session_scope() as db:
        user = service.register_user(
            session=db, email=email, password=password, display_name=name, invite_token=invite
        )
        assert user.id is not None
        if invite:
            return user.id, INVITED_MESSAGE
        first = service.verify_first_admin_without_mail(session=db, user=user)
        return user.id, FIRST_ACCOUNT_MESSAGE if first else ""


@dataclass(frozen=True)
class RegistrationRule:
    """What the register page says about who may register, and the invited address.

    Attributes:
        invite_only: Registration needs an invitation now.
        notice: The sentence the page shows above the form.
        invited_email: The address of the invitation the page was opened with ("" if none
            or unusable).
        invite_error: Why the invitation link cannot be used ("" when it can, or none).
    """

    invite_only: bool
    notice: str
    invited_email: str = ""
    invite_error: str = ""


def _registration_rule(invite: str | None) -> RegistrationRule:
    with session_scope() as db:
        mode = invites.registration_mode(db)
        chosen = invites.chosen_registration_mode(db) is not None
        email = invites.invited_email(db, invite) if invite else None
    if mode == "open":
        notice = (
            "Anyone may create an account here."
            if chosen or get_settings().registration == "open"
            else "You are creating this instance's first account, which will be its "
            "admin. After it, accounts are by invitation only."
        )
    else:
        notice = "This instance is open by invitation only: open the link in your invitation."
    return RegistrationRule(
        invite_only=mode == "invite-only",
        notice=notice,
        invited_email=email or "",
        invite_error=InviteUnusableError.default_message if invite and email is None else "",
    )


async def registration_rule(*, invite: str | None) -> RegistrationRule:
    """Who may register now (the page says so), and who the opened invitation is for.

    Args:
        invite: The `invite` token of the page's address, if any.

    Returns:
        The rule, the sentence to show, and the invited address.
    """
    return await asyncio.to_thread(_registration_rule, invite)


async def register(
    *,
    email: str,
    password: str,
    name: str,
    address: str,
    invite: str | None = None,
    limiter: MailLimiter | None = None,
) -> RegisterResult:
    """Create an account and email its verification link, revealing nothing about others.

    While registration is invite-only an account needs the invitation's link (`invite`),
    made out to the address typed; an invited account is verified at once.

    Without a mail server the link waits for an admin on /admin and the answer says
    so; the instance's first account (the admin) is verified at once instead.

    When the address already has an account the answer is the same as for a new
    one, and the owner is emailed instead ("someone tried to register with your
    address"). Registrations per client address and emails per address mailed
    are limited; over the email limit nothing is sent, with the same answer.

    Args:
        email: The email as typed.
        password: The password as typed.
        name: The display name as typed.
        address: The client's address.
        invite: The token of the invitation link the form was opened with.
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
    user_id: int | None
    try:
        user_id, ready = await asyncio.to_thread(_register, email, password, name, invite)
    except (RegistrationClosedError, InviteUnusableError) as exc:
        return RegisterResult(error=exc.message)
    except InviteForAnotherEmailError as exc:
        return RegisterResult(email_error=exc.message)
    except InvalidEmailError as exc:
        return RegisterResult(email_error=exc.message)
    except WeakPasswordError as exc:
        return RegisterResult(password_error=exc.message)
    except InvalidProfileError as exc:
        return RegisterResult(name_error=exc.message)
    except EmailTakenError:
        user_id, ready = None, ""
    except AuthError as exc:
        return RegisterResult(error=exc.message)
    if ready:
        # Invited, or the first account without a mail server: nothing to wait for.
        return RegisterResult(done_message=ready)

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


def _verify_email(token: str) -> None:
    with session_scope() as db:
        service.verify_email(session=db, token=token)


async def verify_email(*, token: str) -> None:
    """Use the token of a verification link, once.

    Args:
        token: The token from the link.

    Raises:
        AuthError: The link is unknown, expired or already used.
    """
    await asyncio.to_thread(_verify_email, token)


def _reset_password(token: str, new_password: str) -> None:
    with session_scope() as db:
        service.reset_password(session=db, token=token, new_password=new_password)


async def reset_password(*, token: str, new_password: str) -> None:
    """Set a new password with the token of a reset link; every session is signed out.

    Args:
        token: The token from the link.
        new_password: The new password as typed.

    Raises:
        WeakPasswordError: The password breaks a rule (the link stays usable).
        AuthError: The link is unknown, expired or already used.
    """
    await asyncio.to_thread(_reset_password, token, new_password)


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
