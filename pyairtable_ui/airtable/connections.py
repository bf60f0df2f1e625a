"""Connecting a user's Airtable account with a personal access token.

`check_airtable_token` asks Airtable, through `AirtableClient` (paced, counted), who the
token belongs to and which bases it sees, and turns every way that can fail into a
sentence the user can act on. `connect` is what the pages call: check the pasted token,
then store it encrypted (see `pyairtable_ui.core.crypto`) with `save_connection`. Backend
code reads a stored token through `pyairtable_ui.airtable.access` only. The token is
never logged and never put in an exception message.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from sqlmodel import Session, select

from pyairtable_ui.airtable import aggregate_cache, schema
from pyairtable_ui.airtable.client import AirtableClient, RetryPolicy
from pyairtable_ui.airtable.errors import (
    AirtableAuthError,
    AirtableError,
    AirtablePermissionError,
    AirtableRateLimitError,
    AirtableUnavailableError,
)
from pyairtable_ui.airtable.models import AirtableConnection, ConnectionKind
from pyairtable_ui.auth.models import User
from pyairtable_ui.core.crypto import decrypt_secret, encrypt_secret
from pyairtable_ui.core.db import session_scope, utcnow
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.sample.manager import SampleUnavailableError, sample_servers

logger = logging.getLogger(__name__)

# What the app needs to read and change records and to describe tables to the model.
REQUIRED_SCOPES: tuple[str, ...] = (
    "data.records:read",
    "data.records:write",
    "schema.bases:read",
)
CONNECT_TIMEOUT = (5, 15)  # seconds: connect, read
TOKEN_HINT_LENGTH = 4
# A person is waiting: retry a rate limit a few times and a dead host once; report an
# Airtable failure or a lost answer at once.
TOKEN_CHECK_RETRIES = RetryPolicy(
    attempts=2,
    rate_limit_attempts=4,
    backoff=0.1,
    max_backoff=2.0,
    server_error_attempts=1,
    resend_unanswered=False,
)

# Real personal access tokens: "pat" + 14 characters + "." + 64 hex. Only used to
# spot a token cut short when copying; anything else plausible is left to Airtable.
_PAT_SHAPE = re.compile(r"^pat[A-Za-z0-9]{14}\.[0-9a-f]{64}$")
_TOKEN_CHARACTERS = re.compile(r"^[A-Za-z0-9._\-]+$")
_MIN_TOKEN_LENGTH = 20
_MAX_TOKEN_LENGTH = 1024


class AirtableTokenError(UserFacingError):
    """The token cannot be used; `message` says why and what to do."""

    default_message = "Airtable did not accept this token."


class MalformedTokenError(AirtableTokenError):
    """The text pasted is not shaped like a token; Airtable was not asked."""

    default_message = (
        "This does not look like an Airtable personal access token. Tokens start with "
        "“pat” and are about 80 characters long; copy it again from airtable.com/create/tokens."
    )


class TokenRejectedError(AirtableTokenError):
    """Airtable answered 401: unknown, revoked or truncated token."""

    default_message = "Airtable did not accept this token. Check that you copied the whole token."


class MissingScopesError(AirtableTokenError):
    """The token lacks scopes the app needs.

    Attributes:
        missing: The scope names to add, in the order of REQUIRED_SCOPES.
    """

    def __init__(self, missing: list[str]) -> None:
        self.missing = list(missing)
        plural = "scopes" if len(self.missing) > 1 else "scope"
        super().__init__(
            f"This token is missing the {plural} {', '.join(self.missing)}. In Airtable, "
            f"edit the token, add the {plural}, save, and paste the token here again."
        )


class NoBasesError(AirtableTokenError):
    """The token works but sees no base."""

    default_message = (
        "This token has no access to any base. In Airtable, edit the token and add "
        "the bases you want to use."
    )


class AirtableUnreachableError(AirtableTokenError):
    """Network error, timeout, rate limit, or Airtable itself failing."""


class NotConnectedError(AirtableTokenError):
    """The user has no Airtable connection yet."""

    default_message = "Connect your Airtable account first, in Settings."


@dataclass(frozen=True)
class BaseAccess:
    """A base the token can see.

    Attributes:
        id: The base id (`app...`).
        name: The base's name.
        permission_level: "read", "comment", "edit" or "create".
    """

    id: str
    name: str
    permission_level: str


@dataclass(frozen=True)
class TokenCheck:
    """What Airtable said about a token that works.

    Attributes:
        user_id: The Airtable user id (`usr...`).
        email: The Airtable account's email, when the token may read it.
        scopes: The token's scopes when Airtable reports them (empty otherwise).
        bases: The bases the token sees, sorted by name.
    """

    user_id: str
    email: str | None
    scopes: tuple[str, ...]
    bases: tuple[BaseAccess, ...]


def clean_token(token: str) -> str:
    """The pasted token without surrounding spaces, or an error if it cannot be one.

    Lenient on purpose: only text that cannot be a token is refused here
    (spaces or line breaks inside, odd characters, far too short or long, an old
    API key, a personal access token visibly cut short). Airtable decides the rest.

    Args:
        token: The text the user pasted.

    Returns:
        The token, stripped.

    Raises:
        MalformedTokenError: With a message saying what looks wrong.
    """
    candidate = token.strip()
    if not candidate:
        raise MalformedTokenError("Paste your Airtable personal access token.")
    if any(character.isspace() for character in candidate):
        raise MalformedTokenError(
            "This token contains spaces or line breaks. Copy it again from Airtable, in one piece."
        )
    if re.fullmatch(r"key[A-Za-z0-9]{14}", candidate):
        raise MalformedTokenError(
            "This is an old Airtable API key; Airtable no longer accepts them. Create a "
            "personal access token at airtable.com/create/tokens and paste it here."
        )
    if (
        not _TOKEN_CHARACTERS.fullmatch(candidate)
        or not _MIN_TOKEN_LENGTH <= len(candidate) <= _MAX_TOKEN_LENGTH
    ):
        raise MalformedTokenError()
    looks_like_pat = re.fullmatch(r"pat[A-Za-z0-9]{14}\.[0-9a-f]*", candidate) is not None
    if looks_like_pat and not _PAT_SHAPE.fullmatch(candidate):
        raise MalformedTokenError(
            "This token looks cut short. Copy the whole token from Airtable (it is shown "
            "only once; if you lost it, regenerate it) and paste it again."
        )
    return candidate


def check_airtable_token(token: str, *, api_url: str) -> TokenCheck:
    """Ask Airtable whether the token works for this app, and which bases it sees.

    Blocking (pyairtable is synchronous): call it through a thread from handlers.

    Args:
        token: The pasted token (surrounding spaces are ignored).
        api_url: AIRTABLE_API_URL, e.g. https://api.airtable.com or the emulator.

    Returns:
        The account, scopes and bases.

    Raises:
        MalformedTokenError: The text cannot be a token.
        TokenRejectedError: Airtable does not know the token (401).
        MissingScopesError: The token lacks a scope from REQUIRED_SCOPES.
        NoBasesError: The token sees no base.
        AirtableUnreachableError: Network failure, timeout, rate limit, Airtable error.
    """
    token = clean_token(token)
    client = AirtableClient(
        token, api_url=api_url, timeout=CONNECT_TIMEOUT, retry_policy=TOKEN_CHECK_RETRIES
    )
    hint = token[-TOKEN_HINT_LENGTH:]

    try:
        who = client.api.whoami()
    except (AirtableError, ValueError) as exc:
        raise _user_error(exc, api_url=api_url, step="whoami", hint=hint) from exc
    user_id = str(who.get("id", ""))
    reported_scopes = tuple(str(scope) for scope in who.get("scopes", []) or [])
    email = who.get("email")  # type: ignore[typeddict-item]  # sent with user.email:read
    # Airtable reports scopes for some tokens only; when it does, name what is missing
    # before anything else fails in a less readable way.
    if reported_scopes:
        missing = [scope for scope in REQUIRED_SCOPES if scope not in reported_scopes]
        if missing:
            logger.info(
                "airtable token refused: missing scopes=%s user=%s hint=…%s",
                missing,
                user_id,
                hint,
            )
            raise MissingScopesError(missing)

    try:
        bases = client.api.bases()
    except (AirtableError, ValueError) as exc:
        raise _user_error(exc, api_url=api_url, step="bases", hint=hint) from exc
    if not bases:
        logger.info("airtable token refused: no bases user=%s hint=…%s", user_id, hint)
        raise NoBasesError()

    accesses = sorted(
        (
            BaseAccess(
                id=base.id,
                name=base.name or base.id,
                permission_level=base.permission_level or "",
            )
            for base in bases
        ),
        key=lambda access: (access.name.casefold(), access.id),
    )
    logger.info(
        "airtable token checked user=%s bases=%d scopes=%s hint=…%s",
        user_id,
        len(accesses),
        list(reported_scopes) or "unreported",
        hint,
    )
    return TokenCheck(
        user_id=user_id,
        email=str(email) if email else None,
        scopes=reported_scopes,
        bases=tuple(accesses),
    )


def _user_error(exc: Exception, *, api_url: str, step: str, hint: str) -> AirtableTokenError:
    """Turn what the client raised into the message the user should see."""
    unreachable = f"Airtable could not be reached at {api_url}. Try again in a minute."
    if isinstance(exc, AirtableRateLimitError):
        # Retries exhausted on 429: the token is being rate limited.
        logger.info("airtable token check rate limited step=%s hint=…%s", step, hint)
        return AirtableUnreachableError(
            "Airtable is limiting requests for this token right now. Try again in a minute."
        )
    if isinstance(exc, AirtableUnavailableError) or (
        isinstance(exc, json.JSONDecodeError)  # an answer that is not JSON at all
    ):
        logger.warning(
            "airtable unreachable step=%s url=%s error=%s hint=…%s",
            step,
            api_url,
            getattr(exc, "type", type(exc).__name__),
            hint,
        )
        return AirtableUnreachableError(unreachable)
    if isinstance(exc, AirtableError) and exc.status is not None:
        status = exc.status
        logger.info("airtable token check failed step=%s status=%s hint=…%s", step, status, hint)
        if isinstance(exc, AirtableAuthError):
            return TokenRejectedError()
        if isinstance(exc, AirtablePermissionError):
            # whoami needs no scope; a 403 on the bases list means no schema scope.
            if step == "bases":
                return MissingScopesError(["schema.bases:read"])
            return AirtableTokenError(
                "Airtable refused this token. Check in Airtable that the token is still "
                "active and belongs to your account."
            )
        if status >= 500:
            return AirtableUnreachableError(
                f"Airtable had a problem answering (HTTP {status}). Try again in a minute."
            )
        return AirtableTokenError(
            f"Airtable refused the check (HTTP {status}). Try again, or create a new token."
        )
    if isinstance(exc, (AirtableError, ValueError)):
        # JSON not shaped like Airtable's answer (pydantic's error is a ValueError).
        logger.warning(
            "airtable answered unexpectedly step=%s url=%s error=%s hint=…%s",
            step,
            api_url,
            type(exc).__name__,
            hint,
        )
        return AirtableUnreachableError(
            f"The server at {api_url} did not answer like Airtable. Check AIRTABLE_API_URL."
        )
    # Anything else is a bug on our side: let it surface with its traceback.
    raise exc


# --- connecting -----------------------------------------------------------------------


@dataclass(frozen=True)
class Connected:
    """A token that Airtable accepted and that is now stored: what the page shows next.

    Attributes:
        check: What Airtable said about the token.
        token_hint: The token's last characters, to tell tokens apart.
    """

    check: TokenCheck
    token_hint: str

    @property
    def connected_as(self) -> str:
        """The Airtable account, by email when the token may read it."""
        return self.check.email or self.check.user_id


def connect(*, user_id: int, token: str) -> Connected:
    """Check a pasted token with Airtable, then store it encrypted as the user's connection.

    Nothing is stored when the check fails. Blocking: call it through a thread.

    Args:
        user_id: The signed-in user.
        token: The text the user pasted.

    Returns:
        The check and the stored token's hint.

    Raises:
        AirtableTokenError: The token cannot be used (the message says why).
    """
    token = clean_token(token)
    check = check_airtable_token(token, api_url=get_settings().airtable_api_url)
    with session_scope() as db:
        saved = save_connection(session=db, user=_account(db, user_id), token=token, check=check)
        return Connected(check=check, token_hint=saved.token_hint)


def api_url_for(connection: AirtableConnection) -> str:
    """Where the connection's Airtable is: the sample server for a sample, else Airtable.

    Blocking (a sample's server may have to start): call it through a thread.

    Args:
        connection: The user's connection.

    Returns:
        The API address to give `AirtableClient`.

    Raises:
        AirtableUnreachableError: The sample server could not be started.
    """
    if connection.kind != ConnectionKind.SAMPLE.value:
        return get_settings().airtable_api_url
    try:
        return sample_servers().ensure().url
    except SampleUnavailableError as exc:
        raise AirtableUnreachableError(exc.message) from exc


def connect_sample(*, user_id: int) -> Connected:
    """Connect the user to their own sample base (made now, or the one they already have).

    The sample's token is checked and stored like any pasted token, as a connection of
    kind "sample" whose Airtable is the app's sample server: everything downstream (tools,
    pacing, the review, undo, history) works on it unchanged. Blocking: call it through a
    thread.

    Args:
        user_id: The signed-in user.

    Returns:
        The check (the two sample bases) and the token's hint.

    Raises:
        AirtableTokenError: The sample server could not be started or did not answer.
    """
    with session_scope() as db:
        existing = get_connection(session=db, user=_account(db, user_id))
        token = (
            decrypt_secret(existing.encrypted_token)
            if existing is not None and existing.kind == ConnectionKind.SAMPLE.value
            else None
        )
    try:
        servers = sample_servers()
        api_url = servers.ensure().url
        if token is not None:
            try:
                check = check_airtable_token(token, api_url=api_url)
            except TokenRejectedError:  # its file was removed: a new sample, then
                token = None
        if token is None:
            token = servers.create_sample()
            check = check_airtable_token(token, api_url=api_url)
    except SampleUnavailableError as exc:
        raise AirtableUnreachableError(exc.message) from exc
    with session_scope() as db:
        saved = save_connection(
            session=db,
            user=_account(db, user_id),
            token=token,
            check=check,
            kind=ConnectionKind.SAMPLE,
        )
        return Connected(check=check, token_hint=saved.token_hint)


class NotSampleError(AirtableTokenError):
    """The user's connection is not a sample, so there is nothing to reset."""

    default_message = "Your connection is not the sample base; there is nothing to reset."


