"""/admin in Chromium: admins manage users and models; members are kept out."""

from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from tests.fakes.llm import Reply
from tests.integration.accounts import new_account, onboard
from tests.support.seeds import app_tokens


def _make_admin(database_url: str, email: str) -> None:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE users SET role = 'admin' WHERE email = :email"), {"email": email}
        )
    engine.dispose()


def test_admin_sets_the_models_members_can_pick(
    app_server, mailbox, page, browser, app_airtable, app_database_url, unique_email
) -> None:
    admin_email = "admin-" + unique_email
    new_account(page, app_server.url, mailbox, admin_email)
    _make_admin(app_database_url, admin_email)

    member = browser.new_context()
    member_page = member.new_page()
    member_email = "member-" + unique_email
    new_account(member_page, app_server.url, mailbox, member_email)
    # A member is sent away from /admin.
    member_page.goto(f"{app_server.url}/admin")
    member_page.wait_for_url("**/onboarding**")

    page.goto(f"{app_server.url}/admin")
    expect(page.get_by_role("heading", name="Admin")).to_be_visible()
    expect(page.get_by_role("cell", name=member_email)).to_be_visible()
    models = page.get_by_label("Models users may pick")
    models.fill("openai/scripted\nopenai/scripted-large")
    page.get_by_role("button", name="Save models").click()
    expect(page.get_by_text("Saved.")).to_be_visible()

    onboard(member_page, app_tokens(app_airtable).full, "Emulator Projects")
    member_page.get_by_role("combobox", name="Model").click()
    expect(member_page.get_by_role("option", name="openai/scripted-large")).to_be_visible()
    member.close()

    # Put the default list back for the other tests.
    page.goto(f"{app_server.url}/admin")
    page.get_by_label("Models users may pick").fill("openai/scripted")
    page.get_by_role("button", name="Save models").click()
    expect(page.get_by_text("Saved.")).to_be_visible()


def test_disabling_a_member_signs_them_out(
    app_server, mailbox, page, browser, app_database_url, unique_email
) -> None:
    admin_email = "admin-" + unique_email
    new_account(page, app_server.url, mailbox, admin_email)
    _make_admin(app_database_url, admin_email)

    member = browser.new_context()
    member_page = member.new_page()
    member_email = "member-" + unique_email
    new_account(member_page, app_server.url, mailbox, member_email)

    page.goto(f"{app_server.url}/admin")
    row = page.get_by_role("row").filter(has_text=member_email)
    row.get_by_role("button", name="Disable").click()
    expect(row.get_by_text("disabled")).to_be_visible()

    member_page.goto(f"{app_server.url}/settings")
    member_page.wait_for_url("**/auth/login**")
    member.close()


def test_test_models_shows_each_models_time_or_its_error(
    app_server, mailbox, page, app_llm, app_database_url, unique_email
) -> None:
    admin_email = "admin-" + unique_email
    new_account(page, app_server.url, mailbox, admin_email)
    _make_admin(app_database_url, admin_email)
    app_llm.clear()
    # The scripted server answers unscripted requests; this one model is refused.
    app_llm.queue(Reply(error=(401, "Incorrect API key provided: sk-test-key")), model="refused")

    page.goto(f"{app_server.url}/admin")
    page.get_by_label("Models users may pick").fill("openai/scripted\nopenai/refused")
    page.get_by_role("button", name="Save models").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    page.get_by_role("button", name="Test models").click()

    results = page.locator("#model-tests")
    expect(results.get_by_role("row").filter(has_text="openai/scripted")).to_contain_text(
        re.compile(r"answered in \d+ ms")
    )
    refused = results.get_by_role("row").filter(has_text="openai/refused")
    expect(refused).to_contain_text("The LLM provider rejected the API key.")
    expect(refused).not_to_contain_text("sk-test-key")

    # Put the default list back for the other tests.
    page.get_by_label("Models users may pick").fill("openai/scripted")
    page.get_by_role("button", name="Save models").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
