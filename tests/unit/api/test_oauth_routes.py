"""The OAuth HTTP routes end to end: our Starlette routes, the local provider, a real database.

The browser is played by hand (cookies read from `Set-Cookie` and sent back), so each
test can see exactly which cookie goes where and with which attributes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pyairtable_ui.airtable.connections import get_connection
from pyairtable_ui.airtable.models import ConnectionKind
from pyairtable_ui.api.app import build_api
from pyairtable_ui.api.oauth_routes import (
    AIRTABLE_FLOW_COOKIE,
    OIDC_FLOW_COOKIE,
    open_flow,
    seal_flow,
)
from pyairtable_ui.api.session_cookie import SESSION_COOKIE
from pyairtable_ui.auth import service, sessions
from pyairtable_ui.auth.models import OnboardingStep, User
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import TOKEN_FULL, build_seed
from tests.fakes.oauth import OAuthProvider, ProviderUser

# The OAuth fixtures (the local provider, known settings, an empty database) are
# shared by the three modules that test the SSO and Airtable OAuth flows.
from tests.support.oauth import (  # noqa: F401  (pytest fixtures, found by name)
    app_database,
    db,
    engine,
    provider,
    shared_provider,
    test_settings,
)

APP_URL = "http://app.test"


@pytest.fixture(scope="module")
def emulator() -> Iterator[AirtableEmulator]:
    with AirtableEmulator(build_seed(), rate_limit=0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def shared_provider() -> Iterator[OAuthProvider]:
    # The Airtable role must issue a token the emulator knows.
    with OAuthProvider(airtable_access_token=TOKEN_FULL) as provider:
        yield provider


@pytest.fixture
def configured(monkeypatch, provider, emulator, app_database) -> Engine:
    """Both features configured against the local provider and the emulator."""
    monkeypatch.setenv("PUBLIC_URL", APP_URL)
    monkeypatch.setenv("OIDC_ISSUER", provider.issuer)
    monkeypatch.setenv("OIDC_CLIENT_ID", provider.client_id)
    monkeypatch.setenv("OIDC_CLIENT_SECRET", provider.client_secret or "")
    monkeypatch.setenv("AIRTABLE_OAUTH_CLIENT_ID", provider.client_id)
    monkeypatch.setenv("AIRTABLE_OAUTH_CLIENT_SECRET", provider.client_secret or "")
    monkeypatch.setenv("AIRTABLE_OAUTH_URL", provider.url)
    monkeypatch.setenv("AIRTABLE_API_URL", emulator.url)
    get_settings.cache_clear()
    return app_database


@pytest.fixture
async def app() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_api())
    async with httpx.AsyncClient(transport=transport, base_url=APP_URL) as client:
        yield client


def set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    """Each cookie the response sets, parsed with its attributes."""
    found: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name in jar:
            found[name] = jar
    return found


def user_by_email(db: Session, email: str) -> User:
    user = service.get_user_by_email(session=db, email=email)
    assert user is not None
    return user


def location(response: httpx.Response) -> tuple[str, dict[str, str]]:
    assert response.status_code == 302, response.text
    parts = urlsplit(response.headers["location"])
    return parts._replace(query="").geturl(), dict(parse_qsl(parts.query))


def at_provider(url: str) -> dict[str, str]:
    """The browser at the provider: the query it is sent back to our callback with."""
    response = httpx.get(url, timeout=10)
    callback, query = location(response)
    assert callback.startswith(APP_URL)
    return query


async def sso_round_trip(
    app: httpx.AsyncClient, start_query: str = ""
) -> tuple[httpx.Response, str]:
    """Start → provider → callback; the callback's answer and the flow cookie used."""
    started = await app.get(f"/_auth/oidc/start{start_query}")
    provider_url = started.headers["location"]
    flow_cookie = set_cookies(started)[OIDC_FLOW_COOKIE][OIDC_FLOW_COOKIE].value
    query = at_provider(provider_url)
    callback = await app.get(
        "/_auth/oidc/callback",
        params=query,
        headers={"cookie": f"{OIDC_FLOW_COOKIE}={flow_cookie}"},
    )
    return callback, flow_cookie


