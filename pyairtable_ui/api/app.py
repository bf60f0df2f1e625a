"""The Starlette app Reflex mounts its own API into (`rx.App(api_transformer=...)`)."""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pyairtable_ui import routes
from pyairtable_ui.api import oauth_routes
from pyairtable_ui.api.client_address import request_client_address
from pyairtable_ui.api.files import download_export
from pyairtable_ui.api.health import health_report
from pyairtable_ui.api.security_headers import SecurityHeadersMiddleware
from pyairtable_ui.api.session_cookie import exchange_login_ticket, logout
from pyairtable_ui.core.observability import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    new_request_id,
    render_metrics,
    request_id_var,
)
from pyairtable_ui.core.settings import get_settings

Endpoint = Callable[[Request], Awaitable[Response]]


def instrumented(name: str, endpoint: Endpoint) -> Endpoint:
    """Wrap one of our routes with a request id, a latency histogram and a counter.

    Only our routes are wrapped: Reflex's own websocket and pages pass untouched.
    """

    async def wrapper(request: Request) -> Response:
        request_id = request.headers.get("x-request-id") or new_request_id()
        token = request_id_var.set(request_id[:64])
        started = time.perf_counter()
        try:
            response = await endpoint(request)
        finally:
            HTTP_LATENCY.labels(name).observe(time.perf_counter() - started)
            request_id_var.reset(token)
        response.headers["x-request-id"] = request_id[:64]
        HTTP_REQUESTS.labels(name, request.method, str(response.status_code)).inc()
        return response

    return wrapper


async def health(_request: Request) -> Response:
    """Readiness: 200 when database reads and writes, migrations and Redis are fine, else 503."""
    status, body = await health_report()
    return JSONResponse(body, status_code=status, headers={"cache-control": "no-store"})


async def metrics(request: Request) -> Response:
    """Prometheus text exposition of the app's metrics, for whoever may read them.

    With METRICS_TOKEN set: requests carrying `Authorization: Bearer <token>`.
    Without it: loopback clients only in production, anyone in development.
    """
    if not metrics_allowed(request):
        return Response(
            "metrics need a bearer token (METRICS_TOKEN)\n",
            status_code=401,
            headers={"www-authenticate": 'Bearer realm="metrics"'},
            media_type="text/plain",
        )
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)


def metrics_allowed(request: Request) -> bool:
    """Whether this request may read /metrics (see `metrics`)."""
    settings = get_settings()
    if settings.metrics_token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = settings.metrics_token.get_secret_value()
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), expected.encode()
        )
    if not settings.is_production:
        return True
    # A loopback peer that forwards for someone is a local proxy, not a local client.
    proxied = any(header in request.headers for header in _PROXY_HEADERS)
    if proxied and settings.trusted_proxy_hops == 0:
        return False
    return _is_loopback(request_client_address(request))


_PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def build_api() -> Starlette:
    """The HTTP routes served beside the Reflex app on the same port.

    Reflex mounts its own app (pages, static files, websocket) inside this one, so the
    security headers middleware here covers every HTTP response.
    """
    return Starlette(
        middleware=[Middleware(SecurityHeadersMiddleware)],
        routes=[
            Route(routes.HEALTH, instrumented("health", health), methods=["GET"]),
            Route(routes.METRICS, instrumented("metrics", metrics), methods=["GET"]),
            Route(
                routes.SESSION_COOKIE_ROUTE,
                instrumented("session", exchange_login_ticket),
                methods=["POST"],
            ),
            Route(routes.LOGOUT_ROUTE, instrumented("logout", logout), methods=["POST"]),
            Route(
                routes.EXPORT_ROUTE + "/{name}",
                instrumented("export_download", download_export),
                methods=["GET"],
            ),
            # Single sign-on and "Connect with Airtable"; 404 until configured.
            Route(
                oauth_routes.OIDC_START,
                instrumented("oidc_start", oauth_routes.oidc_start),
                methods=["GET"],
            ),
            Route(
                oauth_routes.OIDC_CALLBACK,
                instrumented("oidc_callback", oauth_routes.oidc_callback),
                methods=["GET"],
            ),
            Route(
                oauth_routes.AIRTABLE_START,
                instrumented("airtable_oauth_start", oauth_routes.airtable_start),
                methods=["GET"],
            ),
            Route(
                oauth_routes.AIRTABLE_CALLBACK,
                instrumented("airtable_oauth_callback", oauth_routes.airtable_callback),
                methods=["GET"],
            ),
        ],
    )
