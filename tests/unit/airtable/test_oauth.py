"""Connect with Airtable: PKCE code flow and token refresh against the local provider."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlmodel import Session

from pyairtable_ui.airtable import oauth
from pyairtable_ui.airtable.connections import (
    AirtableTokenError,
    NotConnectedError,
    TokenCheck,
    check_airtable_token,
    get_connection,
    save_connection,
)
from pyairtable_ui.airtable.models import ConnectionKind
from pyairtable_ui.auth.models import User
from pyairtable_ui.core.crypto import decrypt_secret
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TOKEN_FULL, build_seed
from tests.fakes.oauth import OAuthProvider

# The OAuth fixtures (the local provider, known settings, an empty database) are
# shared by the three modules that test the SSO and Airtable OAuth flows.
from tests.support.oauth import (  # noqa: F401  (pytest fixtures, found by name)
    db,
    engine,
    follow_authorization,
    provider,
    shared_provider,
    test_settings,
)

REDIRECT_URI = "http://127.0.0.1:9/_auth/airtable/callback"
CHECK = TokenCheck(user_id="usrTest", email="ann@airtable.example", scopes=(), bases=())


def config_for(provider: OAuthProvider) -> oauth.AirtableOAuthConfig:
    return oauth.AirtableOAuthConfig(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        oauth_url=provider.url,
        redirect_uri=REDIRECT_URI,
    )


def connect(provider: OAuthProvider, user_id: int = 1) -> oauth.OAuthTokens:
    config = config_for(provider)
    url, pending = oauth.begin_connection(config=config, user_id=user_id)
    return oauth.exchange_code(
        config=config, pending=pending, callback_params=follow_authorization(url)
    )


@pytest.fixture
def user(db: Session) -> User:
    user = User(email="ann@example.com", email_verified_at=utcnow())
    db.add(user)
    db.flush()
    return user


@pytest.fixture
def emulator() -> Iterator[AirtableEmulator]:
    with AirtableEmulator(build_seed(), rate_limit=0) as emulator:
        yield emulator


def test_authorization_url_asks_airtable_for_the_app_scopes_with_s256(provider) -> None:
    url, pending = oauth.begin_connection(config=config_for(provider), user_id=7)

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{provider.url}/oauth2/v1/authorize"
    assert query["scope"].split() == [
        "data.records:read",
        "data.records:write",
        "schema.bases:read",
        "schema.bases:write",
        "user.email:read",
    ]
    assert query["client_id"] == provider.client_id
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["state"] == pending.state
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == create_s256_code_challenge(pending.code_verifier)
    assert pending.code_verifier not in url
    assert pending.user_id == 7


def test_the_code_is_exchanged_with_basic_auth_for_expiring_tokens(provider) -> None:
    before = utcnow()
    tokens = connect(provider)

    assert provider.token_requests("airtable") == [
        {"role": "airtable", "grant_type": "authorization_code", "client_auth": "basic"}
    ]
    assert tokens.refresh_token and tokens.access_token
    assert tokens.expires_at is not None
    assert timedelta(minutes=59) < tokens.expires_at - before < timedelta(minutes=61)
    assert "data.records:write" in tokens.scopes
    assert tokens.access_token not in repr(tokens)


def test_a_public_integration_sends_its_client_id_without_a_secret() -> None:
    with OAuthProvider(client_secret=None) as public:
        connect(public)
        assert public.token_requests("airtable")[0]["client_auth"] == "none"


def test_a_wrong_state_is_refused_before_the_code_is_spent(provider) -> None:
    config = config_for(provider)
    url, pending = oauth.begin_connection(config=config, user_id=1)
    callback = follow_authorization(url)

    with pytest.raises(oauth.AirtableOAuthError) as caught:
        oauth.exchange_code(
            config=config, pending=pending, callback_params={**callback, "state": "forged"}
        )
    assert caught.value.reason == "failed"
    assert provider.token_requests() == []


def test_a_wrong_code_verifier_is_refused(provider) -> None:
    config = config_for(provider)
    url, pending = oauth.begin_connection(config=config, user_id=1)
    callback = follow_authorization(url)

    with pytest.raises(oauth.AirtableOAuthError) as caught:
        oauth.exchange_code(
            config=config,
            pending=replace(pending, code_verifier="v" * 64),
            callback_params=callback,
        )
    assert "invalid_grant" in caught.value.detail


def test_declining_in_airtable_is_reported_as_cancelled(provider) -> None:
    provider.auto_decision = "deny"
    config = config_for(provider)
    url, pending = oauth.begin_connection(config=config, user_id=1)

    with pytest.raises(oauth.AirtableOAuthError) as caught:
        oauth.exchange_code(
            config=config, pending=pending, callback_params=follow_authorization(url)
        )
    assert caught.value.reason == "cancelled"
    assert "cancelled" in caught.value.message


def test_a_failing_token_endpoint_reads_as_unreachable(provider) -> None:
    provider.token_failure = 503
    with pytest.raises(oauth.AirtableOAuthError) as caught:
        connect(provider)
    assert caught.value.reason == "unreachable"


def test_a_fresh_token_is_returned_without_asking_airtable(provider, db, user) -> None:
    tokens = connect(provider)
    oauth.save_oauth_connection(session=db, user=user, tokens=tokens, check=CHECK)
    provider.requests.clear()

    token = oauth.get_valid_token(session=db, user=user, config=config_for(provider))

    assert token == tokens.access_token
    assert provider.token_requests() == []


def test_an_expired_token_is_refreshed_and_the_new_pair_stored(provider, db, user) -> None:
    old = connect(provider)
    oauth.save_oauth_connection(session=db, user=user, tokens=old, check=CHECK)
    assert old.expires_at is not None
    later = old.expires_at + timedelta(minutes=5)

    token = oauth.get_valid_token(session=db, user=user, config=config_for(provider), now=later)

    assert token != old.access_token
    assert provider.token_requests()[-1] == {
        "role": "airtable",
        "grant_type": "refresh_token",
        "client_auth": "basic",
    }
    connection = get_connection(session=db, user=user)
    assert connection is not None
    assert decrypt_secret(connection.encrypted_token) == token
    assert connection.encrypted_refresh_token is not None
    new_refresh = decrypt_secret(connection.encrypted_refresh_token)
    assert new_refresh != old.refresh_token
    assert provider.refresh_token_is_live(new_refresh)
    assert old.refresh_token and not provider.refresh_token_is_live(old.refresh_token)
    assert connection.token_expires_at is not None and connection.token_expires_at > later
    # Until it nears expiry again, the new token is used as is.
    assert (
        oauth.get_valid_token(session=db, user=user, config=config_for(provider), now=later)
        == token
    )
    assert len(provider.token_requests()) == 2


def test_a_token_is_refreshed_shortly_before_it_expires(provider, db, user) -> None:
    old = connect(provider)
    oauth.save_oauth_connection(session=db, user=user, tokens=old, check=CHECK)
    assert old.expires_at is not None

    token = oauth.get_valid_token(
        session=db,
        user=user,
        config=config_for(provider),
        now=old.expires_at - timedelta(seconds=30),
    )
    assert token != old.access_token


def test_a_refused_refresh_asks_the_user_to_connect_again(provider, db, user) -> None:
    old = connect(provider)
    oauth.save_oauth_connection(session=db, user=user, tokens=old, check=CHECK)
    assert old.refresh_token and old.expires_at
    # Spent elsewhere (another replica, a revoked grant): Airtable refuses it now.
    oauth.refresh_tokens(config=config_for(provider), refresh_token=old.refresh_token)

    with pytest.raises(oauth.ReconnectNeededError) as caught:
        oauth.get_valid_token(
            session=db,
            user=user,
            config=config_for(provider),
            now=old.expires_at + timedelta(minutes=1),
        )
    # Handlers that show a bad token's message show this one too.
    assert isinstance(caught.value, AirtableTokenError)
    assert "Connect Airtable again" in caught.value.message


def test_a_pasted_token_is_returned_as_is(provider, db, user) -> None:
    pat = "pat" + "A" * 14 + "." + "0123456789abcdef" * 4
    save_connection(session=db, user=user, token=pat, check=CHECK)

    assert oauth.get_valid_token(session=db, user=user, config=config_for(provider)) == pat
    assert provider.token_requests() == []


def test_without_a_connection_the_user_is_asked_to_connect(db, user) -> None:
    with pytest.raises(NotConnectedError):
        oauth.get_valid_token(session=db, user=user)


def test_the_granted_token_is_checked_with_airtable_and_stored_encrypted(
    db, user, emulator
) -> None:
    with OAuthProvider(airtable_access_token=TOKEN_FULL) as airtable:
        tokens = connect(airtable)

    check = check_airtable_token(tokens.access_token, api_url=emulator.url)
    connection = oauth.save_oauth_connection(session=db, user=user, tokens=tokens, check=check)

    assert BASE_PROJECTS_ID in {base.id for base in check.bases}
    assert connection.kind == ConnectionKind.OAUTH
    assert TOKEN_FULL not in connection.encrypted_token
    assert decrypt_secret(connection.encrypted_token) == TOKEN_FULL
    assert tokens.refresh_token is not None
    assert connection.encrypted_refresh_token is not None
    assert tokens.refresh_token not in connection.encrypted_refresh_token
    assert connection.token_expires_at == tokens.expires_at
    assert connection.token_hint == TOKEN_FULL[-4:]
    assert connection.airtable_user_id == check.user_id
