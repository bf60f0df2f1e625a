"""Dialogs and drawers in Chromium, on a phone and on a desktop: what is seen is what is tapped.

A layer can cover a button while letting taps through to it (its `pointer-events`
is none), so `document.elementFromPoint` alone would find the button under it. The
check here counts pointer events on every element before asking what is on top at
the button's centre, so the answer is what is painted there.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID
from tests.fakes.llm import Reply, ToolCall
from tests.integration.accounts import new_account, onboard, sign_in
from tests.support.seeds import app_tokens

MODEL = "scripted"
PHONE = {"width": 375, "height": 800}
DESKTOP = {"width": 1280, "height": 800}
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}

# What is painted at the centre of `el`: every element hit-tested as if it took pointer
# events, the element seen (not transparent or hidden) and inside the viewport.
PAINTED = """(el) => {
  const force = document.createElement('style');
  force.textContent = '* { pointer-events: auto !important; }';
  document.head.appendChild(force);
  try {
    const box = el.getBoundingClientRect();
    const x = box.left + box.width / 2, y = box.top + box.height / 2;
    const top = document.elementFromPoint(x, y);
    let opacity = 1;
    for (let node = el; node instanceof Element; node = node.parentElement) {
      opacity *= parseFloat(getComputedStyle(node).opacity);
    }
    const seen = el.checkVisibility({opacityProperty: true, visibilityProperty: true});
    const inView = box.width > 0 && x >= 0 && y >= 0 && x < innerWidth && y < innerHeight;
    const name = (n) => n === null ? 'nothing' : n.tagName.toLowerCase()
      + (typeof n.className === 'string' && n.className.trim()
         ? '.' + n.className.trim().split(/\\s+/).join('.') : '')
      + ' "' + (n.textContent || '').trim().slice(0, 40) + '"';
    const onTop = top !== null && (top === el || el.contains(top));
    return {ok: onTop && seen && inView && opacity >= 0.9, top: name(top), opacity, inView};
  } finally {
    force.remove();
  }
}"""


def painted(button: Locator) -> dict[str, Any]:
    """Whether `button` is what a person sees at its centre, and what is there instead."""
    return button.evaluate(PAINTED)


def expect_painted_on_top(button: Locator, what: str) -> None:
    """Wait (animations run) until `button` is what is painted at its centre."""
    button.wait_for(state="attached", timeout=20_000)
    button.evaluate("(el) => el.scrollIntoView({block: 'nearest'})")
    handle = button.element_handle()
    try:
        button.page.wait_for_function(f"(el) => ({PAINTED})(el).ok", arg=handle, timeout=10_000)
    except PlaywrightTimeoutError:
        pytest.fail(f"{what}: the button is not what is painted at its centre: {painted(button)}")


def writes(airtable) -> list[dict[str, Any]]:
    """Requests that change Airtable data (list requests sent as POST are reads)."""
    return [
        r
        for r in airtable.stats()["requests"]
        if r["method"] in WRITE_METHODS and r["endpoint"] != "list_records_post"
    ]


def rename_item(number: int, name: str) -> ToolCall:
    record_id = f"recItem{number:010d}"
    return ToolCall(
        "update_records",
        {"table": "Items", "records": [{"id": record_id, "fields": {"Name": name}}]},
    )


def propose(page: Page, llm, tool: ToolCall, question: str) -> None:
    """The scripted model proposes `tool` in answer to `question`."""
    # The page has loaded its conversation and bases: a question now is not reset.
    expect(page.get_by_role("combobox", name="Base")).to_have_text("Emulator Projects")
    llm.queue(tool, Reply(content="Proposed; review it in the Actions panel."), model=MODEL)
    box = page.get_by_role("textbox", name="Message")
    box.fill(question)
    box.press("Enter")
    expect(page.locator(".assistant-message").last).to_contain_text("review it", timeout=30_000)


@pytest.fixture(scope="module")
def account(app_server, mailbox, browser: Browser, app_airtable, app_llm) -> str:
    """A user with one conversation holding a done action and a pending one."""
    email = f"layers-{secrets.token_hex(4)}@example.com"
    app_airtable.reset()
    app_llm.clear()
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    new_account(page, app_server.url, mailbox, email)
    onboard(page, app_tokens(app_airtable).full, "Emulator Projects")
    propose(page, app_llm, rename_item(1, "Renamed once"), "Rename item 1")
    review_button(page).click()
    page.get_by_role("button", name="Confirm 1 records").click()
    expect(page.locator("#action-status")).to_have_attribute("data-status", "done", timeout=30_000)
    page.get_by_role("button", name="Close").click()
    propose(page, app_llm, rename_item(2, "Renamed twice"), "Rename item 2")
    expect(review_button(page)).to_be_visible()
    context.close()
    return email


@pytest.fixture
def open_page(app_server, browser: Browser, account: str) -> Iterator[Any]:
    """Sign the module's user in on a fresh page of the given size, on /chat."""
    contexts = []

    def _open(viewport: dict[str, int]) -> Page:
        context = browser.new_context(viewport=viewport, has_touch=True)
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, app_server.url, account)
        page.wait_for_url("**/chat**")
        expect(page.get_by_role("textbox", name="Message")).to_be_visible()
        return page

    yield _open
    for context in contexts:
        context.close()


