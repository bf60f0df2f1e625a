"""Airtable connections without a server: token shape, unreachable host, encrypted storage.

The checks against a live Airtable-like server are in test_connections_emulator.py.
"""

from __future__ import annotations

import logging
import socket

import pytest
from sqlmodel import Session, select

from pyairtable_ui.airtable.connections import (
    AirtableUnreachableError,
    BaseAccess,
    MalformedTokenError,
    NotConnectedError,
    TokenCheck,
    check_airtable_token,
    clean_token,
    get_connection,
    remove_connection,
    save_connection,
)
from pyairtable_ui.airtable.models import AirtableConnection
from pyairtable_ui.airtable.oauth import get_valid_token
from pyairtable_ui.auth import service
from pyairtable_ui.auth.models import User
from pyairtable_ui.core.crypto import SecretDecryptionError

# The accounts fixtures (known settings, a database per backend, a fast hasher): a
# connection belongs to an account, and these tests make accounts.
from tests.unit.auth.conftest import (  # noqa: F401  (pytest fixtures, found by name)
    auth_engine,
    clean_engine,
    db,
    fast_hasher,
    test_settings,
)

TOKEN = "patAbCdEfGhIjKlMn." + "0123456789abcdef" * 4
OTHER_TOKEN = "patZyXwVuTsRqPoNm." + "fedcba9876543210" * 4
CHECK = TokenCheck(
    user_id="usrAbCdEfGhIjKlMn",
    email="ana@example.com",
    scopes=("data.records:read", "data.records:write", "schema.bases:read"),
    bases=(BaseAccess(id="appAbCdEfGhIjKlMn", name="CRM", permission_level="create"),),
)


@pytest.fixture
def user(db: Session) -> User:
    created = service.register_user(
        session=db, email="ana@example.com", password="violet tractor morning"
    )
    db.commit()
    return created


def test_pasted_token_is_trimmed():
    assert clean_token(f"  {TOKEN}\n") == TOKEN
    # Lenient: other plausible tokens (OAuth, future formats) are left to Airtable.
    assert (
        clean_token("oaaAbCdEfGhIjKlMn.v1.abcdefghijklmnop")
        == "oaaAbCdEfGhIjKlMn.v1.abcdefghijklmnop"
    )


@pytest.mark.parametrize(
    ("pasted", "says"),
    [
        ("", "Paste your Airtable personal access token."),
        ("   ", "Paste your Airtable personal access token."),
        (TOKEN[:30] + " " + TOKEN[30:], "spaces or line breaks"),
        (TOKEN[:40] + "\n" + TOKEN[40:], "spaces or line breaks"),
        ("keyAbCdEfGhIjKlMn", "old Airtable API key"),
        (TOKEN[:-10], "cut short"),
        ("Bearer " + TOKEN, "spaces or line breaks"),
        ("hello", "does not look like an Airtable personal access token"),
        ("pat<script>alert(1)</script>xxxxxxxxxx", "does not look like"),
    ],
)
def test_obviously_wrong_tokens_are_refused_before_asking_airtable(pasted: str, says: str):
    with pytest.raises(MalformedTokenError) as caught:
        check_airtable_token(pasted, api_url="http://127.0.0.1:9")
    assert says in caught.value.message


def test_unreachable_airtable_names_the_address(caplog: pytest.LogCaptureFixture):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with caplog.at_level(logging.DEBUG), pytest.raises(AirtableUnreachableError) as caught:
        check_airtable_token(TOKEN, api_url=url)
    assert caught.value.message == f"Airtable could not be reached at {url}. Try again in a minute."
    assert TOKEN not in caplog.text
    assert TOKEN not in str(caught.value)


def test_token_is_stored_encrypted_with_a_hint(db: Session, user: User, caplog):
    with caplog.at_level(logging.DEBUG):
        saved = save_connection(session=db, user=user, token=TOKEN, check=CHECK)
        db.commit()
    row = db.exec(select(AirtableConnection)).one()
    assert row.id == saved.id
    assert TOKEN not in row.encrypted_token
    assert row.token_hint == TOKEN[-4:]
    assert row.airtable_user_id == "usrAbCdEfGhIjKlMn"
    assert row.airtable_email == "ana@example.com"
    assert row.scopes == list(CHECK.scopes)
    assert get_valid_token(session=db, user=user) == TOKEN
    assert TOKEN not in caplog.text


def test_connecting_again_replaces_the_connection(db: Session, user: User):
    first = save_connection(session=db, user=user, token=TOKEN, check=CHECK)
    db.commit()
    second = save_connection(session=db, user=user, token=OTHER_TOKEN, check=CHECK)
    db.commit()
    assert second.id == first.id
    assert len(db.exec(select(AirtableConnection)).all()) == 1
    assert get_valid_token(session=db, user=user) == OTHER_TOKEN
    connection = get_connection(session=db, user=user)
    assert connection is not None and connection.token_hint == OTHER_TOKEN[-4:]


def test_remove_connection_forgets_the_token(db: Session, user: User):
    save_connection(session=db, user=user, token=TOKEN, check=CHECK)
    db.commit()
    assert remove_connection(session=db, user=user)
    db.commit()
    assert get_connection(session=db, user=user) is None
    assert not remove_connection(session=db, user=user)
    with pytest.raises(NotConnectedError) as caught:
        get_valid_token(session=db, user=user)
    assert caught.value.message == "Connect your Airtable account first, in Settings."


def test_changed_secret_key_asks_to_reconnect(
    db: Session, user: User, monkeypatch: pytest.MonkeyPatch
):
    from pyairtable_ui.core.settings import get_settings

    save_connection(session=db, user=user, token=TOKEN, check=CHECK)
    db.commit()
    monkeypatch.setenv("SECRET_KEY", "a-completely-different-secret-key-" + "z" * 20)
    get_settings.cache_clear()
    with pytest.raises(SecretDecryptionError) as caught:
        get_valid_token(session=db, user=user)
    assert "Connect your Airtable account again" in caught.value.message
