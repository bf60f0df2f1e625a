"""Accounts end to end in Chromium: register → verify → sign in → onboarding → chat.

Runs against the production build, the Airtable emulator (AIRTABLE_API_URL) and a
real SMTP server that receives the app's emails.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from pyairtable_ui.core.db import utcnow
from tests.integration.accounts import PASSWORD, new_account, onboard, register, sign_in, verify
from tests.support.seeds import app_tokens

SESSION_COOKIE = "pyairtable_ui_session"


@pytest.fixture(scope="module")
def tokens(app_airtable):
    return app_tokens(app_airtable)


def _session_cookie(page):
    return next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)


def test_register_verify_sign_in_onboard_and_chat(
    app_server, mailbox, page, tokens, unique_email, app_database_url
) -> None:
    new_account(page, app_server.url, mailbox, unique_email)

    # The session token lives in an HttpOnly cookie the page's JavaScript cannot read.
    cookie = _session_cookie(page)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["value"] not in page.evaluate("document.cookie")
    assert SESSION_COOKIE not in page.evaluate("document.cookie")

    onboard(page, tokens.full, tokens.base_name)
    expect(page.get_by_role("combobox", name="Base")).to_have_text(tokens.base_name)

    # The stored Airtable token is encrypted, not the plain token.
    engine = sa.create_engine(app_database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        stored = connection.execute(
            sa.text(
                "SELECT c.encrypted_token, c.token_hint FROM airtable_connections c "
                "JOIN users u ON u.id = c.user_id WHERE u.email = :email"
            ),
            {"email": unique_email},
        ).one()
    engine.dispose()
    assert tokens.full not in stored.encrypted_token
    assert stored.token_hint == tokens.full[-4:]

    # A reload keeps the user signed in and on the chat (onboarding is done).
    page.reload()
    expect(page.get_by_role("combobox", name="Base")).to_have_text(tokens.base_name)


def test_onboarding_resumes_at_the_step_left(
    app_server, mailbox, page, tokens, unique_email
) -> None:
    new_account(page, app_server.url, mailbox, unique_email)
    page.get_by_label("Personal access token").fill(tokens.full)
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("heading", name="Choose a base")).to_be_visible()

    page.goto(f"{app_server.url}/chat")  # leaving midway...
    page.wait_for_url("**/onboarding**")  # ...comes back to the same step
    expect(page.get_by_role("heading", name="Choose a base")).to_be_visible()
    expect(page.get_by_role("button", name=f"Use {tokens.base_name}")).to_be_visible()


def test_bad_tokens_get_specific_messages(app_server, mailbox, page, tokens, unique_email) -> None:
    new_account(page, app_server.url, mailbox, unique_email)
    token_field = page.get_by_label("Personal access token")
    connect = page.get_by_role("button", name="Connect")

    token_field.fill(
        "patNOTAREALTOKEN1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )
    connect.click()
    expect(page.get_by_role("alert")).to_contain_text("did not accept this token")

    token_field.fill(tokens.no_bases)
    connect.click()
    expect(page.get_by_role("alert")).to_contain_text("no access to any base")

    token_field.fill(tokens.read_only)
    connect.click()
    expect(page.get_by_role("alert")).to_contain_text("data.records:write")
    expect(page.get_by_role("heading", name="Connect your Airtable account")).to_be_visible()


def test_wrong_password_and_unknown_email_read_the_same(
    app_server, mailbox, page, unique_email
) -> None:
    register(page, app_server.url, unique_email)
    verify(page, mailbox, unique_email)

    sign_in(page, app_server.url, unique_email, "not the password at all")
    expect(page.get_by_role("alert")).to_have_text("Email or password is incorrect.")
    sign_in(page, app_server.url, "nobody-" + unique_email, PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("Email or password is incorrect.")


def test_unverified_account_cannot_sign_in_until_verified(
    app_server, mailbox, page, unique_email
) -> None:
    register(page, app_server.url, unique_email)
    sign_in(page, app_server.url, unique_email)
    expect(page.get_by_role("alert")).to_contain_text("verify your email first")
    page.get_by_role("button", name="Send the link again").click()
    expect(page.get_by_text("a new link is on its way")).to_be_visible()
    deadline = time.monotonic() + 10
    while mailbox.count_to(unique_email) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mailbox.count_to(unique_email) == 2


def test_twenty_wrong_passwords_lock_one_account_only(
    app_server, mailbox, page, browser, unique_email
) -> None:
    victim = unique_email
    other = "other-" + unique_email
    for email in (victim, other):
        register(page, app_server.url, email)
        verify(page, mailbox, email)

    page.goto(f"{app_server.url}/auth/login")
    page.get_by_label("Email").fill(victim)
    alert = page.get_by_role("alert")
    for attempt in range(20):
        page.get_by_label("Password").fill(f"wrong password {attempt}")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    expect(alert).to_contain_text("Too many attempts")
    expect(alert).to_contain_text("Try again in")

    # Even the right password is refused while the account is locked...
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(alert).to_contain_text("Too many attempts")

    # ...while another account signs in normally from another browser.
    other_context = browser.new_context()
    other_page = other_context.new_page()
    sign_in(other_page, app_server.url, other)
    other_page.wait_for_url("**/onboarding**")
    other_context.close()


def test_password_reset_link_works_once_and_expires(
    app_server, mailbox, page, unique_email
) -> None:
    register(page, app_server.url, unique_email)
    verify(page, mailbox, unique_email)

    page.goto(f"{app_server.url}/auth/reset")
    page.get_by_label("Email").fill(unique_email)
    page.get_by_role("button", name="Email me a reset link").click()
    expect(page.get_by_text("If an account exists")).to_be_visible()
    link = mailbox.wait_for(unique_email, "reset").link("/auth/reset")

    new_password = "a brand new passphrase 42"
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("Repeat the new password").fill(new_password)
    page.get_by_role("button", name="Set new password").click()
    page.wait_for_url("**/auth/login**")
    expect(page.get_by_text("Your password was changed")).to_be_visible()

    # The same link a second time is refused.
    page.goto(link)
    page.get_by_label("New password", exact=True).fill("another passphrase 4242")
    page.get_by_label("Repeat the new password").fill("another passphrase 4242")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("alert")).to_contain_text("already used")

    sign_in(page, app_server.url, unique_email, new_password)
    page.wait_for_url("**/onboarding**")


def test_expired_reset_link_is_refused(
    app_server, mailbox, page, unique_email, app_database_url
) -> None:
    register(page, app_server.url, unique_email)
    verify(page, mailbox, unique_email)
    page.goto(f"{app_server.url}/auth/reset")
    page.get_by_label("Email").fill(unique_email)
    page.get_by_role("button", name="Email me a reset link").click()
    link = mailbox.wait_for(unique_email, "reset").link("/auth/reset")

    engine = sa.create_engine(app_database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE auth_tokens SET expires_at = :past WHERE purpose = 'reset_password' "
                "AND user_id = (SELECT id FROM users WHERE email = :email)"
            ),
            # An hour ago, as a real expired link: housekeeping deletes links that ended
            # over 30 days ago, and then the link would be unknown rather than expired.
            {
                "past": (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S+00:00"),
                "email": unique_email,
            },
        )
    engine.dispose()

    page.goto(link)
    page.get_by_label("New password", exact=True).fill("a brand new passphrase 42")
    page.get_by_label("Repeat the new password").fill("a brand new passphrase 42")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("alert")).to_contain_text("expired")


def test_logout_revokes_the_session_cookie(
    app_server, mailbox, page, browser, unique_email
) -> None:
    new_account(page, app_server.url, mailbox, unique_email)
    old_cookie = _session_cookie(page)

    page.get_by_role("button", name="Account menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url("**/auth/login**")
    assert all(c["name"] != SESSION_COOKIE for c in page.context.cookies())

    # A browser that kept a copy of the old cookie is not signed in with it.
    replay = browser.new_context()
    replay.add_cookies([old_cookie])
    replay_page = replay.new_page()
    replay_page.goto(f"{app_server.url}/settings")
    replay_page.wait_for_url("**/auth/login**")
    replay.close()


def test_a_second_user_sees_none_of_the_first_users_data(
    app_server, mailbox, page, browser, tokens, unique_email
) -> None:
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, tokens.full, tokens.base_name)

    second = browser.new_context()
    second_page = second.new_page()
    new_account(second_page, app_server.url, mailbox, "second-" + unique_email)
    # The second user starts from scratch: no connection, asked for a token.
    expect(second_page.get_by_label("Personal access token")).to_be_visible()
    second_page.goto(f"{app_server.url}/settings")
    expect(second_page.get_by_text("Airtable is not connected.")).to_be_visible()
    expect(second_page.get_by_text(tokens.full[-4:])).to_have_count(0)
    second.close()


def test_session_cookie_route_refuses_bad_tickets(app_server) -> None:
    response = httpx.post(f"{app_server.url}/_auth/session", json={"ticket": "forged"})
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    response = httpx.post(
        f"{app_server.url}/_auth/session",
        json={"ticket": "x"},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_account_pages_fit_a_375px_phone(app_server, mailbox, browser, unique_email) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    page = context.new_page()

    def fits() -> None:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{page.url} scrolls sideways ({width}px)"

    for path, heading in (
        ("/auth/login", "Sign in"),
        ("/auth/register", "Create your account"),
        ("/auth/reset", "Reset your password"),
    ):
        page.goto(f"{app_server.url}{path}")
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        fits()
    new_account(page, app_server.url, mailbox, unique_email)
    expect(page.get_by_label("Personal access token")).to_be_visible()
    fits()
    page.goto(f"{app_server.url}/settings")
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    fits()
    context.close()


def _sign_in_attempts(app_server) -> float:
    """Sign-ins checked so far (wrong and refused), from the app's own /metrics."""
    text = httpx.get(f"{app_server.url}/metrics", timeout=10).text
    return sum(
        float(value)
        for value in re.findall(
            r'^pyairtable_ui_logins_total\{outcome="(?:failed|limited)"\} (\S+)$', text, re.M
        )
    )


