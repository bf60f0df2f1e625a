"""Single sign-on against the local OpenID Connect provider (real HTTP over loopback)."""

from __future__ import annotations

import base64
import json
import socket
import time
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc.jwk import KeySet
from sqlmodel import Session

from pyairtable_ui.auth import oidc
from pyairtable_ui.auth.models import Role, User
from tests.fakes.oauth import OAuthProvider, ProviderUser

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

REDIRECT_URI = "http://127.0.0.1:9/_auth/oidc/callback"


def config_for(provider: OAuthProvider) -> oidc.OIDCConfig:
    return oidc.OIDCConfig(
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        redirect_uri=REDIRECT_URI,
    )


async def start(provider: OAuthProvider) -> tuple[oidc.PendingSignIn, dict[str, str]]:
    url, pending = await oidc.begin_sign_in(config=config_for(provider), next_path="/chat")
    return pending, follow_authorization(url)


# --- the flow ---------------------------------------------------------------------------


async def test_authorization_url_carries_state_nonce_and_s256_challenge(provider) -> None:
    url, pending = await oidc.begin_sign_in(config=config_for(provider), next_path="/history")

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{provider.url}/authorize"
    assert query["response_type"] == "code"
    assert query["client_id"] == provider.client_id
    assert query["redirect_uri"] == REDIRECT_URI
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    assert query["state"] == pending.state
    assert query["nonce"] == pending.nonce
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == create_s256_code_challenge(pending.code_verifier)
    assert 43 <= len(pending.code_verifier) <= 128
    assert pending.code_verifier not in url  # only its hash travels through the browser
    assert pending.next_path == "/history"


async def test_sign_in_returns_the_identity_the_provider_vouches_for(provider) -> None:
    provider.user = ProviderUser(sub="abc-123", email="Ann@Example.com", name="Ann Lee")
    pending, callback = await start(provider)

    identity = await oidc.finish_sign_in(
        config=config_for(provider), pending=pending, callback_params=callback
    )

    assert identity == oidc.OIDCIdentity(
        issuer=provider.issuer,
        subject="abc-123",
        email="Ann@Example.com",
        email_verified=True,
        name="Ann Lee",
    )
    # A confidential client authenticates with HTTP Basic.
    assert provider.token_requests() == [
        {"role": "oidc", "grant_type": "authorization_code", "client_auth": "basic"}
    ]


async def test_public_client_sends_only_its_id() -> None:
    with OAuthProvider(client_secret=None) as public:
        config = config_for(public)
        url, pending = await oidc.begin_sign_in(config=config)
        identity = await oidc.finish_sign_in(
            config=config, pending=pending, callback_params=follow_authorization(url)
        )
        assert identity.subject == public.user.sub
        assert public.token_requests()[0]["client_auth"] == "none"


async def test_a_wrong_state_is_refused_before_the_code_is_spent(provider) -> None:
    pending, callback = await start(provider)

    for forged in ({**callback, "state": "someone-elses-state"}, {"code": callback["code"]}):
        with pytest.raises(oidc.OIDCError, match="state mismatch"):
            await oidc.finish_sign_in(
                config=config_for(provider), pending=pending, callback_params=forged
            )
    assert provider.token_requests() == []
    # The genuine callback still works: the refused ones never reached the provider.
    identity = await oidc.finish_sign_in(
        config=config_for(provider), pending=pending, callback_params=callback
    )
    assert identity.subject == provider.user.sub


async def test_a_wrong_code_verifier_is_refused_by_the_provider(provider) -> None:
    pending, callback = await start(provider)
    stolen = replace(pending, code_verifier="x" * 48)  # right state, wrong PKCE secret

    with pytest.raises(oidc.OIDCError, match="invalid_grant"):
        await oidc.finish_sign_in(
            config=config_for(provider), pending=stolen, callback_params=callback
        )


