"""Single sign-on through any OpenID Connect provider (authorization code flow + PKCE).

`begin_sign_in` builds the provider's authorization URL and the secrets the browser's
flow cookie must carry (state, nonce, PKCE verifier). `finish_sign_in` checks the
callback against them, exchanges the code and validates the ID token (signature via
the provider's JWKS, issuer, audience, expiry, nonce). `sign_in_with_oidc` finds,
links or creates the account. The HTTP routes in `pyairtable_ui.api.oauth_routes`
carry the browser and the cookies; nothing here imports Reflex or Starlette.

Tokens, codes and secrets are never logged: errors carry a short reason only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session, func, select

from pyairtable_ui.auth import service
from pyairtable_ui.auth.errors import InvalidEmailError
from pyairtable_ui.auth.models import Role, User
from pyairtable_ui.auth.passwords import normalize_email
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.settings import Settings

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from joserfc.jwk import KeySet

# authlib's OAuth client and joserfc (with cryptography's OpenSSL bindings, about 11 MB
# together) are imported by the functions of a sign-in, not with the module: a worker
# of an instance without SSO never needs them, one with SSO only once someone signs in.

logger = logging.getLogger(__name__)

# authlib's httpx integration runs on httpx2 when it is installed, else on httpx: its
# network and status errors can come from either.
try:
    from httpx2 import HTTPError as _Httpx2Error
except ImportError:  # pragma: no cover (httpx2 is in constraints.txt)
    _Httpx2Error = httpx.HTTPError  # type: ignore[assignment,misc]
HTTP_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, _Httpx2Error)

SCOPES = "openid email profile"
CALLBACK_PATH = "/_auth/oidc/callback"
HTTP_TIMEOUT = 10.0  # seconds; a person is waiting on the redirect
METADATA_TTL = 3600.0  # providers rarely change endpoints; an hour bounds staleness
ID_TOKEN_LEEWAY = 60  # seconds of clock skew tolerated between us and the provider
# Asymmetric algorithms only: HS256 would make the client secret the verification key,
# and "none" must never pass.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
MAX_SUBJECT_LENGTH = 255  # the users.oidc_subject column


class OIDCError(Exception):
    """Single sign-on did not complete.

    The message is for the log only (never a token or code); the login page shows
    the text for `page_reason`.

    Attributes:
        reason: What went wrong, for the log line.
        page_reason: The `reason` query value of the login page to show.
    """

    page_reason = "sso_failed"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class OIDCCancelledError(OIDCError):
    """The person declined at the provider (``error=access_denied``)."""

    page_reason = "sso_cancelled"


class OIDCEmailTakenError(OIDCError):
    """An account has this email but the provider does not vouch for it, so no link."""

    page_reason = "sso_email_taken"


@dataclass(frozen=True)
class OIDCConfig:
    """What the instance needs to talk to its provider.

    Attributes:
        issuer: OIDC_ISSUER, e.g. https://accounts.example.com.
        client_id: OIDC_CLIENT_ID.
        client_secret: OIDC_CLIENT_SECRET; None for a public client (PKCE only).
        redirect_uri: Our callback, registered at the provider.
    """

    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uri: str

    def __repr__(self) -> str:
        # Keeps the secret out of tracebacks and debug logs.
        return f"OIDCConfig(issuer={self.issuer!r}, client_id={self.client_id!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> OIDCConfig | None:
        """The configuration, or None when single sign-on is not configured.

        Args:
            settings: The instance settings.

        Returns:
            The config or None.
        """
        if not settings.oidc_configured:
            return None
        assert settings.oidc_issuer and settings.oidc_client_id
        secret = settings.oidc_client_secret
        return cls(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=(secret.get_secret_value() or None) if secret else None,
            redirect_uri=settings.base_url + CALLBACK_PATH,
        )


@dataclass(frozen=True)
class ProviderMetadata:
    """The endpoints a provider publishes in its discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None


