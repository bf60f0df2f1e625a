"""Operator commands, run as `python -m pyairtable_ui.manage ...` would run them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pyairtable_ui import manage
from pyairtable_ui.airtable.models import AirtableConnection, ConnectionKind
from pyairtable_ui.auth import sessions
from pyairtable_ui.auth.models import AuthToken, TokenPurpose, User
from pyairtable_ui.core.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.settings import get_settings

OLD_KEY = "the-secret-key-being-retired-" + "o" * 30
NEW_KEY = "the-secret-key-taking-over-" + "n" * 30
PAT = "patAnaPersonalAccessToken." + "a" * 40
ACCESS = "oauthAccessOfBen." + "b" * 40
REFRESH = "oauthRefreshOfBen." + "r" * 40
LINK = "http://localhost:8000/auth/verify?token=cara-" + "c" * 30


def use_secret_keys(monkeypatch: pytest.MonkeyPatch, current: str, *previous: str) -> None:
    """Restart the operator's process with these keys in its environment."""
    monkeypatch.setenv("SECRET_KEY", current)
    if previous:
        monkeypatch.setenv("PREVIOUS_SECRET_KEYS", ",".join(previous))
    else:
        monkeypatch.delenv("PREVIOUS_SECRET_KEYS", raising=False)
    get_settings.cache_clear()


@pytest.fixture
def db(app_database: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """The app's database, holding secrets stored while OLD_KEY was SECRET_KEY."""
    monkeypatch.setenv("APP_ENV", "test")
    use_secret_keys(monkeypatch, OLD_KEY)
    with Session(app_database, expire_on_commit=False) as session:
        ana = User(email="ana@example.com", password_hash="x")
        ben = User(email="ben@example.com", password_hash="x")
        cara = User(email="cara@example.com", password_hash="x")
        session.add_all([ana, ben, cara])
        session.flush()
        assert ana.id and ben.id and cara.id
        session.add(AirtableConnection(user_id=ana.id, encrypted_token=encrypt_secret(PAT)))
        session.add(
            AirtableConnection(
                user_id=ben.id,
                kind=ConnectionKind.OAUTH.value,
                encrypted_token=encrypt_secret(ACCESS),
                encrypted_refresh_token=encrypt_secret(REFRESH),
            )
        )
        session.add(
            AuthToken(
                user_id=cara.id,
                purpose=TokenPurpose.VERIFY_EMAIL.value,
                token_hash="h" * 64,
                expires_at=utcnow() + timedelta(days=1),
                encrypted_link=encrypt_secret(LINK),
            )
        )
        session.commit()
        yield session


def stored(db: Session) -> dict[str, str]:
    """Every stored ciphertext as the database holds it now, by what it is."""
    db.expire_all()
    rows = {c.user_id: c for c in db.exec(select(AirtableConnection))}
    ana, ben = sorted(rows)
    link = db.exec(select(AuthToken)).one().encrypted_link
    assert link is not None and rows[ben].encrypted_refresh_token is not None
    return {
        "pat": rows[ana].encrypted_token,
        "access": rows[ben].encrypted_token,
        "refresh": rows[ben].encrypted_refresh_token,
        "link": link,
    }


def test_rotate_secret_re_encrypts_every_stored_secret_under_the_new_key(
    db: Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored(db)
    use_secret_keys(monkeypatch, NEW_KEY, OLD_KEY)

    assert manage.main(["rotate-secret"]) == 0

    out = capsys.readouterr().out
    assert "2 Airtable token(s), 1 OAuth refresh token(s), 1 pending link(s)" in out
    after = stored(db)
    assert all(after[name] != before[name] for name in before)
    # The old key is gone from the environment: the new one alone opens everything.
    use_secret_keys(monkeypatch, NEW_KEY)
    assert decrypt_secret(after["pat"]) == PAT
    assert decrypt_secret(after["access"]) == ACCESS
    assert decrypt_secret(after["refresh"]) == REFRESH
    assert [pending.link for pending in sessions.list_pending_links(session=db)] == [LINK]
    with pytest.raises(SecretDecryptionError):
        decrypt_secret(after["pat"], secret_key=OLD_KEY, previous_keys=())


def test_a_secret_no_key_opens_is_left_alone_and_reported(
    db: Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lost = encrypt_secret(PAT, secret_key="a-key-nobody-kept-" + "l" * 30)
    connection = db.exec(select(AirtableConnection).where(AirtableConnection.kind == "pat")).one()
    connection.encrypted_token = lost
    db.add(connection)
    db.commit()
    use_secret_keys(monkeypatch, NEW_KEY, OLD_KEY)

    assert manage.main(["rotate-secret"]) == 1

    captured = capsys.readouterr()
    assert "1 Airtable token(s), 1 OAuth refresh token(s), 1 pending link(s)" in captured.out
    assert "1 stored secret(s) opened with neither" in captured.err
    after = stored(db)
    assert after["pat"] == lost
    use_secret_keys(monkeypatch, NEW_KEY)
    assert decrypt_secret(after["refresh"]) == REFRESH


def test_rotate_secret_without_previous_keys_changes_nothing_and_says_what_to_set(
    db: Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored(db)
    use_secret_keys(monkeypatch, NEW_KEY)

    assert manage.main(["rotate-secret"]) == 2

    assert "PREVIOUS_SECRET_KEYS is empty" in capsys.readouterr().err
    assert stored(db) == before
