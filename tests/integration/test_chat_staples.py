"""The chat's conversation list in Chromium: search, date groups, the address, export.

The scripted LLM plays the model (as in `test_chat`); each test signs new users in.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.fakes.llm import Reply
from tests.integration.test_chat import MODEL, ask
from tests.integration.test_chat_view import open_chat


@pytest.fixture
def llm(app_llm):
    app_llm.clear()
    yield app_llm
    app_llm.clear()


@pytest.fixture
def airtable(app_airtable):
    app_airtable.reset()
    return app_airtable


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


def converse(page: Page, llm, question: str, answer: str) -> None:
    """Ask one question in the open conversation and wait for its answer."""
    llm.queue(Reply(content=answer), model=MODEL)
    ask(page, question)
    expect(page.locator(".assistant-message").last).to_contain_text(answer)


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
