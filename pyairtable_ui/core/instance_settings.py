"""Instance settings an admin edits in `/admin` (allowed models, auto-approve...).

A plain key-value table, kept in `core` so any feature can read its own setting
(`instance` the allowed models, `auth` who may register) without importing a
feature above it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, Session, SQLModel

from pyairtable_ui.core.db import UTCDateTime, json_column, utcnow


class InstanceSetting(SQLModel, table=True):
    """One admin-editable setting; environment settings stay the defaults."""

    __tablename__ = "instance_settings"

    key: str = Field(primary_key=True, max_length=80)
    value: Any = Field(default=None, sa_column=json_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


# The keys features read; each is set through its admin-checked service (`instance.service`).
REGISTRATION_KEY = "registration"
AUTO_APPROVE_KEY = "auto_approve"
AIRTABLE_BUDGET_KEY = "airtable_monthly_budget"
AIRTABLE_BUDGET_WARNED_KEY = "airtable_budget_warned_month"
LLM_BUDGET_KEY = "llm_monthly_budget"


def read_setting(session: Session, key: str) -> Any:
    """The stored value of an instance setting, or None when the admin never set it.

    Args:
        session: The database session.
        key: One of the keys above.

    Returns:
        The JSON value as stored.
    """
    row = session.get(InstanceSetting, key)
    return row.value if row is not None else None


def write_setting(session: Session, key: str, value: Any, *, by: int | None) -> None:
    """Store an instance setting (the caller has checked the actor and the value).

    Args:
        session: The database session (flushed; the caller commits).
        key: One of the keys above.
        value: A JSON-ready value.
        by: The admin who changed it (None: the app itself, e.g. a "warned" mark).
    """
    row = session.get(InstanceSetting, key) or InstanceSetting(key=key)
    row.value = value
    row.updated_at = utcnow()
    row.updated_by = by
    session.add(row)
    session.flush()
