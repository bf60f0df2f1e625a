"""A scheduled question, from an answer in the chat to a run whose proposal waits.

The schedule ticks on a seconds-level cron (SCHEDULE_SECONDS_ALLOWED in the test app);
its run asks the scripted model, which proposes a new item: the run's conversation is
marked "Scheduled", the proposal waits for review, and the emulator is untouched.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from tests.fakes.llm import Reply, ToolCall
from tests.integration.test_safe_writes import MODEL, chat, names

__all__ = ["chat"]

QUESTION = "Which items were added this week?"


def test_a_schedule_made_from_an_answer_fires_and_its_proposal_waits(
    chat: Page, llm, airtable
) -> None:
    llm.queue(Reply(content="Two items were added this week."), model=MODEL)
    box = chat.get_by_role("textbox", name="Message")
    box.fill(QUESTION)
    box.press("Enter")
    # The app's first question also loads litellm (seconds on a busy machine).
    expect(chat.locator(".assistant-message").last).to_contain_text("Two items", timeout=120_000)

    chat.get_by_role("button", name="Schedule this").click()
    chat.wait_for_url("**/schedules**")
    expect(chat.get_by_label("Question", exact=True)).to_have_value(QUESTION, timeout=20_000)
    expect(chat.get_by_label("Base")).to_have_value(re.compile("^app"))
    # Once a minute, at a second a few seconds from now: one tick within the test.
    second = (datetime.now(UTC) + timedelta(seconds=8)).second
    chat.get_by_label("How often").select_option("cron")
    chat.get_by_label("Cron").fill(f"{second} * * * * *")
    before = names(airtable, "Items")
    llm.queue(
        ToolCall("create_records", {"table": "Items", "records": [{"fields": {"Name": "Sched"}}]}),
        Reply(content="I proposed one new item for your review."),
        model=MODEL,
    )
    chat.get_by_role("button", name="Save schedule").click()
    expect(chat.get_by_text("Schedule created.")).to_be_visible()
    card = chat.get_by_test_id("schedule")
    expect(card).to_contain_text(QUESTION)
    expect(card).to_contain_text(f"Cron “{second} * * * * *”")

    runs = chat.locator("#schedule-runs")
    expect(runs).to_contain_text("Answered", timeout=120_000)
    expect(runs).to_contain_text("I proposed one new item")
    expect(runs).to_contain_text("1 change(s) proposed, waiting for your review")
    card.get_by_role("button", name="Pause").click()
    expect(card).to_contain_text("Paused")
    assert names(airtable, "Items") == before, "a scheduled run writes nothing"

    runs.get_by_role("link", name="Open").first.click()
    chat.wait_for_url("**/chat?c=*")
    expect(chat.locator(".assistant-message").last).to_contain_text("I proposed one new item")
    expect(chat.get_by_text(f"Scheduled: {QUESTION}").first).to_be_visible()
    proposal = chat.locator("#conversation .proposal-card")
    expect(proposal).to_have_count(1, timeout=20_000)
    expect(proposal.locator(".proposal-state")).to_have_text("Waiting for your review")

    chat.goto(chat.url.split("/chat")[0] + "/history")
    row = chat.locator(".history-row").filter(has_text="create_records")
    expect(row).to_contain_text("Scheduled", timeout=20_000)
    expect(row).to_contain_text("Waiting for your review")
    assert names(airtable, "Items") == before
