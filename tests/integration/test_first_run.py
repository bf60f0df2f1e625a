"""A first run as `make run` leaves it: no LLM key and no mail server.

One app of its own (own database, so its first account is the admin; own build), with
LLM_MODEL at its default and no key, and SMTP_HOST unset. Nothing in it may fail at the
first question: the log, /health, a banner on /chat and "Test models" on /admin say
what is missing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from tests.integration.accounts import PASSWORD, onboard, sign_in
from tests.support.app_server import RunningApp, separate_web_dir
from tests.support.seeds import app_tokens

NO_KEY = "No API key is set for the model openai/gpt-4o-mini."


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
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "REFLEX_WEB_WORKDIR": str(separate_web_dir(run_dir / "web")),
    }
    app = RunningApp(env, run_dir / "app.log").start()
    yield app
    app.stop()


def _verify_in_database(app: RunningApp, email: str) -> None:
    # No mail server: the account is verified by hand, as an operator would in SQL.
    engine = sa.create_engine(app.env["DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE users SET email_verified_at = :now WHERE email = :email"),
            {"now": datetime.now(UTC), "email": email},
        )
    engine.dispose()


def _register(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/auth/register")
    page.get_by_label("Name").fill("First Person")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("link", name="Go to sign in")).to_be_visible()


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

    email = "first-admin@example.com"
    _register(page, first_run_app.url, email)
    _verify_in_database(first_run_app, email)
    sign_in(page, first_run_app.url, email)
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
