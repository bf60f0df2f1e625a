"""Browser sessions and one-time tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pyairtable_ui.auth import service, sessions
from pyairtable_ui.auth.errors import TokenExpiredError, TokenInvalidError, TokenUsedError
from pyairtable_ui.auth.models import AuthToken, TokenPurpose, User, UserSession
from pyairtable_ui.core.db import utcnow
from tests.unit.auth.threads import run_together

PASSWORD = "violet tractor morning"


@pytest.fixture
def user(db: Session) -> User:
    created = service.register_user(session=db, email="ana@example.com", password=PASSWORD)
    db.commit()
    return created


# --- sessions -----------------------------------------------------------------------


def test_session_token_is_long_random_and_only_its_hash_is_stored(db: Session, user: User):
    raw, row = sessions.create_session(
        session=db, user=user, user_agent="Firefox", ip_address="203.0.113.7"
    )
    db.commit()
    other_raw, _ = sessions.create_session(session=db, user=user)
    assert len(raw) >= 43  # 32 random bytes, base64url
    assert raw != other_raw
    stored = db.exec(select(UserSession).where(UserSession.id == row.id)).one()
    assert stored.token_hash == sessions.hash_token(raw)
    assert len(stored.token_hash) == 64
    assert raw not in {stored.token_hash, stored.user_agent, stored.ip_address}
    assert stored.expires_at - stored.created_at == timedelta(days=14)
    assert user.last_login_at is not None


def test_a_session_is_found_only_by_its_exact_token(db: Session, user: User):
    raw, _ = sessions.create_session(session=db, user=user)
    db.commit()
    resolved = sessions.get_session_by_token(session=db, token=raw)
    assert resolved is not None and resolved.user_id == user.id
    assert sessions.get_session_by_token(session=db, token=raw[:-1]) is None
    assert sessions.get_session_by_token(session=db, token="") is None
    assert sessions.get_session_by_token(session=db, token=None) is None


def test_expired_session_is_not_signed_in(db: Session, user: User):
    raw, row = sessions.create_session(session=db, user=user, lifetime=timedelta(hours=1))
    db.commit()
    assert sessions.get_session_by_token(
        session=db, token=raw, now=row.expires_at - timedelta(seconds=1)
    )
    assert sessions.get_session_by_token(session=db, token=raw, now=row.expires_at) is None
    assert sessions.list_sessions(session=db, user=user, now=row.expires_at) == []


def test_last_used_is_written_at_most_once_a_minute(db: Session, user: User):
    start = utcnow()
    raw, row = sessions.create_session(session=db, user=user, now=start)
    db.commit()
    sessions.get_session_by_token(session=db, token=raw, now=start + timedelta(seconds=30))
    assert row.last_used_at == start
    assert not db.dirty
    later = start + timedelta(seconds=61)
    sessions.get_session_by_token(session=db, token=raw, now=later)
    db.commit()
    db.refresh(row)
    assert row.last_used_at == later


def test_logout_revokes_the_session(db: Session, user: User):
    raw, _ = sessions.create_session(session=db, user=user)
    db.commit()
    assert sessions.revoke_session_token(session=db, token=raw)
    db.commit()
    assert sessions.get_session_by_token(session=db, token=raw) is None
    assert not sessions.revoke_session_token(session=db, token=raw)


def test_revoke_all_keeps_the_current_session_and_spares_other_users(db: Session, user: User):
    other = service.register_user(session=db, email="ben@example.com", password=PASSWORD)
    current_raw, current = sessions.create_session(session=db, user=user, user_agent="laptop")
    phone_raw, _ = sessions.create_session(session=db, user=user, user_agent="phone")
    tablet_raw, _ = sessions.create_session(session=db, user=user, user_agent="tablet")
    others_raw, _ = sessions.create_session(session=db, user=other)
    db.commit()

    revoked = sessions.revoke_all_sessions(session=db, user=user, except_session_id=current.id)
    db.commit()

    assert revoked == 2
    assert sessions.get_session_by_token(session=db, token=current_raw) is not None
    assert sessions.get_session_by_token(session=db, token=phone_raw) is None
    assert sessions.get_session_by_token(session=db, token=tablet_raw) is None
    assert sessions.get_session_by_token(session=db, token=others_raw) is not None
    assert [s.user_agent for s in sessions.list_sessions(session=db, user=user)] == ["laptop"]


def test_disabled_account_loses_its_sessions_even_without_revocation(db: Session, user: User):
    raw, _ = sessions.create_session(session=db, user=user)
    user.is_active = False
    db.add(user)
    db.commit()
    assert sessions.get_session_by_token(session=db, token=raw) is None


def test_list_sessions_newest_use_first(db: Session, user: User):
    now = utcnow()
    sessions.create_session(session=db, user=user, user_agent="old", now=now - timedelta(days=2))
    sessions.create_session(session=db, user=user, user_agent="new", now=now)
    db.commit()
    assert [s.user_agent for s in sessions.list_sessions(session=db, user=user)] == ["new", "old"]


def test_purge_deletes_only_long_ended_rows(db: Session, user: User):
    now = utcnow()
    sessions.create_session(
        session=db, user=user, now=now - timedelta(days=60), lifetime=timedelta(days=1)
    )
    live_raw, _ = sessions.create_session(session=db, user=user, now=now)
    db.commit()
    assert sessions.purge_expired(session=db, now=now) == 1
    db.commit()
    assert sessions.get_session_by_token(session=db, token=live_raw) is not None


# --- one-time tokens ----------------------------------------------------------------


def test_one_time_token_works_once_then_says_used(db: Session, user: User):
    raw = sessions.issue_token(session=db, user=user, purpose=TokenPurpose.VERIFY_EMAIL)
    db.commit()
    stored = db.exec(select(AuthToken)).one()
    assert stored.token_hash == sessions.hash_token(raw) and raw != stored.token_hash
    assert stored.expires_at - stored.created_at == timedelta(hours=24)

    assert sessions.consume_token(session=db, raw=raw, purpose=TokenPurpose.VERIFY_EMAIL) == user
    db.commit()
    with pytest.raises(TokenUsedError):
        sessions.consume_token(session=db, raw=raw, purpose=TokenPurpose.VERIFY_EMAIL)


@pytest.mark.parametrize(
    ("purpose", "lifetime"),
    [
        (TokenPurpose.VERIFY_EMAIL, timedelta(hours=24)),
        (TokenPurpose.RESET_PASSWORD, timedelta(hours=1)),
        (TokenPurpose.LOGIN_TICKET, timedelta(seconds=60)),
    ],
)
def test_token_expires_after_its_purposes_lifetime(
    db: Session, user: User, purpose: TokenPurpose, lifetime: timedelta
):
    now = utcnow()
    raw = sessions.issue_token(session=db, user=user, purpose=purpose, now=now)
    db.commit()
    with pytest.raises(TokenExpiredError):
        sessions.consume_token(session=db, raw=raw, purpose=purpose, now=now + lifetime)
    # An expired attempt does not burn it: just before the end it still works.
    just_in_time = now + lifetime - timedelta(seconds=1)
    assert sessions.consume_token(session=db, raw=raw, purpose=purpose, now=just_in_time) == user


def test_token_for_another_purpose_is_invalid(db: Session, user: User):
    raw = sessions.issue_token(session=db, user=user, purpose=TokenPurpose.VERIFY_EMAIL)
    db.commit()
    with pytest.raises(TokenInvalidError):
        sessions.consume_token(session=db, raw=raw, purpose=TokenPurpose.RESET_PASSWORD)
    with pytest.raises(TokenInvalidError):
        sessions.consume_token(session=db, raw=raw, purpose=TokenPurpose.LOGIN_TICKET)
    # ...and remains usable for its own purpose.
    assert sessions.consume_token(session=db, raw=raw, purpose=TokenPurpose.VERIFY_EMAIL) == user


def test_token_of_a_disabled_account_is_invalid(db: Session, user: User):
    raw = sessions.issue_token(session=db, user=user, purpose=TokenPurpose.RESET_PASSWORD)
    user.is_active = False
    db.add(user)
    db.commit()
    with pytest.raises(TokenInvalidError):
        sessions.consume_token(session=db, raw=raw, purpose=TokenPurpose.RESET_PASSWORD)


def test_concurrent_double_consume_succeeds_exactly_once(
    clean_engine: Engine, db: Session, user: User
):
    raw = sessions.issue_token(session=db, user=user, purpose=TokenPurpose.LOGIN_TICKET)
    db.commit()

    def consume() -> int | None:
        with Session(clean_engine, expire_on_commit=False) as session:
            consumed = sessions.consume_token(
                session=session, raw=raw, purpose=TokenPurpose.LOGIN_TICKET
            )
            session.commit()
            return consumed.id

    outcomes = run_together(consume, [(), (), (), ()])
    winners = [o for o in outcomes if o == user.id]
    losers = [o for o in outcomes if isinstance(o, TokenUsedError)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 3, outcomes


def test_login_ticket_exchanges_once_for_a_session(db: Session, user: User):
    ticket = sessions.issue_login_ticket(session=db, user=user)
    db.commit()
    raw, row = sessions.exchange_login_ticket(
        session=db, ticket=ticket, user_agent="Chromium", ip_address="127.0.0.1"
    )
    db.commit()
    assert row.user_id == user.id and row.user_agent == "Chromium"
    resolved = sessions.get_session_by_token(session=db, token=raw)
    assert resolved is not None and resolved.user_id == user.id
    assert raw != ticket
    with pytest.raises(TokenUsedError) as caught:
        sessions.exchange_login_ticket(session=db, ticket=ticket)
    assert caught.value.message == "This sign-in was already completed. Sign in again."
