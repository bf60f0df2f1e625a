"""Invitations and the registration rule: who may register, with which role, once.

Each test runs on SQLite and on PostgreSQL (see conftest `auth_engine`).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from pyairtable_ui.auth import invites, service
from pyairtable_ui.auth.errors import (
    InvalidInviteError,
    InviteForAnotherEmailError,
    InviteUnusableError,
    PermissionDeniedError,
    RegistrationClosedError,
)
from pyairtable_ui.auth.models import Invite, Role, User
from pyairtable_ui.auth.sessions import hash_token
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.settings import get_settings

PASSWORD = "violet tractor morning"


def register(db: Session, email: str, invite: str | None = None) -> User:
    user = service.register_user(session=db, email=email, password=PASSWORD, invite_token=invite)
    db.commit()
    return user


@pytest.fixture
def default_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """The instance's own default: open for the first account, then by invitation."""
    monkeypatch.setenv("REGISTRATION", "first-then-invite")
    get_settings.cache_clear()


def test_a_new_instance_is_open_for_its_first_account_then_invite_only(
    db: Session, default_rule: None
):
    assert invites.registration_mode(db) == "open"
    admin = register(db, "admin@example.com")
    assert admin.is_admin
    assert invites.registration_mode(db) == "invite-only"
    with pytest.raises(RegistrationClosedError):
        register(db, "ana@example.com")
    db.rollback()
    assert db.exec(select(User).where(User.email == "ana@example.com")).first() is None


def test_an_admin_opens_registration_and_closes_it_again(db: Session, default_rule: None):
    admin = register(db, "admin@example.com")
    service.set_registration(session=db, actor=admin, mode="open")
    db.commit()
    register(db, "ana@example.com")
    service.set_registration(session=db, actor=admin, mode="invite-only")
    db.commit()
    with pytest.raises(RegistrationClosedError):
        register(db, "bo@example.com")


def test_the_invitation_registers_only_its_address_with_its_role_once(
    db: Session, default_rule: None
):
    admin = register(db, "admin@example.com")
    _, token = service.create_invite(
        session=db, actor=admin, email=" Ana@Example.com ", role=Role.ADMIN
    )
    db.commit()
    stored = db.exec(select(Invite)).one()
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    with pytest.raises(InviteForAnotherEmailError):
        register(db, "eve@example.com", invite=token)
    db.rollback()
    ana = register(db, "ana@example.com", invite=token)
    assert ana.role == Role.ADMIN and ana.email_verified_at is not None
    with pytest.raises(InviteUnusableError):
        register(db, "ana2@example.com", invite=token)


def test_revoked_and_expired_invitations_are_refused_alike(db: Session, default_rule: None):
    admin = register(db, "admin@example.com")
    invite, token = service.create_invite(
        session=db, actor=admin, email="ana@example.com", role=Role.MEMBER
    )
    db.commit()
    assert [p.email for p in service.list_invites(session=db, actor=admin)] == ["ana@example.com"]
    assert service.revoke_invite(session=db, actor=admin, invite_id=invite.id or 0)
    db.commit()
    assert service.list_invites(session=db, actor=admin) == []
    with pytest.raises(InviteUnusableError) as revoked:
        register(db, "ana@example.com", invite=token)
    db.rollback()

    late, late_token = service.create_invite(
        session=db, actor=admin, email="bo@example.com", role=Role.MEMBER
    )
    late.expires_at = utcnow() - timedelta(seconds=1)
    db.add(late)
    db.commit()
    with pytest.raises(InviteUnusableError) as expired:
        register(db, "bo@example.com", invite=late_token)
    assert revoked.value.message == expired.value.message  # nothing to tell them apart


def test_a_new_invitation_replaces_the_pending_one_for_that_address(db: Session):
    admin = register(db, "admin@example.com")
    _, first = service.create_invite(
        session=db, actor=admin, email="ana@example.com", role="member"
    )
    _, second = service.create_invite(
        session=db, actor=admin, email="ana@example.com", role="member"
    )
    db.commit()
    assert len(service.list_invites(session=db, actor=admin)) == 1
    with pytest.raises(InviteUnusableError):
        register(db, "ana@example.com", invite=first)
    db.rollback()
    register(db, "ana@example.com", invite=second)


def test_only_admins_invite_revoke_list_or_change_the_rule(db: Session):
    admin = register(db, "admin@example.com")
    member = register(db, "ana@example.com")
    with pytest.raises(PermissionDeniedError):
        service.create_invite(session=db, actor=member, email="x@example.com", role=Role.ADMIN)
    with pytest.raises(PermissionDeniedError):
        service.list_invites(session=db, actor=member)
    with pytest.raises(PermissionDeniedError):
        service.revoke_invite(session=db, actor=member, invite_id=1)
    with pytest.raises(PermissionDeniedError):
        service.set_registration(session=db, actor=member, mode="open")
    with pytest.raises(InvalidInviteError):
        service.create_invite(session=db, actor=admin, email="ana@example.com", role=Role.MEMBER)
    with pytest.raises(InvalidInviteError):
        service.set_registration(session=db, actor=admin, mode="sometimes")


def test_require_admin_refuses_missing_disabled_and_member_accounts(db: Session):
    admin = register(db, "admin@example.com")
    member = register(db, "ana@example.com")
    assert service.require_admin(admin) is admin
    for actor in (None, member):
        with pytest.raises(PermissionDeniedError):
            service.require_admin(actor)
    admin.is_active = False
    with pytest.raises(PermissionDeniedError):
        service.require_admin(admin)
