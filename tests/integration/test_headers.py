"""Security headers on the production build: every response carries them, another
origin cannot frame the signed-in app, and the policy breaks nothing on the pages."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, expect

from tests.fakes.llm import Reply
from tests.integration.accounts import new_account, onboard
from tests.support.app_server import free_port
from tests.support.seeds import app_tokens

READY = 30_000


def _assert_protected(response: httpx.Response) -> None:
    headers = response.headers
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, response.url
    assert re.search(r"img-src 'self' data:(;|$)", policy), policy
    assert headers.get("x-frame-options") == "DENY", response.url
    assert headers.get("x-content-type-options") == "nosniff", response.url
    assert headers.get("referrer-policy") == "strict-origin-when-cross-origin", response.url
    # The tests serve plain http, so no HSTS (it is sent when PUBLIC_URL is https).
    assert "strict-transport-security" not in headers


def test_pages_assets_and_api_routes_carry_the_security_headers(app_server) -> None:
    with httpx.Client(base_url=app_server.url, timeout=15) as client:
        login = client.get("/auth/login/")
        assert login.status_code == 200
        _assert_protected(login)
        _assert_protected(client.get("/chat/"))
        _assert_protected(client.get("/auth/login"))  # the redirect to the trailing slash
        script = re.search(r'href="(/assets/[^"]+\.js)"', login.text)
        assert script is not None
        asset = client.get(script.group(1))
        assert asset.status_code == 200
        _assert_protected(asset)
        _assert_protected(client.get("/favicon.svg"))
        _assert_protected(client.get("/health"))
        _assert_protected(client.post("/_auth/session", json={"ticket": "forged"}))


@pytest.fixture
def framing_site(app_server) -> Iterator[str]:
    """A page on another loopback origin (same host, other port) that frames /chat."""
    page_html = (
        f'<!doctype html><title>Other site</title><iframe src="{app_server.url}/chat"'
        ' width="1000" height="700"></iframe>'
    ).encode()

    class FramingPage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(page_html)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), FramingPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_another_origin_cannot_frame_the_signed_in_chat(
    app_server, mailbox, page, app_airtable, framing_site, unique_email
) -> None:
    tokens = app_tokens(app_airtable)
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, tokens.full, tokens.base_name)

    # Same site (cookies go along), other origin: without frame protection it shows the chat.
    with page.expect_console_message(
        lambda message: "frame-ancestors" in message.text or "X-Frame-Options" in message.text,
        timeout=READY,
    ):
        page.goto(framing_site)
    expect(page.frame_locator("iframe").get_by_role("button", name="Account menu")).to_have_count(0)
    child = page.frames[-1]
    assert child.url.startswith("chrome-error://") or child.url == "about:blank", child.url


def test_the_policy_raises_no_violation_in_normal_use(
    app_server, mailbox, page, app_airtable, app_llm, unique_email
) -> None:
    tokens = app_tokens(app_airtable)
    console: list[ConsoleMessage] = []
    page.on("console", lambda message: console.append(message))
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, tokens.full, tokens.base_name)
    expect(page.get_by_role("combobox", name="Base")).to_have_text(tokens.base_name)
    # A streamed answer with markdown renders under the policy.
    app_llm.clear()
    app_llm.queue(Reply(content="Two **open** tasks, see `Tasks`."), model="scripted")
    box = page.get_by_role("textbox", name="Message")
    box.fill("How many tasks are open?")
    box.press("Enter")
    expect(page.locator(".assistant-message").last).to_contain_text("Two open tasks", timeout=READY)
    app_llm.clear()
    page.goto(f"{app_server.url}/history")
    expect(page.get_by_role("heading", name="History")).to_be_visible(timeout=READY)
    page.goto(f"{app_server.url}/settings")
    expect(page.get_by_role("heading", name="Settings")).to_be_visible(timeout=READY)
    # Signing out runs a script the server sends (Reflex evaluates it): it must still work.
    page.get_by_role("button", name="Account menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url("**/auth/login**", timeout=READY)
    expect(page.get_by_label("Email")).to_be_visible(timeout=READY)

    violations = [
        message.text
        for message in console
        if "Content Security Policy" in message.text or "Refused to" in message.text
    ]
    assert violations == []
