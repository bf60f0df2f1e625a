"""The admin page's invitations, registration rule, auto-approve rule and budgets."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from pyairtable_ui.auth import flows as auth_flows
from pyairtable_ui.auth.errors import PermissionDeniedError
from pyairtable_ui.auth.limits import make_mail_limiter
from pyairtable_ui.instance import flows
from pyairtable_ui.instance.service import InvalidPolicyError
from tests.unit.instance.test_flows import make_user


def test_without_smtp_an_invitation_link_waits_on_the_admin_page_and_registers_once(
    app_db: Engine,
):
    admin_id = make_user(app_db, "admin@example.com", admin=True)
    said = flows.invite(admin_id=admin_id, email="ana@example.com", role="admin")
    assert "No mail server is set" in said
    [row] = flows.admin_view(admin_id=admin_id).invites
    assert (row["email"], row["role"]) == ("ana@example.com", "admin")
    assert "/auth/register?invite=" in row["link"]

    flows.revoke_invite(admin_id=admin_id, invite_id=row["id"])
    assert flows.admin_view(admin_id=admin_id).invites == []


async def test_registration_with_an_invitation_link_answers_generically(app_db: Engine):
    admin_id = make_user(app_db, "admin@example.com", admin=True)
    flows.set_registration(admin_id=admin_id, mode="invite-only")
    flows.invite(admin_id=admin_id, email="ana@example.com", role="member")
    token = flows.admin_view(admin_id=admin_id).invites[0]["link"].rpartition("invite=")[2]
    limiter = make_mail_limiter(redis_url=None)

    rule = await auth_flows.registration_rule(invite=token)
    assert rule.invite_only and rule.invited_email == "ana@example.com"
    closed = await auth_flows.register(
        email="bo@example.com",
        password="violet tractor morning",
        name="",
        address="1.2.3.4",
        limiter=limiter,
    )
    assert "by invitation only" in closed.error
    done = await auth_flows.register(
        email="ana@example.com",
        password="violet tractor morning",
        name="",
        address="1.2.3.4",
        invite=token,
        limiter=limiter,
    )
    assert done.done_message == auth_flows.INVITED_MESSAGE
    again = await auth_flows.register(
        email="ana@example.com",
        password="violet tractor morning",
        name="",
        address="1.2.3.4",
        invite=token,
        limiter=limiter,
    )
    assert "cannot be used" in again.error
    assert (await auth_flows.registration_rule(invite=token)).invite_error


def test_the_rule_and_the_budgets_are_saved_checked_and_for_admins_only(app_db: Engine):
    admin_id = make_user(app_db, "admin@example.com", admin=True)
    member_id = make_user(app_db, "ana@example.com")
    view = flows.admin_view(admin_id=admin_id)
    assert not view.auto_approve.enabled and view.airtable_budget is None  # off by default

    flows.save_auto_approve(admin_id=admin_id, enabled=True, max_records="3", tables="Tasks, tbl1")
    flows.save_airtable_budget(admin_id=admin_id, plan="team", requests="")
    flows.save_llm_budget(admin_id=admin_id, instance_usd="$50", per_user_usd="7.5")
    view = flows.admin_view(admin_id=admin_id)
    assert view.auto_approve.enabled and view.auto_approve.tables == ("Tasks", "tbl1")
    assert view.auto_approve.covers_table(None, "tasks")
    assert (view.airtable_plan, view.airtable_budget) == ("team", 100_000)
    assert (view.llm_budget.instance_usd, view.llm_budget.per_user_usd) == (50.0, 7.5)
    flows.save_airtable_budget(admin_id=admin_id, plan="custom", requests="2,500")
    assert flows.admin_view(admin_id=admin_id).airtable_budget == 2_500

    for bad in (
        lambda: flows.save_auto_approve(
            admin_id=admin_id, enabled=True, max_records="0", tables="T"
        ),
        lambda: flows.save_auto_approve(
            admin_id=admin_id, enabled=True, max_records="2", tables=""
        ),
        lambda: flows.save_airtable_budget(admin_id=admin_id, plan="custom", requests="lots"),
        lambda: flows.save_llm_budget(admin_id=admin_id, instance_usd="-3", per_user_usd=""),
    ):
        with pytest.raises(InvalidPolicyError):
            bad()
    for forbidden in (
        lambda: flows.save_auto_approve(
            admin_id=member_id, enabled=False, max_records="1", tables=""
        ),
        lambda: flows.save_airtable_budget(admin_id=member_id, plan="free", requests=""),
        lambda: flows.save_llm_budget(admin_id=member_id, instance_usd="", per_user_usd=""),
        lambda: flows.invite(admin_id=member_id, email="x@example.com", role="admin"),
        lambda: flows.set_registration(admin_id=member_id, mode="open"),
    ):
        with pytest.raises(PermissionDeniedError):
            forbidden()


async def test_the_register_page_says_the_first_account_is_the_admin_then_invitations(
    app_db: Engine, monkeypatch: pytest.MonkeyPatch
):
    from pyairtable_ui.core.settings import get_settings

    monkeypatch.setenv("REGISTRATION", "first-then-invite")
    get_settings.cache_clear()
    fresh = await auth_flows.registration_rule(invite=None)
    assert not fresh.invite_only
    assert "first account, which will be its admin" in fresh.notice
    assert "by invitation only" in fresh.notice
    make_user(app_db, "admin@example.com", admin=True)
    later = await auth_flows.registration_rule(invite="no-such-invitation")
    assert later.invite_only and "by invitation only" in later.notice
    assert later.invite_error and later.invited_email == ""
