"""HTTP routes of the two OAuth flows: single sign-on (OIDC) and "Connect with Airtable".

Each flow is a pair of GET routes on the Reflex backend: `start` seals the attempt's
secrets (state, nonce, PKCE verifier) in a short-lived HttpOnly cookie and redirects
to the provider; `callback` opens that cookie, lets the service check and complete
the attempt, and redirects back into the app. Routes answer 404 while their feature
is not configured, so the buttons and the routes appear together.

The flow cookie is Fernet-encrypted (authenticated, timestamped) with a key derived
from SECRET_KEY under its own label: the browser can neither read the PKCE verifier
nor forge a state, and a cookie older than FLOW_SECONDS is refused. Its path is
limited to `/_auth/` so pages never receive it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pyairtable_ui import routes
from pyairtable_ui.account import flows as account_flows
from pyairtable_ui.airtable import oauth as airtable_oauth
from pyairtable_ui.airtable.connections import (
    AirtableTokenError,
    AirtableUnreachableError,
    MissingScopesError,
    NoBasesError,
)
from pyairtable_ui.api.session_cookie import (
    SESSION_COOKIE,
    _client_address,
    _cookie_is_secure,
    session_token_from_cookie_header,
)
from pyairtable_ui.auth import flows, oidc
from pyairtable_ui.core.crypto import fernet_for
from pyairtable_ui.core.observability import LOGINS
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.routes import login_redirect, safe_next_path

logger = logging.getLogger(__name__)

OIDC_START = "/_auth/oidc/start"
OIDC_CALLBACK = oidc.CALLBACK_PATH
AIRTABLE_START = "/_auth/airtable/start"
AIRTABLE_CALLBACK = airtable_oauth.CALLBACK_PATH

OIDC_FLOW_COOKIE = "pyairtable_ui_oidc_flow"
AIRTABLE_FLOW_COOKIE = "pyairtable_ui_airtable_flow"
FLOW_COOKIE_PATH = "/_auth/"
FLOW_SECONDS = 600  # time allowed at the provider (sign-in, MFA, consent)
# A label of its own, so this key is never the one that encrypts stored tokens.
_FLOW_KEY_LABEL = "oauth flow cookie v1"


# --- the sealed flow cookie -------------------------------------------------------------


def seal_flow(kind: str, data: dict[str, Any]) -> str:
    """Encrypt a flow's secrets for its cookie.

    Args:
        kind: "oidc" or "airtable"; a cookie only opens for the flow that sealed it.
        data: JSON-ready secrets.

    Returns:
        The cookie value.
    """
    fernet = fernet_for(_FLOW_KEY_LABEL)
    return fernet.encrypt(json.dumps({"kind": kind, **data}).encode("utf-8")).decode("ascii")


def open_flow(kind: str, sealed: str | None) -> dict[str, Any] | None:
    """Decrypt a flow cookie sealed by `seal_flow` within FLOW_SECONDS.

    Args:
        kind: The flow expected.
        sealed: The cookie value, if any.

    Returns:
        The secrets, or None when absent, forged, expired, or for another flow.
    """
    if not sealed:
        return None
    from cryptography.fernet import InvalidToken  # with the key, not at import (see crypto)

    fernet = fernet_for(_FLOW_KEY_LABEL)
    try:
        data = json.loads(fernet.decrypt(sealed.encode("ascii"), ttl=FLOW_SECONDS))
    except (InvalidToken, UnicodeEncodeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("kind") != kind:
        return None
    return data


def _set_flow_cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=FLOW_SECONDS,
        path=FLOW_COOKIE_PATH,
        httponly=True,
        # Lax: the provider's redirect back is a top-level GET, which still carries it.
        samesite="lax",
        secure=_cookie_is_secure(request),
    )


def _clear_flow_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name,
        path=FLOW_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=_cookie_is_secure(request),
    )


def _set_session_cookie(response: Response, request: Request, raw_token: str) -> None:
    # The same cookie, with the same attributes, as `session_cookie.exchange_login_ticket`.
    response.set_cookie(
        SESSION_COOKIE,
        raw_token,
        max_age=get_settings().session_days * 86400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_cookie_is_secure(request),
    )


def _redirect(location: str) -> RedirectResponse:
    response = RedirectResponse(location, status_code=302)
    response.headers["cache-control"] = "no-store"
    return response


def _not_configured() -> Response:
    return Response("Not Found", status_code=404, media_type="text/plain")


async def _signed_in_user_id(request: Request) -> int | None:
    token = session_token_from_cookie_header(request.headers.get("cookie", ""))
    user = await flows.signed_in_user(token)
    return user.id if user is not None else None


# --- single sign-on ---------------------------------------------------------------------


def _login_with_reason(reason: str) -> RedirectResponse:
    return _redirect(f"{routes.LOGIN}?{urlencode({'reason': reason})}")


async def oidc_start(request: Request) -> Response:
    """`GET /_auth/oidc/start?next=/chat`: send the browser to the OIDC provider."""
    config = oidc.OIDCConfig.from_settings(get_settings())
    if config is None:
        return _not_configured()
    next_path = safe_next_path(request.query_params.get("next"), default="")
    try:
        url, pending = await oidc.begin_sign_in(config=config, next_path=next_path)
    except oidc.OIDCError as exc:
        logger.warning("sso start failed: %s", exc.reason)
        LOGINS.labels("sso_failed").inc()
        return _login_with_reason(exc.page_reason)
    response = _redirect(url)
    _set_flow_cookie(response, request, OIDC_FLOW_COOKIE, seal_flow("oidc", pending.to_dict()))
    return response


async def oidc_callback(request: Request) -> Response:
    """`GET /_auth/oidc/callback`: check the answer, sign the browser in, go on."""
    config = oidc.OIDCConfig.from_settings(get_settings())
    if config is None:
        return _not_configured()
    try:
        flow = open_flow("oidc", request.cookies.get(OIDC_FLOW_COOKIE))
        if flow is None:
            raise oidc.OIDCError("flow cookie missing, expired or forged")
        pending = oidc.PendingSignIn.from_dict(flow)
        identity = await oidc.finish_sign_in(
            config=config, pending=pending, callback_params=dict(request.query_params)
        )
        raw_token, next_path = await flows.sign_in_with_sso(
            identity=identity,
            next_path=safe_next_path(pending.next_path or None),
            user_agent=request.headers.get("user-agent", "")[:400],
            address=_client_address(request),
        )
    except oidc.OIDCError as exc:
        logger.warning("sso sign-in refused: %s", exc.reason)
        LOGINS.labels("sso_failed").inc()
        response = _login_with_reason(exc.page_reason)
        _clear_flow_cookie(response, request, OIDC_FLOW_COOKIE)
        return response
    LOGINS.labels("sso_ok").inc()
    response = _redirect(next_path)
    _set_session_cookie(response, request, raw_token)
    _clear_flow_cookie(response, request, OIDC_FLOW_COOKIE)
    return response


# --- connect with Airtable --------------------------------------------------------------


def _onboarding_with_reason(reason: str) -> RedirectResponse:
    return _redirect(f"{routes.ONBOARDING}?{urlencode({'airtable_oauth': reason})}")


async def airtable_start(request: Request) -> Response:
    """`GET /_auth/airtable/start`: send the signed-in user to Airtable's consent page."""
    config = airtable_oauth.AirtableOAuthConfig.from_settings(get_settings())
    if config is None:
        return _not_configured()
    user_id = await _signed_in_user_id(request)
    if user_id is None:
        return _redirect(login_redirect(routes.ONBOARDING))
    url, pending = airtable_oauth.begin_connection(config=config, user_id=user_id)
    response = _redirect(url)
    _set_flow_cookie(
        response, request, AIRTABLE_FLOW_COOKIE, seal_flow("airtable", pending.to_dict())
    )
    return response


