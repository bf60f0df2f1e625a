"""The chat's staples in Chromium: search, date groups, the address, export, examples, edit.

The scripted LLM plays the model (as in `test_chat`); each test signs new users in.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID
from tests.fakes.llm import Reply
from tests.integration.accounts import PASSWORD, sign_in
from tests.integration.test_chat import MODEL, ask
from tests.integration.test_chat_view import open_chat


@pytest.fixture
def chat(app_server, mailbox, page: Page, airtable, llm, unique_email) -> Page:
    """A signed-in, onboarded user on /chat (desktop size)."""
    return open_chat(page, app_server, mailbox, airtable, unique_email)


def conversation_list(page: Page):
    """Open the conversation drawer (if closed) and return it."""
    drawer = page.get_by_role("dialog").filter(
        has=page.get_by_role("heading", name="Conversations")
    )
    if not drawer.is_visible():
        page.get_by_role("button", name="Conversations").click()
    expect(drawer).to_be_visible()
    return drawer


def converse(page: Page, llm, question: str, answer: str, shown: str | None = None) -> None:
    """Ask one question in the open conversation and wait for its answer.

    `shown` is the answer as rendered, when its Markdown differs from its text.
    """
    llm.queue(Reply(content=answer), model=MODEL)
    ask(page, question)
    expect(page.locator(".assistant-message").last).to_contain_text(shown or answer)


def start_new(page: Page) -> None:
    conversation_list(page).get_by_role("button", name="New conversation").click()
    expect(page.locator(".user-message")).to_have_count(0)


def test_search_finds_a_conversation_by_a_word_only_in_its_messages(chat: Page, llm) -> None:
    converse(chat, llm, "Which budgets are over?", "Two budgets are over: Design and Ops.")
    start_new(chat)
    converse(chat, llm, "When do the movers come?", "Thursday, with a zeppelin-sized truck.")
    start_new(chat)

    drawer = conversation_list(chat)
    budgets = drawer.get_by_role("button", name="Which budgets are over?", exact=True)
    movers = drawer.get_by_role("button", name="When do the movers come?", exact=True)
    expect(budgets).to_be_visible()
    expect(movers).to_be_visible()
    expect(drawer.get_by_role("heading", name="Today", exact=True)).to_have_count(1)

    search = drawer.get_by_role("searchbox", name="Search conversations")
    search.fill("ZEPPELIN")  # only in an answer, never in a title; any case
    expect(budgets).to_have_count(0)
    expect(movers).to_be_visible()

    search.fill("nothing like this anywhere")
    expect(movers).to_have_count(0)
    expect(drawer.get_by_text("No conversation matches your search.")).to_be_visible()

    search.fill("zeppelin")
    movers.click()
    expect(chat.locator(".user-message")).to_have_text(["When do the movers come?"])
    expect(chat.locator(".assistant-message").last).to_contain_text("zeppelin-sized truck")


def conversation_id_in_address(page: Page) -> int:
    # After a full page load the server's router may add its slash (`/chat/?c=`).
    page.wait_for_url(re.compile(r"/chat/?\?c=\d+$"))
    return int(page.url.rsplit("=", 1)[1])


def test_the_address_opens_the_conversation_for_its_owner_only(
    chat: Page, llm, app_server, browser, mailbox, airtable, unique_email
) -> None:
    converse(chat, llm, "Where is the signed contract?", "In the Legal folder, page 4.")
    first = conversation_id_in_address(chat)  # the first answer links the new conversation
    start_new(chat)
    chat.wait_for_url(re.compile(r"/chat$"))
    converse(chat, llm, "Another question", "Another answer.")
    second = conversation_id_in_address(chat)
    assert second != first
    drawer = conversation_list(chat)
    drawer.get_by_role("button", name="Where is the signed contract?", exact=True).click()
    expect(chat.locator(".user-message")).to_have_text(["Where is the signed contract?"])
    chat.wait_for_url(re.compile(rf"/chat\?c={first}$"))  # it was ?c={second} until now
    link = chat.url

    # The owner, in a new browser (own cookies, own tab state), signed in again.
    owner = browser.new_context(viewport={"width": 1280, "height": 800})
    mine = owner.new_page()
    sign_in(mine, app_server.url, unique_email)
    mine.wait_for_url("**/chat**")
    mine.goto(link)
    expect(mine.locator(".user-message")).to_have_text(["Where is the signed contract?"])
    expect(mine.locator(".assistant-message").last).to_contain_text("In the Legal folder")
    expect(mine.get_by_role("heading", level=1)).to_have_text("Where is the signed contract?")
    owner.close()

    # Someone else with the same link: nothing opens, and it looks like a missing one.
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    theirs = open_chat(other.new_page(), app_server, mailbox, airtable, f"other-{unique_email}")

    def shown_for(address: str) -> str:
        theirs.goto(address)
        notice = theirs.get_by_role("status").filter(has_text="does not exist")
        expect(notice).to_be_visible()
        theirs.wait_for_url(re.compile(r"/chat$"))  # the address no longer names it
        expect(theirs.get_by_role("heading", level=1)).to_have_text("New conversation")
        return notice.inner_text()

    missing = shown_for(f"{app_server.url}/chat?c=987654321")
    assert shown_for(link) == missing == shown_for(f"{app_server.url}/chat?c=²")
    expect(theirs.locator(".user-message")).to_have_count(0)
    assert "signed contract" not in theirs.content()
    assert "Legal folder" not in theirs.content()
    expect(
        conversation_list(theirs).get_by_role("button", name="Where is the signed contract?")
    ).to_have_count(0)
    other.close()


def test_a_conversation_exports_as_a_markdown_file(chat: Page, llm, airtable) -> None:
    cell = '<img src=x onerror="window.__xss=1"> & Co'
    converse(chat, llm, "Who supplies the boxes?", f"The supplier is {cell}.")
    converse(chat, llm, "And the tape?", "Also them, **by Friday**.", "Also them, by Friday.")

    with chat.expect_download() as started:
        chat.get_by_role("button", name="Export as Markdown").click()
    download = started.value
    conversation_id = conversation_id_in_address(chat)
    assert (
        download.suggested_filename == f"conversation-{conversation_id}-who-supplies-the-boxes.md"
    )
    text = Path(download.path()).read_text(encoding="utf-8")

    assert text.startswith("# Who supplies the boxes?\n")
    parts = [
        "Who supplies the boxes?",
        f"The supplier is {cell}.",  # as the answer said it: a text file, nothing escaped
        "And the tape?",
        "Also them, **by Friday**.",
    ]
    positions = [text.index(f"\n\n{part}\n") for part in parts]
    assert positions == sorted(positions), text
    assert chat.evaluate("window.__xss") is None


def test_the_composer_is_ready_and_a_deletion_can_be_undone(chat: Page, llm) -> None:
    expect(chat.get_by_role("textbox", name="Message")).to_be_focused()
    converse(chat, llm, "Keep this one?", "Yes, it holds the plan.")
    conversation_id = conversation_id_in_address(chat)

    drawer = conversation_list(chat)
    drawer.get_by_role("button", name="Delete Keep this one?", exact=True).click()
    row = drawer.get_by_role("button", name="Keep this one?", exact=True)
    expect(row).to_have_count(0)
    expect(chat.locator(".user-message")).to_have_count(0)
    chat.wait_for_url(re.compile(r"/chat$"))
    deleted = drawer.get_by_role("status").filter(has_text="Deleted “Keep this one?”.")
    expect(deleted).to_be_visible()

    deleted.get_by_role("button", name="Undo").click()
    expect(row).to_be_visible()
    expect(deleted).to_have_count(0)
    expect(chat.locator(".user-message")).to_have_text(["Keep this one?"])
    assert conversation_id_in_address(chat) == conversation_id
    chat.reload()
    expect(chat.locator(".assistant-message").last).to_contain_text("it holds the plan")


def test_an_example_names_a_real_table_and_the_last_question_can_be_edited(
    chat: Page, llm, airtable
) -> None:
    examples = chat.locator(".example-prompt")
    expect(examples.first).to_be_visible()
    texts = examples.all_inner_texts()
    # Written from the Emulator Projects base: its own tables, never a canned "deals".
    tables = {t["name"] for t in airtable.state.base_schema(BASE_PROJECTS_ID)["tables"]}
    assert texts and all(any(f" {t} " in f" {x} " for t in tables) for x in texts), texts
    assert not any("deal" in t.lower() for t in texts), texts

    llm.queue(Reply(content="Active: 2, Done: 1."), model=MODEL)
    examples.first.click()
    expect(chat.locator(".user-message")).to_have_text([texts[0]])
    expect(chat.locator(".assistant-message").last).to_contain_text("Active: 2, Done: 1.")
    assert any(texts[0] in str(r["messages"]) for r in llm.requests)
    conversation_id = conversation_id_in_address(chat)

    converse(chat, llm, "Who leads the Mobile app?", "Nobody yet.")
    edit = chat.get_by_role("button", name="Edit question")
    expect(edit).to_have_count(1)  # on the last question only
    edit.click()
    box = chat.get_by_role("textbox", name="Message")
    expect(box).to_have_value("Who leads the Mobile app?")
    expect(box).to_be_focused()
    expect(chat.locator("#editing-banner")).to_contain_text("replaces it and its answer")

    llm.queue(Reply(content="Ana leads the Website."), model=MODEL)
    box.fill("Who leads the Website?")
    box.press("Enter")
    expect(chat.locator(".assistant-message").last).to_contain_text("Ana leads the Website.")
    expect(chat.locator(".user-message")).to_have_text([texts[0], "Who leads the Website?"])
    expect(chat.get_by_text("Nobody yet.")).to_have_count(0)
    expect(chat.locator("#editing-banner")).to_have_count(0)
    # The model was asked the edited question, without the replaced exchange.
    sent = [str(r["messages"]) for r in llm.requests if "Who leads the Website?" in str(r)]
    assert sent and "Mobile app" not in sent[-1]

    chat.reload()
    expect(chat.locator(".user-message")).to_have_text([texts[0], "Who leads the Website?"])
    expect(chat.locator(".assistant-message").last).to_contain_text("Ana leads the Website.")
    assert conversation_id_in_address(chat) == conversation_id


def test_signing_in_from_a_conversation_link_comes_back_to_it(
    chat: Page, llm, app_server, unique_email
) -> None:
    converse(chat, llm, "Where are the keys?", "Under the mat.")
    conversation_id = conversation_id_in_address(chat)
    chat.get_by_role("button", name="Account menu").click()
    chat.get_by_role("menuitem", name="Sign out").click()
    chat.wait_for_url("**/auth/login**")

    chat.goto(f"{app_server.url}/chat?c={conversation_id}")
    chat.wait_for_url(re.compile(rf"/auth/login\?next=%2Fchat%3Fc%3D{conversation_id}$"))
    chat.get_by_label("Email").fill(unique_email)
    chat.get_by_label("Password").fill(PASSWORD)
    chat.get_by_label("Password").press("Enter")
    # A full page load: the server's router may add its slash (`/chat/?c=`).
    chat.wait_for_url(re.compile(rf"/chat/?\?c={conversation_id}$"))
    expect(chat.locator(".user-message")).to_have_text(["Where are the keys?"])
    expect(chat.locator(".assistant-message").last).to_contain_text("Under the mat.")

    # Another site as `next` is refused: the sign-in ends in the chat.
    chat.get_by_role("button", name="Account menu").click()
    chat.get_by_role("menuitem", name="Sign out").click()
    chat.wait_for_url("**/auth/login**")
    chat.goto(f"{app_server.url}/auth/login?next=https://evil.example/chat")
    chat.get_by_label("Email").fill(unique_email)
    chat.get_by_label("Password").fill(PASSWORD)
    chat.get_by_label("Password").press("Enter")
    chat.wait_for_url(re.compile(r"/chat/?(\?c=\d+)?$"))
    assert chat.url.startswith(app_server.url)