async def test_a_code_works_only_once(provider) -> None:
    pending, callback = await start(provider)
    await oidc.finish_sign_in(
        config=config_for(provider), pending=pending, callback_params=callback
    )

    with pytest.raises(oidc.OIDCError, match="invalid_grant"):
        await oidc.finish_sign_in(
            config=config_for(provider), pending=pending, callback_params=callback
        )


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"nonce": "a-nonce-from-another-attempt"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"aud": "another-client"}, "aud"),
        ({"aud": ["pyairtable-ui-test", "another-client"]}, "azp"),
        ({"iss": "https://impostor.example"}, "iss"),
        ({"sub": None}, "sub"),
    ],
    ids=[
        "wrong-nonce",
        "no-nonce",
        "expired",
        "wrong-audience",
        "no-azp",
        "wrong-issuer",
        "no-sub",
    ],
)
async def test_bad_id_tokens_are_refused(provider, claims, why) -> None:
    provider.id_token_claims = claims
    pending, callback = await start(provider)

    with pytest.raises(oidc.OIDCError) as caught:
        await oidc.finish_sign_in(
            config=config_for(provider), pending=pending, callback_params=callback
        )
    assert why in caught.value.reason


async def test_several_audiences_are_accepted_when_we_are_the_authorized_party(provider) -> None:
    provider.id_token_claims = {"aud": [provider.client_id, "other"], "azp": provider.client_id}
    pending, callback = await start(provider)

    identity = await oidc.finish_sign_in(
        config=config_for(provider), pending=pending, callback_params=callback
    )
    assert identity.subject == provider.user.sub


async def test_an_id_token_signed_with_another_key_is_refused(provider) -> None:
    provider.sign_with_foreign_key = True
    pending, callback = await start(provider)

    with pytest.raises(oidc.OIDCError, match="bad_signature"):
        await oidc.finish_sign_in(
            config=config_for(provider), pending=pending, callback_params=callback
        )


async def test_an_unsigned_id_token_is_refused(provider) -> None:
    keys = KeySet.import_key_set(provider.jwks())  # type: ignore[arg-type]
    now = int(time.time())
    claims = {
        "iss": provider.issuer,
        "aud": provider.client_id,
        "sub": "x",
        "nonce": "n",
        "iat": now,
        "exp": now + 60,
    }

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{part({'alg': 'none'})}.{part(claims)}."
    with pytest.raises(oidc.OIDCError):
        oidc.validate_id_token(
            unsigned, keys=keys, issuer=provider.issuer, client_id=provider.client_id, nonce="n"
        )


async def test_denied_consent_is_reported_as_cancelled(provider) -> None:
    provider.auto_decision = "deny"
    pending, callback = await start(provider)

    assert callback["error"] == "access_denied"
    with pytest.raises(oidc.OIDCCancelledError):
        await oidc.finish_sign_in(
            config=config_for(provider), pending=pending, callback_params=callback
        )


async def test_email_comes_from_userinfo_when_the_id_token_has_none(provider) -> None:
    provider.id_token_claims = {"email": None, "email_verified": None}
    provider.user = ProviderUser(sub="u-9", email="info@example.com", email_verified=True)
    pending, callback = await start(provider)

    identity = await oidc.finish_sign_in(
        config=config_for(provider), pending=pending, callback_params=callback
    )
    assert (identity.email, identity.email_verified) == ("info@example.com", True)


async def test_a_failing_token_endpoint_is_an_error_not_a_crash(provider) -> None:
    provider.token_failure = 503
    pending, callback = await start(provider)

    with pytest.raises(oidc.OIDCError, match="unreachable"):
        await oidc.finish_sign_in(
            config=config_for(provider), pending=pending, callback_params=callback
        )


async def test_an_unreachable_provider_is_an_error_not_a_crash() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = oidc.OIDCConfig(f"http://127.0.0.1:{port}", "client", None, REDIRECT_URI)

    with pytest.raises(oidc.OIDCError, match="unreachable"):
        await oidc.begin_sign_in(config=config)


async def test_a_discovery_document_for_another_issuer_is_refused(provider) -> None:
    # Same server reached under another name: its document names 127.0.0.1, not localhost.
    config = replace(config_for(provider), issuer=provider.url.replace("127.0.0.1", "localhost"))

    with pytest.raises(oidc.OIDCError, match="another issuer"):
        await oidc.begin_sign_in(config=config)


# --- accounts ---------------------------------------------------------------------------


def identity(
    sub: str = "sub-1",
    email: str | None = "ann@example.com",
    verified: bool = True,
    issuer: str = "https://id.example.com",
) -> oidc.OIDCIdentity:
    return oidc.OIDCIdentity(
        issuer=issuer, subject=sub, email=email, email_verified=verified, name="  Ann   Lee "
    )