async def signed_in(app: httpx.AsyncClient, provider: OAuthProvider, sub: str) -> str:
    provider.user = ProviderUser(sub=sub, email=f"{sub}@example.com")
    callback, _ = await sso_round_trip(app)
    return set_cookies(callback)[SESSION_COOKIE][SESSION_COOKIE].value


# --- single sign-on ---------------------------------------------------------------------


async def test_routes_answer_404_until_configured(app, app_database) -> None:
    for path in (
        "/_auth/oidc/start",
        "/_auth/oidc/callback",
        "/_auth/airtable/start",
        "/_auth/airtable/callback",
    ):
        assert (await app.get(path)).status_code == 404, path


async def test_sso_sets_the_httponly_session_cookie_and_opens_onboarding(
    app, provider, configured
) -> None:
    provider.user = ProviderUser(sub="ann-1", email="ann@example.com", name="Ann")
    started = await app.get("/_auth/oidc/start", params={"next": "/history"})

    assert started.headers["location"].startswith(f"{provider.url}/authorize?")
    flow = set_cookies(started)[OIDC_FLOW_COOKIE][OIDC_FLOW_COOKIE]
    assert flow["httponly"] is True
    assert flow["samesite"].lower() == "lax"
    assert flow["path"] == "/_auth/"
    assert flow["max-age"] == "600"
    # Sealed: the PKCE verifier and nonce are not readable in the cookie.
    assert "code_verifier" not in flow.value

    query = at_provider(started.headers["location"])
    callback = await app.get(
        "/_auth/oidc/callback",
        params=query,
        headers={"cookie": f"{OIDC_FLOW_COOKIE}={flow.value}"},
    )

    assert location(callback)[0] == "/onboarding"  # a new account has onboarding to do
    cookies = set_cookies(callback)
    session_cookie = cookies[SESSION_COOKIE][SESSION_COOKIE]
    assert session_cookie["httponly"] is True
    assert session_cookie["samesite"].lower() == "lax"
    assert session_cookie["path"] == "/"
    assert cookies[OIDC_FLOW_COOKIE][OIDC_FLOW_COOKIE]["max-age"] == "0"  # flow cookie cleared
    with Session(configured) as db:
        row = sessions.get_session_by_token(session=db, token=session_cookie.value)
        user = db.get(User, row.user_id) if row is not None else None
        assert user is not None and user.email == "ann@example.com"


async def test_a_finished_account_goes_to_the_local_page_it_asked_for(
    app, provider, configured
) -> None:
    await signed_in(app, provider, "bo-2")
    with Session(configured) as db:
        user = user_by_email(db, "bo-2@example.com")
        user.onboarding_step = OnboardingStep.DONE.value
        db.add(user)
        db.commit()

    asked, _ = await sso_round_trip(app, "?next=/history")
    offsite, _ = await sso_round_trip(app, "?next=//evil.example/phish")

    assert location(asked)[0] == "/history"
    assert location(offsite)[0] == "/chat"


async def test_a_callback_without_its_flow_cookie_is_refused(app, provider, configured) -> None:
    started = await app.get("/_auth/oidc/start")
    query = at_provider(started.headers["location"])

    for cookie in ("", f"{OIDC_FLOW_COOKIE}=forged-value"):
        callback = await app.get("/_auth/oidc/callback", params=query, headers={"cookie": cookie})
        assert location(callback) == ("/auth/login", {"reason": "sso_failed"})
        assert SESSION_COOKIE not in set_cookies(callback)
    assert provider.token_requests() == []


async def test_a_tampered_state_is_refused(app, provider, configured) -> None:
    started = await app.get("/_auth/oidc/start")
    flow = set_cookies(started)[OIDC_FLOW_COOKIE][OIDC_FLOW_COOKIE].value
    query = at_provider(started.headers["location"])

    callback = await app.get(
        "/_auth/oidc/callback",
        params={**query, "state": "attacker-state"},
        headers={"cookie": f"{OIDC_FLOW_COOKIE}={flow}"},
    )

    assert location(callback) == ("/auth/login", {"reason": "sso_failed"})
    assert SESSION_COOKIE not in set_cookies(callback)
    assert provider.token_requests() == []


async def test_denied_consent_says_so_on_the_login_page(app, provider, configured) -> None:
    provider.auto_decision = "deny"
    callback, _ = await sso_round_trip(app)
    assert location(callback) == ("/auth/login", {"reason": "sso_cancelled"})


