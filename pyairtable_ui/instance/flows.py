"""What the admin page awaits: accounts, pending links, models, invitations, the
auto-approve rule and the budgets.

Every flow checks on its own that the acting user is an active admin (the services
refuse anyone else); after a change the page reads `admin_view` again. Blocking
(database): call through a thread from handlers. No Reflex.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict

from sqlmodel import Session

from pyairtable_ui.auth import invites, service
from pyairtable_ui.auth.models import Role, User
from pyairtable_ui.auth.notifications import send_invite
from pyairtable_ui.core.db import session_scope
from pyairtable_ui.instance import service as instance_service

LINK_KINDS = {"verify_email": "Email verification", "reset_password": "Password reset"}


class UserRow(TypedDict):
    """An account as the admin table shows it."""

    id: int
    email: str
    name: str
    role: str
    active: bool
    verified: bool
    created: str


class InviteRow(TypedDict):
    """A pending invitation as /admin lists it (`link` only when no email carried it)."""

    id: int
    email: str
    role: str
    expires: str
    link: str


class PendingLinkRow(TypedDict):
    """A link no email could carry, as the admin list shows it."""

    email: str
    kind: str
    link: str
    expires: str


@dataclass(frozen=True)
class AdminView:
    """What the admin page shows.

    Attributes:
        users: Every account, oldest first.
        pending_links: Live verification and reset links (secrets: admins only).
        models: The models the picker offers, the default first.
        registration: "open" or "invite-only", as it applies now.
        invites: Pending invitations, newest first.
        auto_approve: The auto-approve rule as saved.
        airtable_plan: The budget's plan ("none", "free", "team", "business", "custom").
        airtable_budget: The budget in requests per month (None: none).
        llm_budget: The monthly LLM spend limits.
    """

    users: list[UserRow]
    pending_links: list[PendingLinkRow]
    models: list[str]
    registration: str = "open"
    invites: list[InviteRow] = field(default_factory=list)
    auto_approve: instance_service.AutoApprovePolicy = field(
        default_factory=instance_service.AutoApprovePolicy
    )
    airtable_plan: str = "none"
    airtable_budget: int | None = None
    llm_budget: instance_service.LLMBudget = field(default_factory=instance_service.LLMBudget)


def _actor(db: Session, admin_id: int) -> User:
    return service.require_admin(db.get(User, admin_id))


def _view(db: Session, actor: User) -> AdminView:
    links = [
        PendingLinkRow(
            email=pending.email,
            kind=LINK_KINDS.get(pending.purpose, pending.purpose),
            link=pending.link,
            expires=pending.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
        for pending in service.list_pending_links(session=db, actor=actor)
    ]
    rows = [
        UserRow(
            id=u.id or 0,
            email=u.email,
            name=u.display_name,
            role=u.role,
            active=u.is_active,
            verified=u.email_verified_at is not None,
            created=u.created_at.strftime("%Y-%m-%d"),
        )
        for u in service.list_users(session=db, actor=actor)
    ]
    invite_rows = [
        InviteRow(
            id=invite.id,
            email=invite.email,
            role=invite.role,
            expires=invite.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
            link=invite.link,
        )
        for invite in service.list_invites(session=db, actor=actor)
    ]
    plan, budget = instance_service.get_airtable_budget(session=db)
    return AdminView(
        users=rows,
        pending_links=links,
        models=instance_service.get_allowed_models(session=db),
        registration=invites.registration_mode(db),
        invites=invite_rows,
        auto_approve=instance_service.get_auto_approve_policy(session=db),
        airtable_plan=plan,
        airtable_budget=budget,
        llm_budget=instance_service.get_llm_budget(session=db),
    )


def admin_view(*, admin_id: int) -> AdminView:
    """The accounts, pending links and models, for an admin.

    Args:
        admin_id: The signed-in user; must be an active admin.

    Returns:
        The page's contents.

    Raises:
        PermissionDeniedError: Not an active admin.
    """
    with session_scope() as db:
        return _view(db, _actor(db, admin_id))


def _change(admin_id: int, change: Callable[[Session, User], object]) -> None:
    with session_scope() as db:
        change(db, _actor(db, admin_id))


def set_role(*, admin_id: int, user_id: int, role: str) -> None:
    """Make someone an admin or a member (the last admin stays admin).

    Args:
        admin_id: The signed-in admin.
        user_id: The account to change.
        role: The new role ("admin" or "member").

    Raises:
        AuthError: Not an admin, no such account, or the last admin.
        ValueError: Not a role.
    """
    _change(
        admin_id,
        lambda db, actor: service.set_role(
            session=db, actor=actor, user_id=user_id, role=Role(role)
        ),
    )


def set_active(*, admin_id: int, user_id: int, active: bool) -> None:
    """Disable (signs them out everywhere) or enable an account.

    Args:
        admin_id: The signed-in admin.
        user_id: The account to change.
        active: False to disable, True to enable.

    Raises:
        AuthError: Not an admin, no such account, or the last admin.
    """
    _change(
        admin_id,
        lambda db, actor: service.set_active(
            session=db, actor=actor, user_id=user_id, active=active
        ),
    )


def save_models(*, admin_id: int, models: list[str]) -> None:
    """Save the models the picker offers, the default first.

    Args:
        admin_id: The signed-in admin.
        models: Model strings as typed, one per line.

    Raises:
        PermissionDeniedError: Not an admin.
        InvalidModelListError: Empty, too many, or a malformed model string.
    """
    _change(
        admin_id,
        lambda db, actor: instance_service.set_allowed_models(
            session=db, actor=actor, models=models
        ),
    )


def models_to_test(*, admin_id: int) -> list[str]:
    """The models the picker offers, for "Test model" (admins only: it spends tokens).

    Args:
        admin_id: The signed-in user; must be an active admin.

    Returns:
        The allowed models, the default first.

    Raises:
        PermissionDeniedError: Not an active admin.
    """
    with session_scope() as db:
        _actor(db, admin_id)
        return instance_service.get_allowed_models(session=db)


# --- invitations and the registration rule ----------------------------------------------


def invite(*, admin_id: int, email: str, role: str) -> str:
    """Invite an address with a role: the link is emailed, or listed on /admin without SMTP.

    Args:
        admin_id: The signed-in admin.
        email: The address as typed.
        role: "member" or "admin".

    Returns:
        What the page says happened.

    Raises:
        AuthError: Not an admin, not an address, or it already has an account.
        EmailDeliveryError: SMTP is set but refused the message (nothing was created).
        ValueError: Not a role.
    """
    emailed = send_invite(admin_id=admin_id, email=email, role=Role(role))
    if emailed:
        return f"Invitation sent to {email.strip()}."
    return (
        f"Invitation for {email.strip()} created. No mail server is set: copy its link "
        "from Invitations below and pass it on privately."
    )


def revoke_invite(*, admin_id: int, invite_id: int) -> None:
    """Revoke a pending invitation: its link is refused from now on.

    Raises:
        PermissionDeniedError: Not an admin.
    """
    _change(
        admin_id,
        lambda db, actor: service.revoke_invite(session=db, actor=actor, invite_id=invite_id),
    )


def set_registration(*, admin_id: int, mode: str) -> None:
    """Make registration open to anyone, or by invitation only.

    Raises:
        AuthError: Not an admin, or not a mode.
    """
    _change(
        admin_id, lambda db, actor: service.set_registration(session=db, actor=actor, mode=mode)
    )


# --- the auto-approve rule and the budgets -------------------------------------------------


def save_auto_approve(*, admin_id: int, enabled: bool, max_records: str, tables: str) -> None:
    """Save the auto-approve rule from the form (tables one per line or comma-separated).

    Raises:
        PermissionDeniedError: Not an admin.
        InvalidPolicyError: A bad count, or on without tables.
    """
    try:
        count = int(max_records.strip() or "0")
    except ValueError:
        count = 0
    names = [t for line in tables.splitlines() for t in line.split(",")]
    _change(
        admin_id,
        lambda db, actor: instance_service.set_auto_approve_policy(
            session=db, actor=actor, enabled=enabled, max_records=count, tables=names
        ),
    )


def save_airtable_budget(*, admin_id: int, plan: str, requests: str) -> None:
    """Save the monthly Airtable request budget from a plan or a number.

    Raises:
        PermissionDeniedError: Not an admin.
        InvalidPolicyError: Unknown plan or a bad number.
    """
    _change(
        admin_id,
        lambda db, actor: instance_service.set_airtable_budget(
            session=db, actor=actor, plan=plan, requests=requests
        ),
    )


def save_llm_budget(*, admin_id: int, instance_usd: str, per_user_usd: str) -> None:
    """Save the monthly LLM spend limits (empty: none).

    Raises:
        PermissionDeniedError: Not an admin.
        InvalidPolicyError: Not an amount.
    """
    _change(
        admin_id,
        lambda db, actor: instance_service.set_llm_budget(
            session=db, actor=actor, instance_usd=instance_usd, per_user_usd=per_user_usd
        ),
    )
