"""/admin's access rules in Chromium, as an admin and the people they let in walk them.

1. The admin makes registration invite-only, invites an address as admin and another one,
   revokes the second: the first link registers its owner with the role, the revoked one
   is refused, and the register page without a link says it is by invitation.
2. The admin switches auto-approve on for Items: a one-record rename runs without a click
   and its card says so; then a tiny Airtable budget makes the next question refused with
   the reason, and the admins' banner shows.

Each walk puts the instance's settings back (in the database, whatever happened) for the
tests that share the app.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from tests.fakes.llm import Reply
from tests.integration.accounts import PASSWORD, new_account, onboard, sign_in
from tests.integration.test_admin import _make_admin
from tests.integration.test_safe_writes import MODEL, item_id, names, rename_items
from tests.support.seeds import app_tokens

SETTINGS = ("registration", "auto_approve", "airtable_monthly_budget")


@pytest.fixture
def instance_settings_restored(app_database_url: str) -> Iterator[None]:
    yield
    engine = sa.create_engine(app_database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(
            sa.text("DELETE FROM instance_settings WHERE key IN :keys").bindparams(
                sa.bindparam("keys", expanding=True)
            ),
            {"keys": list(SETTINGS)},
        )
    engine.dispose()


def _admin_page(page: Page, app_server, mailbox, app_database_url: str, email: str) -> None:
    new_account(page, app_server.url, mailbox, email)
    _make_admin(app_database_url, email)
    page.goto(f"{app_server.url}/admin")
    expect(page.get_by_role("heading", name="Admin")).to_be_visible()


def test_invite_only_registration_with_a_role_and_a_revoked_link(
    app_server, mailbox, page, browser, app_database_url, unique_email, instance_settings_restored
) -> None:
    _admin_page(page, app_server, mailbox, app_database_url, "admin-" + unique_email)
    page.get_by_label("Who may create an account").select_option("invite-only")
    page.get_by_role("button", name="Save access").click()
    expect(page.get_by_text("Saved.")).to_be_visible()

    invited, revoked = "invited-" + unique_email, "revoked-" + unique_email
    for email in (invited, revoked):
        page.get_by_label("Invite by email").fill(email)
        page.get_by_label("Role").select_option("admin")
        page.get_by_role("button", name="Invite", exact=True).click()
        expect(page.get_by_text(f"Invitation sent to {email}.")).to_be_visible()
    invites = page.locator("#pending-invites")
    page.get_by_role("button", name=f"Revoke the invitation for {revoked}").click()
    expect(invites).not_to_contain_text(revoked)
    expect(invites).to_contain_text(invited)

    guest = browser.new_context()
    other = guest.new_page()
    other.goto(f"{app_server.url}/auth/register")
    expect(other.get_by_text("open by invitation only")).to_be_visible()
    expect(other.get_by_role("button", name="Create account")).to_have_count(0)

    other.goto(mailbox.wait_for(revoked, "invited").link("/auth/register"))
    expect(other.get_by_text("This invitation link cannot be used")).to_be_visible()

    other.goto(mailbox.wait_for(invited, "invited").link("/auth/register"))
    expect(other.get_by_text(f"This invitation is for {invited}")).to_be_visible()
    other.get_by_label("Email").fill(invited)
    other.get_by_label("Password", exact=True).fill(PASSWORD)
    other.get_by_label("Repeat the password").fill(PASSWORD)
    other.get_by_role("button", name="Create account").click()
    expect(other.get_by_text("Your account is ready")).to_be_visible()
    # The invitation proved the address: straight in, no verification email.
    sign_in(other, app_server.url, invited)
    other.wait_for_url("**/onboarding**")
    guest.close()

    page.reload()
    row = page.get_by_role("row").filter(has_text=invited)
    expect(row.get_by_text("admin", exact=True)).to_be_visible()
    expect(invites).to_have_count(0)  # the used invitation left the list


def test_auto_approve_applies_a_small_rename_then_a_tiny_airtable_budget_refuses(
    app_server,
    mailbox,
    page,
    app_database_url,
    airtable,
    llm,
    unique_email,
    instance_settings_restored,
) -> None:
    _admin_page(page, app_server, mailbox, app_database_url, "admin-" + unique_email)
    page.get_by_label("Auto-approve small writes").check()
    page.get_by_label("At most this many records per action").fill("2")
    page.get_by_label("Tables it covers").fill("Items")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text("Saved.")).to_be_visible()

    page.goto(f"{app_server.url}/chat")
    onboard(page, app_tokens(airtable).full, "Emulator Projects")
    llm.queue(rename_items(1), Reply(content="Renamed it."), model=MODEL)
    box = page.get_by_role("textbox", name="Message")
    box.fill("Rename the first item")
    box.press("Enter")
    # The app's first model call loads litellm (20 s and more on a busy machine).
    expect(page.locator(".assistant-message").last).to_contain_text("Renamed it", timeout=90_000)
    card = page.locator("#conversation .proposal-card")
    expect(card.locator(".proposal-state")).to_have_text(
        "Applied automatically by the instance rule", timeout=20_000
    )
    assert names(airtable, "Items")[item_id(1)] == "Renamed 1"

    page.goto(f"{app_server.url}/admin")
    page.get_by_label("Airtable requests per month").select_option("custom")
    page.get_by_label("Number (for “A number…”)").fill("1")
    page.get_by_role("button", name="Save Airtable budget").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    page.reload()
    expect(page.locator("#budget-banner")).to_contain_text("of 1 requests", timeout=20_000)

    page.goto(f"{app_server.url}/chat")
    asked = len(llm.requests)
    box = page.get_by_role("textbox", name="Message")
    expect(box).to_be_visible()
    box.fill("How many items are there?")
    box.press("Enter")
    refusal = page.locator("#conversation .error-message").last
    expect(refusal).to_contain_text(
        "This instance has used its Airtable budget for", timeout=30_000
    )
    expect(refusal).to_contain_text("until an admin raises the budget")
    assert len(llm.requests) == asked, "the refused question never reached the model"
