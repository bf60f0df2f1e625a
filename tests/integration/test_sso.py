"""Single sign-on and "Connect with Airtable" in Chromium against the production app.

The app's OIDC issuer and Airtable OAuth server are the local provider
(`tests/fakes/oauth`, started by the `app_oauth_provider` fixture) showing a consent
page with "Allow" and "Deny"; its Airtable role issues a token the emulator knows.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, Route, expect

from tests.fakes.oauth import OAuthProvider, ProviderUser
from tests.support.seeds import app_tokens

SESSION_COOKIE = "pyairtable_ui_session"
SSO_BUTTON = "Sign in with Test SSO"  # OIDC_NAME is "Test SSO" in the app_server fixture


@pytest.fixture
def provider(app_oauth_provider: OAuthProvider, unique_email: str) -> OAuthProvider:
    """The app's provider, signing in a person no other test has used."""
    app_oauth_provider.reset()
    app_oauth_provider.consent = "form"
    app_oauth_provider.user = ProviderUser(
        sub=f"sso-{secrets.token_hex(6)}", email=unique_email, name="Sso Person"
    )
    return app_oauth_provider


def _session_cookie(page: Page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == SESSION_COOKIE), None)


def sign_in_with_sso(page: Page, base_url: str) -> None:
    """Click the SSO button, allow at the provider, land on onboarding."""
    page.goto(f"{base_url}/auth/login")
    page.get_by_role("link", name=SSO_BUTTON).click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url("**/onboarding**")


def test_sso_signs_in_with_an_httponly_cookie_and_opens_onboarding(
    app_server, page, provider, unique_email, app_database_url
) -> None:
    page.goto(f"{app_server.url}/auth/login")
    page.get_by_role("link", name=SSO_BUTTON).click()

    # At the provider: it asks this person for consent.
    expect(page.get_by_text(unique_email)).to_be_visible()
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url("**/onboarding**")
    expect(page.get_by_role("heading", name="Connect your Airtable account")).to_be_visible()
    cookie = _session_cookie(page)
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert SESSION_COOKIE not in page.evaluate("document.cookie")
    # The flow cookie (state, nonce, PKCE verifier) is gone once used.
    assert not [c for c in page.context.cookies() if c["name"].endswith("_flow")]

    # Still signed in after a reload, and the account is the SSO person's, verified.
    page.reload()
    expect(page.get_by_role("heading", name="Connect your Airtable account")).to_be_visible()
    engine = sa.create_engine(app_database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT oidc_subject, email_verified_at FROM users WHERE email = :email"),
            {"email": unique_email},
        ).one()
    engine.dispose()
    assert row.oidc_subject.endswith(f"|{provider.user.sub}")
    assert row.email_verified_at is not None


def test_connect_with_airtable_returns_to_the_base_step_with_the_bases(
    app_server, page, provider, app_airtable
) -> None:
    tokens = app_tokens(app_airtable)
    sign_in_with_sso(page, app_server.url)

    page.get_by_role("link", name="Connect with Airtable").click()
    expect(page.get_by_role("heading", name="Airtable")).to_be_visible()  # consent page
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url("**/onboarding**")
    expect(page.get_by_role("heading", name="Choose a base")).to_be_visible()
    expect(page.get_by_role("button", name=f"Use {tokens.base_name}")).to_be_visible()
    expect(page.get_by_text("Connected as")).to_contain_text("alice@example.com")
    # Confidential client: the code was exchanged with HTTP Basic, as Airtable wants.
    assert provider.token_requests("airtable")[0]["client_auth"] == "basic"

    # A reload reads the stored (encrypted) OAuth token again and lists the same bases.
    page.reload()
    expect(page.get_by_role("button", name=f"Use {tokens.base_name}")).to_be_visible()
    page.get_by_role("button", name=f"Use {tokens.base_name}").click()
    expect(page.get_by_role("heading", name="A quick tour")).to_be_visible()


def test_declining_sso_consent_says_so_on_the_login_page(app_server, page, provider) -> None:
    page.goto(f"{app_server.url}/auth/login")
    page.get_by_role("link", name=SSO_BUTTON).click()
    page.get_by_role("button", name="Deny").click()

    page.wait_for_url("**/auth/login**")
    expect(page.get_by_role("alert")).to_contain_text("Signing in with Test SSO was cancelled")
    assert _session_cookie(page) is None


def test_declining_airtable_consent_says_so_on_onboarding(app_server, page, provider) -> None:
    sign_in_with_sso(page, app_server.url)

    page.get_by_role("link", name="Connect with Airtable").click()
    page.get_by_role("button", name="Deny").click()

    page.wait_for_url("**/onboarding**")
    expect(page.get_by_role("alert")).to_contain_text("You cancelled the connection in Airtable")
    expect(page.get_by_role("heading", name="Connect your Airtable account")).to_be_visible()


def test_a_callback_with_another_state_is_refused(app_server, page, provider) -> None:
    held: list[str] = []

    def hold_the_redirect_back(route: Route) -> None:
        # Let the provider answer the "Allow" click, but keep its redirect to our
        # callback from being followed, to replay it with a forged state.
        answer = route.fetch(max_redirects=0)
        held.append(answer.headers["location"])
        route.fulfill(content_type="text/html", body="<p>Callback held by the test</p>")

    page.route(f"{provider.url}/consent", hold_the_redirect_back)
    page.goto(f"{app_server.url}/auth/login")
    page.get_by_role("link", name=SSO_BUTTON).click()
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_text("Callback held by the test")).to_be_visible()

    genuine = urlsplit(held[0])
    query = dict(parse_qsl(genuine.query))
    assert query["code"] and query["state"]
    forged = genuine._replace(query=urlencode({**query, "state": "attacker-" + query["state"]}))
    page.goto(forged.geturl())

    page.wait_for_url("**/auth/login**")
    expect(page.get_by_role("alert")).to_contain_text("Signing in with Test SSO did not work")
    assert _session_cookie(page) is None
    assert provider.token_requests() == []  # the code was never even exchanged
