"""A server killed in the middle of a bulk write: after the restart the action shows as
interrupted, and resuming it finishes the job without applying anything twice.

Kills the shared app with SIGKILL and starts it again on the same port (the page Reflex
builds carries the backend address, so the rebuild is the same for the other tests).
"""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import expect
from sqlmodel import select

# Every table the actions' foreign keys point at must be known, as in the app.
import pyairtable_ui.models  # noqa: F401
from pyairtable_ui.actions.execution import execute_action
from pyairtable_ui.actions.recovery import mark_interrupted
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.auth.models import User
from pyairtable_ui.core.db import make_engine, session_factory_for
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TOKEN_FULL
from tests.fakes.airtable_fixtures import emulator_api
from tests.fakes.llm import Reply, ToolCall
from tests.integration.accounts import PASSWORD, new_account, onboard, sign_in
from tests.support.seeds import app_tokens
from tests.unit.actions.helpers import SimulatedCrash, records_plan
from tests.unit.actions.test_recovery import approved, crash_at

HEARTBEAT_SECONDS = 5  # ACTION_HEARTBEAT_SECONDS of the app under test (tests/conftest.py)


def renamed(app_airtable, ids: list[str]) -> list[str]:
    names = {
        r["id"]: r["fields"]["Name"] for r in app_airtable.state.records(BASE_PROJECTS_ID, "Items")
    }
    return [names[rid] for rid in ids]


def test_a_restart_mid_write_leaves_an_interrupted_action_that_resumes(
    app_server, browser, mailbox, app_airtable, app_llm, unique_email
) -> None:
    app_airtable.reset()
    app_llm.clear()
    ids = [f"recItem{i:010d}" for i in range(1, 51)]
    wanted = [f"Resumed {n}" for n in range(1, 51)]

    context = browser.new_context()
    page = context.new_page()
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, app_tokens(app_airtable).full, "Emulator Projects")
    app_llm.queue(
        ToolCall(
            "update_records",
            {
                "table": "Items",
                "records": [
                    {"id": rid, "fields": {"Name": name}}
                    for rid, name in zip(ids, wanted, strict=True)
                ],
            },
        ),
        Reply(content="Proposed."),
        model="scripted",
    )
    box = page.get_by_role("textbox", name="Message")
    box.fill("Rename 50 items")
    box.press("Enter")
    page.locator(".action-card").last.get_by_role("button", name="Review").click()
    expect(page.locator(".review-row")).to_have_count(50)
    # Slow every write down so the process can be killed between batches.
    app_airtable.inject_failure(
        method="PATCH",
        path_contains=f"/v0/{BASE_PROJECTS_ID}/",
        after=0,
        count=None,
        status=None,
        delay=1.0,
    )
    try:
        page.get_by_label("Type the number of records to confirm").fill("50")
        page.get_by_role("button", name="Confirm 50 records").click()
        expect(page.locator("#action-progress")).to_contain_text("batch 2 of 5", timeout=30_000)
        app_server.kill()  # the whole app with its workers, mid-action
        context.close()
    finally:
        app_airtable.clear_failures()
        # Whatever happened above, the later tests need the app running again.
        app_server.kill()
        app_server.start()
    time.sleep(HEARTBEAT_SECONDS + 1)  # a write in flight has landed; the heartbeat is stale
    applied = sum(
        name == want for name, want in zip(renamed(app_airtable, ids), wanted, strict=True)
    )
    assert 10 <= applied < 50, applied

    context = browser.new_context()
    page = context.new_page()
    sign_in(page, app_server.url, unique_email, PASSWORD)
    page.wait_for_url("**/chat**")
    page.goto(f"{app_server.url}/history")
    row = page.locator(".history-row").first
    expect(row).to_contain_text("Interrupted")
    row.get_by_role("button", name="Details").click()
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#action-status")).to_have_attribute("data-status", "done", timeout=60_000)
    assert renamed(app_airtable, ids) == wanted
    context.close()


def injections_fired(app_airtable) -> int:
    answer = httpx.get(f"{app_airtable.url}/_emulator/fail", timeout=5).json()
    return sum(int(i["fired"]) for i in answer["failures"])


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def bulk_names(app_airtable, prefix: str) -> list[str]:
    return [
        str(r["fields"].get("Name", ""))
        for r in app_airtable.state.records(BASE_PROJECTS_ID, "Items")
        if str(r["fields"].get("Name", "")).startswith(prefix)
    ]


def propose_create(page, app_llm, names: list[str], question: str) -> None:
    app_llm.queue(
        ToolCall(
            "create_records",
            {"table": "Items", "records": [{"fields": {"Name": n}} for n in names]},
        ),
        Reply(content="Proposed."),
        model="scripted",
    )
    box = page.get_by_role("textbox", name="Message")
    box.fill(question)
    box.press("Enter")
    proposed = page.locator('.action-card[data-status="proposed"]')
    proposed.get_by_role("button", name="Review").click()
    expect(page.locator(".review-row")).to_have_count(len(names), timeout=30_000)


