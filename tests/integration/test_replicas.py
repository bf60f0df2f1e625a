"""Two replicas of the app on one PostgreSQL and one Redis: a write that is still running
in one is never "recovered", resumed or rolled back from the other (issue 9 item 12).

The second replica listens on another loopback address with the same port, so the page
built for the first one serves both (Reflex points the page at the host it came from).
"""

from __future__ import annotations

import os
import time

import pytest
from playwright.sync_api import expect

from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID
from tests.fakes.llm import Reply, ToolCall
from tests.integration.accounts import PASSWORD, new_account, onboard, sign_in
from tests.integration.test_restart import injections_fired, wait_until
from tests.support.seeds import app_tokens

HEARTBEAT_SECONDS = 5  # ACTION_HEARTBEAT_SECONDS of the app under test (tests/conftest.py)
SECOND_HOST = "127.0.0.2"

pytestmark = pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL") and os.environ.get("REDIS_URL")),
    reason="two replicas need PostgreSQL (TEST_DATABASE_URL) and Redis (REDIS_URL)",
)


@pytest.fixture(scope="module")
def second_replica(app_server, tmp_path_factory):
    replica = app_server.replica(SECOND_HOST, tmp_path_factory.mktemp("replica") / "app.log")
    replica.start()
    yield replica
    replica.stop()


def created_names(app_airtable) -> list[str]:
    return [
        str(r["fields"].get("Name", ""))
        for r in app_airtable.state.records(BASE_PROJECTS_ID, "Items")
        if str(r["fields"].get("Name", "")).startswith("Replica ")
    ]


def answered_creates(app_airtable) -> int:
    return sum(
        1
        for r in app_airtable.stats()["requests"]
        if r["method"] == "POST" and r["status"] == 200 and BASE_PROJECTS_ID in r["path"]
    )


def test_a_slow_batch_in_one_replica_is_not_taken_over_by_the_other(
    app_server, second_replica, browser, mailbox, app_airtable, app_llm, unique_email
) -> None:
    app_airtable.reset()
    app_llm.clear()
    wanted = [f"Replica {n}" for n in range(30)]
    first = browser.new_context()
    first.set_default_timeout(20_000)
    page = first.new_page()
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, app_tokens(app_airtable).full, "Emulator Projects")
    app_llm.queue(
        ToolCall(
            "create_records",
            {"table": "Items", "records": [{"fields": {"Name": n}} for n in wanted]},
        ),
        Reply(content="Proposed."),
        model="scripted",
    )
    box = page.get_by_role("textbox", name="Message")
    box.fill("Add 30 rows")
    box.press("Enter")
    page.locator(".action-card").last.get_by_role("button", name="Review").click()
    expect(page.locator(".review-row")).to_have_count(30)
    # Batch 2 is refused once: the action stops as failed, with resume offered.
    app_airtable.inject_failure(
        method="POST", path_contains=f"/v0/{BASE_PROJECTS_ID}/", after=1, count=1, status=422
    )
    page.get_by_label("Type the number of records to confirm").fill("30")
    page.get_by_role("button", name="Confirm 30 records").click()
    expect(page.locator("#action-status")).to_have_attribute(
        "data-status", "failed", timeout=30_000
    )
    app_airtable.clear_failures()

    # The same user has the action open in the other replica.
    second = browser.new_context()
    second.set_default_timeout(20_000)
    other = second.new_page()
    sign_in(other, second_replica.url, unique_email, PASSWORD)
    other.wait_for_url("**/chat**")
    other.goto(f"{second_replica.url}/history")
    other.locator(".history-row").first.get_by_role("button", name="Details").click()
    expect(other.locator("#action-status")).to_have_attribute("data-status", "failed")
    expect(other.get_by_role("button", name="Resume")).to_be_visible()

    # Resumed in the first replica, whose next create takes three heartbeats to answer.
    app_airtable.inject_failure(
        method="POST",
        path_contains=f"/v0/{BASE_PROJECTS_ID}/",
        count=1,
        status=None,
        delay=3 * HEARTBEAT_SECONDS,
    )
    page.get_by_role("button", name="Resume").click()
    wait_until(lambda: injections_fired(app_airtable) >= 1)
    time.sleep(HEARTBEAT_SECONDS + 1)  # its last step is now older than the heartbeat

    # Opened afresh in the other replica, the action shows as running, not interrupted...
    fresh = second.new_page()
    fresh.goto(f"{second_replica.url}/history")
    row = fresh.locator(".history-row").first
    expect(row).to_contain_text("Applying")
    row.get_by_role("button", name="Details").click()
    expect(fresh.locator("#action-status")).to_have_attribute("data-status", "running")
    expect(fresh.get_by_text("still running in another process")).to_be_visible()
    expect(fresh.get_by_role("button", name="Resume")).to_have_count(0)
    # ...and Resume pressed where it was still offered is refused while the first one runs.
    other.get_by_role("button", name="Resume").click()
    expect(other.get_by_role("alert")).to_contain_text("still running in another process")

    expect(page.locator("#action-status")).to_have_attribute("data-status", "done", timeout=60_000)
    assert sorted(created_names(app_airtable)) == sorted(wanted)
    assert answered_creates(app_airtable) == 3  # batch 1, then 2 and 3 once each
    first.close()
    second.close()
