"""The data model: relations, JSON columns, timezone-aware times, cascades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from pyairtable_ui.actions.models import Action, ActionStatus, ActionStep, StepStatus
from pyairtable_ui.airtable.models import AirtableConnection
from pyairtable_ui.auth.models import User, UserSession
from pyairtable_ui.chat.models import Conversation, Message, MessageRole


def _user(session: Session, email: str = "ana@example.com") -> User:
    user = User(email=email, password_hash="x")
    session.add(user)
    session.commit()
    return user


def test_datetimes_come_back_timezone_aware_in_utc(migrated_engine) -> None:
    created = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    with Session(migrated_engine) as session:
        user = _user(session)
        user.created_at = created
        session.add(user)
        session.commit()
    with Session(migrated_engine) as session:
        loaded = session.exec(select(User)).one()
        assert loaded.created_at.tzinfo is not None
        assert loaded.created_at == created
        assert loaded.created_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(migrated_engine) -> None:
    with Session(migrated_engine) as session:
        user = _user(session)
        user.last_login_at = datetime(2026, 1, 1)
        session.add(user)
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            session.commit()


def test_email_is_unique(migrated_engine) -> None:
    with Session(migrated_engine) as session:
        _user(session)
        session.add(User(email="ana@example.com", password_hash="y"))
        with pytest.raises(sa.exc.IntegrityError):
            session.commit()


def test_an_action_keeps_its_plan_steps_and_snapshots(migrated_engine) -> None:
    with Session(migrated_engine) as session:
        user = _user(session)
        conversation = Conversation(user_id=user.id, base_id="appAAAAAAAAAAAAAA")
        session.add(conversation)
        session.commit()
        action = Action(
            user_id=user.id,
            conversation_id=conversation.id,
            tool_name="update_records",
            base_id="appAAAAAAAAAAAAAA",
            table_name="Tasks",
            arguments={"records": [{"id": "rec1", "fields": {"Status": "Done"}}]},
            plan={"updates": [{"id": "rec1", "fields": {"Status": "Done"}}]},
            record_count=1,
        )
        session.add(action)
        session.commit()
        step = ActionStep(
            action_id=action.id,
            seq=1,
            method="PATCH",
            path="/v0/appAAAAAAAAAAAAAA/Tasks",
            request_body={"records": [{"id": "rec1", "fields": {"Status": "Done"}}]},
            before=[{"id": "rec1", "fields": {"Status": "Todo", "Tags": ["a", "ü"]}}],
            record_ids=["rec1"],
        )
        session.add(step)
        session.commit()
        action_id = action.id
    with Session(migrated_engine) as session:
        loaded = session.get(Action, action_id)
        assert loaded is not None
        assert loaded.status == ActionStatus.PROPOSED
        assert loaded.plan["updates"][0]["fields"] == {"Status": "Done"}
        steps = session.exec(select(ActionStep).where(ActionStep.action_id == action_id)).all()
        assert [s.status for s in steps] == [StepStatus.PENDING]
        assert steps[0].before == [{"id": "rec1", "fields": {"Status": "Todo", "Tags": ["a", "ü"]}}]


def test_deleting_a_conversation_keeps_its_actions(migrated_engine) -> None:
    with Session(migrated_engine) as session:
        user = _user(session)
        conversation = Conversation(user_id=user.id)
        session.add(conversation)
        session.commit()
        session.add(Message(conversation_id=conversation.id, role=MessageRole.USER, content="hi"))
        action = Action(
            user_id=user.id,
            conversation_id=conversation.id,
            tool_name="create_records",
            base_id="app1",
        )
        session.add(action)
        session.commit()
        session.delete(conversation)
        session.commit()
        session.refresh(action)
        assert action.conversation_id is None, "the audit log outlives the conversation"
        assert session.exec(select(Message)).all() == []


def test_deleting_a_user_removes_their_sessions_and_connection(migrated_engine) -> None:
    now = datetime.now(UTC)
    with Session(migrated_engine) as session:
        user = _user(session)
        session.add(UserSession(user_id=user.id, token_hash="h" * 64, expires_at=now))
        session.add(AirtableConnection(user_id=user.id, encrypted_token="gAAAA..."))
        session.commit()
        session.delete(user)
        session.commit()
        assert session.exec(select(UserSession)).all() == []
        assert session.exec(select(AirtableConnection)).all() == []