def reset_sample(*, user_id: int) -> tuple[str, ...]:
    """Put the user's sample back as it came: every change made to it is gone.

    Conversations and the history stay (their undo buttons then meet records as they were
    first). Blocking: call it through a thread.

    Args:
        user_id: The signed-in user.

    Returns:
        The sample's base ids (their cached schema and aggregates are forgotten).

    Raises:
        NotSampleError: The user is not connected to a sample.
        AirtableUnreachableError: The sample server could not be started or refused.
    """
    with session_scope() as db:
        connection = get_connection(session=db, user=_account(db, user_id))
        if connection is None or connection.kind != ConnectionKind.SAMPLE.value:
            raise NotSampleError()
        token = decrypt_secret(connection.encrypted_token)
    try:
        servers = sample_servers()
        servers.reset_sample(token)
        check = check_airtable_token(token, api_url=servers.ensure().url)
    except SampleUnavailableError as exc:
        raise AirtableUnreachableError(exc.message) from exc
    base_ids = tuple(base.id for base in check.bases)
    for base_id in base_ids:
        schema.invalidate(base_id)
        aggregate_cache.invalidate(base_id)
    logger.info("sample reset user_id=%s bases=%d", user_id, len(base_ids))
    return base_ids


def disconnect(*, user_id: int) -> bool:
    """Forget the user's stored token (see `remove_connection`).

    Args:
        user_id: The signed-in user.

    Returns:
        True when there was a connection to remove.
    """
    with session_scope() as db:
        return remove_connection(session=db, user=_account(db, user_id))


