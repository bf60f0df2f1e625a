"""What the onboarding and settings pages await, as plain functions tested without a browser.

Each flow reads or changes one user's account in one go (its own `session_scope()`), and
returns what the page shows: the pages only read their state, call one of these, and
write the answer back. Every function here is blocking (database, Airtable): call it
through a thread from handlers. No Reflex.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict

from sqlmodel import Session

from pyairtable_ui.airtable import connections
from pyairtable_ui.airtable import oauth as airtable_oauth
from pyairtable_ui.auth import service, sessions
from pyairtable_ui.auth.models import OnboardingStep, User
from pyairtable_ui.core.db import session_scope
from pyairtable_ui.instance import service as instance_service

logger = logging.getLogger(__name__)


class BaseChoice(TypedDict):
    """A base as the pickers show it."""

    id: str
    name: str
    permission_level: str


def base_choices(check: connections.TokenCheck) -> list[BaseChoice]:
    """The bases a checked token sees, as the pickers show them."""
    return [
        BaseChoice(id=b.id, name=b.name, permission_level=b.permission_level) for b in check.bases
    ]


def _account(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    assert user is not None, "a signed-in user's account exists"
    return user


# --- onboarding -----------------------------------------------------------------------


@dataclass(frozen=True)
class OnboardingProgress:
    """Where a user stands in onboarding, and their Airtable connection so far.

    Attributes:
        step: The step to show (connect again when the connection is gone).
        connected_as: The Airtable account's email ("" when unknown or not connected).
        token_hint: The stored token's last characters ("" when not connected).
    """

    step: str
    connected_as: str
    token_hint: str


def onboarding_progress(*, user_id: int) -> OnboardingProgress:
    """Where onboarding resumes for this user.

    Args:
        user_id: The signed-in user.

    Returns:
        The step and the connection's summary.
    """
    with session_scope() as db:
        user = _account(db, user_id)
        connection = connections.get_connection(session=db, user=user)
        step = user.onboarding_step
        if connection is None and step != OnboardingStep.DONE:
            step = OnboardingStep.CONNECT.value
        return OnboardingProgress(
            step=step,
            connected_as=connection.airtable_email if connection else "",
            token_hint=connection.token_hint if connection else "",
        )


def connect_during_onboarding(*, user_id: int, token: str) -> connections.Connected:
    """Check and store the pasted token, then make choosing a base the next step.

    Args:
        user_id: The signed-in user.
        token: The text the user pasted.

    Returns:
        The check and the stored token's hint.

    Raises:
        connections.AirtableTokenError: The token cannot be used; nothing changed.
    """
    connected = connections.connect(user_id=user_id, token=token)
    with session_scope() as db:
        service.set_onboarding_step(
            session=db, user=_account(db, user_id), step=OnboardingStep.CHOOSE_BASE
        )
    return connected


def start_with_sample(*, user_id: int) -> connections.Connected:
    """Connect the user to their own sample base and open the tour on its CRM.

    The sample's first base (the sales CRM, by name) becomes the default, so a newcomer
    goes from "Try with a sample base" straight to the tour and the chat.

    Args:
        user_id: The signed-in user.

    Returns:
        The check (the sample's bases) and the token's hint.

    Raises:
        connections.AirtableTokenError: The sample server could not be started.
    """
    connected = connections.connect_sample(user_id=user_id)
    choose_base(user_id=user_id, base_id=connected.check.bases[0].id)
    return connected


def choose_base(*, user_id: int, base_id: str) -> None:
    """Remember the base new conversations start with, then show the tour.

    The caller checks that the token sees the base.

    Args:
        user_id: The signed-in user.
        base_id: The chosen base.

    Raises:
        InvalidProfileError: The value is not an Airtable base id.
    """
    with session_scope() as db:
        user = _account(db, user_id)
        service.set_default_base(session=db, user=user, base_id=base_id)
        service.set_onboarding_step(session=db, user=user, step=OnboardingStep.TOUR)


def finish_onboarding(*, user_id: int) -> None:
    """Mark onboarding done: from now on the user lands in the chat.

    Args:
        user_id: The signed-in user.
    """
    with session_scope() as db:
        service.set_onboarding_step(
            session=db, user=_account(db, user_id), step=OnboardingStep.DONE
        )


def connect_with_airtable_oauth(
    *,
    config: airtable_oauth.AirtableOAuthConfig,
    pending: airtable_oauth.PendingConnection,
    callback_params: Mapping[str, str],
    api_url: str,
) -> None:
    """Finish "Connect with Airtable": trade the code, check the token, store the grant.

    The access token gets the same whoami and bases check as a pasted token, so the
    same rules apply. During onboarding, choosing a base becomes the next step.

    Args:
        config: The OAuth integration.
        pending: The attempt the flow cookie carried.
        callback_params: The query parameters Airtable sent back.
        api_url: AIRTABLE_API_URL.

    Raises:
        airtable_oauth.AirtableOAuthError: The callback or the code exchange failed, or
            the account is gone.
        connections.AirtableTokenError: Airtable's token cannot be used.
    """
    tokens = airtable_oauth.exchange_code(
        config=config, pending=pending, callback_params=dict(callback_params)
    )
    check = connections.check_airtable_token(tokens.access_token, api_url=api_url)
    with session_scope() as db:
        user = db.get(User, pending.user_id)
        if user is None or not user.is_active:
            raise airtable_oauth.AirtableOAuthError(f"account gone user_id={pending.user_id}")
        airtable_oauth.save_oauth_connection(session=db, user=user, tokens=tokens, check=check)
        if user.onboarding_step != OnboardingStep.DONE:
            service.set_onboarding_step(session=db, user=user, step=OnboardingStep.CHOOSE_BASE)


# --- settings -------------------------------------------------------------------------


class SessionRow(TypedDict):
    """A signed-in browser as the sessions list shows it."""

    id: int
    device: str
    address: str
    created: str
    last_used: str
    current: bool


def describe_agent(user_agent: str) -> str:
    """A short, readable guess at a browser, e.g. "Firefox on Linux".

    The full user agent is too long for a phone screen.
    """
    for name in ("Edg", "Firefox", "Chrome", "Safari"):
        if name in user_agent:
            browser = {"Edg": "Edge"}.get(name, name)
            break
    else:
        browser = "Browser"
    for os_name in ("Android", "iPhone", "iPad", "Windows", "Mac OS", "Linux"):
        if os_name in user_agent:
            return f"{browser} on {os_name.replace('Mac OS', 'macOS')}"
    return browser


def _session_rows(db: Session, user: User, current_session_id: int) -> list[SessionRow]:
    return [
        SessionRow(
            id=row.id or 0,
            device=describe_agent(row.user_agent),
            address=row.ip_address,
            created=row.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            last_used=row.last_used_at.strftime("%Y-%m-%d %H:%M UTC"),
            current=row.id == current_session_id,
        )
        for row in sessions.list_sessions(session=db, user=user)
    ]


@dataclass(frozen=True)
class AccountSettings:
    """Everything /settings shows when it opens.

    Attributes:
        display_name: The name shown in the app.
        default_base_id: The base new conversations start with ("" for none).
        default_model: The user's model, else the instance's default.
        models: The models the admin allows, the default first.
        connected_as: The Airtable account, by email else by id ("" when not connected).
        token_hint: The stored token's last characters ("" when not connected).
        session_rows: The user's signed-in browsers.
        sample: The connection is the user's sample base (Settings offers its reset).
    """

    display_name: str
    default_base_id: str
    default_model: str
    models: list[str]
    connected_as: str
    token_hint: str
    session_rows: list[SessionRow]
    sample: bool = False


def account_settings(*, user_id: int, session_id: int) -> AccountSettings:
    """What /settings shows for this user, read from the database.

    Args:
        user_id: The signed-in user.
        session_id: This browser's session, marked in the list.

    Returns:
        The user's settings.
    """
    with session_scope() as db:
        user = _account(db, user_id)
        models = instance_service.get_allowed_models(session=db)
        connection = connections.get_connection(session=db, user=user)
        return AccountSettings(
            display_name=user.display_name,
            default_base_id=user.default_base_id or "",
            default_model=user.default_model or models[0],
            models=models,
            connected_as=(
                (connection.airtable_email or connection.airtable_user_id) if connection else ""
            ),
            token_hint=connection.token_hint if connection else "",
            session_rows=_session_rows(db, user, session_id),
            sample=connection is not None
            and connection.kind == connections.ConnectionKind.SAMPLE.value,
        )


def replace_connection(*, user_id: int, token: str) -> connections.Connected:
    """Connect a new token in place of the old one (a sample's included), from Settings.

    Conversations and history stay. A default base the new token does not see (the
    sample's, after connecting real Airtable) is cleared, so new conversations ask for
    a base instead of failing on one that is not there.

    Args:
        user_id: The signed-in user.
        token: The text the user pasted.

    Returns:
        The check and the stored token's hint.

    Raises:
        connections.AirtableTokenError: The token cannot be used; nothing changed.
    """
    connected = connections.connect(user_id=user_id, token=token)
    seen = {base.id for base in connected.check.bases}
    with session_scope() as db:
        user = _account(db, user_id)
        if user.default_base_id and user.default_base_id not in seen:
            service.set_default_base(session=db, user=user, base_id=None)
    return connected


def save_profile(*, user_id: int, display_name: str) -> str:
    """Change the name shown in the app.

    Args:
        user_id: The signed-in user.
        display_name: The name as typed.

    Returns:
        The name as saved.

    Raises:
        InvalidProfileError: The name is empty or too long.
    """
    with session_scope() as db:
        return service.update_profile(
            session=db, user=_account(db, user_id), display_name=display_name
        ).display_name


def save_defaults(*, user_id: int, base_id: str | None, model: str) -> None:
    """Store the base and the model new conversations start with.

    The caller checks that the token sees the base; the model must be one the
    admin allows now.

    Args:
        user_id: The signed-in user.
        base_id: A base id, or None to clear it.
        model: A model from the allowed list.

    Raises:
        InvalidProfileError: Not a base id, or a model the admin does not allow.
    """
    with session_scope() as db:
        user = _account(db, user_id)
        service.set_default_base(session=db, user=user, base_id=base_id)
        service.set_default_model(
            session=db,
            user=user,
            model=model,
            allowed_models=instance_service.get_allowed_models(session=db),
        )


def signed_in_browsers(*, user_id: int, session_id: int) -> list[SessionRow]:
    """The user's signed-in browsers, this one marked.

    Args:
        user_id: The signed-in user.
        session_id: This browser's session.

    Returns:
        The rows, most recently used first.
    """
    with session_scope() as db:
        return _session_rows(db, _account(db, user_id), session_id)


def sign_out_other_browsers(*, user_id: int, session_id: int) -> int:
    """Revoke every session of the user except this browser's.

    Args:
        user_id: The signed-in user.
        session_id: This browser's session, which stays signed in.

    Returns:
        How many sessions were revoked.
    """
    with session_scope() as db:
        return sessions.revoke_all_sessions(
            session=db, user=_account(db, user_id), except_session_id=session_id
        )
