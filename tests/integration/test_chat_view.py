"""The chat in Chromium, as a person follows it: what can be redone, Stop, answers in view.

The scripted LLM plays the model (as in `test_chat`); a slow tool is an Airtable
request the emulator holds back.
"""

from __future__ import annotations

import dataclasses
import secrets
import time

import pytest
from playwright.sync_api import Page, expect

from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID
from tests.fakes.llm import Reply, ToolCall
from tests.integration.accounts import new_account, onboard
from tests.integration.conftest import ACTION_TIMEOUT_MS
from tests.integration.test_chat import MODEL, ask
from tests.support.seeds import app_tokens


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


# --- C: answers in view -----------------------------------------------------------------

VIEWPORTS = {"phone": (375, 800), "desktop": (1280, 800)}


@pytest.fixture(params=sorted(VIEWPORTS))
def sized_chat(request, app_server, mailbox, browser, airtable, llm, unique_email):
    """The chat (signed in, onboarded) at 375x800 (a phone) and at 1280x800."""
    width, height = VIEWPORTS[request.param]
    phone = width < 600
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    yield open_chat(page, app_server, mailbox, airtable, unique_email)
    context.close()


def lines(tag: str, count: int = 40) -> str:
    """An answer of `count` paragraphs, each naming its answer and number."""
    return "\n\n".join(f"{tag} line {i} of {count}." for i in range(1, count + 1))


def ask_for_lines(page: Page, llm, tag: str) -> None:
    """Ask, and wait until the streamed 40-line answer has ended."""
    llm.queue(Reply(content=lines(tag), chunk_delay=0.005), model=MODEL)
    ask(page, f"Give me 40 lines ({tag})")
    expect(answers(page).last).to_contain_text(f"{tag} line 40 of 40.")
    expect(page.get_by_role("button", name="Send")).to_be_visible()


def scroll_top(page: Page) -> float:
    return page.locator("#conversation").evaluate("el => el.scrollTop")


# Still streaming, past its 20th line, and the conversation is at its foot.
FOLLOWED_WHILE_STREAMING = """() => {
    const box = document.getElementById("conversation");
    const streaming = document.getElementById("streaming-message");
    return !!streaming && streaming.textContent.includes("line 21 of")
        && box.scrollHeight - box.scrollTop - box.clientHeight <= 24;
}"""


def test_a_long_answer_is_followed_while_it_streams_and_ends_in_view(sized_chat: Page, llm) -> None:
    llm.queue(Reply(content=lines("First"), chunk_delay=0.02), model=MODEL)
    ask(sized_chat, "Give me 40 lines (First)")
    sized_chat.wait_for_function(FOLLOWED_WHILE_STREAMING)
    expect(answers(sized_chat).last).to_contain_text("First line 40 of 40.")
    expect(sized_chat.get_by_role("button", name="Send")).to_be_visible()

    expect(sized_chat.get_by_text("First line 40 of 40.")).to_be_in_viewport()
    expect(sized_chat.get_by_text("First line 1 of 40.")).not_to_be_in_viewport()
    assert scroll_top(sized_chat) > 0
    expect(sized_chat.get_by_role("button", name="Jump to latest")).to_be_hidden()
    # The page itself does not scroll: the conversation does, under a fixed composer.
    expect(sized_chat.get_by_role("textbox", name="Message")).to_be_in_viewport()


def test_scrolled_up_a_new_answer_offers_jump_to_latest_and_leaves_the_view(
    sized_chat: Page, llm
) -> None:
    ask_for_lines(sized_chat, llm, "First")
    expect(sized_chat.get_by_text("First line 40 of 40.")).to_be_in_viewport()
    jump = sized_chat.get_by_role("button", name="Jump to latest")

    sized_chat.locator("#conversation").hover()
    sized_chat.mouse.wheel(0, -600)
    expect(jump).to_be_visible()
    expect(sized_chat.get_by_text("First line 40 of 40.")).not_to_be_in_viewport()
    where = scroll_top(sized_chat)

    ask_for_lines(sized_chat, llm, "Second")

    assert scroll_top(sized_chat) == where, "a new answer does not move a reader who scrolled up"
    expect(jump).to_be_visible()
    expect(sized_chat.get_by_text("Second line 40 of 40.")).not_to_be_in_viewport()

    jump.click()
    expect(sized_chat.get_by_text("Second line 40 of 40.")).to_be_in_viewport()
    expect(jump).to_be_hidden()
    # Back at the bottom, the next answer is followed again.
    ask_for_lines(sized_chat, llm, "Third")
    expect(sized_chat.get_by_text("Third line 40 of 40.")).to_be_in_viewport()


def fresh_token(airtable) -> str:
    """A new token with the full seed token's rights: no schema is cached for it yet."""
    token = f"patEmuFresh{secrets.token_hex(3)}.{secrets.token_hex(32)}"
    with airtable.state.lock:
        full = airtable.state.tokens[app_tokens(airtable).full]
        airtable.state.tokens[token] = dataclasses.replace(full, token=token)
    return token


def test_a_question_whose_turn_could_not_start_is_sent_again_by_retry(
    app_server, mailbox, page: Page, airtable, llm, unique_email
) -> None:
    new_account(page, app_server.url, mailbox, unique_email)
    # The base's tables cannot be read: the turn stops before the question is stored.
    # Set before the chat opens, whose example questions read the tables first.
    airtable.inject_failure(
        method="GET",
        path_contains=f"/v0/meta/bases/{BASE_PROJECTS_ID}/tables",
        status=403,
        count=None,
    )
    onboard(page, fresh_token(airtable), app_tokens(airtable).base_name)
    ask(page, "How many projects are there?")
    expect(page.locator(".error-message").last).to_be_visible()
    assert llm.requests == [], "the turn did not start"
    airtable.clear_failures()

    llm.queue(Reply(content="There are two projects."), model=MODEL)
    page.get_by_role("button", name="Retry").click()

    expect(answers(page).last).to_contain_text("There are two projects.")
    expect(page.locator(".error-message")).to_have_count(0)
    assert llm.requests[-1]["messages"][-1] == {
        "role": "user",
        "content": "How many projects are there?",
    }
    # Stored once, now that it was answered.
    page.reload()
    expect(page.locator(".user-message")).to_have_count(1)
    expect(answers(page).last).to_contain_text("There are two projects.")