def test_forty_wrong_guesses_from_one_address_leave_others_signing_in(
    app_server, mailbox, page, browser, unique_email
) -> None:
    register(page, app_server.url, unique_email)
    verify(page, mailbox, unique_email)
    before = _sign_in_attempts(app_server)

    # Eight tabs guess at once, five times each, at other accounts; every browser
    # test comes from 127.0.0.1, like every user behind one reverse proxy.
    guesser = browser.new_context()
    tabs = [guesser.new_page() for _ in range(8)]
    for tab in tabs:
        tab.goto(f"{app_server.url}/auth/login")
        expect(tab.get_by_role("button", name="Sign in")).to_be_visible()
    for round_ in range(5):
        for number, tab in enumerate(tabs):
            tab.get_by_label("Email").fill(f"guess-{round_}-{number}-{unique_email}")
            tab.get_by_label("Password").fill("Winter2024!")
            # Waits until the tab's previous guess was answered (the button is enabled).
            tab.get_by_role("button", name="Sign in").click(timeout=30_000)
    deadline = time.monotonic() + 90
    while _sign_in_attempts(app_server) < before + 40 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _sign_in_attempts(app_server) >= before + 40

    # At once, from the same address, a colleague signs in with the right password.
    colleague = browser.new_context()
    colleague_page = colleague.new_page()
    started = time.monotonic()
    sign_in(colleague_page, app_server.url, unique_email)
    colleague_page.wait_for_url("**/onboarding**", timeout=20_000)
    assert time.monotonic() - started < 15
    # The guesses were answered (slowly), never with a lock of the whole address.
    for tab in tabs:
        expect(tab.get_by_role("alert")).to_have_text(
            "Email or password is incorrect.", timeout=30_000
        )
    colleague.close()
    guesser.close()


