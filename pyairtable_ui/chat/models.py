"""Conversations and their messages, persisted so they survive reloads and restarts."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from pyairtable_ui.core.db import UTCDateTime, json_column, utcnow


class MessageRole(enum.StrEnum):
    """Who a message is from, in the LLM's vocabulary."""

    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class MessageStatus(enum.StrEnum):
    """How a message ended; a tool message's status is its step's status."""

    STREAMING = "streaming"
    RUNNING = "running"
    COMPLETE = "complete"
    STOPPED = "stopped"
    FAILED = "failed"


class Conversation(SQLModel, table=True):
    """A thread of questions and answers about one base."""

    __tablename__ = "conversations"
    __table_args__ = (sa.Index("ix_conversations_user_updated", "user_id", "updated_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    title: str = Field(default="New conversation", max_length=200)
    base_id: str | None = Field(default=None, max_length=32)
    model: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Deleted conversations are hidden, not erased: their actions stay in the audit log.
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    """One message: the user's, the model's (with tool calls), or a tool's result."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # The analytics page reads a period of messages by time (analytics/queries.py).
        sa.Index("ix_messages_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", ondelete="CASCADE")
    role: str = Field(max_length=16)
    content: str = Field(default="", sa_type=sa.Text)
    status: str = Field(default=MessageStatus.COMPLETE.value, max_length=16)
    error: str | None = Field(default=None, sa_type=sa.Text)
    # Assistant messages: the tool calls the model asked for, as the LLM API shapes them.
    tool_calls: list[dict[str, Any]] | None = Field(default=None, sa_column=json_column())
    # Tool messages: which call this answers, with its arguments and timing.
    tool_call_id: str | None = Field(default=None, max_length=80)
    tool_name: str | None = Field(default=None, max_length=80)
    tool_arguments: dict[str, Any] | None = Field(default=None, sa_column=json_column())
    duration_ms: int | None = None
    model: str | None = Field(default=None, max_length=200)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    airtable_calls: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