def test_a_crash_mid_create_after_another_create_still_resumes_to_exactly_200(
    app_server, browser, mailbox, app_airtable, app_llm, unique_email
) -> None:
    """Issue 9 item 2: another create into the table a minute before the crash made the
    in-flight check undecidable for good, and 40 of 200 records stayed stranded."""
    app_airtable.reset()
    app_llm.clear()
    context = browser.new_context()
    context.set_default_timeout(20_000)
    page = context.new_page()
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, app_tokens(app_airtable).full, "Emulator Projects")
    # A colleague's create into the same table, seconds before.
    propose_create(page, app_llm, [f"Other {n}" for n in range(10)], "Add ten others")
    page.get_by_role("button", name="Confirm 10 records").click()
    expect(page.locator("#action-status")).to_have_attribute("data-status", "done", timeout=30_000)
    page.get_by_role("button", name="Close").click()

    wanted = [f"Bulk {n}" for n in range(200)]
    propose_create(page, app_llm, wanted, "Add 200 rows")
    # Batches 1-4 go through; batch 5 gets no answer (Airtable keeps failing it slowly).
    app_airtable.inject_failure(
        method="POST",
        path_contains=f"/v0/{BASE_PROJECTS_ID}/",
        after=4,
        count=None,
        status=503,
        delay=2.0,
    )
    try:
        page.get_by_label("Type the number of records to confirm").fill("200")
        page.get_by_role("button", name="Confirm 200 records").click()
        expect(page.locator("#action-progress")).to_contain_text("batch 4 of 20", timeout=30_000)
        wait_until(lambda: injections_fired(app_airtable) >= 1)
        app_server.kill()  # kill -9 while batch 5 is in flight
        context.close()
    finally:
        app_airtable.clear_failures()
        app_server.kill()
        app_server.start()
    assert len(bulk_names(app_airtable, "Bulk ")) == 40
    time.sleep(HEARTBEAT_SECONDS + 1)  # the dead run's heartbeat and lease run out

    context = browser.new_context()
    context.set_default_timeout(20_000)
    page = context.new_page()
    sign_in(page, app_server.url, unique_email, PASSWORD)
    page.wait_for_url("**/chat**")
    page.goto(f"{app_server.url}/history")
    row = page.locator(".history-row").first
    expect(row).to_contain_text("Interrupted")
    row.get_by_role("button", name="Details").click()
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#action-status")).to_have_attribute("data-status", "done", timeout=60_000)
    assert sorted(bulk_names(app_airtable, "Bulk ")) == sorted(wanted)  # each exactly once
    assert len(bulk_names(app_airtable, "Other ")) == 10
    context.close()


@pytest.fixture
def as_the_app(app_server, monkeypatch):
    """This process signs plans with the app's secret, so the app runs what it prepares."""
    monkeypatch.setenv("SECRET_KEY", app_server.env["SECRET_KEY"])
    get_settings.cache_clear()
    yield session_factory_for(make_engine(app_server.env["DATABASE_URL"]))
    get_settings.cache_clear()


def test_a_batch_that_cannot_be_settled_shows_its_records_and_the_choices(
    app_server, browser, mailbox, app_airtable, as_the_app, unique_email
) -> None:
    """Issue 9 item 2: when Airtable cannot tell whether a batch was applied, the dialog
    shows the records in question and the user's choice is a real button."""
    app_airtable.reset()
    context = browser.new_context()
    context.set_default_timeout(20_000)
    page = context.new_page()
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, app_tokens(app_airtable).full, "Emulator Projects")
    factory = as_the_app
    with factory() as session:
        user_id = session.exec(select(User.id).where(User.email == unique_email)).one()
    client = AirtableClient(TOKEN_FULL, api_url=app_airtable.url)
    plan = records_plan(
        "create", [{"op": "create", "fields": {"Name": f"Hand {n}"}} for n in range(20)]
    )
    # A server killed as batch 2 was about to go out; meanwhile 3 of its rows were typed in.
    action_id = approved(factory, user_id, client, plan)
    with pytest.raises(SimulatedCrash):
        execute_action(
            session_factory=factory,
            user_id=user_id,
            action_id=action_id,
            client=client,
            step_hook=crash_at("apply", 2, "before_request"),
        )
    table = emulator_api(app_airtable, TOKEN_FULL).table(BASE_PROJECTS_ID, "Items")
    table.batch_create([{"Name": f"Hand {n}"} for n in (10, 11, 12)])
    with factory() as session:
        mark_interrupted(session=session)

    page.goto(f"{app_server.url}/history")
    page.locator(".history-row").first.get_by_role("button", name="Details").click()
    page.get_by_role("button", name="Resume").click()
    question = page.locator(".batch-question")
    expect(question).to_contain_text("Was this batch applied?", timeout=30_000)
    expect(question.locator(".candidate-row")).to_have_count(3)
    expect(question.locator(".candidate-row").first).to_contain_text("matches the batch")
    expect(question).to_contain_text("Name: Hand 19")  # what the batch was to create
    question.get_by_role("button", name="It was not applied: send it again").click()
    expect(page.locator("#action-status")).to_have_attribute("data-status", "done", timeout=30_000)
    expect(page.locator(".batch-question")).to_have_count(0)
    assert len(bulk_names(app_airtable, "Hand ")) == 23  # 20 sent once, 3 typed by hand
    context.close()
