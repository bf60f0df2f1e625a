"""Housekeeping in the running app: an answer a dead process left streaming is closed
on the app's timer and the conversation says so, and long-ended sessions are purged."""

from __future__ import annotations

import time
from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from pyairtable_ui.auth import sessions
from pyairtable_ui.auth.models import User, UserSession
from pyairtable_ui.chat.models import Conversation, Message, MessageStatus
from pyairtable_ui.core.db import make_engine, utcnow
from tests.fakes.llm import Reply
from tests.integration.accounts import new_account, onboard
from tests.support.seeds import app_tokens


def test_an_answer_left_streaming_is_closed_and_old_sessions_purged(
    app_server, app_database_url, mailbox, page: Page, app_airtable, app_llm, unique_email
) -> None:
    app_llm.clear()
    tokens = app_tokens(app_airtable)
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, tokens.full, tokens.base_name)
    app_llm.queue(Reply(content="Projects and Tasks are in this base."), model="scripted")
    box = page.get_by_role("textbox", name="Message")
    box.fill("What is in this base?")
    box.press("Enter")
    expect(page.locator(".assistant-message").last).to_contain_text("Projects and Tasks")

    engine = make_engine(app_database_url)

    def recorded_answer(db: Session) -> Message | None:
        return db.exec(
            select(Message)
            .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
            .join(User, col(User.id) == col(Conversation.user_id))
            .where(User.email == unique_email, Message.role == "assistant")
            .where(Message.status == MessageStatus.COMPLETE.value)
            .order_by(col(Message.id).desc())
        ).first()

    try:
        # The page shows the streamed text before the turn's end is recorded; on a busy
        # machine the row may come a moment later, and it must not be changed before then.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with Session(engine) as db:
                if recorded_answer(db) is not None:
                    break
            time.sleep(0.2)
        with Session(engine, expire_on_commit=False) as db:
            user = db.exec(select(User).where(User.email == unique_email)).one()
            answer = recorded_answer(db)
            assert answer is not None, "the answer was never recorded as complete"
            # As a process killed mid-stream leaves it, two hours ago.
            answer.status, answer.error = "streaming", None
            answer.created_at = utcnow() - timedelta(hours=2)
            db.add(answer)
            # The id is kept from the insert itself: the app's timer may purge the row the
            # moment it is committed, so reading it back afterwards would race the purge.
            _, ended = sessions.create_session(
                session=db, user=user, now=utcnow() - timedelta(days=60), lifetime=timedelta(days=1)
            )
            db.commit()
            assert ended.id is not None

        # HOUSEKEEPING_INTERVAL_SECONDS is 2 in the app under test (tests/conftest.py).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with Session(engine) as db:
                row = db.get(Message, answer.id)
                gone = db.get(UserSession, ended.id) is None
                if row is not None and row.status == "failed" and gone:
                    break
            time.sleep(0.5)
        with Session(engine) as db:
            row = db.get(Message, answer.id)
            assert row is not None and row.status == "failed", "the answer was never closed"
            assert db.get(UserSession, ended.id) is None, "the ended session was not purged"
    finally:
        engine.dispose()

    page.reload()
    expect(page.locator(".error-message").last).to_contain_text(
        "The app stopped before this finished."
    )