def _account(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    assert user is not None, "a signed-in user's account exists"
    return user


# --- storage ------------------------------------------------------------------------


def save_connection(
    *,
    session: Session,
    user: User,
    token: str,
    check: TokenCheck,
    kind: ConnectionKind = ConnectionKind.PERSONAL_ACCESS_TOKEN,
) -> AirtableConnection:
    """Store a checked token, encrypted, replacing the user's previous connection.

    Args:
        session: The database session.
        user: The account connecting Airtable.
        token: The token that `check_airtable_token` accepted.
        check: Its result.
        kind: A pasted token, or the sample server's token for the user's sample.

    Returns:
        The saved connection (flushed).
    """
    assert user.id is not None, "the user must be saved before connecting Airtable"
    token = clean_token(token)
    now = utcnow()
    connection = get_connection(session=session, user=user)
    if connection is None:
        connection = AirtableConnection(user_id=user.id, encrypted_token="")
        connection.created_at = now
    connection.kind = kind.value
    connection.encrypted_token = encrypt_secret(token)
    connection.encrypted_refresh_token = None
    connection.token_expires_at = None
    connection.token_hint = token[-TOKEN_HINT_LENGTH:]
    connection.airtable_user_id = check.user_id
    connection.airtable_email = check.email or ""
    connection.scopes = list(check.scopes)
    connection.checked_at = now
    session.add(connection)
    session.flush()
    logger.info(
        "airtable connected user_id=%s airtable_user=%s hint=…%s",
        user.id,
        check.user_id,
        connection.token_hint,
    )
    return connection


def get_connection(*, session: Session, user: User) -> AirtableConnection | None:
    """The user's Airtable connection, or None (the token stays encrypted).

    Args:
        session: The database session.
        user: The account.

    Returns:
        The connection row or None.
    """
    return session.exec(
        select(AirtableConnection).where(AirtableConnection.user_id == user.id)
    ).first()


def remove_connection(*, session: Session, user: User) -> bool:
    """Forget the user's Airtable token (the token itself stays valid in Airtable).

    Args:
        session: The database session.
        user: The account.

    Returns:
        True when there was a connection to remove.
    """
    connection = get_connection(session=session, user=user)
    if connection is None:
        return False
    session.delete(connection)
    session.flush()
    logger.info("airtable disconnected user_id=%s", user.id)
    return True
