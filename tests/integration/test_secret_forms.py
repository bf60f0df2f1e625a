"""A form with a password is never submitted by the browser itself.

Before the page's script has run, a plain HTML form submits as a GET and puts the
password in the address bar, the history and the access log (seen once when a page's
script was blocked: `/auth/register/?…&password=…`). Until the page is hydrated its
controls are disabled, and a native submit would be a POST.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

PAGES = [
    ("/auth/login", "Password", "Sign in"),
    ("/auth/register", "Repeat the password", "Create account"),
]
# (The reset page shows its password form only once its script has read the link.)


@pytest.mark.parametrize(("path", "secret_label", "submit"), PAGES)
def test_before_its_script_runs_a_password_form_cannot_be_sent(
    app_server, browser, path, secret_label, submit
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{app_server.url}{path}")
        secret = page.get_by_label(secret_label, exact=True)
        expect(secret).to_be_visible()
        expect(secret).to_be_disabled()
        expect(page.get_by_role("button", name=submit)).to_be_disabled()
        form = page.locator("form").filter(has=secret)
        assert (form.get_attribute("method") or "").lower() == "post"
    finally:
        context.close()


def test_once_hydrated_the_form_works(app_server, page) -> None:
    page.goto(f"{app_server.url}/auth/login")
    expect(page.get_by_label("Password", exact=True)).to_be_enabled()
    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_label("Password", exact=True).fill("not the password at all")
    page.get_by_label("Password", exact=True).press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("incorrect")
    assert "password" not in page.url
