"""A proposed write in the conversation, on a phone and on a desktop, as a person follows it.

The scripted model proposes an update; its card appears under the step that proposed
it, says where the action stands in the words the sidebar and the dialog use, and
opens the one review dialog. On a phone the Actions button counts what waits.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TABLE_ITEMS_ID
from tests.fakes.llm import Reply, ToolCall
from tests.integration.accounts import new_account, onboard
from tests.integration.test_safe_writes import MODEL, item_id, names
from tests.support.seeds import app_tokens

PHONE = {"width": 375, "height": 800}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(params=[PHONE, DESKTOP], ids=["phone", "desktop"])
def chat(
    request, app_server, mailbox, browser: Browser, airtable, llm, unique_email
) -> Iterator[Page]:
    context = browser.new_context(viewport=request.param, has_touch=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, app_tokens(airtable).full, "Emulator Projects")
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    yield page
    context.close()


def rename_and_regroup(count: int) -> ToolCall:
    """Rename the first items and move them to group A (items 1-3 are in B, C and D)."""
    return ToolCall(
        "update_records",
        {
            "table": "Items",
            "records": [
                {"id": item_id(i), "fields": {"Name": f"Renamed {i}", "Group": "A"}}
                for i in range(1, count + 1)
            ],
        },
    )


def test_a_proposal_is_in_the_conversation_until_it_is_undone(chat: Page, llm, airtable) -> None:
    phone = chat.viewport_size == PHONE
    before = names(airtable, "Items")
    expect(chat.get_by_role("combobox", name="Base")).to_have_text("Emulator Projects")
    llm.queue(rename_and_regroup(3), Reply(content="I proposed it; review it below."), model=MODEL)
    box = chat.get_by_role("textbox", name="Message")
    box.fill("Rename the first 3 items")
    box.press("Enter")
    expect(chat.locator(".assistant-message").last).to_contain_text("review it", timeout=30_000)

    # The step says what happened: a proposal, nothing written yet.
    step = chat.locator(".tool-step").filter(has_text="Proposed changing Name, Group on 3 records")
    expect(step.locator(".step-sentence")).to_have_text(
        "Proposed changing Name, Group on 3 records in Items"
    )
    expect(step).to_contain_text("proposed")
    expect(step).not_to_contain_text("done")
    card = chat.locator("#conversation .proposal-card")
    expect(card).to_have_count(1, timeout=20_000)
    expect(card).to_contain_text("Update 3 records in Items")
    expect(card.locator(".proposal-state")).to_have_text("Waiting for your review")
    assert names(airtable, "Items") == before, "nothing is written before the review"
    # The card is under the step that proposed it, above the answer.
    assert step.evaluate(
        "(el, card) => !!(el.compareDocumentPosition(card) & Node.DOCUMENT_POSITION_FOLLOWING)",
        card.element_handle(),
    )

    trigger = chat.get_by_role("button", name="Actions, 1 waiting for review")
    if phone:
        expect(trigger).to_be_visible()
        expect(chat.locator("#actions-waiting")).to_have_text("1")
        expect(chat.locator("#actions-waiting")).to_be_visible()
    else:
        # The sidebar is open on a desktop: its card says the same words.
        sidebar_card = chat.locator("#action-sidebar .action-card")
        expect(sidebar_card).to_contain_text("Waiting for your review")

    card.get_by_role("button", name="Review").click()
    dialog = chat.get_by_role("dialog")
    expect(dialog.locator(".review-row")).to_have_count(3, timeout=30_000)
    expect(dialog.locator("#action-status")).to_have_text("Waiting for your review")
    # Each record's name opens it in Airtable; the select is chips, old struck, new marked.
    first = dialog.locator(".review-row").first
    link = first.locator("a.record-link")
    expect(link).to_have_text("Item 0001")
    expect(link).to_have_attribute(
        "href", f"https://airtable.com/{BASE_PROJECTS_ID}/{TABLE_ITEMS_ID}/{item_id(1)}"
    )
    expect(link).to_have_attribute("target", "_blank")
    group = first.locator(".review-cell").filter(has_text="Group")
    expect(group.locator(".old-value .chip")).to_have_text("B")
    expect(group.locator(".new-value .chip")).to_have_text("A")
    struck = group.locator(".old-value").evaluate("e => getComputedStyle(e).textDecorationLine")
    assert struck == "line-through"
    name = first.locator(".review-cell").filter(has_text="Name")
    expect(name.locator(".old-value")).to_have_text("Item 0001")
    expect(name.locator(".new-value")).to_have_text("Renamed 1")
    expect(dialog).not_to_contain_text("0 to delete")
    expect(dialog).to_contain_text("3 to update")
    expect(dialog).not_to_contain_text("not_yet")
    dialog.get_by_role("button", name="Confirm 3 records").click()
    expect(chat.locator("#action-status")).to_have_attribute("data-status", "done", timeout=30_000)
    expect(chat.locator("#action-status")).to_have_text("Applied")
    expect(dialog).to_contain_text("Applied: 3 records changed in Items.")
    expect(dialog.locator("#undo-word")).to_have_text("Can be undone")
    expect(card.locator(".proposal-state")).to_have_text("Applied")
    after = names(airtable, "Items")
    assert [after[item_id(i)] for i in range(1, 4)] == ["Renamed 1", "Renamed 2", "Renamed 3"]
    if phone:
        expect(chat.locator("#actions-waiting")).to_have_count(0)

    dialog.get_by_role("button", name="Undo…").click()
    expect(dialog.locator(".undo-row")).to_have_count(3)
    dialog.get_by_role("button", name="Undo this action").click()
    expect(chat.locator("#action-status")).to_have_attribute(
        "data-status", "undone", timeout=30_000
    )
    expect(chat.locator("#action-status")).to_have_text("Undone")
    expect(card.locator(".proposal-state")).to_have_text("Undone")
    assert names(airtable, "Items") == before
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)

    # Read back from the database: the card is still under its step, which says proposed.
    chat.reload()
    card = chat.locator("#conversation .proposal-card")
    expect(card.locator(".proposal-state")).to_have_text("Undone", timeout=20_000)
    expect(
        chat.locator(".tool-step").filter(has_text="Proposed changing Name, Group on 3 records")
    ).to_contain_text("proposed")
    if phone:
        expect(chat.get_by_role("button", name="Actions", exact=True)).to_be_visible()
