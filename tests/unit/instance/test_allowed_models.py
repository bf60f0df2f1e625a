"""The admin's list of allowed models: defaults from the environment, edits by admins only."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from pyairtable_ui.auth.errors import PermissionDeniedError
from pyairtable_ui.auth.models import Role, User
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.instance import service


def _user(session: Session, email: str, role: Role) -> User:
    user = User(email=email, password_hash="x", role=role.value)
    session.add(user)
    session.commit()
    return user


def test_defaults_come_from_the_environment(migrated_engine) -> None:
    with Session(migrated_engine) as session:
        assert service.get_allowed_models(session=session) == get_settings().allowed_models


def test_an_admin_replaces_the_list_and_everyone_sees_it(migrated_engine) -> None:
    with Session(migrated_engine) as session:
        admin = _user(session, "admin@example.com", Role.ADMIN)
        saved = service.set_allowed_models(
            session=session,
            actor=admin,
            models=[" anthropic/claude-sonnet-4-5 ", "", "openai/gpt-4o", "openai/gpt-4o"],
        )
        session.commit()
        assert saved == ["anthropic/claude-sonnet-4-5", "openai/gpt-4o"]
    with Session(migrated_engine) as session:
        assert service.get_allowed_models(session=session) == saved


def test_a_member_cannot_change_the_list(migrated_engine) -> None:
    with Session(migrated_engine) as session:
        member = _user(session, "member@example.com", Role.MEMBER)
        with pytest.raises(PermissionDeniedError):
            service.set_allowed_models(session=session, actor=member, models=["openai/gpt-4o"])
        assert service.get_allowed_models(session=session) == get_settings().allowed_models


@pytest.mark.parametrize(
    ("models", "message"),
    [([], "at least one"), (["   "], "at least one"), (["gpt 4o"], "not a model string")],
)
def test_bad_lists_are_refused_with_a_reason(migrated_engine, models, message) -> None:
    with Session(migrated_engine) as session:
        admin = _user(session, "admin@example.com", Role.ADMIN)
        with pytest.raises(service.InvalidModelListError, match=message):
            service.set_allowed_models(session=session, actor=admin, models=models)
