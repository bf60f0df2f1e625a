"""Connecting Airtable with OAuth 2.0 (authorization code + PKCE), and keeping it fresh.

`begin_connection` builds Airtable's authorization URL and the secrets the browser's
flow cookie must carry; `exchange_code` checks the callback and trades the code for
tokens; `save_oauth_connection` stores them encrypted (kind "oauth"). Airtable's
access tokens last an hour and its refresh tokens are single-use, so backend code
must read the token through `get_valid_token`, which refreshes it when it is about
to expire. Tokens, codes and secrets are never logged.

Blocking (HTTP through authlib's httpx client): call from a thread in handlers.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlmodel import Session

from pyairtable_ui.airtable.connections import (
    TOKEN_HINT_LENGTH,
    AirtableTokenError,
    NotConnectedError,
    TokenCheck,
    get_connection,
    save_connection,
)
from pyairtable_ui.airtable.models import AirtableConnection, ConnectionKind
from pyairtable_ui.auth.models import User
from pyairtable_ui.core.crypto import decrypt_secret, encrypt_secret
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import OAuth2Client

# authlib's OAuth client is imported by the functions of a connection flow, not with
# the module: a worker needs it only once someone connects with OAuth.

logger = logging.getLogger(__name__)

# authlib's httpx integration runs on httpx2 when it is installed, else on httpx: its
# network and status errors can come from either.
try:
    from httpx2 import HTTPError as _Httpx2Error
    from httpx2 import HTTPStatusError as _Httpx2StatusError
except ImportError:  # pragma: no cover (httpx2 is in constraints.txt)
    _Httpx2Error, _Httpx2StatusError = httpx.HTTPError, httpx.HTTPStatusError  # type: ignore[assignment,misc]
HTTP_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, _Httpx2Error)
HTTP_STATUS_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPStatusError, _Httpx2StatusError)

SCOPES: tuple[str, ...] = (
    "data.records:read",
    "data.records:write",
    "schema.bases:read",
    "schema.bases:write",
    "user.email:read",
)
AUTHORIZE_PATH = "/oauth2/v1/authorize"
TOKEN_PATH = "/oauth2/v1/token"  # noqa: S105 (a path, not a secret)
CALLBACK_PATH = "/_auth/airtable/callback"
HTTP_TIMEOUT = 15.0  # seconds
# Refresh a little early so a token does not expire between this check and Airtable.
REFRESH_MARGIN = timedelta(minutes=2)

# What the onboarding page says for each `airtable_oauth` reason in its URL.
ERROR_MESSAGES: dict[str, str] = {
    "cancelled": (
        "You cancelled the connection in Airtable. Connect again when you are ready, "
        "or paste a personal access token instead."
    ),
    "expired": ("Connecting with Airtable took too long or was started in another tab. Try again."),
    "failed": (
        "Connecting with Airtable did not complete. Try again, or paste a personal "
        "access token instead."
    ),
    "no_bases": (
        "You did not give access to any base. Connect again and pick the bases you "
        "want to use on Airtable's consent page."
    ),
    "missing_scopes": (
        "Airtable did not grant every permission the app needs. Connect again and "
        "allow all the requested permissions."
    ),
    "unreachable": "Airtable could not be reached. Try again in a minute.",
}


class AirtableOAuthError(AirtableTokenError):
    """The OAuth connection failed or can no longer be refreshed.

    A subclass of `AirtableTokenError`, so handlers that show `exc.message` for a bad
    token show this one too.

    Attributes:
        message: What the user reads.
        reason: Key of `ERROR_MESSAGES` (for the onboarding redirect).
        detail: What went wrong, for the log only (never a token or code).
    """

    default_message = ERROR_MESSAGES["failed"]

    def __init__(self, detail: str, *, reason: str = "failed", message: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(message or ERROR_MESSAGES.get(reason, self.default_message))


class ReconnectNeededError(AirtableOAuthError):
    """The stored grant is gone (revoked, refresh token expired or used elsewhere)."""

    default_message = (
        "Your Airtable connection has expired. Connect Airtable again (Settings or onboarding)."
    )

    def __init__(self, detail: str) -> None:
        super().__init__(detail, reason="failed", message=self.default_message)


@dataclass(frozen=True)
class AirtableOAuthConfig:
    """The registered OAuth integration of this instance.

    Attributes:
        client_id: AIRTABLE_OAUTH_CLIENT_ID.
        client_secret: AIRTABLE_OAUTH_CLIENT_SECRET, or None for a public integration.
        oauth_url: AIRTABLE_OAUTH_URL (https://airtable.com, or the local provider).
        redirect_uri: Our callback, registered with the integration.
    """

    client_id: str
    client_secret: str | None
    oauth_url: str
    redirect_uri: str

    def __repr__(self) -> str:
        return f"AirtableOAuthConfig(client_id={self.client_id!r}, oauth_url={self.oauth_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> AirtableOAuthConfig | None:
        """The configuration, or None when "Connect with Airtable" is not configured.

        Args:
            settings: The instance settings.

        Returns:
            The config or None.
        """
        if not settings.airtable_oauth_configured:
            return None
        assert settings.airtable_oauth_client_id
        secret = settings.airtable_oauth_client_secret
        return cls(
            client_id=settings.airtable_oauth_client_id,
            client_secret=(secret.get_secret_value() or None) if secret else None,
            oauth_url=settings.airtable_oauth_url.rstrip("/"),
            redirect_uri=settings.base_url + CALLBACK_PATH,
        )


@dataclass(frozen=True)
class PendingConnection:
    """The secrets of one connection attempt, kept in the browser's sealed flow cookie.

    Attributes:
        state: Binds the callback to this browser.
        code_verifier: The PKCE secret whose S256 hash went to Airtable.
        user_id: Who started it; the callback must come from the same signed-in user.
    """

    state: str
    code_verifier: str
    user_id: int

    def __repr__(self) -> str:
        return f"PendingConnection(user_id={self.user_id})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for the flow cookie."""
        return {"state": self.state, "code_verifier": self.code_verifier, "user_id": self.user_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingConnection:
        """Read the flow cookie's content back.

        Raises:
            AirtableOAuthError: The content is not a pending connection.
        """
        try:
            return cls(
                state=str(data["state"]),
                code_verifier=str(data["code_verifier"]),
                user_id=int(data["user_id"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AirtableOAuthError("flow cookie does not hold a pending connection") from exc


@dataclass(frozen=True)
class OAuthTokens:
    """What Airtable's token endpoint granted.

    Attributes:
        access_token: Bearer token for the Web API.
        refresh_token: Single-use token to get the next pair (None if none was sent).
        expires_at: When the access token stops working (None if not said).
        scopes: The granted scopes.
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    scopes: tuple[str, ...]


def _client(config: AirtableOAuthConfig) -> OAuth2Client:
    from authlib.integrations.httpx_client import OAuth2Client

    return OAuth2Client(
        client_id=config.client_id,
        client_secret=config.client_secret,
        # Airtable: HTTP Basic with id and secret when the integration has a secret,
        # otherwise client_id in the body (public client, PKCE only).
        token_endpoint_auth_method="client_secret_basic" if config.client_secret else "none",
        redirect_uri=config.redirect_uri,
        scope=" ".join(SCOPES),
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT,
    )


def begin_connection(*, config: AirtableOAuthConfig, user_id: int) -> tuple[str, PendingConnection]:
    """Start connecting: where to send the browser, and what its flow cookie must hold.

    Args:
        config: The integration's configuration.
        user_id: The signed-in user (resolved from the session cookie by the caller).

    Returns:
        Airtable's authorization URL and the pending connection to seal in a cookie.
    """
    from authlib.common.security import generate_token

    pending = PendingConnection(
        state=generate_token(32), code_verifier=generate_token(64), user_id=user_id
    )
    with _client(config) as client:
        url, _state = client.create_authorization_url(
            config.oauth_url + AUTHORIZE_PATH,
            state=pending.state,
            code_verifier=pending.code_verifier,
        )
    return url, pending


def _tokens_from(token: Mapping[str, Any], *, now: datetime) -> OAuthTokens:
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise AirtableOAuthError("token response without access_token")
    expires_in = token.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        expires_at = now + timedelta(seconds=float(expires_in))
    refresh_token = token.get("refresh_token")
    scope = token.get("scope")
    return OAuthTokens(
        access_token=access_token,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        expires_at=expires_at,
        scopes=tuple(scope.split()) if isinstance(scope, str) else (),
    )


def exchange_code(
    *,
    config: AirtableOAuthConfig,
    pending: PendingConnection,
    callback_params: Mapping[str, str],
    now: datetime | None = None,
) -> OAuthTokens:
    """Check Airtable's callback and trade its code for tokens.

    Args:
        config: The integration's configuration.
        pending: What the flow cookie held.
        callback_params: The callback's query parameters.
        now: The current time (tests pass a fixed one).

    Returns:
        The granted tokens.

    Raises:
        AirtableOAuthError: Bad state (reason "failed"), declined ("cancelled"), an
            error answer, or a refused exchange (e.g. a wrong PKCE verifier).
    """
    received = callback_params.get("state") or ""
    if not received or not hmac.compare_digest(received.encode(), pending.state.encode()):
        raise AirtableOAuthError("state mismatch")
    error = callback_params.get("error")
    if error == "access_denied":
        raise AirtableOAuthError("consent denied in Airtable", reason="cancelled")
    if error:
        raise AirtableOAuthError(f"airtable answered error={error[:60]}")
    code = callback_params.get("code")
    if not code:
        raise AirtableOAuthError("callback without a code")
    now = now or utcnow()
    token = _call_token_endpoint(
        config,
        lambda client: client.fetch_token(
            config.oauth_url + TOKEN_PATH,
            grant_type="authorization_code",
            code=code,
            code_verifier=pending.code_verifier,
        ),
        step="code exchange",
    )
    return _tokens_from(token, now=now)


def refresh_tokens(
    *, config: AirtableOAuthConfig, refresh_token: str, now: datetime | None = None
) -> OAuthTokens:
    """Trade a refresh token for a new access token (and a new refresh token).

    Args:
        config: The integration's configuration.
        refresh_token: The stored refresh token (single-use at Airtable).
        now: The current time (tests pass a fixed one).

    Returns:
        The new tokens.

    Raises:
        ReconnectNeededError: Airtable refused the refresh token.
        AirtableOAuthError: Airtable could not be reached (reason "unreachable").
    """
    now = now or utcnow()
    try:
        token = _call_token_endpoint(
            config,
            lambda client: client.refresh_token(
                config.oauth_url + TOKEN_PATH, refresh_token=refresh_token
            ),
            step="refresh",
        )
    except AirtableOAuthError as exc:
        if exc.reason == "unreachable":
            raise
        raise ReconnectNeededError(exc.detail) from exc
    return _tokens_from(token, now=now)


def _call_token_endpoint(config: AirtableOAuthConfig, call: Any, *, step: str) -> Mapping[str, Any]:
    from authlib.integrations.base_client.errors import OAuthError

    try:
        with _client(config) as client:
            token = call(client)
    except OAuthError as exc:
        raise AirtableOAuthError(f"{step} refused: {exc.error}") from exc
    except HTTP_STATUS_ERRORS as exc:
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        raise AirtableOAuthError(
            f"{step}: token endpoint HTTP {status}", reason="unreachable"
        ) from exc
    except HTTP_ERRORS as exc:
        raise AirtableOAuthError(
            f"{step}: token endpoint unreachable {type(exc).__name__}", reason="unreachable"
        ) from exc
    except ValueError as exc:
        raise AirtableOAuthError(f"{step}: token endpoint answered unexpectedly") from exc
    return dict(token)


# --- storage ------------------------------------------------------------------------------


def save_oauth_connection(
    *, session: Session, user: User, tokens: OAuthTokens, check: TokenCheck
) -> AirtableConnection:
    """Store an OAuth grant, encrypted, replacing the user's previous connection.

    Args:
        session: The database session.
        user: The account connecting Airtable.
        tokens: What `exchange_code` returned.
        check: What `check_airtable_token` said about the access token.

    Returns:
        The saved connection (flushed).
    """
    # One storage path for both kinds: the PAT save does the row bookkeeping, then the
    # OAuth-only columns are filled in.
    connection = save_connection(session=session, user=user, token=tokens.access_token, check=check)
    connection.kind = ConnectionKind.OAUTH.value
    _store_tokens(connection, tokens)
    if not connection.scopes:
        connection.scopes = list(tokens.scopes)
    session.add(connection)
    session.flush()
    logger.info("airtable connected through oauth user_id=%s", user.id)
    return connection


def _store_tokens(connection: AirtableConnection, tokens: OAuthTokens) -> None:
    connection.encrypted_token = encrypt_secret(tokens.access_token)
    if tokens.refresh_token is not None:
        connection.encrypted_refresh_token = encrypt_secret(tokens.refresh_token)
    connection.token_expires_at = tokens.expires_at
    connection.token_hint = tokens.access_token[-TOKEN_HINT_LENGTH:]


_refresh_locks: dict[int, threading.Lock] = {}
_refresh_locks_guard = threading.Lock()


@contextmanager
def _user_refresh_lock(user_id: int) -> Iterator[None]:
    # Refresh tokens are single-use: two threads refreshing at once would make the
    # second one fail and lose the connection.
    with _refresh_locks_guard:
        lock = _refresh_locks.setdefault(user_id, threading.Lock())
    with lock:
        yield


def _needs_refresh(connection: AirtableConnection, now: datetime) -> bool:
    return (
        connection.kind == ConnectionKind.OAUTH.value
        and connection.token_expires_at is not None
        and connection.token_expires_at - REFRESH_MARGIN <= now
    )


def get_valid_token(
    *,
    session: Session,
    user: User,
    config: AirtableOAuthConfig | None = None,
    now: datetime | None = None,
) -> str:
    """The user's Airtable token, refreshed first if it is an OAuth token about to expire.

    The one reader of a stored token, for code about to call Airtable (through
    `pyairtable_ui.airtable.access`): it returns personal access tokens unchanged. New
    tokens are flushed; the caller's `session_scope()` commits them (do it promptly: the
    old refresh token is spent).
    Never put the result in Reflex state, a log line or a response.

    Args:
        session: The database session.
        user: The account.
        config: The integration (default: from the settings).
        now: The current time (tests pass a fixed one).

    Returns:
        A token Airtable accepts now.

    Raises:
        NotConnectedError: The user has not connected Airtable.
        ReconnectNeededError: The grant cannot be refreshed; the user must connect again.
        AirtableOAuthError: Airtable's token endpoint could not be reached.
        SecretDecryptionError: SECRET_KEY changed since the token was saved.
    """
    assert user.id is not None
    now = now or utcnow()
    connection = get_connection(session=session, user=user)
    if connection is None:
        raise NotConnectedError()
    if not _needs_refresh(connection, now):
        return decrypt_secret(connection.encrypted_token)

    with _user_refresh_lock(user.id):
        # Re-read under a row lock (PostgreSQL; SQLite serialises writers anyway) so
        # another replica that refreshed meanwhile is seen and not refreshed twice.
        session.refresh(connection, with_for_update=True)
        if not _needs_refresh(connection, now):
            return decrypt_secret(connection.encrypted_token)
        if connection.encrypted_refresh_token is None:
            raise ReconnectNeededError(f"no refresh token user_id={user.id}")
        config = config or AirtableOAuthConfig.from_settings(get_settings())
        if config is None:
            raise ReconnectNeededError("AIRTABLE_OAUTH_CLIENT_ID is no longer set")
        try:
            tokens = refresh_tokens(
                config=config,
                refresh_token=decrypt_secret(connection.encrypted_refresh_token),
                now=now,
            )
        except AirtableOAuthError as exc:
            logger.warning(
                "airtable token refresh failed user_id=%s reason=%s", user.id, exc.detail
            )
            raise
        _store_tokens(connection, tokens)
        session.add(connection)
        session.flush()
        logger.info("airtable oauth token refreshed user_id=%s", user.id)
        return tokens.access_token
