"""The chat in Chromium: questions answered through tools over the emulator, streamed.

The scripted LLM plays the model: each test queues the replies and tool calls it
wants, then checks what the page shows, what the app sent back to the model (the
tool results, computed from the emulator's data), and what Airtable was asked.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.fakes.llm import Reply, ToolCall
from tests.integration.accounts import new_account, onboard
from tests.support.seeds import app_tokens

MODEL = "scripted"  # LLM_MODEL=openai/scripted in the app under test


@pytest.fixture
def chat(app_server, mailbox, page: Page, airtable, llm, unique_email) -> Page:
    """A signed-in, onboarded user on /chat with the Projects base selected."""
    tokens = app_tokens(airtable)
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, tokens.full, tokens.base_name)
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    return page


def ask(page: Page, text: str) -> None:
    # A turn is over when Send is back; asking earlier gets "still answering".
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def test_a_question_sent_while_a_turn_runs_is_kept_not_lost(chat: Page, llm) -> None:
    words = " ".join(f"word{i}" for i in range(200))
    llm.queue(Reply(content=words, chunk_delay=0.05), model=MODEL)
    ask(chat, "Tell me a long story")
    expect(chat.locator("#streaming-message")).to_contain_text("word3")
    box = chat.get_by_role("textbox", name="Message")
    box.fill("And a second question")
    box.press("Enter")
    expect(chat.get_by_role("status").filter(has_text="still answering")).to_be_visible()
    expect(box).to_have_value("And a second question")
    chat.get_by_role("button", name="Stop").click()
    expect(chat.get_by_role("button", name="Send")).to_be_visible()


def tool_results(llm) -> list[dict]:
    """Tool messages the app sent back to the model, parsed when JSON."""
    results = []
    for request in llm.requests:
        for message in request["messages"]:
            if message.get("role") == "tool":
                try:
                    results.append(json.loads(message["content"]))
                except (TypeError, ValueError):
                    results.append({"text": message["content"]})
    return results


def last_tool_result(llm) -> dict:
    return llm.requests[-1]["messages"][-1]


def test_a_question_is_answered_from_records(chat: Page, llm) -> None:
    llm.queue(
        ToolCall(
            "search_records",
            {"table": "Tasks", "filters": [{"field": "Done", "op": "eq", "value": False}]},
        ),
        Reply(
            content="Three tasks are open: **Build landing page**, Write copy and Pick framework."
        ),
        model=MODEL,
    )
    ask(chat, "Which tasks are still open?")
    expect(chat.locator(".assistant-message").last).to_contain_text("Three tasks are open")
    step = chat.locator(".tool-step").first
    # The step is a sentence with its result in view; the raw call is folded away.
    expect(step.locator(".step-sentence")).to_have_text("Searched Tasks where Done is unchecked")
    expect(step.locator(".step-result")).to_have_text(" → 3 records")
    expect(step).to_have_attribute("data-status", "complete")
    raw = step.locator(".step-details pre")
    expect(raw).to_be_hidden()
    step.locator(".step-details summary").click()
    expect(raw).to_contain_text('"op": "eq"')
    # The few records found are cards; each name opens its record in Airtable, in a new tab.
    cards = chat.locator(".step-cards .record-card")
    expect(cards).to_have_count(3)
    link = cards.filter(has_text="Build landing page").locator("a.record-link")
    expect(link).to_have_text("Build landing page")
    expect(link).to_have_attribute(
        "href", "https://airtable.com/appEmulatorBase02/tblEmuTasks000001/recTask0000000002"
    )
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")

    # The model got the open tasks from the emulator, linked projects by name.
    sent = last_tool_result(llm)
    assert sent["role"] == "tool"
    for name in ("Build landing page", "Write copy", "Pick framework"):
        assert name in sent["content"]
    for name in ("Design mockups", "Pack boxes", "Book movers"):
        assert name not in sent["content"]
    assert "Website relaunch" in sent["content"], "linked records shown by primary value"
    # The question and the system prompt with the base schema went to the model.
    first = llm.requests[0]
    assert first["messages"][0]["role"] == "system"
    assert "Tasks" in first["messages"][0]["content"]
    assert first["messages"][-1] == {"role": "user", "content": "Which tasks are still open?"}
    assert {t["function"]["name"] for t in first["tools"]} >= {"search_records", "aggregate"}


def test_multi_step_chain_and_aggregate_over_the_data(chat: Page, llm) -> None:
    llm.queue(
        ToolCall("list_tables", {}),
        ToolCall(
            "aggregate",
            {
                "table": "Tasks",
                "op": "sum",
                "field": "Estimate",
                "filters": [{"field": "Done", "op": "eq", "value": False}],
            },
        ),
        Reply(content="The open tasks need 36 hours in total."),
        model=MODEL,
    )
    ask(chat, "How many hours of open work are left?")
    expect(chat.locator(".assistant-message").last).to_contain_text("36 hours")
    steps = chat.locator(".tool-step")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_contain_text(re.compile(r"Listed the tables → \d+ tables"))
    expect(steps.nth(1)).to_contain_text("Added up Estimate in Tasks where Done is unchecked → 36")
    results = tool_results(llm)
    assert any("Tasks" in json.dumps(r) for r in results[:1])
    aggregate = results[-1]
    assert aggregate["value"] == 36, aggregate  # 24 + 8 + 4 in the seed
    assert len(llm.requests) == 3


def test_a_tool_error_goes_back_to_the_model_which_corrects_itself(chat: Page, llm) -> None:
    llm.queue(
        ToolCall(
            "search_records",
            {"table": "Tasks", "filters": [{"field": "Owner", "op": "eq", "value": "x"}]},
        ),
        ToolCall(
            "search_records",
            {"table": "Tasks", "filters": [{"field": "Done", "op": "eq", "value": True}]},
        ),
        Reply(content="Three tasks are done."),
        model=MODEL,
    )
    ask(chat, "Which tasks are done?")
    expect(chat.locator(".assistant-message").last).to_contain_text("Three tasks are done.")
    steps = chat.locator(".tool-step")
    expect(steps.nth(0)).to_have_attribute("data-status", "failed")
    expect(steps.nth(1)).to_have_attribute("data-status", "complete")
    error_text = llm.requests[1]["messages"][-1]["content"]
    assert "Owner" in error_text and "Assignee" in error_text, error_text


def test_garbage_arguments_are_reported_to_the_model_not_the_user(chat: Page, llm) -> None:
    llm.queue(
        Reply(tool_calls=[ToolCall("search_records", '{"table": "Tasks", "limit": ')]),
        Reply(content="Sorry, here they are."),
        model=MODEL,
    )
    ask(chat, "List tasks")
    expect(chat.locator(".assistant-message").last).to_contain_text("Sorry, here they are.")
    assert "JSON" in llm.requests[1]["messages"][-1]["content"]
    expect(chat.locator(".error-message")).to_have_count(0)


def test_stop_ends_a_stream_within_a_second(chat: Page, llm) -> None:
    words = " ".join(f"word{i}" for i in range(400))
    llm.queue(Reply(content=words, chunk_delay=0.05), model=MODEL)
    ask(chat, "Tell me a long story")
    streaming = chat.locator("#streaming-message")
    expect(streaming).to_contain_text("word3")
    started = time.monotonic()
    chat.get_by_role("button", name="Stop").click()
    expect(chat.get_by_role("button", name="Send")).to_be_visible()
    # The whole answer takes 20 s to stream; well under that means Stop cut it short.
    # (How fast Stop is, is a benchmark's business, not a timed assertion on a busy machine.)
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"Stop took {elapsed:.2f}s"
    expect(chat.locator(".assistant-message").last).to_contain_text("stopped")
    assert "word399" not in chat.locator(".assistant-message").last.inner_text()
    # The server saw the client go away: the model stream really stopped.
    llm.wait_for(lambda rs: rs and rs[-1].get("outcome") == "client_disconnected", timeout=5)


def test_reload_restores_the_conversation(chat: Page, llm, app_server) -> None:
    llm.queue(Reply(content="Hello! The base has Projects and Tasks."), model=MODEL)
    ask(chat, "What is in this base?")
    expect(chat.locator(".assistant-message").last).to_contain_text("Projects and Tasks")
    chat.reload()
    expect(chat.locator(".user-message")).to_contain_text("What is in this base?")
    expect(chat.locator(".assistant-message").last).to_contain_text("Projects and Tasks")
    # The conversation list has it too, titled by the first question.
    chat.get_by_role("button", name="Conversations").click()
    expect(chat.get_by_role("button", name="What is in this base?", exact=True)).to_be_visible()


def test_airtable_text_is_shown_as_text_never_run(chat: Page, llm, airtable) -> None:
    payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    airtable.state.update_record(
        "appEmulatorBase02", "Tasks", "recTask0000000001", {"Name": payload}
    )
    dialogs: list[str] = []
    chat.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    llm.queue(
        ToolCall("search_records", {"table": "Tasks", "limit": 3}),
        Reply(content=f"The first task is {payload}"),
        model=MODEL,
    )
    ask(chat, "Show me tasks")
    answer = chat.locator(".assistant-message").last
    expect(answer).to_contain_text("The first task is")
    assert chat.evaluate("window.__xss") is None
    assert answer.locator("img, script").count() == 0
    assert dialogs == []
    # The model did get the cell's text, as data inside the tool result.
    assert "onerror" in last_tool_result(llm)["content"]


def test_provider_errors_are_shown_clearly(chat: Page, llm) -> None:
    llm.queue(Reply(error=(401, "Incorrect API key provided: sk-te****")), model=MODEL)
    ask(chat, "Hello?")
    error = chat.locator(".error-message").last
    expect(error).to_contain_text("rejected the API key")
    assert "sk-test-key" not in chat.content()
    expect(chat.get_by_role("button", name="Send")).to_be_visible()


def test_schema_is_fetched_once_across_two_turns(chat: Page, llm, airtable) -> None:
    airtable.reset_stats()
    for question in ("First question", "Second question"):
        llm.queue(
            ToolCall("search_records", {"table": "Projects", "limit": 5}),
            Reply(content=f"Answer to {question}."),
            model=MODEL,
        )
        ask(chat, question)
        expect(chat.locator(".assistant-message").last).to_contain_text(f"Answer to {question}.")
    stats = airtable.stats()
    schema_calls = [
        r for r in stats["requests"] if r["path"].startswith("/v0/meta/bases/appEmulatorBase02")
    ]
    assert len(schema_calls) <= 1, schema_calls
    # Each answer's tokens and Airtable calls (its whole turn) are behind its own toggle,
    # and the model's tool-call-only messages leave no line of tokens of their own.
    answers = chat.locator(".assistant-message")
    expect(answers).to_have_count(2)
    usage = answers.last.locator(".answer-usage")
    expect(usage).to_be_hidden()
    answers.last.locator(".answer-details summary").click()
    expect(usage).to_contain_text("tokens")
    expect(usage).to_contain_text("Airtable call")
    chat.reload()
    expect(chat.locator(".assistant-message")).to_have_count(2)


def test_phone_layout_has_a_drawer_and_no_sideways_scroll(
    app_server, mailbox, browser, airtable, llm, unique_email
) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    tokens = app_tokens(airtable)
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, tokens.full, tokens.base_name)
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    expect(page.locator("#action-sidebar")).to_be_hidden()
    page.get_by_role("button", name="Actions").click()
    expect(page.get_by_role("heading", name="Actions")).to_be_visible()
    context.close()
