"""The chat in Chromium, as a person follows it: what can be redone, Stop, answers in view.

The scripted LLM plays the model (as in `test_chat`); a slow tool is an Airtable
request the emulator holds back.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from tests.fakes.airtable.seeds import BASE_PROJECTS_ID
from tests.fakes.llm import Reply, ToolCall
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


# --- B: Stop shows at once; Esc stops; an error can be retried -------------------------


def mark_page(page: Page) -> None:
    """Leave a mark on the window that a reload would wipe."""
    page.evaluate("window.__notReloaded = true")


def not_reloaded(page: Page) -> bool:
    return page.evaluate("window.__notReloaded === true")


def test_stop_during_a_slow_tool_shows_the_step_and_the_answer_stopped_without_a_reload(
    chat: Page, llm, airtable
) -> None:
    # The tool's Airtable read hangs for a while: the step is running when Stop is pressed.
    airtable.inject_failure(
        method="GET", path_contains=f"/v0/{BASE_PROJECTS_ID}/", status=None, delay=10.0
    )
    llm.queue(
        ToolCall("search_records", {"table": "Tasks", "limit": 3}),
        Reply(content="Never said: the turn was stopped."),
        model=MODEL,
    )
    ask(chat, "Which tasks are open?")
    step = chat.locator(".tool-step").last
    expect(step).to_have_attribute("data-status", "running")
    mark_page(chat)

    started = time.monotonic()
    chat.get_by_role("button", name="Stop").click()
    expect(step).to_have_attribute("data-status", "stopped")
    print(f"\nStop during a tool: step shown stopped after {time.monotonic() - started:.2f}s")
    expect(step).to_contain_text("stopped")
    expect(answers(chat).last).to_contain_text("stopped")
    expect(chat.get_by_role("button", name="Send")).to_be_visible()
    assert not_reloaded(chat), "the page showed it without a reload"
    expect(chat.get_by_text("Never said")).to_have_count(0)
    # What a reload shows agrees with what was shown live.
    chat.reload()
    expect(chat.locator(".tool-step").last).to_have_attribute("data-status", "stopped")


def test_esc_stops_a_streaming_answer(chat: Page, llm) -> None:
    words = " ".join(f"word{i}" for i in range(400))
    llm.queue(Reply(content=words, chunk_delay=0.05), model=MODEL)
    ask(chat, "Tell me a long story")
    expect(chat.locator("#streaming-message")).to_contain_text("word3")
    mark_page(chat)

    chat.get_by_role("textbox", name="Message").press("Escape")

    expect(chat.get_by_role("button", name="Send")).to_be_visible()
    expect(answers(chat).last).to_contain_text("stopped")
    assert "word399" not in answers(chat).last.inner_text()
    assert not_reloaded(chat)
    llm.wait_for(lambda rs: rs and rs[-1].get("outcome") == "client_disconnected", timeout=5)


def test_an_answer_that_ended_in_an_error_can_be_retried(chat: Page, llm) -> None:
    llm.queue(Reply(error=(401, "Incorrect API key provided: sk-te****")), model=MODEL)
    ask(chat, "How many tasks are open?")
    expect(chat.locator(".error-message").last).to_be_visible()
    retry = chat.get_by_role("button", name="Retry")
    expect(retry).to_have_count(1)

    llm.queue(Reply(content="Three tasks are open."), model=MODEL)
    retry.click()

    expect(answers(chat).last).to_contain_text("Three tasks are open.")
    expect(chat.locator(".error-message")).to_have_count(0)
    expect(chat.get_by_role("button", name="Retry")).to_have_count(0)
    # The same question was asked again, not a second copy of it.
    expect(chat.locator(".user-message")).to_have_count(1)
    assert llm.requests[-1]["messages"][-1] == {
        "role": "user",
        "content": "How many tasks are open?",
    }
    chat.reload()
    expect(chat.locator(".user-message")).to_have_count(1)
    expect(answers(chat).last).to_contain_text("Three tasks are open.")
