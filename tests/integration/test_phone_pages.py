"""Pages on a phone and page structure: no sideways scroll at 375 px, every column's
data on screen (history, admin), a one-row chat toolbar, whole tour icons, a branded
404 with a way back, one h1 per page, and the theme kept.

Actions are made the way a user makes them (the scripted model proposes, the user
decides in the review dialog), then the same signed-in page is narrowed to a phone.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.fakes.llm import Reply
from tests.integration import test_safe_writes as safe_writes
from tests.integration.accounts import new_account, onboard
from tests.integration.test_admin import _make_admin as make_admin
from tests.integration.test_safe_writes import propose, rename_items
from tests.support.seeds import app_tokens

# The safe-writes tests' fixtures: a signed-in, onboarded user with the scripted model.
chat = safe_writes.chat

PHONE = {"width": 375, "height": 800}
DESKTOP = {"width": 1280, "height": 800}


def no_sideways_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def inside_horizontally(page: Page, locator: Locator) -> bool:
    """Whether the element is shown with its whole width within the viewport."""
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    width = page.viewport_size["width"] if page.viewport_size else 0
    return (
        box is not None and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= width
    )


def close_review(page: Page) -> None:
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    expect(page.get_by_role("dialog")).to_have_count(0)


def propose_another(page: Page, llm, count: int) -> None:
    """Like `propose`, for a later action (the sidebar lists the newest first)."""
    llm.queue(rename_items(count), Reply(content="Proposed; review it."), model=safe_writes.MODEL)
    box = page.get_by_role("textbox", name="Message")
    box.fill(f"Rename {count} items")
    box.press("Enter")
    card = page.locator('.action-card[data-status="proposed"]')
    expect(card).to_have_count(1, timeout=30_000)
    card.get_by_role("button", name="Review").click()


def make_actions(page: Page, llm) -> None:
    """One done action and two rejected ones."""
    propose(page, llm, rename_items(2), "Rename two items")
    page.get_by_role("button", name="Confirm 2 records").click()
    expect(page.locator("#action-status")).to_have_attribute("data-status", "done", timeout=30_000)
    close_review(page)
    for count in (3, 4):
        propose_another(page, llm, count)
        page.get_by_role("button", name="Reject").click()
        expect(page.locator("#action-status")).to_have_attribute("data-status", "rejected")
        close_review(page)


def test_history_is_cards_on_a_phone_and_a_table_on_a_desktop(chat: Page, llm, app_server) -> None:
    make_actions(chat, llm)

    chat.set_viewport_size(PHONE)
    chat.goto(f"{app_server.url}/history")
    cards = chat.locator(".history-card")
    expect(cards).to_have_count(3)
    expect(chat.locator(".history-table")).to_be_hidden()
    assert no_sideways_scroll(chat)
    for i in range(3):
        card = cards.nth(i)
        for part in ("what", "records", "status"):
            value = card.locator(f".history-card-{part}")
            expect(value).not_to_be_empty()
            assert inside_horizontally(chat, value), f"card {i}: {part} is off the screen"
    expect(cards.filter(has_text="rejected")).to_have_count(2)
    # The row's button is there too, and opens the same details.
    done = cards.filter(has_text="Applied")
    assert inside_horizontally(chat, done.get_by_role("button", name="Details"))
    done.get_by_role("button", name="Details").click()
    expect(chat.get_by_role("dialog")).to_contain_text("Airtable requests")
    chat.keyboard.press("Escape")
    expect(chat.get_by_role("dialog")).to_have_count(0)

    chat.set_viewport_size(DESKTOP)
    expect(chat.locator(".history-table")).to_be_visible()
    expect(chat.locator(".history-row")).to_have_count(3)
    expect(cards.first).to_be_hidden()


def test_an_unknown_path_is_a_branded_404_with_the_way_to_sign_in(app_server, page: Page) -> None:
    page.goto(f"{app_server.url}/no-such-page")
    expect(page.get_by_role("heading", name="Page not found", level=1)).to_be_visible()
    expect(page.get_by_text("PyAirtable UI")).to_be_visible()
    page.get_by_role("link", name="Go to sign in").click()
    page.wait_for_url("**/auth/login**")
    expect(page.get_by_label("Email")).to_be_visible()


def test_a_signed_in_user_on_an_unknown_path_is_led_back_to_the_chat(
    chat: Page, app_server
) -> None:
    chat.set_viewport_size(PHONE)
    chat.goto(f"{app_server.url}/no/such/page")
    expect(chat.get_by_role("heading", name="Page not found", level=1)).to_be_visible()
    assert no_sideways_scroll(chat)
    chat.get_by_role("link", name="Go to the chat").click()
    chat.wait_for_url("**/chat**")
    expect(chat.get_by_role("textbox", name="Message")).to_be_visible()


def h1_count(page: Page, ready: Locator) -> int:
    """The h1 elements on the page once `ready` shows that its content has loaded."""
    expect(ready).to_be_visible()
    return int(page.evaluate("document.querySelectorAll('h1').length"))


def test_every_page_has_exactly_one_h1(
    app_server, page: Page, mailbox, app_airtable, app_database_url, unique_email
) -> None:
    url = app_server.url
    counts: dict[str, int] = {}
    page.goto(f"{url}/auth/login")
    counts["login"] = h1_count(page, page.get_by_role("button", name="Sign in"))
    page.goto(f"{url}/auth/register")
    counts["register"] = h1_count(page, page.get_by_role("button", name="Create account"))
    page.goto(f"{url}/auth/reset")
    counts["reset"] = h1_count(page, page.get_by_label("Email"))
    page.goto(f"{url}/auth/verify")
    counts["verify"] = h1_count(page, page.get_by_text("needs the link"))

    email = "admin-" + unique_email
    new_account(page, url, mailbox, email)
    counts["onboarding"] = h1_count(page, page.get_by_label("Personal access token"))
    make_admin(app_database_url, email)
    onboard(page, app_tokens(app_airtable).full, "Emulator Projects")
    counts["chat"] = h1_count(page, page.get_by_text("Ask about Emulator Projects"))
    page.goto(f"{url}/history")
    counts["history"] = h1_count(page, page.get_by_text("No action matches."))
    page.goto(f"{url}/settings")
    counts["settings"] = h1_count(page, page.get_by_role("heading", name="Settings"))
    page.goto(f"{url}/admin")
    counts["admin"] = h1_count(page, page.get_by_role("cell", name=email))
    page.goto(f"{url}/no-such-page")
    counts["not found"] = h1_count(page, page.get_by_role("link", name="Go to the chat"))

    assert counts == dict.fromkeys(counts, 1)


def no_sideways_scroll_at_all(page: Page) -> bool:
    return bool(page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"))


def test_a_phone_gets_whole_tour_icons_a_one_row_toolbar_admin_cards_and_a_kept_theme(
    app_server, page: Page, mailbox, app_airtable, app_database_url, unique_email
) -> None:
    url = app_server.url
    email = "phone-admin-" + unique_email
    page.set_viewport_size(PHONE)
    new_account(page, url, mailbox, email)
    make_admin(app_database_url, email)
    tokens = app_tokens(app_airtable)
    page.get_by_label("Personal access token").fill(tokens.full)
    page.get_by_role("button", name="Connect").click()
    page.get_by_label("Search bases").fill(tokens.base_name[:4])
    page.get_by_role("button", name=f"Use {tokens.base_name}").click()

    # The tour's icons keep their set size (28 px) beside a long text.
    for _ in range(2):
        icon = page.locator(".tour-icon")
        expect(icon).to_be_visible()
        box = icon.bounding_box()
        assert box is not None and round(box["width"]) == 28 and round(box["height"]) == 28
        page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Skip the tour").click()
    page.wait_for_url("**/chat**")
    expect(page.get_by_role("combobox", name="Base")).to_contain_text(tokens.base_name)

    # The chat's toolbar is one row, all of it on the screen.
    parts = [
        page.get_by_role("button", name="Conversations"),
        page.get_by_role("combobox", name="Base"),
        page.get_by_role("combobox", name="Model"),
        page.get_by_role("button", name="Actions"),
    ]
    middles = []
    for part in parts:
        assert inside_horizontally(page, part)
        box = part.bounding_box()
        assert box is not None
        middles.append(box["y"] + box["height"] / 2)
    assert max(middles) - min(middles) < 4, middles
    assert no_sideways_scroll_at_all(page)

    # Dark, from the account menu; kept after a reload; System goes back to the device's.
    html = page.locator("html")
    page.get_by_role("button", name="Account menu").click()
    page.get_by_role("menuitemradio", name="Dark").click()
    expect(html).to_have_class(re.compile(r"\bdark\b"))
    page.reload()
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    expect(html).to_have_class(re.compile(r"\bdark\b"))
    page.get_by_role("button", name="Account menu").click()
    expect(page.get_by_role("menuitemradio", name="Dark")).to_have_attribute("aria-checked", "true")
    page.get_by_role("menuitemradio", name="Light").click()
    expect(html).to_have_class(re.compile(r"\blight\b"))
    assert page.evaluate("localStorage.getItem('theme')") == "light"

    # /admin: every account a card, every column's data on the screen, no sideways scroll.
    page.goto(f"{url}/admin")
    mine = page.locator(".admin-user-card").filter(has_text=email)
    expect(mine).to_have_count(1)
    expect(page.locator(".admin-users-table")).to_be_hidden()
    for part in ("account", "role", "status", "joined", "actions"):
        value = mine.locator(f".admin-card-{part}")
        expect(value).not_to_be_empty()
        assert inside_horizontally(page, value), f"{part} is off the screen"
    expect(mine.locator(".admin-card-role")).to_have_text("admin")
    assert inside_horizontally(page, mine.get_by_role("button", name="Make member"))
    assert no_sideways_scroll_at_all(page)

    page.set_viewport_size(DESKTOP)
    expect(page.locator(".admin-users-table")).to_be_visible()
    expect(page.get_by_role("cell", name=email)).to_be_visible()
    expect(mine).to_be_hidden()
