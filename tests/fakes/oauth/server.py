"""A small OAuth 2.0 / OpenID Connect provider on loopback, for tests and local demos.

It plays two roles on one port:

* an OpenID Connect issuer (``/.well-known/openid-configuration``, ``/authorize``,
  ``/token``, ``/jwks``, ``/userinfo``) signing RS256 ID tokens with its own key;
* Airtable's OAuth server (``/oauth2/v1/authorize``, ``/oauth2/v1/token``), which can
  hand out a fixed access token (e.g. the Airtable emulator's ``TOKEN_FULL``) so the
  token it issues is one the emulator accepts.

Both roles implement the authorization code grant with PKCE (S256 only; a wrong
``code_verifier`` is refused), single-use codes, and rotating refresh tokens. Client
authentication follows RFC 6749 §2.3.1: HTTP Basic or ``client_secret_post`` for a
confidential client, ``client_id`` alone for a public one.

Consent is either automatic (``consent="auto"``: the decision in ``auto_decision``
is applied at once) or a tiny HTML page with "Allow" and "Deny" buttons
(``consent="form"``) that a browser test clicks. Tests change ``user``,
``id_token_claims`` (claims merged into the next ID tokens: a past ``exp``, another
``aud``...), ``sign_with_foreign_key`` and ``token_failure`` to make it misbehave.

Runs on the standard library's ``ThreadingHTTPServer``; JOSE comes from ``joserfc``
and the PKCE transform from ``authlib``.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import RSAKey

__all__ = ["OAuthProvider", "ProviderUser"]

Role = Literal["oidc", "airtable"]
Consent = Literal["auto", "form"]

CODE_SECONDS = 60  # authorization codes expire quickly, as real providers' do
_OIDC_PATHS: dict[str, tuple[Role, str]] = {
    "/authorize": ("oidc", "authorize"),
    "/token": ("oidc", "token"),
    "/oauth2/v1/authorize": ("airtable", "authorize"),
    "/oauth2/v1/token": ("airtable", "token"),
}


@dataclass
class ProviderUser:
    """The person the provider signs in (there is exactly one at a time).

    Attributes:
        sub: The stable subject identifier.
        email: The address claimed, or None to share no email.
        email_verified: The ``email_verified`` claim; None leaves it out.
        name: The ``name`` claim.
    """

    sub: str = "test-user-0001"
    email: str | None = "sso.user@example.com"
    email_verified: bool | None = True
    name: str = "Sso Person"

    def claims(self) -> dict[str, Any]:
        """The identity claims of an ID token or userinfo answer."""
        claims: dict[str, Any] = {"sub": self.sub, "name": self.name}
        if self.email is not None:
            claims["email"] = self.email
        if self.email_verified is not None:
            claims["email_verified"] = self.email_verified
        return claims


@dataclass
class _PendingAuthorization:
    """An authorization request waiting for the user's decision (form consent)."""

    role: Role
    client_id: str
    redirect_uri: str
    state: str | None
    scope: str
    nonce: str | None
    code_challenge: str


@dataclass
class _Grant:
    """What an authorization code or a refresh token stands for."""

    role: Role
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    user: ProviderUser
    issued_at: float = field(default_factory=time.time)
    used: bool = False


