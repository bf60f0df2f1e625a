"""The analytics figures: SQL aggregates over seeded rows give the known counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pyairtable_ui.actions.models import Action, ActionStatus, ActionStep
from pyairtable_ui.airtable.models import AirtableUsage
from pyairtable_ui.analytics import flows
from pyairtable_ui.auth.errors import PermissionDeniedError
from pyairtable_ui.auth.models import Role, User
from pyairtable_ui.chat.models import Conversation, Message

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
TODAY = NOW.replace(hour=9)
YESTERDAY = TODAY - timedelta(days=1)


def _user(db: Session, email: str, role: Role = Role.MEMBER) -> int:
    user = User(email=email, password_hash="x", role=role.value)
    db.add(user)
    db.flush()
    assert user.id is not None
    return user.id


def _turn(
    db: Session,
    conversation_id: int,
    at: datetime,
    latency_ms: int,
    *,
    tool: str | None = None,
    failed: bool = False,
) -> None:
    """A user message, a tool call (optional) and an answer, `latency_ms` in all."""
    db.add(Message(conversation_id=conversation_id, role="user", content="q", created_at=at))
    half = latency_ms // 2 if tool else latency_ms
    if tool:
        db.add(
            Message(
                conversation_id=conversation_id,
                role="tool",
                tool_name=tool,
                duration_ms=latency_ms - half,
                airtable_calls=2,
                created_at=at + timedelta(seconds=1),
            )
        )
    db.add(
        Message(
            conversation_id=conversation_id,
            role="assistant",
            status="failed" if failed else "complete",
            prompt_tokens=100,
            completion_tokens=10,
            cost_usd=0.01,
            duration_ms=half,
            created_at=at + timedelta(seconds=2),
        )
    )
    db.flush()


@pytest.fixture
def seeded(migrated_engine: Engine) -> Engine:
    """Ana: 3 turns today on appA (one failed), 1 yesterday on appB; Bo: 1 turn today.

    Plus a turn 10 days ago, outside the 7-day period, and actions of both kinds.
    """
    with Session(migrated_engine) as db:
        ana = _user(db, "ana@example.com")
        bo = _user(db, "bo@example.com")
        _user(db, "admin@example.com", Role.ADMIN)
        a1 = Conversation(user_id=ana, base_id="appA", created_at=YESTERDAY)
        a2 = Conversation(user_id=ana, base_id="appB", created_at=YESTERDAY)
        b1 = Conversation(user_id=bo, base_id="appA", created_at=TODAY)
        db.add_all([a1, a2, b1])
        db.flush()
        assert a1.id and a2.id and b1.id
        _turn(db, a1.id, TODAY, 1000, tool="list_records")
        _turn(db, a1.id, TODAY + timedelta(minutes=1), 3000, tool="list_records", failed=True)
        _turn(db, a1.id, TODAY + timedelta(minutes=2), 2000)
        _turn(db, a2.id, YESTERDAY, 500, tool="get_schema")
        _turn(db, b1.id, TODAY + timedelta(minutes=3), 4000)
        _turn(db, a2.id, TODAY - timedelta(days=10), 9999, tool="get_schema")
        done = Action(
            user_id=ana,
            conversation_id=a1.id,
            tool_name="update_records",
            base_id="appA",
            status=ActionStatus.UNDONE.value,
            confirmed_at=TODAY,
            undone_at=TODAY,
            created_at=TODAY,
        )
        rejected = Action(
            user_id=bo,
            tool_name="create_records",
            base_id="appA",
            status=ActionStatus.REJECTED.value,
            created_at=TODAY,
        )
        failed = Action(
            user_id=ana,
            tool_name="delete_records",
            base_id="appB",
            status=ActionStatus.FAILED.value,
            confirmed_at=YESTERDAY,
            created_at=YESTERDAY,
        )
        db.add_all([done, rejected, failed])
        db.flush()
        assert done.id
        for seq in range(3):
            db.add(
                ActionStep(
                    action_id=done.id, seq=seq, method="PATCH", path="/v0/appA/t", started_at=TODAY
                )
            )
        # Airtable requests: Ana 7 on appA today (2 answered 429), 2 on appB yesterday,
        # 1 account-wide today; Bo 3 on appA today; Ana 50 on appA 10 days ago.
        db.add_all(
            [
                AirtableUsage(
                    day="2026-12-04", user_id=ana, base_id="appA", requests=7, rate_limited=2
                ),
                AirtableUsage(day="2026-12-03", user_id=ana, base_id="appB", requests=2),
                AirtableUsage(day="2026-12-04", user_id=ana, base_id="meta", requests=1),
                AirtableUsage(day="2026-12-04", user_id=bo, base_id="appA", requests=3),
                AirtableUsage(day="2026-11-24", user_id=ana, base_id="appA", requests=50),
            ]
        )
        db.commit()
    return migrated_engine


def test_the_figures_per_day(seeded: Engine):
    with Session(seeded) as db:
        view = flows.compute(db, 7, now=NOW)

    assert len(view.days) == 7
    assert [day["day"] for day in view.days[-2:]] == ["2026-12-03", "2026-12-04"]
    assert all(day["messages"] == 0 for day in view.days[:-2])
    yesterday, today = view.days[-2], view.days[-1]
    assert (today["active_users"], today["conversations"], today["messages"]) == (2, 2, 8)
    assert (today["tool_calls"], today["airtable_requests"], today["rate_limited"]) == (2, 11, 2)
    assert yesterday["airtable_requests"] == 2
    assert (today["prompt_tokens"], today["completion_tokens"]) == (400, 40)
    assert today["cost_usd"] == pytest.approx(0.04)
    assert (today["turns"], today["failed_turns"]) == (4, 1)
    # Latencies 1000, 2000, 3000, 4000: nearest rank p50 is the 2nd, p95 the 4th.
    assert (today["p50_ms"], today["p95_ms"]) == (2000, 4000)
    assert (today["actions"], today["approved"], today["rejected"], today["undone"]) == (2, 1, 1, 1)
    assert today["failed_actions"] == 0
    assert today["error_rate"] == pytest.approx(100 * 1 / 6, abs=0.1)
    assert (yesterday["turns"], yesterday["p50_ms"], yesterday["p95_ms"]) == (1, 500, 500)
    assert (yesterday["failed_actions"], yesterday["approved"]) == (1, 1)


def test_the_tools_users_and_bases_of_the_period(seeded: Engine):
    with Session(seeded) as db:
        view = flows.compute(db, 7, now=NOW)
        longer = flows.compute(db, 30, now=NOW)

    assert view.tools == [
        {"tool": "list_records", "calls": 2, "failed": 0},
        {"tool": "get_schema", "calls": 1, "failed": 0},
    ]
    assert [tool["calls"] for tool in longer.tools] == [2, 2]  # the older turn counts in 30
    ana, bo = view.users
    assert (ana["key"], ana["messages"], ana["tool_calls"], ana["turns"]) == (
        "ana@example.com",
        8,
        3,
        4,
    )
    assert (ana["failed_turns"], ana["actions"], ana["undone"], ana["failed_actions"]) == (
        1,
        2,
        1,
        1,
    )
    assert (ana["airtable_requests"], ana["rate_limited"], ana["conversations"]) == (10, 2, 2)
    assert (bo["key"], bo["messages"], bo["turns"], bo["rejected"]) == ("bo@example.com", 2, 1, 1)
    account, app_a, app_b = sorted(view.bases, key=lambda base: base["key"])
    assert (account["key"], account["airtable_requests"], account["messages"]) == (
        "(account-wide)",
        1,
        0,
    )
    assert (app_a["key"], app_a["conversations"], app_a["messages"]) == ("appA", 2, 8)
    assert (app_a["airtable_requests"], app_a["rate_limited"], app_a["actions"]) == (10, 2, 2)
    assert (app_b["key"], app_b["messages"], app_b["airtable_requests"]) == ("appB", 2, 2)
    assert [base["airtable_requests"] for base in longer.bases] == [60, 2, 1]


def test_the_csv_has_one_row_per_user(seeded: Engine, app_database: Engine, monkeypatch):
    monkeypatch.setattr(flows, "utcnow", lambda: NOW)
    with Session(seeded) as db:
        admin = db.exec(select(User).where(User.email == "admin@example.com")).one()
        member = db.exec(select(User).where(User.email == "bo@example.com")).one()
    text = flows.totals_csv(admin_id=admin.id or 0, days=7, by="user")
    lines = text.splitlines()
    assert lines[0].startswith("email,conversations,messages,tool_calls,airtable_requests")
    assert lines[1].startswith("ana@example.com,2,8,3,10,2,")
    assert lines[2].startswith("bo@example.com,1,2,0,3,0,")
    assert len(lines) == 3
    with pytest.raises(PermissionDeniedError):
        flows.totals_csv(admin_id=member.id or 0, days=7, by="user")
    with pytest.raises(flows.UnknownPeriodError):
        flows.analytics_view(admin_id=admin.id or 0, days=5)


def test_the_budget_figures_show_each_user_their_own_and_warn_only_admins(
    app_database: Engine,
):
    from pyairtable_ui.airtable import budget
    from pyairtable_ui.core.instance_settings import (
        AIRTABLE_BUDGET_KEY,
        LLM_BUDGET_KEY,
        write_setting,
    )

    now = datetime.now(UTC)
    with Session(app_database) as db:
        admin_id = _user(db, "admin@example.com", Role.ADMIN)
        member_id = _user(db, "ana@example.com")
        conversation = Conversation(user_id=member_id)
        db.add(conversation)
        db.flush()
        assert conversation.id is not None
        db.add(Message(conversation_id=conversation.id, role="assistant", cost_usd=1.5))
        db.add(
            AirtableUsage(
                day=now.strftime("%Y-%m-%d"),
                user_id=member_id,
                base_id="appA",
                requests=90,
                rate_limited=0,
            )
        )
        write_setting(db, AIRTABLE_BUDGET_KEY, {"plan": "custom", "requests": 100}, by=None)
        write_setting(db, LLM_BUDGET_KEY, {"instance_usd": 10.0, "per_user_usd": 2.0}, by=None)
        db.commit()
    budget.forget()

    member = flows.budget_view(user_id=member_id)
    assert member.airtable.startswith("90 of 100 requests (90%)")
    assert member.llm_mine == "$1.50 of $2.00 this month (75%)"
    assert member.airtable_warning == "" and member.llm_instance == ""
    admin = flows.budget_view(user_id=admin_id)
    assert "90 of 100 requests" in admin.airtable_warning
    assert admin.llm_instance == "$1.50 of $10.00 this month (15%)"
