"""A scheduled prompt and each of its runs, kept so the owner sees what ran and why it failed."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from pyairtable_ui.core.db import UTCDateTime, utcnow


class ScheduleStatus(enum.StrEnum):
    """Whether the schedule fires."""

    ACTIVE = "active"
    PAUSED = "paused"


class RunStatus(enum.StrEnum):
    """How a run ended (``running`` until it does)."""

    RUNNING = "running"
    ANSWERED = "answered"
    FAILED = "failed"


class Schedule(SQLModel, table=True):
    """A question the agent answers on a recurrence, with its owner's connection.

    The engine (DBOS) keeps the timer under `engine_name`; this row is what the owner
    edits and what a run reads, so a run always uses the newest prompt and settings.
    """

    __tablename__ = "schedules"
    __table_args__ = (sa.Index("ix_schedules_user_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    name: str = Field(max_length=120)
    prompt: str = Field(sa_type=sa.Text)
    base_id: str = Field(max_length=32)
    base_name: str = Field(default="", max_length=200)
    model: str = Field(max_length=200)
    # Cron: 5 fields, or 6 with seconds first where the instance allows it (tests).
    cron: str = Field(max_length=120)
    timezone: str = Field(default="UTC", max_length=64)
    status: str = Field(default=ScheduleStatus.ACTIVE.value, max_length=16)
    # Why it paused itself (3 failures in a row); None when the owner paused it.
    paused_reason: str | None = Field(default=None, sa_type=sa.Text)
    consecutive_failures: int = 0
    email_answer: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def engine_name(self) -> str:
        """The schedule's name in the engine (unique per row)."""
        return f"prompt-{self.id}"


class ScheduleRun(SQLModel, table=True):
    """One firing of a schedule: its conversation, answer or failure."""

    __tablename__ = "schedule_runs"
    __table_args__ = (
        sa.Index("ix_schedule_runs_schedule_started", "schedule_id", "started_at"),
        sa.Index("ix_schedule_runs_user_started", "user_id", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="schedules.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    # The engine's workflow id: one run per tick, whichever process picked it up.
    workflow_id: str = Field(max_length=200, unique=True)
    conversation_id: int | None = Field(
        default=None, foreign_key="conversations.id", ondelete="SET NULL"
    )
    manual: bool = False
    scheduled_for: datetime = Field(sa_type=UTCDateTime)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default=RunStatus.RUNNING.value, max_length=16)
    answer: str = Field(default="", sa_type=sa.Text)
    error: str | None = Field(default=None, sa_type=sa.Text)
    proposed_actions: int = 0
