"""Housekeeping at start-up and on a timer: ended sessions go, abandoned answers close."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pyairtable_ui import housekeeping
from pyairtable_ui.auth import sessions
from pyairtable_ui.auth.models import User, UserSession
from pyairtable_ui.chat import service as chat_service
from pyairtable_ui.chat.models import Message
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.settings import get_settings


@pytest.fixture
def db(app_database: Engine) -> Iterator[Session]:
    with Session(app_database, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def user(db: Session) -> User:
    person = User(email="ana@example.com", display_name="Ana", password_hash="x")
    db.add(person)
    db.commit()
    return person


def unfinished_answer(db: Session, user: User, *, age: timedelta) -> int:
    """An assistant message left streaming `age` ago, as a killed process leaves it."""
    assert user.id is not None
    conversation = chat_service.create_conversation(session=db, user_id=user.id)
    db.commit()
    assert conversation.id is not None
    message = chat_service.add_message(
        session=db,
        conversation_id=conversation.id,
        user_id=user.id,
        role="assistant",
        status="streaming",
    )
    message.created_at = utcnow() - age
    db.add(message)
    db.commit()
    assert message.id is not None
    return message.id


def status_of(db: Session, message_id: int) -> str:
    db.expire_all()
    row = db.get(Message, message_id)
    assert row is not None
    return row.status


def test_at_start_without_redis_every_unfinished_answer_is_closed(db: Session, user: User) -> None:
    # Without Redis this process is the only one: nothing else can be streaming.
    fresh = unfinished_answer(db, user, age=timedelta(seconds=1))
    sessions.create_session(
        session=db, user=user, now=utcnow() - timedelta(days=60), lifetime=timedelta(days=1)
    )
    live_raw, _ = sessions.create_session(session=db, user=user)
    db.commit()

    result = housekeeping.run_housekeeping(at_start=True)

    assert result == housekeeping.HousekeepingResult(purged_rows=1, closed_messages=1)
    assert status_of(db, fresh) == "failed"
    row = db.get(Message, fresh)
    assert row is not None and row.error == "The app stopped before this finished."
    assert sessions.get_session_by_token(session=db, token=live_raw) is not None
    assert len(db.exec(select(UserSession)).all()) == 1


def test_later_rounds_leave_answers_that_may_still_be_streaming(db: Session, user: User) -> None:
    settings = get_settings()
    recent = unfinished_answer(db, user, age=timedelta(seconds=5))
    abandoned = unfinished_answer(
        db, user, age=housekeeping.longest_turn(settings) + timedelta(minutes=1)
    )

    result = housekeeping.run_housekeeping()

    assert result.closed_messages == 1
    assert status_of(db, recent) == "streaming"
    assert status_of(db, abandoned) == "failed"


def test_with_redis_even_the_start_leaves_other_replicas_turns_alone(
    db: Session, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    get_settings.cache_clear()
    recent = unfinished_answer(db, user, age=timedelta(seconds=5))

    assert housekeeping.run_housekeeping(at_start=True).closed_messages == 0
    assert status_of(db, recent) == "streaming"


async def test_the_timer_keeps_closing_and_survives_a_failed_round(
    db: Session, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = housekeeping.run_housekeeping
    calls: list[bool] = []

    def flaky(*, at_start: bool = False) -> housekeeping.HousekeepingResult:
        calls.append(at_start)
        if len(calls) == 2:
            raise RuntimeError("database briefly unreachable")
        return real(at_start=at_start)

    monkeypatch.setattr(housekeeping, "run_housekeeping", flaky)
    task = asyncio.create_task(housekeeping.keep_house(interval_seconds=0.05))
    try:
        for _ in range(200):
            if len(calls) >= 1:
                break
            await asyncio.sleep(0.02)
        # Left behind after the first round, and old enough to be abandoned.
        abandoned = unfinished_answer(
            db, user, age=housekeeping.longest_turn(get_settings()) + timedelta(minutes=1)
        )
        for _ in range(500):
            if status_of(db, abandoned) == "failed" and len(calls) >= 3:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert status_of(db, abandoned) == "failed"
    assert len(calls) >= 3  # the failed second round did not end the loop
    assert calls[0] is True and not any(calls[1:])
