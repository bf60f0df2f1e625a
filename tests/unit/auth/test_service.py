"""Accounts: registration, sign-in, verification, reset, password change, profile, admin.

Each test runs on SQLite and on PostgreSQL (see conftest `auth_engine`).
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pyairtable_ui.auth import service
from pyairtable_ui.auth.errors import (
    EmailTakenError,
    InvalidCredentialsError,
    InvalidEmailError,
    InvalidProfileError,
    LastAdminError,
    PermissionDeniedError,
    TokenExpiredError,
    TokenInvalidError,
    TokenUsedError,
    UserNotFoundError,
    WeakPasswordError,
    WrongPasswordError,
)
from pyairtable_ui.auth.models import AuthToken, OnboardingStep, Role, User
from pyairtable_ui.auth.sessions import (
    create_session,
    get_session_by_token,
    hash_token,
    list_sessions,
)
from pyairtable_ui.core.db import utcnow
from tests.unit.auth.threads import run_together

PASSWORD = "violet tractor morning"
NEW_PASSWORD = "amber kettle harbour"


def uid(user: User) -> int:
    assert user.id is not None
    return user.id


def register(db: Session, email: str, password: str = PASSWORD) -> User:
    user = service.register_user(session=db, email=email, password=password)
    db.commit()
    return user


# --- registration -------------------------------------------------------------------


def test_first_account_is_admin_and_the_next_are_members(db: Session):
    first = register(db, "Ana@Example.com")
    second = register(db, "ben@example.com")
    assert first.role == Role.ADMIN and first.is_admin
    assert second.role == Role.MEMBER and not second.is_admin
    assert first.email == "ana@example.com"
    assert first.display_name == "ana"
    assert first.email_verified_at is None
    assert first.onboarding_step == OnboardingStep.CONNECT


def test_password_is_stored_only_as_argon2id_hash(db: Session):
    user = register(db, "ana@example.com")
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_duplicate_email_is_refused_whatever_the_case(db: Session):
    register(db, "ana@example.com")
    with pytest.raises(EmailTakenError) as caught:
        service.register_user(session=db, email=" ANA@example.com", password=PASSWORD)
    assert "already exists" in caught.value.message
    db.rollback()
    assert len(db.exec(select(User)).all()) == 1


def test_registration_checks_email_and_password(db: Session):
    with pytest.raises(InvalidEmailError):
        service.register_user(session=db, email="ana.example.com", password=PASSWORD)
    with pytest.raises(WeakPasswordError) as caught:
        service.register_user(session=db, email="ana@example.com", password="ana@example.com")
    assert "Do not use your email address as your password." in caught.value.problems
    assert db.exec(select(User)).all() == []


def test_two_simultaneous_first_registrations_make_one_admin(clean_engine: Engine):
    def linger_after_insert(*_args: object) -> None:
        # Widen the race: without a guard both inserts are in flight before either counts.
        time.sleep(0.3)

    def sign_up(email: str) -> str:
        with Session(clean_engine, expire_on_commit=False) as session:
            user = service.register_user(session=session, email=email, password=PASSWORD)
            session.commit()
            return user.role

    sa.event.listen(User, "after_insert", linger_after_insert)
    try:
        roles = run_together(sign_up, [("ana@example.com",), ("ben@example.com",)])
    finally:
        sa.event.remove(User, "after_insert", linger_after_insert)
    assert all(isinstance(role, str) for role in roles), roles  # no registration failed
    assert sorted(roles) == [Role.ADMIN.value, Role.MEMBER.value]


# --- sign-in ------------------------------------------------------------------------


def test_authenticate_with_right_password_in_any_case_of_email(db: Session):
    user = register(db, "ana@example.com")
    signed_in = service.authenticate(session=db, email="  ANA@example.COM", password=PASSWORD)
    assert signed_in.id == user.id


@pytest.mark.parametrize("case", ["unknown email", "wrong password", "disabled", "malformed"])
def test_every_sign_in_failure_says_the_same(db: Session, case: str):
    admin = register(db, "admin@example.com")
    member = register(db, "ana@example.com")
    email, password = "ana@example.com", PASSWORD
    if case == "unknown email":
        email = "nobody@example.com"
    elif case == "wrong password":
        password = PASSWORD + "!"
    elif case == "disabled":
        service.set_active(session=db, actor=admin, user_id=uid(member), active=False)
        db.commit()
    else:
        email = "not an email"
    with pytest.raises(InvalidCredentialsError) as caught:
        service.authenticate(session=db, email=email, password=password)
    assert caught.value.message == "Email or password is incorrect."


def test_unknown_email_still_costs_one_hash_verification(
    db: Session, monkeypatch: pytest.MonkeyPatch, fast_hasher: PasswordHasher
):
    register(db, "ana@example.com")
    calls: list[str] = []
    original = PasswordHasher.verify

    def counting_verify(self: PasswordHasher, password_hash: str, password: str) -> bool:
        calls.append(password_hash[:9])
        return original(self, password_hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    for email in ("nobody@example.com", "ana@example.com"):
        with pytest.raises(InvalidCredentialsError):
            service.authenticate(session=db, email=email, password="wrong password!")
    assert calls == ["$argon2id", "$argon2id"]


def test_outdated_hash_is_upgraded_at_sign_in(db: Session):
    user = register(db, "ana@example.com")
    old_hash = user.password_hash
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    service.authenticate(session=db, email="ana@example.com", password=PASSWORD, hasher=stronger)
    db.commit()
    db.refresh(user)
    assert user.password_hash != old_hash
    assert user.password_hash is not None and ",t=2," in user.password_hash
    assert service.authenticate(
        session=db, email="ana@example.com", password=PASSWORD, hasher=stronger
    )


# --- email verification -------------------------------------------------------------


def test_verification_link_verifies_once(db: Session):
    user = register(db, "ana@example.com")
    token = service.start_email_verification(session=db, user=user)
    db.commit()
    verified = service.verify_email(session=db, token=token)
    db.commit()
    assert verified.email_verified_at is not None
    with pytest.raises(TokenUsedError) as caught:
        service.verify_email(session=db, token=token)
    assert "already used" in caught.value.message


def test_verification_with_a_made_up_token_is_invalid(db: Session):
    register(db, "ana@example.com")
    with pytest.raises(TokenInvalidError):
        service.verify_email(session=db, token="made-up-token")
    with pytest.raises(TokenInvalidError):
        service.verify_email(session=db, token=None)


# --- password reset -----------------------------------------------------------------


def test_reset_sets_new_password_and_signs_out_everywhere(db: Session):
    user = register(db, "ana@example.com")
    raw_session, _ = create_session(session=db, user=user)
    token = service.request_password_reset(session=db, email="Ana@example.com")
    db.commit()
    assert token is not None

    service.reset_password(session=db, token=token, new_password=NEW_PASSWORD)
    db.commit()

    assert get_session_by_token(session=db, token=raw_session) is None
    assert user.email_verified_at is not None  # the link proved the mailbox
    with pytest.raises(InvalidCredentialsError):
        service.authenticate(session=db, email="ana@example.com", password=PASSWORD)
    assert service.authenticate(session=db, email="ana@example.com", password=NEW_PASSWORD)


def test_reset_link_cannot_be_reused(db: Session):
    register(db, "ana@example.com")
    token = service.request_password_reset(session=db, email="ana@example.com")
    service.reset_password(session=db, token=token, new_password=NEW_PASSWORD)
    db.commit()
    with pytest.raises(TokenUsedError) as caught:
        service.reset_password(session=db, token=token, new_password="another fine password")
    assert caught.value.message.startswith("This password reset link was already used.")


def test_expired_reset_link_says_so(db: Session):
    register(db, "ana@example.com")
    token = service.request_password_reset(session=db, email="ana@example.com")
    assert token is not None
    row = db.exec(select(AuthToken).where(AuthToken.token_hash == hash_token(token))).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()
    with pytest.raises(TokenExpiredError) as caught:
        service.reset_password(session=db, token=token, new_password=NEW_PASSWORD)
    assert caught.value.message.startswith("This password reset link has expired")


def test_weak_new_password_keeps_the_link_usable(db: Session):
    register(db, "ana@example.com")
    token = service.request_password_reset(session=db, email="ana@example.com")
    db.commit()
    with pytest.raises(WeakPasswordError):
        service.reset_password(session=db, token=token, new_password="short")
    db.rollback()
    service.reset_password(session=db, token=token, new_password=NEW_PASSWORD)


def test_reset_for_unknown_or_disabled_account_gives_no_token(db: Session):
    admin = register(db, "admin@example.com")
    member = register(db, "ana@example.com")
    service.set_active(session=db, actor=admin, user_id=uid(member), active=False)
    assert service.request_password_reset(session=db, email="nobody@example.com") is None
    assert service.request_password_reset(session=db, email="not an email") is None
    assert service.request_password_reset(session=db, email="ana@example.com") is None


def test_a_reset_retires_the_other_reset_links(db: Session):
    register(db, "ana@example.com")
    first = service.request_password_reset(session=db, email="ana@example.com")
    second = service.request_password_reset(session=db, email="ana@example.com")
    service.reset_password(session=db, token=second, new_password=NEW_PASSWORD)
    db.commit()
    with pytest.raises(TokenUsedError):
        service.reset_password(session=db, token=first, new_password="another fine password")


# --- password change ----------------------------------------------------------------


def test_change_password_keeps_this_browser_and_signs_out_others(db: Session):
    user = register(db, "ana@example.com")
    here_raw, here = create_session(session=db, user=user, user_agent="this laptop")
    there_raw, _ = create_session(session=db, user=user, user_agent="old phone")
    db.commit()

    service.change_password(
        session=db,
        user=user,
        current_password=PASSWORD,
        new_password=NEW_PASSWORD,
        keep_session_id=here.id,
    )
    db.commit()

    assert get_session_by_token(session=db, token=here_raw) is not None
    assert get_session_by_token(session=db, token=there_raw) is None
    assert service.authenticate(session=db, email="ana@example.com", password=NEW_PASSWORD)


def test_change_password_needs_the_current_one(db: Session):
    user = register(db, "ana@example.com")
    with pytest.raises(WrongPasswordError) as caught:
        service.change_password(
            session=db, user=user, current_password="not my password", new_password=NEW_PASSWORD
        )
    assert caught.value.message == "Your current password is not correct."
    with pytest.raises(WeakPasswordError) as weak:
        service.change_password(
            session=db, user=user, current_password=PASSWORD, new_password=PASSWORD
        )
    assert weak.value.problems == ["Choose a password different from your current one."]


# --- profile ------------------------------------------------------------------------


def test_profile_onboarding_and_defaults_are_saved(db: Session):
    user = register(db, "ana@example.com")
    service.update_profile(session=db, user=user, display_name="  Ana   López ")
    service.set_onboarding_step(session=db, user=user, step=OnboardingStep.CHOOSE_BASE)
    service.set_default_base(session=db, user=user, base_id="appAbCdEfGhIjKlMn")
    service.set_default_model(
        session=db, user=user, model="openai/gpt-4o", allowed_models=["openai/gpt-4o"]
    )
    db.commit()
    db.expire_all()

    again = db.get(User, uid(user))
    assert again is not None
    assert again.display_name == "Ana López"
    assert again.onboarding_step == OnboardingStep.CHOOSE_BASE
    assert again.default_base_id == "appAbCdEfGhIjKlMn"
    assert again.default_model == "openai/gpt-4o"


def test_profile_refuses_bad_values(db: Session):
    user = register(db, "ana@example.com")
    with pytest.raises(InvalidProfileError):
        service.update_profile(session=db, user=user, display_name="   ")
    with pytest.raises(InvalidProfileError):
        service.update_profile(session=db, user=user, display_name="x" * 121)
    with pytest.raises(InvalidProfileError):
        service.set_default_base(session=db, user=user, base_id="tblAbCdEfGhIjKlMn")
    with pytest.raises(InvalidProfileError) as caught:
        service.set_default_model(
            session=db, user=user, model="secret/model", allowed_models=["openai/gpt-4o"]
        )
    assert "not available" in caught.value.message


# --- admin --------------------------------------------------------------------------


def test_admin_lists_users_and_changes_roles(db: Session):
    admin = register(db, "admin@example.com")
    member = register(db, "ana@example.com")
    assert [u.email for u in service.list_users(session=db, actor=admin)] == [
        "admin@example.com",
        "ana@example.com",
    ]
    service.set_role(session=db, actor=admin, user_id=uid(member), role=Role.ADMIN)
    db.commit()
    assert member.is_admin
    # With a second admin, the first may step down.
    service.set_role(session=db, actor=admin, user_id=uid(admin), role=Role.MEMBER)
    assert not admin.is_admin


def test_members_cannot_use_admin_helpers(db: Session):
    register(db, "admin@example.com")
    member = register(db, "ana@example.com")
    with pytest.raises(PermissionDeniedError):
        service.list_users(session=db, actor=member)
    with pytest.raises(PermissionDeniedError):
        service.set_role(session=db, actor=member, user_id=uid(member), role=Role.ADMIN)
    with pytest.raises(PermissionDeniedError):
        service.set_active(session=db, actor=member, user_id=uid(member), active=False)


def test_the_last_admin_cannot_be_demoted_or_disabled(db: Session):
    admin = register(db, "admin@example.com")
    with pytest.raises(LastAdminError):
        service.set_role(session=db, actor=admin, user_id=uid(admin), role=Role.MEMBER)
    with pytest.raises(LastAdminError):
        service.set_active(session=db, actor=admin, user_id=uid(admin), active=False)
    with pytest.raises(UserNotFoundError):
        service.set_active(session=db, actor=admin, user_id=9999, active=False)


def test_disabling_signs_out_and_enabling_lets_back_in(db: Session):
    admin = register(db, "admin@example.com")
    member = register(db, "ana@example.com")
    raw, _ = create_session(session=db, user=member)
    db.commit()

    service.set_active(session=db, actor=admin, user_id=uid(member), active=False)
    db.commit()
    assert get_session_by_token(session=db, token=raw) is None
    assert list_sessions(session=db, user=member) == []

    service.set_active(session=db, actor=admin, user_id=uid(member), active=True)
    db.commit()
    assert service.authenticate(session=db, email="ana@example.com", password=PASSWORD)
    # The old session stays revoked: re-enabling does not resurrect cookies.
    assert get_session_by_token(session=db, token=raw) is None