async def airtable_callback(request: Request) -> Response:
    """`GET /_auth/airtable/callback`: store the grant, then back to onboarding's base step."""
    config = airtable_oauth.AirtableOAuthConfig.from_settings(get_settings())
    if config is None:
        return _not_configured()
    user_id = await _signed_in_user_id(request)
    if user_id is None:
        response = _redirect(login_redirect(routes.ONBOARDING))
        _clear_flow_cookie(response, request, AIRTABLE_FLOW_COOKIE)
        return response
    try:
        flow = open_flow("airtable", request.cookies.get(AIRTABLE_FLOW_COOKIE))
        if flow is None:
            raise airtable_oauth.AirtableOAuthError(
                "flow cookie missing, expired or forged", reason="expired"
            )
        pending = airtable_oauth.PendingConnection.from_dict(flow)
        if pending.user_id != user_id:
            raise airtable_oauth.AirtableOAuthError(
                f"signed-in user changed during the flow user_id={user_id}"
            )
        await asyncio.to_thread(
            account_flows.connect_with_airtable_oauth,
            config=config,
            pending=pending,
            callback_params=dict(request.query_params),
            api_url=get_settings().airtable_api_url,
        )
    except airtable_oauth.AirtableOAuthError as exc:
        logger.warning("airtable oauth refused user_id=%s: %s", user_id, exc.detail)
        response = _onboarding_with_reason(exc.reason)
    except AirtableTokenError as exc:
        logger.warning(
            "airtable oauth token check failed user_id=%s: %s", user_id, type(exc).__name__
        )
        response = _onboarding_with_reason(_reason_for(exc))
    else:
        response = _redirect(routes.ONBOARDING)
    _clear_flow_cookie(response, request, AIRTABLE_FLOW_COOKIE)
    return response


def _reason_for(exc: AirtableTokenError) -> str:
    if isinstance(exc, NoBasesError):
        return "no_bases"
    if isinstance(exc, MissingScopesError):
        return "missing_scopes"
    if isinstance(exc, AirtableUnreachableError):
        return "unreachable"
    return "failed"