@dataclass(frozen=True)
class PendingSignIn:
    """The secrets of one sign-in attempt, kept in the browser's sealed flow cookie.

    Attributes:
        state: Binds the callback to this browser (CSRF protection).
        nonce: Binds the ID token to this attempt (replay protection).
        code_verifier: The PKCE secret whose S256 hash went to the provider.
        next_path: A local path to open once signed in ("" for the default).
    """

    state: str
    nonce: str
    code_verifier: str
    next_path: str = ""

    def __repr__(self) -> str:
        return f"PendingSignIn(next_path={self.next_path!r})"

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready form for the flow cookie."""
        return {
            "state": self.state,
            "nonce": self.nonce,
            "code_verifier": self.code_verifier,
            "next_path": self.next_path,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingSignIn:
        """Read the flow cookie's content back.

        Raises:
            OIDCError: The content is not a pending sign-in.
        """
        try:
            return cls(
                state=str(data["state"]),
                nonce=str(data["nonce"]),
                code_verifier=str(data["code_verifier"]),
                next_path=str(data.get("next_path", "")),
            )
        except (KeyError, TypeError) as exc:
            raise OIDCError("flow cookie does not hold a pending sign-in") from exc


@dataclass(frozen=True)
class OIDCIdentity:
    """Who the provider says signed in.

    Attributes:
        issuer: The issuer that vouched (the ID token's `iss`).
        subject: The provider's stable id for the person (`sub`).
        email: The email claim, if shared.
        email_verified: True only when the provider says it verified the email.
        name: The display name claim ("" when absent).
    """

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str


# --- discovery and keys -----------------------------------------------------------------

_metadata_cache: dict[str, tuple[float, ProviderMetadata]] = {}
_jwks_cache: dict[str, tuple[float, KeySet]] = {}


def clear_caches() -> None:
    """Forget cached discovery documents and keys (tests, or after changing OIDC_ISSUER)."""
    _metadata_cache.clear()
    _jwks_cache.clear()


def _http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False)


async def _get_json(url: str, *, what: str) -> dict[str, Any]:
    try:
        async with _http_client() as client:
            response = await client.get(url, headers={"accept": "application/json"})
            response.raise_for_status()
            data = response.json()
    except httpx.HTTPError as exc:
        raise OIDCError(f"{what} unreachable: {type(exc).__name__}") from exc
    except ValueError as exc:
        raise OIDCError(f"{what} is not JSON") from exc
    if not isinstance(data, dict):
        raise OIDCError(f"{what} is not a JSON object")
    return data


async def fetch_metadata(issuer: str, *, refresh: bool = False) -> ProviderMetadata:
    """The provider's endpoints from `{issuer}/.well-known/openid-configuration`, cached.

    Args:
        issuer: OIDC_ISSUER.
        refresh: Ignore the cache.

    Returns:
        The endpoints.

    Raises:
        OIDCError: Unreachable, malformed, or published for another issuer.
    """
    key = issuer.rstrip("/")
    cached = _metadata_cache.get(key)
    if cached and not refresh and time.monotonic() - cached[0] < METADATA_TTL:
        return cached[1]
    data = await _get_json(f"{key}/.well-known/openid-configuration", what="discovery document")
    try:
        metadata = ProviderMetadata(
            issuer=str(data["issuer"]),
            authorization_endpoint=str(data["authorization_endpoint"]),
            token_endpoint=str(data["token_endpoint"]),
            jwks_uri=str(data["jwks_uri"]),
            userinfo_endpoint=str(data["userinfo_endpoint"])
            if data.get("userinfo_endpoint")
            else None,
        )
    except KeyError as exc:
        raise OIDCError(f"discovery document lacks {exc.args[0]}") from exc
    # OpenID Connect Discovery §4.3: a document for another issuer is an impersonation
    # attempt. Only a trailing slash typed differently in OIDC_ISSUER is forgiven.
    if metadata.issuer.rstrip("/") != key:
        raise OIDCError("discovery document names another issuer")
    _metadata_cache[key] = (time.monotonic(), metadata)
    return metadata


async def _fetch_keys(jwks_uri: str, *, refresh: bool = False) -> KeySet:
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    cached = _jwks_cache.get(jwks_uri)
    if cached and not refresh and time.monotonic() - cached[0] < METADATA_TTL:
        return cached[1]
    data = await _get_json(jwks_uri, what="JWKS")
    try:
        keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise OIDCError(f"JWKS unreadable: {type(exc).__name__}") from exc
    _jwks_cache[jwks_uri] = (time.monotonic(), keys)
    return keys


# --- the flow ---------------------------------------------------------------------------


def _oauth_client(config: OIDCConfig) -> AsyncOAuth2Client:
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    return AsyncOAuth2Client(
        client_id=config.client_id,
        client_secret=config.client_secret,
        # Confidential clients authenticate with HTTP Basic; public ones send only their id.
        token_endpoint_auth_method="client_secret_basic" if config.client_secret else "none",
        redirect_uri=config.redirect_uri,
        scope=SCOPES,
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT,
    )


async def begin_sign_in(*, config: OIDCConfig, next_path: str = "") -> tuple[str, PendingSignIn]:
    """Start a sign-in: where to send the browser, and what its flow cookie must hold.

    Args:
        config: The provider configuration.
        next_path: A local path to open after sign-in (already checked by the caller).

    Returns:
        The provider's authorization URL and the pending sign-in to seal in a cookie.

    Raises:
        OIDCError: The provider's discovery document cannot be read.
    """
    from authlib.common.security import generate_token

    metadata = await fetch_metadata(config.issuer)
    # 48 characters from [A-Za-z0-9]: inside PKCE's 43-128 range, ~285 bits.
    pending = PendingSignIn(
        state=generate_token(32),
        nonce=generate_token(32),
        code_verifier=generate_token(48),
        next_path=next_path,
    )
    async with _oauth_client(config) as client:
        url, _state = client.create_authorization_url(
            metadata.authorization_endpoint,
            state=pending.state,
            code_verifier=pending.code_verifier,
            nonce=pending.nonce,
        )
    return url, pending


def check_state(received: str | None, expected: str) -> None:
    """Refuse a callback whose `state` is not the one this browser's cookie holds.

    Args:
        received: The `state` query parameter.
        expected: The state sealed in the flow cookie.

    Raises:
        OIDCError: They differ (CSRF or a callback meant for another tab or browser).
    """
    if not received or not hmac.compare_digest(received.encode(), expected.encode()):
        raise OIDCError("state mismatch")


async def finish_sign_in(
    *, config: OIDCConfig, pending: PendingSignIn, callback_params: Mapping[str, str]
) -> OIDCIdentity:
    """Complete a sign-in from the provider's callback.

    Args:
        config: The provider configuration.
        pending: What the flow cookie held.
        callback_params: The callback's query parameters.

    Returns:
        The identity the validated ID token (and userinfo) vouch for.

    Raises:
        OIDCCancelledError: The person declined.
        OIDCError: Bad state, provider error, refused code exchange, or an ID token
            that fails validation.
    """
    # State first: an error answer for another browser must not be believed either.
    check_state(callback_params.get("state"), pending.state)
    error = callback_params.get("error")
    if error == "access_denied":
        raise OIDCCancelledError("consent denied at the provider")
    if error:
        raise OIDCError(f"provider answered error={error[:60]}")
    code = callback_params.get("code")
    if not code:
        raise OIDCError("callback without a code")

    from authlib.integrations.base_client.errors import OAuthError

    metadata = await fetch_metadata(config.issuer)
    try:
        async with _oauth_client(config) as client:
            token = await client.fetch_token(
                metadata.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.code_verifier,
            )
    except OAuthError as exc:
        raise OIDCError(f"token endpoint refused the code: {exc.error}") from exc
    except HTTP_ERRORS as exc:
        raise OIDCError(f"token endpoint unreachable: {type(exc).__name__}") from exc
    except ValueError as exc:
        raise OIDCError("token endpoint answered unexpectedly") from exc

    id_token = token.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise OIDCError("token response has no id_token")
    claims = await _validated_claims(id_token, metadata=metadata, config=config, pending=pending)

    email = claims.get("email")
    email_verified = claims.get("email_verified")
    name = claims.get("name")
    access_token = token.get("access_token")
    if not email and metadata.userinfo_endpoint and isinstance(access_token, str):
        # Some providers keep the ID token small and share the email via userinfo only.
        info = await _userinfo(metadata.userinfo_endpoint, access_token)
        if info.get("sub") != claims["sub"]:
            raise OIDCError("userinfo is about another subject")
        email, email_verified = info.get("email"), info.get("email_verified")
        name = name or info.get("name")
    return OIDCIdentity(
        issuer=str(claims["iss"]),
        subject=str(claims["sub"]),
        email=str(email) if email else None,
        # Some providers (e.g. Cognito) send the boolean as a string.
        email_verified=email_verified is True or email_verified == "true",
        name=str(name or ""),
    )


async def _validated_claims(
    id_token: str, *, metadata: ProviderMetadata, config: OIDCConfig, pending: PendingSignIn
) -> dict[str, Any]:
    from joserfc.errors import InvalidKeyIdError

    keys = await _fetch_keys(metadata.jwks_uri)
    try:
        return validate_id_token(
            id_token,
            keys=keys,
            issuer=metadata.issuer,
            client_id=config.client_id,
            nonce=pending.nonce,
        )
    except InvalidKeyIdError:
        # The provider may have rotated its keys since we cached them: fetch once more.
        keys = await _fetch_keys(metadata.jwks_uri, refresh=True)
        try:
            return validate_id_token(
                id_token,
                keys=keys,
                issuer=metadata.issuer,
                client_id=config.client_id,
                nonce=pending.nonce,
            )
        except InvalidKeyIdError as exc:
            raise OIDCError("ID token signed with an unknown key") from exc


def validate_id_token(
    id_token: str,
    *,
    keys: KeySet,
    issuer: str,
    client_id: str,
    nonce: str,
    now: int | None = None,
) -> dict[str, Any]:
    """Check an ID token as OpenID Connect Core §3.1.3.7 requires.

    Args:
        id_token: The compact JWT from the token response.
        keys: The provider's public keys.
        issuer: The issuer from the discovery document (must equal `iss`).
        client_id: Our client id (must be in `aud`; `azp` when several audiences).
        nonce: The nonce sent with this attempt (must equal `nonce`).
        now: Unix time to check `exp` against (tests pass a fixed one).

    Returns:
        The claims.

    Raises:
        InvalidKeyIdError: Signed with a key id absent from `keys` (refetch and retry).
        OIDCError: Bad signature, algorithm, issuer, audience, expiry or nonce.
    """
    from joserfc import jwt
    from joserfc.errors import InvalidKeyIdError, JoseError

    try:
        token = jwt.decode(id_token, keys, algorithms=list(ID_TOKEN_ALGORITHMS))
    except InvalidKeyIdError:
        raise
    except JoseError as exc:
        raise OIDCError(f"ID token rejected: {exc.error}") from exc
    except ValueError as exc:
        raise OIDCError("ID token is not a JWT") from exc
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=ID_TOKEN_LEEWAY,
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise OIDCError(f"ID token rejected: {exc.error} {exc.description or ''}".strip()) from exc
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != client_id:
        raise OIDCError("ID token was issued to another party (azp)")
    return claims


async def _userinfo(endpoint: str, access_token: str) -> dict[str, Any]:
    try:
        async with _http_client() as client:
            response = await client.get(
                endpoint, headers={"authorization": f"Bearer {access_token}"}
            )
            response.raise_for_status()
            data = response.json()
    except httpx.HTTPError as exc:
        raise OIDCError(f"userinfo unreachable: {type(exc).__name__}") from exc
    except ValueError as exc:
        raise OIDCError("userinfo is not JSON") from exc
    if not isinstance(data, dict):
        raise OIDCError("userinfo is not a JSON object")
    return data


# --- accounts ---------------------------------------------------------------------------


def subject_key(issuer: str, subject: str) -> str:
    """What `users.oidc_subject` stores: the subject qualified by its issuer.

    `sub` is only unique per issuer, so an admin switching OIDC_ISSUER must not let a
    new provider's user inherit an account whose old subject happens to match.

    Args:
        issuer: The ID token's `iss`.
        subject: The ID token's `sub`.

    Returns:
        At most 255 characters; very long values keep a SHA-256 of the subject.
    """
    key = f"{issuer.rstrip('/')}|{subject}"
    if len(key) <= MAX_SUBJECT_LENGTH:
        return key
    digest = hashlib.sha256(f"{issuer}|{subject}".encode()).hexdigest()
    return f"sha256:{digest}"


def sign_in_with_oidc(
    *, session: Session, identity: OIDCIdentity, now: datetime | None = None
) -> User:
    """Find, link or create the account of a person the provider vouched for.

    In order: the account already linked to this subject; else an account with the
    same email, linked only when the provider says the email is verified; else a
    new account (admin when it is the instance's first). No session is created:
    call `sessions.create_session` next.

    Args:
        session: The database session.
        identity: What `finish_sign_in` returned.
        now: The current time (tests pass a fixed one).

    Returns:
        The active user.

    Raises:
        OIDCEmailTakenError: An account has the email but the provider did not verify it.
        OIDCError: Disabled account, no usable email, or an account linked to another
            subject.
    """
    now = now or utcnow()
    key = subject_key(identity.issuer, identity.subject)
    user = session.exec(select(User).where(User.oidc_subject == key)).first()
    if user is not None:
        if not user.is_active:
            raise OIDCError(f"account disabled user_id={user.id}")
        logger.info("sso sign-in user_id=%s", user.id)
        return user

    if not identity.email:
        raise OIDCError("provider shared no email (is the `email` scope allowed?)")
    try:
        email = normalize_email(identity.email)
    except InvalidEmailError as exc:
        raise OIDCError("provider's email claim is not an email address") from exc

    existing = service.get_user_by_email(session=session, email=email)
    if existing is not None:
        return _link(session, existing, key=key, identity=identity, now=now)
    return _create(session, email=email, key=key, identity=identity, now=now)


def _link(session: Session, user: User, *, key: str, identity: OIDCIdentity, now: datetime) -> User:
    if not identity.email_verified:
        raise OIDCEmailTakenError(f"email of user_id={user.id} not verified by the provider")
    if user.oidc_subject is not None:
        raise OIDCError(f"user_id={user.id} is linked to another SSO subject")
    if not user.is_active:
        raise OIDCError(f"account disabled user_id={user.id}")
    if user.email_verified_at is None:
        # Whoever registered this address never proved it; the provider just proved it
        # is someone's. Dropping the unproven password stops a pre-registered account
        # from becoming a back door (the owner can set one with "Forgot your password").
        user.password_hash = None
        user.email_verified_at = now
    user.oidc_subject = key
    user.updated_at = now
    session.add(user)
    session.flush()
    logger.info("sso subject linked to existing account user_id=%s", user.id)
    return user


def _create(
    session: Session, *, email: str, key: str, identity: OIDCIdentity, now: datetime
) -> User:
    name = " ".join(identity.name.split())[: service.MAX_DISPLAY_NAME_LENGTH]
    if session.get_bind().dialect.name == "postgresql":
        # Same lock as registration, so two first sign-ups cannot both become admin.
        session.connection().execute(sa.text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
    user = User(
        email=email,
        display_name=name or email.partition("@")[0],
        password_hash=None,
        oidc_subject=key,
        # The provider vouches for the person; the address counts as proven only if it
        # says it verified it.
        email_verified_at=now if identity.email_verified else None,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:
        session.rollback()
        raise OIDCError("account created concurrently for this email or subject") from exc
    others = session.exec(select(func.count()).select_from(User).where(User.id != user.id)).one()
    if others == 0:
        user.role = Role.ADMIN.value
        session.add(user)
        session.flush()
    logger.info("user registered through sso user_id=%s role=%s", user.id, user.role)
    return user
