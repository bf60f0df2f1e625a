"""Instance settings an admin edits in `/admin` (allowed models, auto-approve...).

A plain key-value table, kept in `core` so any feature can read its own setting
(`instance` the allowed models, `auth` who may register) without importing a
feature above it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from pyairtable_ui.core.db import UTCDateTime, json_column, utcnow


class InstanceSetting(SQLModel, table=True):
    """One admin-editable setting; environment settings stay the defaults."""

    __tablename__ = "instance_settings"

    key: str = Field(primary_key=True, max_length=80)
    value: Any = Field(default=None, sa_column=json_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
