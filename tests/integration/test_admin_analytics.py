"""/admin/analytics in Chromium: an admin sees the charts, the tables and the CSV; members
are kept out."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from pyairtable_ui.actions.models import Action, ActionStatus
from pyairtable_ui.airtable.models import AirtableUsage
from pyairtable_ui.auth.models import Role, User
from pyairtable_ui.chat.models import Conversation, Message
from pyairtable_ui.core.db import make_engine
from tests.integration.accounts import new_account

BASE = "appAnalytics0001"


def _seed(database_url: str, admin_email: str, member_email: str) -> None:
    """The admin made admin; the member's 3 turns 3 and 5 days ago, one tool call, one
    rejected action, 2 Airtable requests (one answered 429)."""
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    three, five = now - timedelta(days=3), now - timedelta(days=5)
    with Session(engine) as db:
        admin = db.exec(select(User).where(User.email == admin_email)).one()
        admin.role = Role.ADMIN.value
        member = db.exec(select(User).where(User.email == member_email)).one()
        assert member.id is not None
        conversation = Conversation(user_id=member.id, base_id=BASE, created_at=five)
        db.add_all([admin, conversation])
        db.flush()
        assert conversation.id is not None
        for at, tool in ((five, None), (three, "list_records"), (three, None)):
            db.add(Message(conversation_id=conversation.id, role="user", created_at=at))
            if tool:
                db.add(
                    Message(
                        conversation_id=conversation.id,
                        role="tool",
                        tool_name=tool,
                        airtable_calls=2,
                        duration_ms=300,
                        created_at=at,
                    )
                )
            db.add(
                Message(
                    conversation_id=conversation.id,
                    role="assistant",
                    prompt_tokens=100,
                    completion_tokens=20,
                    duration_ms=700,
                    created_at=at,
                )
            )
        db.add(
            Action(
                user_id=member.id,
                conversation_id=conversation.id,
                tool_name="create_records",
                base_id=BASE,
                status=ActionStatus.REJECTED.value,
                created_at=three,
            )
        )
        db.add(
            AirtableUsage(
                day=three.strftime("%Y-%m-%d"),
                user_id=member.id,
                base_id=BASE,
                requests=2,
                rate_limited=1,
            )
        )
        db.commit()
    engine.dispose()


def _days_with_users(database_url: str) -> int:
    """Days of the last 7 (UTC) on which anyone wrote, every test's messages included."""
    engine = make_engine(database_url)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=6)
    with Session(engine) as db:
        times = db.exec(
            select(Message.created_at).where(Message.role == "user", Message.created_at >= start)
        ).all()
    engine.dispose()
    return len({at.astimezone(UTC).date() for at in times})


def _chart(page: Page, title: str):
    return page.locator(".analytics-chart").filter(
        has=page.get_by_role("heading", name=title, exact=True)
    )


def test_an_admin_sees_the_use_per_day_and_per_user(
    app_server, mailbox, page: Page, browser, app_database_url, unique_email, tmp_path: Path
) -> None:
    admin_email = "admin-" + unique_email
    member_email = "member-" + unique_email
    new_account(page, app_server.url, mailbox, admin_email)
    member = browser.new_context()
    member_page = member.new_page()
    new_account(member_page, app_server.url, mailbox, member_email)
    _seed(app_database_url, admin_email, member_email)

    # A member is sent away.
    member_page.goto(f"{app_server.url}/admin/analytics")
    member_page.wait_for_url("**/onboarding**")
    member.close()

    page.goto(f"{app_server.url}/admin")
    page.get_by_role("link", name="Analytics: use per day, user and base").click()
    page.wait_for_url("**/admin/analytics")
    expect(page.get_by_role("heading", name="Analytics", exact=True)).to_be_visible()
    expect(page.locator("h1")).to_have_count(1)
    page.get_by_role("radio", name="7 days").click()

    # One bar per day on which anyone wrote (our two days, and others' tests of today).
    bars = _chart(page, "Active users").locator("path.recharts-rectangle")
    expect(bars).to_have_count(_days_with_users(app_database_url))
    assert _days_with_users(app_database_url) >= 2
    expect(_chart(page, "Tool calls").locator("path.recharts-rectangle")).not_to_have_count(0)

    # The member's row: 1 conversation, 6 messages, 1 tool call, 2 requests (one 429),
    # 300 tokens in and 60 out, no cost, no failed turn, 1 rejected action.
    row = page.get_by_role("row").filter(has_text=member_email)
    cells = row.get_by_role("cell")
    expect(cells).to_have_text(["1", "6", "1", "2", "1", "300", "60", "0", "0", "0", "1", "0", "0"])
    base_row = page.get_by_role("row").filter(has_text=BASE)
    expect(base_row.get_by_role("cell").nth(1)).to_have_text("6")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download per user as CSV").click()
    download = download_info.value
    assert download.suggested_filename == "analytics-user-7d.csv"
    saved = tmp_path / "users.csv"
    download.save_as(saved)
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(saved.read_text()))}
    assert rows[member_email]["messages"] == "6"
    assert rows[member_email]["tool_calls"] == "1"
    assert rows[member_email]["rejected"] == "1"
    assert (rows[member_email]["airtable_requests"], rows[member_email]["rate_limited"]) == (
        "2",
        "1",
    )
    assert (rows[member_email]["prompt_tokens"], rows[member_email]["completion_tokens"]) == (
        "300",
        "60",
    )
    assert admin_email not in rows  # no activity in the period, no row

    # The 90 days include the same rows.
    page.get_by_role("radio", name="90 days").click()
    expect(
        page.get_by_role("row").filter(has_text=member_email).get_by_role("cell").nth(1)
    ).to_have_text("6")
