"""The chat in Chromium, as a person follows it: what can be redone, Stop, answers in view.

The scripted LLM plays the model (as in `test_chat`); a slow tool is an Airtable
request the emulator holds back.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.fakes.llm import Reply
from tests.integration.accounts import new_account, onboard
from tests.integration.test_chat import MODEL, ask
from tests.support.seeds import app_tokens


@pytest.fixture
def llm(app_llm):
    app_llm.clear()
    yield app_llm
    app_llm.clear()


@pytest.fixture
def airtable(app_airtable):
    app_airtable.reset()
    yield app_airtable
    app_airtable.clear_failures()


def open_chat(page: Page, app_server, mailbox, airtable, email: str) -> Page:
    """Sign a new, onboarded user in on /chat with the Projects base selected."""
    tokens = app_tokens(airtable)
    new_account(page, app_server.url, mailbox, email)
    onboard(page, tokens.full, tokens.base_name)
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    return page


@pytest.fixture
def chat(app_server, mailbox, page: Page, airtable, llm, unique_email) -> Page:
    """A signed-in, onboarded user on /chat (desktop size)."""
    return open_chat(page, app_server, mailbox, airtable, unique_email)


def answers(page: Page):
    return page.locator(".assistant-message:not(#streaming-message)")


# --- A: Regenerate is offered under the last answer only -------------------------------


def test_regenerate_is_offered_under_the_last_answer_only(chat: Page, llm) -> None:
    for question in ("First question", "Second question"):
        llm.queue(Reply(content=f"Answer to {question}."), model=MODEL)
        ask(chat, question)
        expect(answers(chat).last).to_contain_text(f"Answer to {question}.")
    expect(chat.get_by_role("button", name="Send")).to_be_visible()

    expect(answers(chat)).to_have_count(2)
    expect(chat.get_by_role("button", name="Regenerate")).to_have_count(1)
    expect(answers(chat).nth(0).get_by_role("button", name="Regenerate")).to_have_count(0)
    expect(answers(chat).nth(1).get_by_role("button", name="Regenerate")).to_be_visible()

    # Regenerating redoes the second answer, and the new one is the one offered.
    llm.queue(Reply(content="A better answer."), model=MODEL)
    answers(chat).nth(1).get_by_role("button", name="Regenerate").click()
    expect(answers(chat).last).to_contain_text("A better answer.")
    expect(answers(chat)).to_have_count(2)
    expect(answers(chat).nth(0)).to_contain_text("Answer to First question.")
    expect(chat.get_by_role("button", name="Regenerate")).to_have_count(1)
    expect(answers(chat).nth(1).get_by_role("button", name="Regenerate")).to_be_visible()