class _TokenError(Exception):
    """An RFC 6749 §5.2 error answer of the token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class OAuthProvider:
    """An OAuth 2.0 + OpenID Connect provider with one client and one user.

    Example:
        >>> with OAuthProvider(client_id="app", client_secret="s3cret") as provider:
        ...     provider.user = ProviderUser(sub="u1", email="ann@example.com")
        ...     # OIDC_ISSUER=provider.issuer, AIRTABLE_OAUTH_URL=provider.url

    Attributes:
        client_id: The one registered client.
        client_secret: Its secret; None makes it a public client (PKCE only).
        consent: "auto" applies ``auto_decision`` at once; "form" shows Allow/Deny.
        auto_decision: "allow" or "deny", for automatic consent.
        user: Who signs in.
        airtable_access_token: Access token issued in the Airtable role (None: random).
        access_token_seconds: ``expires_in`` of access tokens.
        id_token_claims: Claims merged into the next ID tokens; a None value removes one.
        sign_with_foreign_key: Sign ID tokens with a key absent from the JWKS.
        token_failure: When set, the token endpoints answer this HTTP status.
        redirect_uris: Accepted redirect URIs; None accepts any.
        requests: One entry per token request (path, grant type, client authentication).
    """

    def __init__(
        self,
        *,
        client_id: str = "pyairtable-ui-test",
        client_secret: str | None = "test-client-secret",  # noqa: S107 (a test double)
        host: str = "127.0.0.1",
        port: int = 0,
        consent: Consent = "auto",
        airtable_access_token: str | None = None,
        access_token_seconds: int = 3600,
        redirect_uris: list[str] | None = None,
        verbose: bool = False,
    ) -> None:
        """Prepare the provider; nothing listens until ``start()``.

        Args:
            client_id: The registered client's id.
            client_secret: Its secret, or None for a public client.
            host: Interface to bind.
            port: TCP port; 0 picks a free one.
            consent: "auto" or "form" (see the class docstring).
            airtable_access_token: Access token to issue in the Airtable role.
            access_token_seconds: Lifetime of access tokens.
            redirect_uris: Accepted redirect URIs (None: any).
            verbose: Log each request to stderr.
        """
        self.client_id = client_id
        self.client_secret = client_secret
        self.host = host
        self.consent: Consent = consent
        self.auto_decision: Literal["allow", "deny"] = "allow"
        self.user = ProviderUser()
        self.airtable_access_token = airtable_access_token
        self.access_token_seconds = access_token_seconds
        self.id_token_seconds = 300
        self.id_token_claims: dict[str, Any] = {}
        self.sign_with_foreign_key = False
        self.token_failure: int | None = None
        self.redirect_uris = redirect_uris
        self.verbose = verbose
        self.requests: list[dict[str, Any]] = []

        self._requested_port = port
        self._key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig"})
        self._foreign_key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1"})
        self._lock = threading.Lock()
        self._pending: dict[str, _PendingAuthorization] = {}
        self._codes: dict[str, _Grant] = {}
        self._refresh_tokens: dict[str, _Grant] = {}
        self._access_tokens: dict[str, _Grant] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> OAuthProvider:
        """Bind and serve in a background thread.

        Returns:
            This provider.
        """
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self.host, self._requested_port), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"oauth-provider:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving. Safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OAuthProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (meaningful once started)."""
        if self._httpd is None:
            return self._requested_port
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:5555`` (AIRTABLE_OAUTH_URL)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    @property
    def issuer(self) -> str:
        """The OpenID Connect issuer (OIDC_ISSUER): the base URL."""
        return self.url

    # --- test helpers ---------------------------------------------------------------

    def reset(self) -> None:
        """Forget codes, tokens and recorded requests; restore default behaviour."""
        with self._lock:
            self._pending.clear()
            self._codes.clear()
            self._refresh_tokens.clear()
            self._access_tokens.clear()
            self.requests.clear()
        self.consent = "auto"
        self.auto_decision = "allow"
        self.user = ProviderUser()
        self.id_token_claims = {}
        self.sign_with_foreign_key = False
        self.token_failure = None

    def token_requests(self, role: Role | None = None) -> list[dict[str, Any]]:
        """The token requests received, optionally for one role only."""
        with self._lock:
            return [r for r in self.requests if role is None or r["role"] == role]

    def refresh_token_is_live(self, refresh_token: str) -> bool:
        """Whether a refresh token is known and not yet used."""
        with self._lock:
            grant = self._refresh_tokens.get(refresh_token)
            return grant is not None and not grant.used

    def discovery_document(self) -> dict[str, Any]:
        """The OpenID Provider metadata served at the well-known address."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "claims_supported": ["sub", "email", "email_verified", "name"],
        }

    def jwks(self) -> dict[str, Any]:
        """The public signing keys."""
        return {"keys": [self._key.as_dict(private=False, alg="RS256")]}

    # --- authorization endpoint -----------------------------------------------------

    def authorize(self, role: Role, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        """Handle an authorization request.

        Returns:
            Status, headers and an HTML body (a redirect, the consent page or an error).
        """
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        if client_id != self.client_id:
            return 400, {}, _page("Unknown client", f"No client is registered as {client_id!r}.")
        if not redirect_uri or (
            self.redirect_uris is not None and redirect_uri not in self.redirect_uris
        ):
            return 400, {}, _page("Bad redirect", "This redirect_uri is not registered.")
        state = params.get("state")
        if params.get("response_type") != "code":
            return _redirect(redirect_uri, error="unsupported_response_type", state=state)
        challenge = params.get("code_challenge", "")
        if not challenge or params.get("code_challenge_method") != "S256":
            return _redirect(
                redirect_uri,
                error="invalid_request",
                error_description="PKCE with code_challenge_method=S256 is required",
                state=state,
            )
        scope = params.get("scope", "")
        if role == "oidc" and "openid" not in scope.split():
            return _redirect(redirect_uri, error="invalid_scope", state=state)
        pending = _PendingAuthorization(
            role=role,
            client_id=client_id,
            redirect_uri=redirect_uri,
            state=state,
            scope=scope,
            nonce=params.get("nonce"),
            code_challenge=challenge,
        )
        if self.consent == "auto":
            return self._decide(pending, allow=self.auto_decision == "allow")
        request_id = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[request_id] = pending
        who = html.escape(self.user.email or self.user.sub)
        app = "Airtable" if role == "airtable" else "Test identity provider"
        body = _page(
            app,
            f"<p>Allow <strong>{html.escape(client_id)}</strong> to use your account "
            f"<strong>{who}</strong>?</p><p>Scopes: {html.escape(scope)}</p>"
            '<form method="post" action="/consent">'
            f'<input type="hidden" name="request" value="{request_id}">'
            '<button type="submit" name="decision" value="allow">Allow</button> '
            '<button type="submit" name="decision" value="deny">Deny</button>'
            "</form>",
        )
        return 200, {}, body

    def consent_decision(self, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        """Apply the Allow/Deny button of the consent page."""
        with self._lock:
            pending = self._pending.pop(params.get("request", ""), None)
        if pending is None:
            return 400, {}, _page("Expired", "This consent request is unknown or was answered.")
        return self._decide(pending, allow=params.get("decision") == "allow")

    def _decide(
        self, pending: _PendingAuthorization, *, allow: bool
    ) -> tuple[int, dict[str, str], str]:
        if not allow:
            return _redirect(
                pending.redirect_uri,
                error="access_denied",
                error_description="The user denied access",
                state=pending.state,
            )
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Grant(
                role=pending.role,
                client_id=pending.client_id,
                redirect_uri=pending.redirect_uri,
                scope=pending.scope,
                nonce=pending.nonce,
                code_challenge=pending.code_challenge,
                user=ProviderUser(**vars(self.user)),
            )
        return _redirect(pending.redirect_uri, code=code, state=pending.state)

    # --- token endpoint ---------------------------------------------------------------

    def token(
        self, role: Role, params: dict[str, str], authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        """Handle a token request (authorization_code or refresh_token).

        Returns:
            Status and JSON body.
        """
        grant_type = params.get("grant_type", "")
        client_auth = _client_auth_kind(authorization, params)
        with self._lock:
            self.requests.append(
                {"role": role, "grant_type": grant_type, "client_auth": client_auth}
            )
        if self.token_failure is not None:
            return self.token_failure, {"error": "server_error"}
        try:
            self._authenticate_client(authorization, params)
            if grant_type == "authorization_code":
                grant = self._redeem_code(role, params)
            elif grant_type == "refresh_token":
                grant = self._redeem_refresh_token(role, params)
            else:
                raise _TokenError("unsupported_grant_type", f"grant_type {grant_type!r}")
        except _TokenError as exc:
            return exc.status, {"error": exc.error, "error_description": exc.description}
        return 200, self._issue(grant, with_id_token=grant_type == "authorization_code")

    def _authenticate_client(self, authorization: str | None, params: dict[str, str]) -> None:
        client_id, secret = params.get("client_id"), params.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode("utf-8")
            except ValueError as exc:
                raise _TokenError("invalid_client", "malformed Basic header", 401) from exc
            raw_id, _, raw_secret = decoded.partition(":")
            # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
            client_id, secret = (
                unquote(raw_id.replace("+", " ")),
                unquote(raw_secret.replace("+", " ")),
            )
        if client_id != self.client_id:
            raise _TokenError("invalid_client", "unknown client", 401)
        if self.client_secret is not None and not (
            secret is not None and secrets.compare_digest(secret, self.client_secret)
        ):
            raise _TokenError("invalid_client", "client authentication failed", 401)

    def _redeem_code(self, role: Role, params: dict[str, str]) -> _Grant:
        with self._lock:
            grant = self._codes.get(params.get("code", ""))
            if grant is None or grant.used or grant.role != role:
                raise _TokenError("invalid_grant", "unknown or used authorization code")
            grant.used = True  # single use, even when the rest of the request fails
        if time.time() - grant.issued_at > CODE_SECONDS:
            raise _TokenError("invalid_grant", "authorization code expired")
        if params.get("redirect_uri") != grant.redirect_uri:
            raise _TokenError("invalid_grant", "redirect_uri does not match")
        verifier = params.get("code_verifier", "")
        if not verifier or create_s256_code_challenge(verifier) != grant.code_challenge:
            raise _TokenError("invalid_grant", "PKCE verification failed")
        return grant

    def _redeem_refresh_token(self, role: Role, params: dict[str, str]) -> _Grant:
        with self._lock:
            grant = self._refresh_tokens.get(params.get("refresh_token", ""))
            if grant is None or grant.used or grant.role != role:
                raise _TokenError("invalid_grant", "unknown or used refresh token")
            grant.used = True  # rotation: each refresh token works once, as Airtable's do
        return grant

    def _issue(self, grant: _Grant, *, with_id_token: bool) -> dict[str, Any]:
        fresh = _Grant(
            role=grant.role,
            client_id=grant.client_id,
            redirect_uri=grant.redirect_uri,
            scope=grant.scope,
            nonce=grant.nonce,
            code_challenge=grant.code_challenge,
            user=grant.user,
        )
        if grant.role == "airtable" and self.airtable_access_token:
            access_token = self.airtable_access_token
        else:
            access_token = secrets.token_urlsafe(32)
        refresh_token = secrets.token_urlsafe(32)
        with self._lock:
            self._access_tokens[access_token] = fresh
            self._refresh_tokens[refresh_token] = fresh
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.access_token_seconds,
            "refresh_token": refresh_token,
            "scope": grant.scope,
        }
        if grant.role == "airtable":
            body["refresh_expires_in"] = 60 * 24 * 3600
        if with_id_token and grant.role == "oidc" and "openid" in grant.scope.split():
            body["id_token"] = self._id_token(grant)
        return body

    def _id_token(self, grant: _Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + self.id_token_seconds,
            "auth_time": now,
            **grant.user.claims(),
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        for name, value in self.id_token_claims.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key = self._foreign_key if self.sign_with_foreign_key else self._key
        return jwt.encode({"alg": "RS256", "kid": "test-key-1", "typ": "JWT"}, claims, key)

    # --- userinfo ---------------------------------------------------------------------

    def userinfo(self, authorization: str | None) -> tuple[int, dict[str, Any]]:
        """Answer the userinfo endpoint for a Bearer access token."""
        token = ""
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        with self._lock:
            grant = self._access_tokens.get(token)
        if grant is None or grant.role != "oidc":
            return 401, {"error": "invalid_token"}
        return 200, grant.user.claims()


# --- HTTP plumbing --------------------------------------------------------------------


def _client_auth_kind(authorization: str | None, params: dict[str, str]) -> str:
    if authorization and authorization.lower().startswith("basic "):
        return "basic"
    if "client_secret" in params:
        return "post"
    return "none"


def _redirect(uri: str, **params: str | None) -> tuple[int, dict[str, str], str]:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if urlsplit(uri).query else "?"
    return 302, {"Location": f"{uri}{separator}{query}"}, ""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], provider: Any
    ) -> None:
        super().__init__(address, handler)
        self.provider: OAuthProvider = provider


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.provider.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        provider = self.server.provider
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/.well-known/openid-configuration":
            self._json(200, provider.discovery_document())
        elif parts.path == "/jwks":
            self._json(200, provider.jwks())
        elif parts.path == "/userinfo":
            self._json(*provider.userinfo(self.headers.get("Authorization")))
        elif parts.path in _OIDC_PATHS and _OIDC_PATHS[parts.path][1] == "authorize":
            self._html(*provider.authorize(_OIDC_PATHS[parts.path][0], params))
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        provider = self.server.provider
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        params = {k: v[-1] for k, v in parse_qs(raw).items()}
        if parts.path == "/consent":
            self._html(*provider.consent_decision(params))
        elif parts.path in _OIDC_PATHS and _OIDC_PATHS[parts.path][1] == "token":
            role = _OIDC_PATHS[parts.path][0]
            self._json(*provider.token(role, params, self.headers.get("Authorization")))
        else:
            self._json(404, {"error": "not_found"})

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode("utf-8")
        self._send(status, body, {"Content-Type": "application/json", "Cache-Control": "no-store"})

    def _html(self, status: int, headers: dict[str, str], text: str) -> None:
        self._send(
            status, text.encode("utf-8"), {"Content-Type": "text/html; charset=utf-8", **headers}
        )

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
