"""Accounts: registration, sign-in, verification, passwords, profile and admin helpers.

Plain functions over a SQLModel `Session`; no Reflex. They flush but do not
commit: the caller's `session_scope()` commits, or rolls back on an error.
Rate limiting of sign-in lives in `pyairtable_ui.auth.limits`; the handler combines both.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlmodel import Session, col, func, select

from pyairtable_ui.auth import invites
from pyairtable_ui.auth import sessions as session_tokens
from pyairtable_ui.auth.errors import (
    EmailTakenError,
    InvalidCredentialsError,
    InvalidEmailError,
    InvalidProfileError,
    LastAdminError,
    PermissionDeniedError,
    RegistrationClosedError,
    UserNotFoundError,
    WeakPasswordError,
    WrongPasswordError,
)
from pyairtable_ui.auth.models import Invite, OnboardingStep, Role, TokenPurpose, User
from pyairtable_ui.auth.passwords import (
    check_password_rules,
    hash_password,
    needs_rehash,
    normalize_email,
    verify_password,
)
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

MAX_DISPLAY_NAME_LENGTH = 120
# Airtable base ids are "app" + 14 characters; accept a little more so a change
# in Airtable's id format (or the emulator's) does not lock users out.
_BASE_ID = re.compile(r"^app[A-Za-z0-9]{3,29}$")


# --- registration and sign-in -----------------------------------------------------


def register_user(
    *,
    session: Session,
    email: str,
    password: str,
    display_name: str = "",
    invite_token: str | None = None,
    hasher: PasswordHasher | None = None,
) -> User:
    """Create an account with email and password; the instance's first account is admin.

    While registration is invite-only (`invites.registration_mode`) an account needs
    an invitation for this very address; it sets the role, and the address counts as
    verified (the link reached it, or the admin handed it over in person).

    "First" is decided inside the transaction, after the new row is written, so
    two people registering at the same moment on a fresh instance do not both
    become admin: on PostgreSQL the users table is locked against concurrent
    registrations for the (short) transaction; on SQLite the insert itself takes
    the database's single write lock.

    Args:
        session: The database session. On a duplicate email it is rolled back.
        email: The address as typed; stored normalised (see `normalize_email`).
        password: The password as typed.
        display_name: The name shown in the app; defaults to the email's local part.
        invite_token: The token of the invitation link the form was opened with.
        hasher: Override the production argon2 hasher (tests).

    Returns:
        The new user (flushed, with an id).

    Raises:
        RegistrationClosedError: Invite-only, and no invitation was given.
        InviteUnusableError: The invitation is unknown, revoked, expired or used.
        InviteForAnotherEmailError: The invitation is for another address.
        InvalidEmailError: The email is not shaped like one.
        WeakPasswordError: The password breaks a rule (all broken rules listed).
        EmailTakenError: An account with this email exists already.
        InvalidProfileError: The display name is too long.
    """
    normalized = normalize_email(email)
    name = _clean_display_name(display_name) or normalized.partition("@")[0]
    check_password_rules(password, email=normalized, name=name)
    password_hash = hash_password(password, hasher=hasher)

    if session.get_bind().dialect.name == "postgresql":
        # Self-conflicting lock mode: registrations queue up, readers are not blocked.
        session.connection().execute(sa.text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
    invite = None
    if invite_token:
        invite = invites.claim_invite(session, raw=invite_token, email=normalized)
    elif invites.registration_mode(session) == "invite-only":
        logger.info("registration refused: invite-only and no invitation")
        raise RegistrationClosedError()
    if get_user_by_email(session=session, email=normalized) is not None:
        logger.info("registration refused: email already registered")
        raise EmailTakenError()

    user = User(email=normalized, display_name=name, password_hash=password_hash)
    if invite is not None:
        user.role = Role(invite.role).value
        user.email_verified_at = utcnow()
    session.add(user)
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:
        # A concurrent registration with the same email won the unique index.
        session.rollback()
        logger.info("registration refused: email registered concurrently")
        raise EmailTakenError() from exc

    others = session.exec(select(func.count()).select_from(User).where(User.id != user.id)).one()
    if others == 0:
        user.role = Role.ADMIN.value
        session.add(user)
        session.flush()
    logger.info("user registered user_id=%s role=%s", user.id, user.role)
    return user


def authenticate(
    *,
    session: Session,
    email: str,
    password: str,
    hasher: PasswordHasher | None = None,
) -> User:
    """Check an email and password; the same error whatever the reason for failure.

    Unknown email, wrong password, disabled account and single-sign-on-only
    account all raise the same `InvalidCredentialsError`, and each path verifies
    one argon2 hash, so neither the message nor the timing reveals which accounts
    exist. A hash made with older parameters is upgraded on success.

    Args:
        session: The database session.
        email: The address as typed.
        password: The password as typed.
        hasher: Override the production argon2 hasher (tests).

    Returns:
        The active user. No session is created: call `sessions.create_session` or
        `sessions.issue_login_ticket` next.

    Raises:
        InvalidCredentialsError: "Email or password is incorrect."
    """
    try:
        normalized = normalize_email(email)
    except InvalidEmailError:
        normalized = None
    user = get_user_by_email(session=session, email=normalized) if normalized else None

    stored_hash = user.password_hash if user is not None else None
    # Always exactly one argon2 verification, real or dummy.
    if not verify_password(stored_hash, password, hasher=hasher):
        logger.info(
            "sign-in failed: %s",
            "unknown email" if user is None else f"wrong password user_id={user.id}",
        )
        raise InvalidCredentialsError()
    assert user is not None and stored_hash is not None
    if not user.is_active:
        logger.info("sign-in refused: account disabled user_id=%s", user.id)
        raise InvalidCredentialsError()

    if needs_rehash(stored_hash, hasher=hasher):
        user.password_hash = hash_password(password, hasher=hasher)
        session.add(user)
        session.flush()
        logger.info("password hash upgraded to current parameters user_id=%s", user.id)
    return user


# --- email verification and password reset ----------------------------------------


def start_email_verification(*, session: Session, user: User) -> str:
    """Issue the token for the "verify your email" link (valid 24 hours).

    Args:
        session: The database session.
        user: The account whose address needs proof.

    Returns:
        The raw token to put in the link.
    """
    return session_tokens.issue_token(session=session, user=user, purpose=TokenPurpose.VERIFY_EMAIL)


def verify_first_admin_without_mail(*, session: Session, user: User) -> bool:
    """Verify the instance's first account at once when no mail server is set.

    Without SMTP a verification link waits for an admin on /admin, and on a fresh
    instance there is no admin yet to pass it on: the first account would be locked
    out. Its owner is the operator who just started the app, so it is verified here.

    Args:
        session: The database session (the caller commits).
        user: The account just registered.

    Returns:
        Whether the account was verified (it is the admin and SMTP is not set).
    """
    if get_settings().smtp_configured or not user.is_admin or user.email_verified_at:
        return False
    user.email_verified_at = utcnow()
    _touch(session, user)
    logger.info("first account verified without email user_id=%s (no SMTP_HOST)", user.id)
    return True


def verify_email(*, session: Session, token: str | None) -> User:
    """Mark an account's email as verified by the token from its link.

    Args:
        session: The database session.
        token: The raw token from the link.

    Returns:
        The verified user.

    Raises:
        TokenInvalidError, TokenExpiredError, TokenUsedError: The link cannot be used.
    """
    user = session_tokens.consume_token(
        session=session, raw=token, purpose=TokenPurpose.VERIFY_EMAIL
    )
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        _touch(session, user)
    logger.info("email verified user_id=%s", user.id)
    return user


def request_password_reset(*, session: Session, email: str) -> str | None:
    """Issue a password reset token if the address belongs to an active account.

    The caller shows the same message whatever this returns ("If an account
    exists for this address, we sent a link"), so nobody can probe for accounts.

    Args:
        session: The database session.
        email: The address as typed.

    Returns:
        The raw token to email (valid one hour), or None when there is no such
        active account (including an invalid address).
    """
    try:
        normalized = normalize_email(email)
    except InvalidEmailError:
        return None
    user = get_user_by_email(session=session, email=normalized)
    if user is None or not user.is_active:
        logger.info("password reset requested for no active account")
        return None
    return session_tokens.issue_token(
        session=session, user=user, purpose=TokenPurpose.RESET_PASSWORD
    )


def reset_password(
    *,
    session: Session,
    token: str | None,
    new_password: str,
    hasher: PasswordHasher | None = None,
) -> User:
    """Set a new password from a reset link, and sign the account out everywhere.

    The password is checked before the token is used, so a rejected password
    leaves the link usable for a second try.

    Args:
        session: The database session.
        token: The raw token from the link.
        new_password: The new password as typed.
        hasher: Override the production argon2 hasher (tests).

    Returns:
        The user, whose every session is now revoked.

    Raises:
        WeakPasswordError: The new password breaks a rule.
        TokenInvalidError: Unknown link.
        TokenExpiredError: "This password reset link has expired..."
        TokenUsedError: "This password reset link was already used..."
    """
    # Rules that need the email are checked after; these need nothing but the text.
    check_password_rules(new_password)
    user = session_tokens.consume_token(
        session=session, raw=token, purpose=TokenPurpose.RESET_PASSWORD
    )
    check_password_rules(new_password, email=user.email, name=user.display_name)
    user.password_hash = hash_password(new_password, hasher=hasher)
    # Receiving the link proves the mailbox, so the address counts as verified.
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    _touch(session, user)
    session_tokens.revoke_all_sessions(session=session, user=user)
    session_tokens.expire_unused_tokens(
        session=session, user=user, purpose=TokenPurpose.RESET_PASSWORD
    )
    logger.info("password reset user_id=%s", user.id)
    return user


def change_password(
    *,
    session: Session,
    user: User,
    current_password: str,
    new_password: str,
    keep_session_id: int | None = None,
    hasher: PasswordHasher | None = None,
) -> User:
    """Change a signed-in user's password and sign out their other browsers.

    Args:
        session: The database session.
        user: The signed-in account.
        current_password: The password they have now, as proof.
        new_password: The new password.
        keep_session_id: The session making the request, which stays signed in.
        hasher: Override the production argon2 hasher (tests).

    Returns:
        The user.

    Raises:
        WrongPasswordError: The current password is not correct.
        WeakPasswordError: The new password breaks a rule or equals the current one.
    """
    if not verify_password(user.password_hash, current_password, hasher=hasher):
        logger.info("password change refused: wrong current password user_id=%s", user.id)
        raise WrongPasswordError()
    check_password_rules(new_password, email=user.email, name=user.display_name)
    if new_password == current_password:
        raise WeakPasswordError(["Choose a password different from your current one."])
    user.password_hash = hash_password(new_password, hasher=hasher)
    _touch(session, user)
    session_tokens.revoke_all_sessions(
        session=session, user=user, except_session_id=keep_session_id
    )
    logger.info("password changed user_id=%s", user.id)
    return user


# --- reading and profile ------------------------------------------------------------


def get_user_by_email(*, session: Session, email: str) -> User | None:
    """The account with this (already normalised) email, or None.

    Args:
        session: The database session.
        email: A normalised address (see `normalize_email`).

    Returns:
        The user or None.
    """
    return session.exec(select(User).where(User.email == email)).first()


def update_profile(*, session: Session, user: User, display_name: str) -> User:
    """Change what the app calls the user.

    Args:
        session: The database session.
        user: The account.
        display_name: The new name; surrounding spaces are removed.

    Returns:
        The user.

    Raises:
        InvalidProfileError: The name is empty or too long.
    """
    name = _clean_display_name(display_name)
    if not name:
        raise InvalidProfileError("Enter a name.")
    user.display_name = name
    _touch(session, user)
    return user


def set_onboarding_step(*, session: Session, user: User, step: OnboardingStep) -> User:
    """Record where the user stands in onboarding, so it resumes there.

    Args:
        session: The database session.
        user: The account.
        step: The step to show next.

    Returns:
        The user.
    """
    user.onboarding_step = OnboardingStep(step).value
    _touch(session, user)
    return user


def set_default_base(*, session: Session, user: User, base_id: str | None) -> User:
    """Choose the base new conversations start with (None clears it).

    The caller checks that the user's token can see the base; this only checks
    that the value looks like an Airtable base id.

    Args:
        session: The database session.
        user: The account.
        base_id: An Airtable base id such as `appXXXXXXXXXXXXXX`, or None.

    Returns:
        The user.

    Raises:
        InvalidProfileError: The value is not an Airtable base id.
    """
    if base_id is not None and not _BASE_ID.fullmatch(base_id):
        raise InvalidProfileError("This is not an Airtable base id (they start with “app”).")
    user.default_base_id = base_id
    _touch(session, user)
    return user


def set_default_model(
    *,
    session: Session,
    user: User,
    model: str | None,
    allowed_models: Sequence[str] | None = None,
) -> User:
    """Choose the LLM model the user's new conversations use (None: the instance default).

    Args:
        session: The database session.
        user: The account.
        model: A model string from the allowed list, or None.
        allowed_models: The models the admin allows; checked when given.

    Returns:
        The user.

    Raises:
        InvalidProfileError: The model is not one the admin allows.
    """
    if model is not None and allowed_models is not None and model not in allowed_models:
        raise InvalidProfileError(
            "This model is not available on this instance. Pick one from the list."
        )
    user.default_model = model
    _touch(session, user)
    return user


# --- admin ----------------------------------------------------------------------------


def require_admin(actor: User | None) -> User:
    """The one check every admin-only service and flow makes before it acts.

    Checked against the account row as it is now (not the page's memory of it), so an
    admin demoted or disabled a second ago is refused at once.

    Args:
        actor: The acting account as just read from the database (None: not found).

    Returns:
        The same account, an active admin.

    Raises:
        PermissionDeniedError: No such account, disabled, or not an admin.
    """
    if actor is None or not (actor.is_active and actor.is_admin):
        logger.warning("admin action refused user_id=%s", actor.id if actor else None)
        raise PermissionDeniedError()
    return actor


def list_users(*, session: Session, actor: User) -> list[User]:
    """Every account, oldest first, for the admin page.

    Args:
        session: The database session.
        actor: The signed-in user; must be an active admin.

    Returns:
        All users.

    Raises:
        PermissionDeniedError: The actor is not an admin.
    """
    require_admin(actor)
    return list(session.exec(select(User).order_by(col(User.id))).all())


def list_pending_links(*, session: Session, actor: User) -> list[session_tokens.PendingLink]:
    """Verification and reset links waiting for an admin because no SMTP is set.

    Args:
        session: The database session.
        actor: The signed-in user; must be an active admin (the links are live secrets).

    Returns:
        The usable links, newest first.

    Raises:
        PermissionDeniedError: The actor is not an admin.
    """
    require_admin(actor)
    return session_tokens.list_pending_links(session=session)


def set_role(*, session: Session, actor: User, user_id: int, role: Role) -> User:
    """Make an account admin or member.

    Args:
        session: The database session.
        actor: The signed-in user; must be an active admin.
        user_id: The account to change.
        role: The new role.

    Returns:
        The changed user.

    Raises:
        PermissionDeniedError: The actor is not an admin.
        UserNotFoundError: No such account.
        LastAdminError: This would demote the last active admin.
    """
    require_admin(actor)
    target = _get_target(session, user_id)
    role = Role(role)
    if target.role == Role.ADMIN and role != Role.ADMIN and target.is_active:
        _refuse_if_last_admin(session, target)
    target.role = role.value
    _touch(session, target)
    logger.info("role changed user_id=%s role=%s by_user_id=%s", target.id, role, actor.id)
    return target


def set_active(
    *, session: Session, actor: User, user_id: int, active: bool, now: datetime | None = None
) -> User:
    """Enable or disable an account; disabling signs it out everywhere at once.

    Args:
        session: The database session.
        actor: The signed-in user; must be an active admin.
        user_id: The account to change.
        active: False to disable, True to enable again.
        now: The current time (tests pass a fixed one).

    Returns:
        The changed user.

    Raises:
        PermissionDeniedError: The actor is not an admin.
        UserNotFoundError: No such account.
        LastAdminError: This would disable the last active admin (e.g. yourself).
    """
    require_admin(actor)
    target = _get_target(session, user_id)
    if not active and target.is_active and target.role == Role.ADMIN:
        _refuse_if_last_admin(session, target)
    target.is_active = active
    _touch(session, target)
    if not active:
        session_tokens.revoke_all_sessions(session=session, user=target, now=now)
    logger.info(
        "account %s user_id=%s by_user_id=%s",
        "enabled" if active else "disabled",
        target.id,
        actor.id,
    )
    return target


# --- helpers ------------------------------------------------------------------------


def _clean_display_name(display_name: str) -> str:
    name = " ".join(display_name.split())
    if len(name) > MAX_DISPLAY_NAME_LENGTH:
        raise InvalidProfileError(f"Use at most {MAX_DISPLAY_NAME_LENGTH} characters for the name.")
    return name


def _touch(session: Session, user: User) -> None:
    user.updated_at = utcnow()
    session.add(user)
    session.flush()


def _get_target(session: Session, user_id: int) -> User:
    target = session.get(User, user_id)
    if target is None:
        raise UserNotFoundError()
    return target


def _refuse_if_last_admin(session: Session, target: User) -> None:
    other_admins = session.exec(
        select(func.count())
        .select_from(User)
        .where(
            User.role == Role.ADMIN.value,
            col(User.is_active).is_(True),
            User.id != target.id,
        )
    ).one()
    if other_admins == 0:
        raise LastAdminError()


# --- invitations and the registration rule (admins) -------------------------------------


def create_invite(*, session: Session, actor: User, email: str, role: Role) -> tuple[Invite, str]:
    """Invite an address to register with a preset role (admins only).

    Args:
        session: The database session (the caller commits, with the email sent).
        actor: The signed-in user; must be an active admin.
        email: The address as typed.
        role: The role the account will have.

    Returns:
        The invitation and its raw token, for the link.

    Raises:
        PermissionDeniedError: The actor is not an admin.
        InvalidEmailError: Not an address.
        InvalidInviteError: The address already has an account.
    """
    require_admin(actor)
    return invites.issue_invite(session, email=normalize_email(email), role=role, by=actor.id)


def list_invites(*, session: Session, actor: User) -> list[invites.PendingInvite]:
    """The invitations still waiting to be used, newest first (admins only).

    Raises:
        PermissionDeniedError: The actor is not an admin.
    """
    require_admin(actor)
    return invites.pending_invites(session)


def revoke_invite(*, session: Session, actor: User, invite_id: int) -> bool:
    """End a pending invitation: its link is refused from now on (admins only).

    Returns:
        Whether it was still pending.

    Raises:
        PermissionDeniedError: The actor is not an admin.
    """
    require_admin(actor)
    revoked = invites.revoke(session, invite_id)
    logger.info("invite revoked invite_id=%s by_user_id=%s done=%s", invite_id, actor.id, revoked)
    return revoked


def set_registration(*, session: Session, actor: User, mode: str) -> invites.RegistrationMode:
    """Make registration open to anyone or by invitation only (admins only).

    Raises:
        PermissionDeniedError: The actor is not an admin.
        InvalidInviteError: Not "open" or "invite-only".
    """
    require_admin(actor)
    return invites.set_registration_mode(session, mode, by=actor.id)
