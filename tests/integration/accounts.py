"""Browser steps shared by the integration tests: register, verify, sign in, onboard."""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Page, expect

PASSWORD = "correct horse battery staple"


@dataclass
class Account:
    """A user the tests created through the UI."""

    email: str
    password: str = PASSWORD


def register(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Fill the registration form and wait for the "check your email" message."""
    page.goto(f"{base_url}/auth/register")
    page.get_by_label("Name").fill("Test Person")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Check your email")).to_be_visible()


def verify(page: Page, mailbox, email: str) -> None:
    """Open the verification link from the email the app sent."""
    message = mailbox.wait_for(email, "confirm your email")
    page.goto(message.link("/auth/verify"))
    expect(page.get_by_text("Your email is verified.")).to_be_visible()


def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Submit the login form with Enter (no waiting for where it leads)."""
    page.goto(f"{base_url}/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")


def onboard(page: Page, token: str, base_name: str) -> None:
    """Connect the token, pick the base, skip the tour; ends on /chat."""
    page.wait_for_url("**/onboarding**")
    page.get_by_label("Personal access token").fill(token)
    page.get_by_role("button", name="Connect").click()
    page.get_by_label("Search bases").fill(base_name[:4])
    page.get_by_role("button", name=f"Use {base_name}").click()
    page.get_by_role("button", name="Skip the tour").click()
    page.wait_for_url("**/chat**")
    # The chat has loaded its state once the base shows; a question sent before can be lost.
    expect(page.get_by_role("combobox", name="Base")).to_contain_text(base_name)


def new_account(page: Page, base_url: str, mailbox, email: str) -> Account:
    """Register, verify and sign in a new account (lands on onboarding)."""
    register(page, base_url, email)
    verify(page, mailbox, email)
    sign_in(page, base_url, email)
    page.wait_for_url("**/onboarding**")
    return Account(email)
