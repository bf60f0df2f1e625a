"""Actions and their steps: the write-ahead log of every change made to Airtable.

Each step row is written before its Airtable request goes out and updated after,
so a restart midway leaves a true record of what was applied.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from pyairtable_ui.core.db import UTCDateTime, json_column, utcnow


class ActionStatus(enum.StrEnum):
    """The lifecycle of an action (PRODUCT.md §3.5)."""

    PROPOSED = "proposed"
    PREVIEWED = "previewed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    UNDOING = "undoing"
    UNDONE = "undone"


class UndoStatus(enum.StrEnum):
    """Whether and how an action can be undone."""

    NOT_YET = "not_yet"  # not executed yet
    AVAILABLE = "available"
    NOT_POSSIBLE = "not_possible"  # e.g. created tables: the API cannot delete them
    DONE = "done"
    PARTIAL = "partial"


class StepKind(enum.StrEnum):
    """What a step does to Airtable."""

    APPLY = "apply"
    COMPENSATE = "compensate"  # rollback of an applied batch after a failure
    UNDO = "undo"


class StepStatus(enum.StrEnum):
    """Where a step stands; PENDING is written before the request is sent."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class Action(SQLModel, table=True):
    """One change to a base the model proposed, as the user saw and approved it."""

    __tablename__ = "actions"
    __table_args__ = (
        sa.Index("ix_actions_user_created", "user_id", "created_at"),
        sa.Index("ix_actions_conversation", "conversation_id"),
        sa.Index("ix_actions_status", "status"),
        # The analytics page reads a period of actions by time (analytics/queries.py).
        sa.Index("ix_actions_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    conversation_id: int | None = Field(
        default=None, foreign_key="conversations.id", ondelete="SET NULL"
    )
    message_id: int | None = Field(default=None, foreign_key="messages.id", ondelete="SET NULL")
    source: str = Field(default="chat", max_length=16)  # chat, import, schedule
    tool_name: str = Field(max_length=80)
    base_id: str = Field(max_length=32)
    table_id: str | None = Field(default=None, max_length=32)
    table_name: str | None = Field(default=None, max_length=255)
    summary: str = Field(default="", max_length=500)
    arguments: dict[str, Any] = Field(default_factory=dict, sa_column=json_column(nullable=False))
    # The plan: operations the tool wants, before the user narrows it down.
    plan: dict[str, Any] = Field(default_factory=dict, sa_column=json_column(nullable=False))
    # The preview built from a fresh read: old -> new per cell, warnings.
    preview: dict[str, Any] | None = Field(default=None, sa_column=json_column())
    approved_plan: dict[str, Any] | None = Field(default=None, sa_column=json_column())
    approved_plan_hash: str | None = Field(default=None, max_length=64)
    # Rows left unwritten because Airtable changed after the review (`ChangedRows`).
    changed_since_review: dict[str, Any] | None = Field(default=None, sa_column=json_column())
    record_count: int = 0
    needs_typed_confirmation: bool = False
    # Approved by the admin's auto-approve rule rather than a click (`approval.auto_approval`).
    auto_approved: bool = False
    status: str = Field(default=ActionStatus.PROPOSED.value, max_length=16)
    undo_status: str = Field(default=UndoStatus.NOT_YET.value, max_length=16)
    undo_note: str | None = Field(default=None, sa_type=sa.Text)
    error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    undone_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The process running it and until when (renewed while it runs): another process
    # never recovers, resumes or rolls back an action whose lease is still live.
    lease_owner: str | None = Field(default=None, max_length=120)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ActionStep(SQLModel, table=True):
    """One Airtable request of an action (a batch of at most 10 records)."""

    __tablename__ = "action_steps"
    __table_args__ = (sa.UniqueConstraint("action_id", "kind", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    action_id: int = Field(foreign_key="actions.id", index=True, ondelete="CASCADE")
    kind: str = Field(default=StepKind.APPLY.value, max_length=16)
    seq: int
    status: str = Field(default=StepStatus.PENDING.value, max_length=16)
    method: str = Field(max_length=8)
    path: str = Field(max_length=500)
    request_body: dict[str, Any] | None = Field(default=None, sa_column=json_column())
    # Records as they were before this step and as Airtable returned them after.
    before: list[dict[str, Any]] | None = Field(default=None, sa_column=json_column())
    after: list[dict[str, Any]] | None = Field(default=None, sa_column=json_column())
    record_ids: list[str] = Field(default_factory=list, sa_column=json_column(nullable=False))
    error: str | None = Field(default=None, sa_type=sa.Text)
    # Records that may be this step's when Airtable cannot tell whether it was applied:
    # shown to the user, who decides.
    candidates: list[dict[str, Any]] | None = Field(default=None, sa_column=json_column())
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
