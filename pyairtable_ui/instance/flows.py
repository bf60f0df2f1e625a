"""What the admin page awaits: the instance's accounts, pending links and allowed models.

Every flow checks on its own that the acting user is an active admin (the services
refuse anyone else); after a change the page reads `admin_view` again. Blocking
(database): call through a thread from handlers. No Reflex.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

from sqlmodel import Session

from pyairtable_ui.auth import service
from pyairtable_ui.auth.models import Role, User
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
    """

    users: list[UserRow]
    pending_links: list[PendingLinkRow]
    models: list[str]


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
    return AdminView(
        users=rows, pending_links=links, models=instance_service.get_allowed_models(session=db)
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