def review_button(page: Page) -> Locator:
    """The Review button of the newest pending action on screen (sidebar or drawer)."""
    return page.locator(".action-card:visible").get_by_role("button", name="Review").first


def open_conversation_from_drawer(page: Page) -> None:
    """Open the conversation list drawer, check it is on top, pick the conversation."""
    page.get_by_role("button", name="Conversations").click()
    expect_painted_on_top(
        page.get_by_role("button", name="New conversation"), "conversations drawer"
    )
    page.get_by_role("button", name="Rename item 1", exact=True).click()
    expect(page.get_by_role("heading", name="Rename item 1", exact=True)).to_be_visible()


def check_review_dialog(page: Page) -> None:
    """The review of the pending action: its Confirm and Close are on top."""
    expect(page.locator(".review-row")).to_have_count(1, timeout=30_000)
    expect_painted_on_top(page.get_by_role("button", name="Confirm 1 records"), "review dialog")
    expect_painted_on_top(page.get_by_role("button", name="Close"), "review dialog")
    page.get_by_role("button", name="Close").click()
    expect(page.locator(".review-row")).to_have_count(0)


def check_history_details(page: Page, base_url: str) -> None:
    """The details dialog of the done action, then the account menu, on /history."""
    page.goto(f"{base_url}/history")
    # A table row on a desktop, a card on a phone.
    row = page.locator(".history-row:visible, .history-card:visible").filter(has_text="Applied")
    row.get_by_role("button", name="Details").click()
    expect_painted_on_top(page.get_by_role("button", name="Undo…"), "history details dialog")
    expect_painted_on_top(page.get_by_role("button", name="Close"), "history details dialog")
    page.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Account menu").click()
    expect_painted_on_top(page.get_by_role("menuitem", name="Sign out"), "account menu")


def test_every_dialog_and_drawer_is_on_top_on_a_phone(open_page, app_server) -> None:
    page = open_page(PHONE)
    open_conversation_from_drawer(page)

    page.get_by_role("button", name="Actions").click()
    review = review_button(page)
    expect_painted_on_top(review, "actions drawer")
    review.click()
    check_review_dialog(page)

    check_history_details(page, app_server.url)


def test_every_dialog_and_drawer_is_on_top_on_a_desktop(open_page, app_server) -> None:
    page = open_page(DESKTOP)
    open_conversation_from_drawer(page)

    review = review_button(page)
    expect_painted_on_top(review, "action sidebar")
    review.click()
    check_review_dialog(page)

    check_history_details(page, app_server.url)


def test_a_tap_on_a_phone_writes_only_through_a_review_the_user_sees(
    open_page, app_airtable, app_llm
) -> None:
    page = open_page(PHONE)
    open_conversation_from_drawer(page)
    propose(page, app_llm, rename_item(3, "Renamed by a tap"), "Rename item 3")
    app_airtable.reset_stats()

    page.get_by_role("button", name="Actions").click()
    review_button(page).click()
    # Wherever the review is (seen or not), its Confirm is ready once the preview is read.
    confirm = page.locator("button").filter(has_text="Confirm 1 records")
    expect(confirm).to_be_enabled(timeout=30_000)
    seen = painted(confirm)
    box = confirm.bounding_box()
    assert box is not None
    # A finger lands where the Confirm button is, whatever is painted there.
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    if not seen["ok"]:
        # Give a write time to reach Airtable: none may, the user never saw what it does.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not writes(app_airtable):
            time.sleep(0.2)
        assert writes(app_airtable) == [], f"a tap on an unseen Confirm wrote: {seen}"
        pytest.fail(f"the review's Confirm was not seen when tapped: {seen}")
    expect(page.locator("#action-status")).to_have_attribute("data-status", "done", timeout=30_000)
    expect(page.locator("#action-status")).to_be_visible()
    assert [w["method"] for w in writes(app_airtable)] == ["PATCH"]
    record = app_airtable.state.record(BASE_PROJECTS_ID, "Items", "recItem0000000003")
    assert record["fields"]["Name"] == "Renamed by a tap"