def test_registering_an_existing_email_reveals_nothing_and_tells_the_owner(
    app_server, mailbox, page, unique_email
) -> None:
    register(page, app_server.url, unique_email)
    verify(page, mailbox, unique_email)

    # The same form again: the same answer as for a new account.
    register(page, app_server.url, unique_email, "another good passphrase 7")
    expect(page.get_by_text("already exists")).to_have_count(0)
    notice = mailbox.wait_for(unique_email, "someone tried to register")
    assert "/auth/reset" in notice.text


def test_a_guessable_password_is_refused_with_advice(app_server, page, unique_email) -> None:
    page.goto(f"{app_server.url}/auth/register")
    page.get_by_label("Email").fill(unique_email)
    page.get_by_label("Password", exact=True).fill("Password1!")
    page.get_by_label("Repeat the password").fill("Password1!")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("This password is too easy to guess.")).to_be_visible()
    expect(page.get_by_text("similar to a commonly used password")).to_be_visible()
    expect(page.get_by_text("Check your email")).to_have_count(0)


def test_reset_emails_are_throttled_per_address(app_server, mailbox, page, unique_email) -> None:
    register(page, app_server.url, unique_email)
    verify(page, mailbox, unique_email)
    sent = page.get_by_text("If an account exists")
    for _ in range(6):
        page.goto(f"{app_server.url}/auth/reset")
        for _try in range(3):
            page.get_by_label("Email").fill(unique_email)
            page.get_by_role("button", name="Email me a reset link").click()
            try:
                expect(sent).to_be_visible()
                break
            except AssertionError:
                # A click before the page's on_load ran: the request went out, and
                # on_load then cleared its answer. Another request only adds to the count.
                continue
        expect(sent).to_be_visible()
    # Each answer comes after its email was handed to the SMTP server, so the count
    # is final. The verification email counts too: three emails an hour per address.
    assert mailbox.count_to(unique_email) == 3


def test_wrong_current_passwords_pause_password_changes(
    app_server, mailbox, page, unique_email
) -> None:
    new_account(page, app_server.url, mailbox, unique_email)
    page.goto(f"{app_server.url}/settings")
    change = page.get_by_role("button", name="Change password")
    for attempt in range(6):
        page.get_by_label("Current password").fill(f"a wrong guess {attempt}")
        page.get_by_label("New password", exact=True).fill("a brand new passphrase 42")
        page.get_by_label("Repeat the new password").fill("a brand new passphrase 42")
        change.click()
        expect(change).to_be_enabled()
    expect(page.get_by_text("Too many wrong current passwords")).to_be_visible()

    # Even the right one is refused for now.
    page.get_by_label("Current password").fill(PASSWORD)
    change.click()
    expect(page.get_by_text("paused for 15 minutes")).to_be_visible()
    expect(page.get_by_text("Password changed")).to_have_count(0)
