"""Issue and clear the HttpOnly session cookie.

Page JavaScript never sees the session token: after a successful login the
state hands the page a single-use, 60-second login ticket; the page POSTs it
here and gets back only a `Set-Cookie` with `HttpOnly; SameSite=Lax`. The
websocket handshake then carries the cookie, and state resolves the user from
it on the server (`self.router.headers.cookie`).
"""

from __future__ import annotations

import logging
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pyairtable_ui.api.client_address import request_client_address
from pyairtable_ui.auth import flows
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

SESSION_COOKIE = "pyairtable_ui_session"


def session_token_from_cookie_header(cookie_header: str) -> str | None:
    """The session token in a raw `Cookie:` header, if any.

    Args:
        cookie_header: The header as the browser sent it.

    Returns:
        The token, or None when the cookie is absent or malformed.
    """
    if not cookie_header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # a hostile or garbled header must not break the page
        logger.info("ignoring a malformed Cookie header")
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel and morsel.value else None


def _same_origin(request: Request) -> bool:
    # SameSite=Lax already keeps the cookie off cross-site POSTs; checking Origin
    # also stops another site from logging a visitor in or out.
    origin = request.headers.get("origin")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _cookie_is_secure(request: Request) -> bool:
    public_url = get_settings().public_url or ""
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded == "https" or public_url.startswith("https:")


def _client_address(request: Request) -> str:
    return request_client_address(request)


async def exchange_login_ticket(request: Request) -> Response:
    """`POST /_auth/session` with `{"ticket": ...}`: set the session cookie.

    Returns:
        204 with the cookie, 400 for a bad body, 401 for an unknown, used or
        expired ticket, 403 from another origin.
    """
    if not _same_origin(request):
        return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
    try:
        body = await request.json()
        ticket = str(body["ticket"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "expected a JSON body with a ticket"}, status_code=400)

    user_agent = request.headers.get("user-agent", "")[:400]
    address = _client_address(request)

    raw_token = await flows.open_session_with_ticket(
        ticket=ticket, user_agent=user_agent, address=address
    )
    if raw_token is None:
        return JSONResponse(
            {"error": "This sign-in link has expired. Please sign in again."}, status_code=401
        )
    response = Response(status_code=204)
    response.set_cookie(
        SESSION_COOKIE,
        raw_token,
        max_age=get_settings().session_days * 86400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_cookie_is_secure(request),
    )
    response.headers["cache-control"] = "no-store"
    return response


async def logout(request: Request) -> Response:
    """`POST /_auth/logout`: revoke this browser's session and clear the cookie.

    The cookie is cleared even when the database cannot record the sign-out (503):
    a browser left signed in on a shared computer is the worse outcome.
    """
    if not _same_origin(request):
        return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
    token = session_token_from_cookie_header(request.headers.get("cookie", ""))
    status = 204
    if token:
        try:
            await flows.sign_out(token=token)
        except sa.exc.SQLAlchemyError as exc:
            # This browser is signed out all the same; the row expires on its own.
            logger.warning("sign-out could not revoke the session row: %s", exc.__class__.__name__)
            status = 503
    response = Response(status_code=status)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_cookie_is_secure(request)
    )
    response.headers["cache-control"] = "no-store"
    return response