def local_user(db: Session, email: str, *, verified: bool = True, **fields) -> User:
    user = User(
        email=email,
        password_hash="$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$placeholderhash",
        email_verified_at=datetime(2026, 1, 1, tzinfo=UTC) if verified else None,
        **fields,
    )
    db.add(user)
    db.flush()
    return user


def test_first_sso_user_is_created_verified_and_admin(db: Session) -> None:
    user = oidc.sign_in_with_oidc(session=db, identity=identity())

    assert user.email == "ann@example.com"
    assert user.display_name == "Ann Lee"
    assert user.role == Role.ADMIN
    assert user.email_verified_at is not None
    assert user.password_hash is None
    assert user.oidc_subject == "https://id.example.com|sub-1"

    second = oidc.sign_in_with_oidc(session=db, identity=identity("sub-2", "bo@example.com"))
    assert second.role == Role.MEMBER


def test_the_same_subject_finds_the_same_account_even_after_an_email_change(db: Session) -> None:
    first = oidc.sign_in_with_oidc(session=db, identity=identity())
    again = oidc.sign_in_with_oidc(session=db, identity=identity(email="ann.lee@example.com"))
    assert again.id == first.id


def test_the_same_subject_from_another_issuer_is_another_person(db: Session) -> None:
    oidc.sign_in_with_oidc(session=db, identity=identity())
    with pytest.raises(oidc.OIDCEmailTakenError):
        # Same `sub`, new provider, and that provider does not vouch for the email.
        oidc.sign_in_with_oidc(
            session=db, identity=identity(issuer="https://other.example", verified=False)
        )


def test_a_verified_email_links_the_existing_password_account(db: Session) -> None:
    existing = local_user(db, "ann@example.com")
    password_hash = existing.password_hash

    user = oidc.sign_in_with_oidc(session=db, identity=identity())

    assert user.id == existing.id
    assert user.oidc_subject == "https://id.example.com|sub-1"
    assert user.password_hash == password_hash  # the person keeps both ways in


def test_linking_an_unproven_account_drops_its_unproven_password(db: Session) -> None:
    # Someone registered this address without ever opening the verification email.
    existing = local_user(db, "ann@example.com", verified=False)

    user = oidc.sign_in_with_oidc(session=db, identity=identity())

    assert user.id == existing.id
    assert user.password_hash is None
    assert user.email_verified_at is not None


def test_an_unverified_email_never_links_an_existing_account(db: Session) -> None:
    existing = local_user(db, "ann@example.com")

    with pytest.raises(oidc.OIDCEmailTakenError):
        oidc.sign_in_with_oidc(session=db, identity=identity(verified=False))
    db.refresh(existing)
    assert existing.oidc_subject is None


def test_an_account_linked_to_another_subject_is_not_relinked(db: Session) -> None:
    local_user(db, "ann@example.com", oidc_subject="https://id.example.com|someone-else")

    with pytest.raises(oidc.OIDCError, match="another SSO subject"):
        oidc.sign_in_with_oidc(session=db, identity=identity())


def test_a_disabled_account_cannot_sign_in(db: Session) -> None:
    user = oidc.sign_in_with_oidc(session=db, identity=identity())
    user.is_active = False
    db.add(user)
    db.flush()

    with pytest.raises(oidc.OIDCError, match="disabled"):
        oidc.sign_in_with_oidc(session=db, identity=identity())


def test_without_an_email_no_account_is_created(db: Session) -> None:
    with pytest.raises(oidc.OIDCError, match="no email"):
        oidc.sign_in_with_oidc(session=db, identity=identity(email=None))


def test_a_new_account_with_an_unverified_email_stays_unverified(db: Session) -> None:
    user = oidc.sign_in_with_oidc(session=db, identity=identity(verified=False))
    assert user.email_verified_at is None


def test_very_long_subjects_still_fit_the_column() -> None:
    key = oidc.subject_key("https://id.example.com", "s" * 300)
    assert len(key) <= oidc.MAX_SUBJECT_LENGTH
    assert key == oidc.subject_key("https://id.example.com", "s" * 300)
    assert key != oidc.subject_key("https://id.example.com", "s" * 301)