async def test_an_unreachable_provider_sends_back_to_login(app, provider, configured) -> None:
    provider.token_failure = 502
    callback, _ = await sso_round_trip(app)
    assert location(callback) == ("/auth/login", {"reason": "sso_failed"})


def test_flow_cookies_open_only_for_their_own_flow(configured) -> None:
    sealed = seal_flow("airtable", {"state": "s"})
    assert open_flow("airtable", sealed) == {"kind": "airtable", "state": "s"}
    assert open_flow("oidc", sealed) is None
    assert open_flow("airtable", sealed[:-4] + "AAAA") is None


# --- connect with Airtable --------------------------------------------------------------


async def test_connecting_airtable_needs_a_signed_in_user(app, configured) -> None:
    started = await app.get("/_auth/airtable/start")
    assert location(started) == ("/auth/login", {"next": "/onboarding"})


async def test_connect_with_airtable_stores_the_grant_and_goes_to_the_base_step(
    app, provider, configured
) -> None:
    session_token = await signed_in(app, provider, "cy-3")
    started = await app.get(
        "/_auth/airtable/start", headers={"cookie": f"{SESSION_COOKIE}={session_token}"}
    )
    assert started.headers["location"].startswith(f"{provider.url}/oauth2/v1/authorize?")
    flow = set_cookies(started)[AIRTABLE_FLOW_COOKIE][AIRTABLE_FLOW_COOKIE]
    assert flow["httponly"] is True and flow["path"] == "/_auth/"

    query = at_provider(started.headers["location"])
    callback = await app.get(
        "/_auth/airtable/callback",
        params=query,
        headers={
            "cookie": f"{SESSION_COOKIE}={session_token}; {AIRTABLE_FLOW_COOKIE}={flow.value}"
        },
    )

    assert location(callback) == ("/onboarding", {})
    assert provider.token_requests("airtable")[0]["client_auth"] == "basic"
    with Session(configured) as db:
        user = user_by_email(db, "cy-3@example.com")
        assert user.onboarding_step == OnboardingStep.CHOOSE_BASE
        connection = get_connection(session=db, user=user)
        assert connection is not None
        assert connection.kind == ConnectionKind.OAUTH
        assert TOKEN_FULL not in connection.encrypted_token
        assert connection.encrypted_refresh_token is not None
        assert connection.token_expires_at is not None


async def test_the_callback_must_come_from_the_user_who_started(app, provider, configured) -> None:
    starter = await signed_in(app, provider, "dee-4")
    other = await signed_in(app, provider, "eve-5")
    started = await app.get(
        "/_auth/airtable/start", headers={"cookie": f"{SESSION_COOKIE}={starter}"}
    )
    flow = set_cookies(started)[AIRTABLE_FLOW_COOKIE][AIRTABLE_FLOW_COOKIE].value
    query = at_provider(started.headers["location"])

    callback = await app.get(
        "/_auth/airtable/callback",
        params=query,
        headers={"cookie": f"{SESSION_COOKIE}={other}; {AIRTABLE_FLOW_COOKIE}={flow}"},
    )

    assert location(callback) == ("/onboarding", {"airtable_oauth": "failed"})
    assert provider.token_requests("airtable") == []
    with Session(configured) as db:
        for email in ("dee-4@example.com", "eve-5@example.com"):
            user = user_by_email(db, email)
            assert get_connection(session=db, user=user) is None


async def test_declining_in_airtable_says_so_on_onboarding(app, provider, configured) -> None:
    session_token = await signed_in(app, provider, "fay-6")
    provider.auto_decision = "deny"
    cookie = f"{SESSION_COOKIE}={session_token}"
    started = await app.get("/_auth/airtable/start", headers={"cookie": cookie})
    flow = set_cookies(started)[AIRTABLE_FLOW_COOKIE][AIRTABLE_FLOW_COOKIE].value

    callback = await app.get(
        "/_auth/airtable/callback",
        params=at_provider(started.headers["location"]),
        headers={"cookie": f"{cookie}; {AIRTABLE_FLOW_COOKIE}={flow}"},
    )
    assert location(callback) == ("/onboarding", {"airtable_oauth": "cancelled"})
