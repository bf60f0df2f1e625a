"""The production build serves the login page, /health and /metrics on one port."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect


def test_login_page_renders_in_chromium(app_server, page) -> None:
    page.goto(f"{app_server.url}/auth/login")
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.get_by_label("Email").is_visible()
    assert page.get_by_label("Password").is_visible()
    # Enabled once the page's script has run (until then a native submit could leak).
    expect(page.get_by_role("button", name="Sign in")).to_be_enabled()


def test_health_reports_each_check(app_server, redis_url) -> None:
    response = httpx.get(f"{app_server.url}/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    migrations = body["checks"]["migrations"]
    assert migrations["ok"] is True and migrations["current"] == migrations["head"]
    assert body["checks"]["redis"]["configured"] is bool(redis_url)
    assert body["checks"]["redis"]["ok"] is True
    assert response.headers["x-request-id"]


def test_metrics_are_prometheus_text(app_server) -> None:
    httpx.get(f"{app_server.url}/health", timeout=10)
    response = httpx.get(f"{app_server.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE pyairtable_ui_http_requests_total counter" in response.text
    assert 'pyairtable_ui_http_requests_total{method="GET",route="health",status="200"}' in (
        response.text
    )


def test_private_pages_send_a_signed_out_visitor_to_login(app_server, page) -> None:
    page.goto(f"{app_server.url}/")
    page.wait_for_url("**/auth/login**")
    page.get_by_role("heading", name="Sign in").wait_for()


def test_metrics_refuse_a_request_forwarded_by_a_local_proxy(app_server) -> None:
    # Without METRICS_TOKEN only loopback clients read /metrics in production; a proxy on
    # the same host connects from loopback but forwards for someone outside.
    response = httpx.get(
        f"{app_server.url}/metrics", headers={"x-forwarded-for": "203.0.113.7"}, timeout=10
    )
    assert response.status_code == 401
    assert "pyairtable_ui_" not in response.text
