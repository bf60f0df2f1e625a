"""A first run as `make run` leaves it: no LLM key and no mail server.

One app of its own (own database, so its first account is the admin; own build), with
LLM_MODEL at its default and no key, and SMTP_HOST unset. Nothing in it may fail at the
first question: the log, /health, a banner on /chat and "Test models" on /admin say
what is missing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from tests.integration.accounts import PASSWORD, onboard, sign_in
from tests.support.app_server import RunningApp, separate_web_dir
from tests.support.seeds import app_tokens

NO_KEY = "No API key is set for the model openai/gpt-4o-mini."
ADMIN_EMAIL = "first-admin@example.com"
FIRST_ACCOUNT = "Your account is ready, and it is this instance's admin"


@pytest.fixture(scope="module")
def first_run_app(tmp_path_factory, app_server, app_airtable) -> Iterator[RunningApp]:
    """The production app with no LLM key and no SMTP, on a fresh SQLite file.

    `app_server` is requested so that .web exists (it is copied) and stays untouched.
    """
    run_dir = tmp_path_factory.mktemp("first-run")
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite:///{run_dir / 'app.db'}",
        "AIRTABLE_API_URL": app_airtable.url,
        # Explicitly empty: whatever the test machine has set must not configure them.
        "LLM_API_KEY": "",
        "LLM_API_BASE": "",
        "OPENAI_API_KEY": "",
        "SMTP_HOST": "",
        # This walk registers later accounts without invitations (the default rule, invite
        # only after the first account, has its unit tests in tests/unit/auth/test_invites.py).
        "REGISTRATION": "open",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "REFLEX_WEB_WORKDIR": str(separate_web_dir(run_dir / "web")),
    }
    app = RunningApp(env, run_dir / "app.log").start()
    yield app
    app.stop()


def _user_count(app: RunningApp) -> int:
    engine = sa.create_engine(app.env["DATABASE_URL"])
    with engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM users")).scalar_one()
    engine.dispose()
    return int(count)


def _register(page: Page, base_url: str, email: str) -> None:
    """Fill the registration form and wait for its answer."""
    page.goto(f"{base_url}/auth/register")
    page.get_by_label("Name").fill("First Person")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("link", name="Go to sign in")).to_be_visible()


def _admin_signed_in(page: Page, app: RunningApp) -> None:
    """The instance's first account (registered now if the instance is fresh), signed in."""
    if _user_count(app) == 0:
        _register(page, app.url, ADMIN_EMAIL)
        expect(page.get_by_text(FIRST_ACCOUNT)).to_be_visible()
    sign_in(page, app.url, ADMIN_EMAIL)
    page.wait_for_url(re.compile(r".*/(onboarding|chat).*"))


def test_the_first_account_is_verified_at_once_and_later_ones_get_their_link_from_the_admin(
    first_run_app: RunningApp, page: Page, browser
) -> None:
    assert _user_count(first_run_app) == 0, "this test needs the fresh instance"
    _register(page, first_run_app.url, ADMIN_EMAIL)
    expect(page.get_by_text(FIRST_ACCOUNT)).to_be_visible()
    expect(page.get_by_text("Check your email")).to_have_count(0)
    sign_in(page, first_run_app.url, ADMIN_EMAIL)
    page.wait_for_url("**/onboarding**")  # verified: no link was needed

    member = browser.new_context()
    member_page = member.new_page()
    member_email = "second-person@example.com"
    _register(member_page, first_run_app.url, member_email)
    expect(member_page.get_by_text("your admin will pass the verification link on")).to_be_visible()
    expect(member_page.get_by_text(re.compile("we sent", re.IGNORECASE))).to_have_count(0)
    sign_in(member_page, first_run_app.url, member_email)
    expect(member_page.get_by_text("your admin has the verification link")).to_be_visible()

    # The admin finds the link on /admin and copies it.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=first_run_app.url)
    page.goto(f"{first_run_app.url}/admin")
    copy = page.get_by_role("button", name=f"Copy the link for {member_email}")
    link = page.get_by_role("row").filter(has=copy).locator("code").inner_text()
    assert "/auth/verify?token=" in link
    copy.click()
    expect(page.get_by_text("Link copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == link
    token = link.partition("token=")[2]
    assert token not in first_run_app.log_text()  # the log says only that a link was issued
    assert f"to={member_email}" in first_run_app.log_text()

    # Opening it verifies the member, who then signs in.
    member_page.goto(link)
    expect(member_page.get_by_text("Your email is verified.")).to_be_visible()
    sign_in(member_page, first_run_app.url, member_email)
    member_page.wait_for_url("**/onboarding**")

    # A member never sees the pending links, even while one is waiting.
    third = browser.new_context().new_page()
    _register(third, first_run_app.url, "third-person@example.com")
    third.context.close()
    member_page.goto(f"{first_run_app.url}/admin")
    member_page.wait_for_url("**/onboarding**")
    expect(member_page.get_by_text("Pending links")).to_have_count(0)
    expect(member_page.get_by_text("third-person@example.com")).to_have_count(0)
    member.close()

    # The used link left the admin's list; the waiting one is there.
    page.goto(f"{first_run_app.url}/admin")
    third_copy = page.get_by_role("button", name="Copy the link for third-person@example.com")
    expect(third_copy).to_be_visible()
    expect(copy).to_have_count(0)
    expect(page.locator("code").filter(has_text=token)).to_have_count(0)


def test_without_a_key_the_app_says_what_to_set_and_nothing_fails(
    first_run_app: RunningApp, page: Page, app_airtable
) -> None:
    log = first_run_app.log_text()
    assert "LLM model openai/gpt-4o-mini" in log
    assert "API key not set" in log
    health = httpx.get(f"{first_run_app.url}/health", timeout=15)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["llm"] == "not configured"

    _admin_signed_in(page, first_run_app)
    onboard(page, app_tokens(app_airtable).full, "Emulator Projects")

    banner = page.locator("#llm-setup-banner")
    expect(banner).to_contain_text("No LLM is set up yet")
    expect(banner).to_contain_text("LLM_API_KEY")
    expect(banner).to_contain_text("LLM_API_BASE")
    expect(banner.get_by_role("link", name="litellm's list of providers")).to_be_visible()

    # Asking anyway is answered with what is missing, and the chat goes on working.
    box = page.get_by_role("textbox", name="Message")
    box.fill("How many projects are there?")
    box.press("Enter")
    expect(page.locator(".error-message")).to_contain_text(NO_KEY)
    expect(box).to_be_enabled()
    expect(banner).to_be_visible()

    # The first account is the admin: "Test models" names the same missing key.
    page.goto(f"{first_run_app.url}/admin")
    page.get_by_role("button", name="Test models").click()
    results = page.locator("#model-tests")
    expect(results.get_by_role("row").filter(has_text="openai/gpt-4o-mini")).to_contain_text(NO_KEY)
