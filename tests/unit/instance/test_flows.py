"""The admin page's flows: accounts, pending links and models, for active admins only."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pyairtable_ui.auth import service
from pyairtable_ui.auth.errors import LastAdminError, PermissionDeniedError
from pyairtable_ui.auth.models import Role, User
from pyairtable_ui.auth.notifications import send_verification
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.instance import flows
from pyairtable_ui.instance.service import InvalidModelListError

PASSWORD = "violet tractor morning"


def make_user(app_db: Engine, email: str, *, admin: bool = False, verified: bool = True) -> int:
    with Session(app_db) as db:
        user = service.register_user(session=db, email=email, password=PASSWORD)
        user.role = Role.ADMIN.value if admin else Role.MEMBER.value
        user.email_verified_at = utcnow() if verified else None
        db.add(user)
        db.commit()
        assert user.id is not None
        return user.id


def read_user(app_db: Engine, user_id: int) -> User:
    with Session(app_db) as db:
        user = db.get(User, user_id)
        assert user is not None
        return user


def test_an_admin_sees_every_account_the_pending_links_and_the_models(app_db: Engine):
    admin_id = make_user(app_db, "admin@example.com", admin=True)
    ana_id = make_user(app_db, "ana@example.com", verified=False)
    send_verification(user_id=ana_id)  # no SMTP_HOST: the link waits for an admin

    view = flows.admin_view(admin_id=admin_id)

    assert [(u["email"], u["role"], u["active"], u["verified"]) for u in view.users] == [
        ("admin@example.com", "admin", True, True),
        ("ana@example.com", "member", True, False),
    ]
    assert [(link["email"], link["kind"]) for link in view.pending_links] == [
        ("ana@example.com", "Email verification")
    ]
    assert "/auth/verify?token=" in view.pending_links[0]["link"]
    assert view.models == get_settings().allowed_models


def test_a_member_sees_nothing(app_db: Engine):
    member_id = make_user(app_db, "ana@example.com")
    with pytest.raises(PermissionDeniedError):
        flows.admin_view(admin_id=member_id)
    with pytest.raises(PermissionDeniedError):
        flows.save_models(admin_id=member_id, models=["openai/gpt-4o"])


def test_roles_and_accounts_change_but_the_last_admin_stays(app_db: Engine):
    admin_id = make_user(app_db, "admin@example.com", admin=True)
    ana_id = make_user(app_db, "ana@example.com")

    flows.set_role(admin_id=admin_id, user_id=ana_id, role="admin")
    assert read_user(app_db, ana_id).role == Role.ADMIN
    flows.set_role(admin_id=admin_id, user_id=ana_id, role="member")
    with pytest.raises(LastAdminError):
        flows.set_role(admin_id=admin_id, user_id=admin_id, role="member")

    flows.set_active(admin_id=admin_id, user_id=ana_id, active=False)
    assert not read_user(app_db, ana_id).is_active
    flows.set_active(admin_id=admin_id, user_id=ana_id, active=True)
    assert read_user(app_db, ana_id).is_active


def test_the_models_are_saved_one_per_line_the_default_first(app_db: Engine):
    admin_id = make_user(app_db, "admin@example.com", admin=True)
    flows.save_models(admin_id=admin_id, models=["anthropic/claude-sonnet-4-5", "", "openai/x"])
    assert flows.admin_view(admin_id=admin_id).models == ["anthropic/claude-sonnet-4-5", "openai/x"]
    with pytest.raises(InvalidModelListError):
        flows.save_models(admin_id=admin_id, models=["not a model"])


def test_test_model_is_for_active_admins_and_tries_the_allowed_models(app_db: Engine):
    admin_id = make_user(app_db, "admin@example.com", admin=True)
    member_id = make_user(app_db, "ana@example.com")
    flows.save_models(admin_id=admin_id, models=["openai/scripted", "openai/scripted-large"])

    assert flows.models_to_test(admin_id=admin_id) == ["openai/scripted", "openai/scripted-large"]
    with pytest.raises(PermissionDeniedError):
        flows.models_to_test(admin_id=member_id)
