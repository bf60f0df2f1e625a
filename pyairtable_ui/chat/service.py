"""Conversations and messages: create, list, rename, delete, and the history the model sees.

Plain keyword-only functions over a SQLModel `Session`; no Reflex. They flush but
do not commit: the caller's `session_scope()` commits. Every function is scoped by
`user_id`: another user's conversation, or a deleted one, is "not found".
`TurnRecorder` writes a running turn's agent events as rows, one short
transaction per event.

Two tabs of one user on one conversation: each turn appends its own rows, each in
its own short transaction, and only ever updates rows by their own id, so nothing
written by one tab is overwritten by the other. Rows of two concurrent turns may
interleave by id; `history_for_llm` reads only committed rows and pairs every tool
result with its assistant message by tool-call id rather than by position, so an
interleaved conversation still rebuilds into a valid tool-call sequence. Tool
calls that have no finished result yet (the other tab is still running them, or
the app stopped) are given a short placeholder result so the pairing holds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pyairtable_ui.actions.models import Action, ActionStatus
from pyairtable_ui.chat.agent import (
    AgentEvent,
    AssistantMessage,
    ToolFinished,
    ToolStarted,
    TurnError,
    TurnStopped,
)
from pyairtable_ui.chat.models import Conversation, Message, MessageRole, MessageStatus
from pyairtable_ui.core.db import SessionFactory, session_scope, utcnow
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.instance.service import get_llm_budget

logger = logging.getLogger(__name__)

DEFAULT_TITLE = "New conversation"
MAX_TITLE_LENGTH = 200
TITLE_FROM_MESSAGE_CHARS = 60
# A search longer than this is cut: nobody types more, and it bounds the LIKE pattern.
MAX_SEARCH_LENGTH = 200
# Column sizes in chat/models.py; longer values from a model are cut, not rejected.
_MAX_TOOL_CALL_ID = 80
_MAX_TOOL_NAME = 80
_MAX_MODEL = 200

STOPPED_TOOL_PLACEHOLDER = "Stopped by the user before it finished; it may not have run completely."
UNFINISHED_TOOL_PLACEHOLDER = "No result: this tool call had not finished."

_UNFINISHED = (MessageStatus.STREAMING.value, MessageStatus.RUNNING.value)


class ChatError(UserFacingError):
    """Base class: something about a conversation went wrong."""

    default_message = "Something went wrong with this conversation. Try again."


class ConversationNotFoundError(ChatError):
    """No such conversation for this user (never existed, someone else's, or deleted)."""

    default_message = "This conversation does not exist or was deleted."


class MessageNotFoundError(ChatError):
    """No such message in this user's conversations."""

    default_message = "This message does not exist or was deleted."


class InvalidTitleError(ChatError):
    """A conversation title that is empty or too long."""

    default_message = f"A title needs 1 to {MAX_TITLE_LENGTH} characters."


@dataclass(frozen=True)
class TurnUsage:
    """What one turn (a user message and everything answering it) used.

    Attributes:
        prompt_tokens: Prompt tokens over the turn's model calls.
        completion_tokens: Completion tokens over the turn's model calls.
        cost_usd: Total cost, or None when no model call of the turn had a known price.
        airtable_calls: Airtable requests made during the turn.
        tool_calls: Tool calls the model made.
    """

    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    airtable_calls: int
    tool_calls: int


# --- conversations -----------------------------------------------------------------


def create_conversation(
    *,
    session: Session,
    user_id: int,
    base_id: str | None = None,
    model: str | None = None,
    title: str | None = None,
) -> Conversation:
    """Start a conversation for a user.

    Args:
        session: The database session.
        user_id: The owner.
        base_id: The base the conversation is about, if chosen.
        model: The model picked for it, if any.
        title: A title; by default "New conversation", replaced by the first question.

    Returns:
        The new conversation (flushed, with an id).

    Raises:
        InvalidTitleError: The title is empty or too long.
    """
    conversation = Conversation(
        user_id=user_id,
        title=_clean_title(title) if title is not None else DEFAULT_TITLE,
        base_id=base_id,
        model=_cut(model, _MAX_MODEL),
    )
    session.add(conversation)
    session.flush()
    return conversation


def list_conversations(
    *, session: Session, user_id: int, limit: int = 50, search: str = ""
) -> list[Conversation]:
    """A user's conversations, most recently active first, without deleted ones.

    Args:
        session: The database session.
        user_id: The owner.
        limit: The most conversations to return.
        search: When not blank, only conversations whose title or the text of one of
            whose questions or answers contains it (any case; `%` and `_` are literal).

    Returns:
        The conversations.
    """
    statement = select(Conversation).where(
        Conversation.user_id == user_id, col(Conversation.deleted_at).is_(None)
    )
    words = search.strip()[:MAX_SEARCH_LENGTH].lower()
    if words:
        # Tool rows hold Airtable payloads, not what the person read: they are left out.
        in_messages = (
            select(Message.id)
            .where(
                Message.conversation_id == Conversation.id,
                col(Message.role).in_((MessageRole.USER.value, MessageRole.ASSISTANT.value)),
                sa.func.lower(Message.content).contains(words, autoescape=True),
            )
            .exists()
        )
        statement = statement.where(
            sa.or_(sa.func.lower(Conversation.title).contains(words, autoescape=True), in_messages)
        )
    statement = statement.order_by(
        col(Conversation.updated_at).desc(), col(Conversation.id).desc()
    ).limit(limit)
    return list(session.exec(statement).all())


def get_conversation(*, session: Session, conversation_id: int, user_id: int) -> Conversation:
    """One of the user's conversations.

    Args:
        session: The database session.
        conversation_id: The conversation.
        user_id: Who asks; must own it.

    Returns:
        The conversation.

    Raises:
        ConversationNotFoundError: Not this user's, deleted, or no such id.
    """
    conversation = session.exec(
        select(Conversation).where(
            Conversation.id == conversation_id,
            Conversation.user_id == user_id,
            col(Conversation.deleted_at).is_(None),
        )
    ).first()
    if conversation is None:
        raise ConversationNotFoundError()
    return conversation


def rename_conversation(
    *, session: Session, conversation_id: int, user_id: int, title: str
) -> Conversation:
    """Give a conversation a new title (trimmed, 1 to 200 characters).

    Args:
        session: The database session.
        conversation_id: The conversation.
        user_id: Who asks; must own it.
        title: The new title as typed.

    Returns:
        The renamed conversation.

    Raises:
        ConversationNotFoundError: Not this user's, deleted, or no such id.
        InvalidTitleError: The title is empty after trimming, or too long.
    """
    cleaned = _clean_title(title)
    conversation = get_conversation(
        session=session, conversation_id=conversation_id, user_id=user_id
    )
    conversation.title = cleaned
    conversation.updated_at = utcnow()
    session.add(conversation)
    session.flush()
    return conversation


def delete_conversation(*, session: Session, conversation_id: int, user_id: int) -> None:
    """Hide a conversation; its rows stay so its actions keep their audit trail.

    Args:
        session: The database session.
        conversation_id: The conversation.
        user_id: Who asks; must own it.

    Raises:
        ConversationNotFoundError: Not this user's, already deleted, or no such id.
    """
    conversation = get_conversation(
        session=session, conversation_id=conversation_id, user_id=user_id
    )
    conversation.deleted_at = utcnow()
    session.add(conversation)
    session.flush()
    logger.info("conversation deleted", extra={"conversation_id": conversation_id})


def restore_conversation(*, session: Session, conversation_id: int, user_id: int) -> Conversation:
    """Bring back a conversation the user deleted (Undo), with all its messages.

    Args:
        session: The database session.
        conversation_id: The conversation.
        user_id: Who asks; must own it.

    Returns:
        The conversation, listed again.

    Raises:
        ConversationNotFoundError: Not this user's, not deleted, or no such id.
    """
    conversation = session.exec(
        select(Conversation).where(
            Conversation.id == conversation_id,
            Conversation.user_id == user_id,
            col(Conversation.deleted_at).is_not(None),
        )
    ).first()
    if conversation is None:
        raise ConversationNotFoundError()
    conversation.deleted_at = None
    session.add(conversation)
    session.flush()
    logger.info("conversation restored", extra={"conversation_id": conversation_id})
    return conversation


def set_conversation_context(
    *,
    session: Session,
    conversation_id: int,
    user_id: int,
    base_id: str | None,
    model: str | None,
) -> Conversation:
    """Record the base and model a conversation uses (the switcher and the picker).

    Args:
        session: The database session.
        conversation_id: The conversation.
        user_id: Who asks; must own it.
        base_id: The selected base.
        model: The selected model (the caller checks it is an allowed one).

    Returns:
        The updated conversation.

    Raises:
        ConversationNotFoundError: Not this user's, deleted, or no such id.
    """
    conversation = get_conversation(
        session=session, conversation_id=conversation_id, user_id=user_id
    )
    conversation.base_id = base_id
    conversation.model = _cut(model, _MAX_MODEL)
    session.add(conversation)
    session.flush()
    return conversation


def title_from_first_message(text: str, max_chars: int = TITLE_FROM_MESSAGE_CHARS) -> str:
    """A conversation title from the first question: one line, about 60 characters.

    Args:
        text: The user's first message.
        max_chars: The longest title to make.

    Returns:
        The title, cut at a word boundary with "…" when shortened; the default
        title when the text is blank.
    """
    line = " ".join(text.split())
    if not line:
        return DEFAULT_TITLE
    if len(line) <= max_chars:
        return line
    cut = line[: max_chars - 1]
    if " " in cut[max_chars // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-") + "…"


# --- messages ------------------------------------------------------------------------


def add_message(
    *,
    session: Session,
    conversation_id: int,
    user_id: int,
    role: MessageRole | str,
    content: str = "",
    status: MessageStatus | str = MessageStatus.COMPLETE,
    error: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    tool_call_id: str | None = None,
    tool_name: str | None = None,
    tool_arguments: dict[str, Any] | str | None = None,
    model: str | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost_usd: float | None = None,
    airtable_calls: int = 0,
    duration_ms: int | None = None,
) -> Message:
    """Append a message to one of the user's conversations.

    The first user message of a conversation still titled "New conversation"
    also becomes its title. The conversation moves to the top of the list.

    Args:
        session: The database session.
        conversation_id: The conversation.
        user_id: Who writes; must own the conversation.
        role: user, assistant or tool.
        content: The text (for a tool: the result the model got).
        status: streaming/running while in progress, then complete/stopped/failed.
        error: What went wrong, shown to the user, for a failed message.
        tool_calls: An assistant message's tool calls, in OpenAI format.
        tool_call_id: A tool message's call id.
        tool_name: A tool message's tool.
        tool_arguments: The call's arguments, as a dict or as the raw text the
            model sent (kept as `{"raw": text}` when it is not a JSON object).
        model: The model that wrote an assistant message.
        prompt_tokens: Prompt tokens of the model call.
        completion_tokens: Completion tokens of the model call.
        cost_usd: Cost of the model call, None when unknown.
        airtable_calls: Airtable requests attributed to this message.
        duration_ms: How long the model call or the tool took.

    Returns:
        The new message (flushed, with an id).

    Raises:
        ConversationNotFoundError: Not this user's, deleted, or no such id.
        ValueError: An unknown role or status.
    """
    role_value = MessageRole(role).value
    status_value = MessageStatus(status).value
    conversation = get_conversation(
        session=session, conversation_id=conversation_id, user_id=user_id
    )
    if role_value == MessageRole.USER.value and conversation.title == DEFAULT_TITLE:
        if not _has_user_message(session, conversation_id):
            conversation.title = title_from_first_message(content)
    message = Message(
        conversation_id=conversation_id,
        role=role_value,
        content=content,
        status=status_value,
        error=error,
        tool_calls=tool_calls,
        tool_call_id=_cut(tool_call_id, _MAX_TOOL_CALL_ID),
        tool_name=_cut(tool_name, _MAX_TOOL_NAME),
        tool_arguments=_arguments_dict(tool_arguments),
        model=_cut(model, _MAX_MODEL),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost_usd,
        airtable_calls=airtable_calls,
        duration_ms=duration_ms,
    )
    conversation.updated_at = utcnow()
    session.add(conversation)
    session.add(message)
    session.flush()
    return message


def update_message(
    *,
    session: Session,
    message_id: int,
    user_id: int,
    status: MessageStatus | str | None = None,
    content: str | None = None,
    error: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    model: str | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    cost_usd: float | None = None,
    airtable_calls: int | None = None,
    duration_ms: int | None = None,
) -> Message:
    """Finish or amend a message (e.g. streaming → complete, running → failed).

    Arguments left as None keep their stored value. Works on rows of a deleted
    conversation too, so a turn that was running when another tab deleted the
    conversation can still close its rows.

    Args:
        session: The database session.
        message_id: The message.
        user_id: Who writes; must own the message's conversation.
        status: The new status.
        content: The full text (not a delta).
        error: What went wrong, shown to the user.
        tool_calls: The assistant message's tool calls.
        model: The model that wrote it.
        prompt_tokens: Prompt tokens of the model call.
        completion_tokens: Completion tokens of the model call.
        cost_usd: Cost of the model call.
        airtable_calls: Airtable requests attributed to this message.
        duration_ms: How long it took.

    Returns:
        The updated message.

    Raises:
        MessageNotFoundError: Not in one of this user's conversations.
        ValueError: An unknown status.
    """
    message = session.exec(
        select(Message)
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(Message.id == message_id, Conversation.user_id == user_id)
    ).first()
    if message is None:
        raise MessageNotFoundError()
    if status is not None:
        message.status = MessageStatus(status).value
    if content is not None:
        message.content = content
    if error is not None:
        message.error = error
    if tool_calls is not None:
        message.tool_calls = tool_calls
    if model is not None:
        message.model = _cut(model, _MAX_MODEL)
    if prompt_tokens is not None:
        message.prompt_tokens = prompt_tokens
    if completion_tokens is not None:
        message.completion_tokens = completion_tokens
    if cost_usd is not None:
        message.cost_usd = cost_usd
    if airtable_calls is not None:
        message.airtable_calls = airtable_calls
    if duration_ms is not None:
        message.duration_ms = duration_ms
    session.add(message)
    session.flush()
    return message


def list_messages(
    *, session: Session, conversation_id: int, user_id: int, limit: int | None = None
) -> list[Message]:
    """A conversation's messages in order (user, assistant and tool rows).

    Args:
        session: The database session.
        conversation_id: The conversation.
        user_id: Who asks; must own it.
        limit: When set, only the latest this many, still oldest first.

    Returns:
        The messages, oldest first.

    Raises:
        ConversationNotFoundError: Not this user's, deleted, or no such id.
    """
    get_conversation(session=session, conversation_id=conversation_id, user_id=user_id)
    statement = select(Message).where(Message.conversation_id == conversation_id)
    if limit is None:
        return list(session.exec(statement.order_by(col(Message.id))).all())
    latest = session.exec(statement.order_by(col(Message.id).desc()).limit(limit)).all()
    return list(reversed(latest))


def history_for_llm(
    *,
    session: Session,
    conversation_id: int,
    user_id: int,
    max_turns: int | None = None,
) -> list[dict[str, Any]]:
    """The conversation as the model should see it, in OpenAI message format.

    Rules, so the provider always gets a valid sequence:
    - user messages as they are;
    - assistant messages that completed (or were stopped with some text); failed
      and still-streaming ones are left out;
    - each assistant message with tool calls is followed at once by one tool
      message per call, found by call id wherever it was stored; a call without a
      finished result gets a short placeholder (stopped, or not finished);
    - tool rows that no kept assistant message asked for are left out.

    Args:
        session: The database session.
        conversation_id: The conversation.
        user_id: Who asks; must own it.
        max_turns: When set, only the last this many user turns (to bound the context).

    Returns:
        The messages, without the system prompt.

    Raises:
        ConversationNotFoundError: Not this user's, deleted, or no such id.
    """
    rows = list_messages(session=session, conversation_id=conversation_id, user_id=user_id)
    used_tool_rows: set[int] = set()
    history: list[dict[str, Any]] = []
    for position, row in enumerate(rows):
        if row.role == MessageRole.USER.value:
            history.append({"role": "user", "content": row.content})
        elif row.role == MessageRole.ASSISTANT.value:
            history.extend(_assistant_with_results(row, rows[position + 1 :], used_tool_rows))
        # Tool rows are placed by their assistant message above; strays are dropped.
    if max_turns is not None:
        history = _last_turns(history, max_turns)
    return history


def delete_last_answer(*, session: Session, conversation_id: int, user_id: int) -> Message | None:
    """Remove the answer to the last user message, to regenerate it.

    Deletes every assistant and tool row after the last user message (their
    actions keep their audit rows; the link to the message is cleared).

    Args:
        session: The database session.
        conversation_id: The conversation.
        user_id: Who asks; must own it.

    Returns:
        The last user message, to answer again; None when there is none.

    Raises:
        ConversationNotFoundError: Not this user's, deleted, or no such id.
    """
    conversation = get_conversation(
        session=session, conversation_id=conversation_id, user_id=user_id
    )
    last_user = session.exec(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.role == MessageRole.USER.value)
        .order_by(col(Message.id).desc())
        .limit(1)
    ).first()
    if last_user is None:
        return None
    session.execute(
        sa.delete(Message).where(
            col(Message.conversation_id) == conversation_id,
            col(Message.id) > last_user.id,
            col(Message.role).in_([MessageRole.ASSISTANT.value, MessageRole.TOOL.value]),
        )
    )
    conversation.updated_at = utcnow()
    session.add(conversation)
    session.flush()
    # The bulk delete bypassed the identity map; forget rows it may hold.
    session.expire_all()
    return last_user


@dataclass(frozen=True)
class DroppedExchange:
    """The last question and its answer, taken out to be asked again as edited.

    Attributes:
        question: The question as it was.
        waiting_action_ids: Proposals the dropped answer made that still wait for a
            decision: they stay in the conversation's actions, to review or reject;
            nothing runs without that decision.
    """

    question: str
    waiting_action_ids: tuple[int, ...]


def delete_last_exchange(
    *, session: Session, conversation_id: int, user_id: int
) -> DroppedExchange | None:
    """Remove the last question and everything after it, to send an edited one instead.

    The actions its answer proposed keep their rows and their conversation (the
    link to the message is cleared): one waiting for review stays reviewable.

    Args:
        session: The database session.
        conversation_id: The conversation.
        user_id: Who asks; must own it.

    Returns:
        What was removed; None when the conversation has no question.

    Raises:
        ConversationNotFoundError: Not this user's, deleted, or no such id.
    """
    conversation = get_conversation(
        session=session, conversation_id=conversation_id, user_id=user_id
    )
    last_user = session.exec(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.role == MessageRole.USER.value)
        .order_by(col(Message.id).desc())
        .limit(1)
    ).first()
    if last_user is None or last_user.id is None:
        return None
    question = last_user.content or ""
    waiting = session.exec(
        select(Action.id)
        .join(Message, col(Message.id) == col(Action.message_id))
        .where(
            col(Message.conversation_id) == conversation_id,
            col(Message.id) >= last_user.id,
            col(Action.user_id) == user_id,
            col(Action.status).in_([ActionStatus.PROPOSED.value, ActionStatus.PREVIEWED.value]),
        )
        .order_by(col(Action.id))
    ).all()
    dropped = (
        select(Message.id)
        .where(col(Message.conversation_id) == conversation_id, col(Message.id) >= last_user.id)
        .scalar_subquery()
    )
    # Said here, not left to the foreign key: every database unlinks them the same way.
    session.execute(
        sa.update(Action).where(col(Action.message_id).in_(dropped)).values(message_id=None)
    )
    session.execute(
        sa.delete(Message).where(
            col(Message.conversation_id) == conversation_id,
            col(Message.id) >= last_user.id,
        )
    )
    conversation.updated_at = utcnow()
    session.add(conversation)
    session.flush()
    # The bulk delete bypassed the identity map; forget rows it may hold.
    session.expire_all()
    return DroppedExchange(
        question=question, waiting_action_ids=tuple(i for i in waiting if i is not None)
    )


def turn_usage(*, session: Session, conversation_id: int, user_id: int) -> list[TurnUsage]:
    """Tokens, cost, Airtable calls and tool calls of each turn, oldest first.

    A turn is a user message and the rows after it up to the next user message.

    Args:
        session: The database session.
        conversation_id: The conversation.
        user_id: Who asks; must own it.

    Returns:
        One summary per user message.

    Raises:
        ConversationNotFoundError: Not this user's, deleted, or no such id.
    """
    rows = list_messages(session=session, conversation_id=conversation_id, user_id=user_id)
    summaries: list[TurnUsage] = []
    current: list[Message] = []
    for row in rows:
        if row.role == MessageRole.USER.value:
            if current:
                summaries.append(_summarise_turn(current))
            current = [row]
        elif current:
            current.append(row)
    if current:
        summaries.append(_summarise_turn(current))
    return summaries


def close_interrupted_messages(
    *, session: Session, older_than: timedelta, now: datetime | None = None
) -> int:
    """Close rows left streaming or running by a process that died mid-turn.

    Only rows older than `older_than` are touched, so turns running in another
    replica right now are left alone; pass more than the longest possible turn.

    Args:
        session: The database session.
        older_than: The age after which an unfinished row is considered abandoned.
        now: The current time (tests pass a fixed one).

    Returns:
        How many rows were closed.
    """
    cutoff: datetime = (now or utcnow()) - older_than
    rows = session.exec(
        select(Message).where(
            col(Message.status).in_(_UNFINISHED), col(Message.created_at) < cutoff
        )
    ).all()
    for row in rows:
        row.status = MessageStatus.FAILED.value
        row.error = row.error or "The app stopped before this finished."
        session.add(row)
    session.flush()
    if rows:
        logger.warning("closed %d interrupted chat messages", len(rows))
    return len(rows)


# --- recording a running turn ------------------------------------------------------


class TurnRecorder:
    """Writes the rows of one turn from the agent's events, each in its own transaction.

    Feed it every event of `agent.run_turn` (from the caller's `on_event`). It writes:
    an assistant row per completed model call; a tool row when a tool starts
    (status running) that is finished when it ends; a stopped assistant row with the
    partial text on Stop; a failed assistant row with the user-facing error on a
    provider error. Streamed text is not written per chunk: it lives in the UI until
    its model call completes.

    The methods are synchronous (short database writes); from an event loop, call
    `record` through `asyncio.to_thread` if the database may be slow.
    """

    def __init__(
        self,
        *,
        conversation_id: int,
        user_id: int,
        model: str,
        session_factory: SessionFactory = session_scope,
    ) -> None:
        """Prepare to record one turn.

        Args:
            conversation_id: The conversation the turn answers in.
            user_id: The conversation's owner (every write is scoped by it).
            model: The model answering, stored on assistant rows.
            session_factory: Opens a committing session (default `db.session_scope`).
        """
        self.conversation_id = conversation_id
        self.user_id = user_id
        self.model = model
        self._session_factory = session_factory
        self._tool_rows: dict[str, int] = {}
        self.message_ids: list[int] = []

    def add_user_message(self, text: str) -> Message:
        """Store the user's question that starts the turn.

        Args:
            text: The message as typed.

        Returns:
            The stored message.

        Raises:
            ConversationNotFoundError: The conversation is gone (e.g. deleted in another tab).
        """
        return self._add(role=MessageRole.USER, content=text)

    def record(self, event: AgentEvent) -> Message | None:
        """Store what one event changes; events that change no row are ignored.

        Args:
            event: An event from `run_turn`, in the order they came.

        Returns:
            The row written or updated, if any.

        Raises:
            ConversationNotFoundError: A new row for a conversation deleted meanwhile;
                the caller should stop the turn.
        """
        if isinstance(event, AssistantMessage):
            return self._add(
                role=MessageRole.ASSISTANT,
                content=event.content,
                tool_calls=event.tool_calls,
                model=event.model,
                prompt_tokens=event.prompt_tokens,
                completion_tokens=event.completion_tokens,
                cost_usd=event.cost_usd,
                airtable_calls=event.airtable_calls,
                duration_ms=event.duration_ms,
            )
        if isinstance(event, ToolStarted):
            row = self._add(
                role=MessageRole.TOOL,
                status=MessageStatus.RUNNING,
                tool_call_id=event.call_id,
                tool_name=event.name,
                tool_arguments=event.arguments_text,
            )
            if row.id is not None:
                self._tool_rows[event.call_id] = row.id
            return row
        if isinstance(event, ToolFinished):
            return self._finish_tool(event)
        if isinstance(event, TurnStopped):
            if event.result.partial_text:
                return self._add(
                    role=MessageRole.ASSISTANT,
                    content=event.result.partial_text,
                    status=MessageStatus.STOPPED,
                )
            return None
        if isinstance(event, TurnError):
            return self._add(
                role=MessageRole.ASSISTANT,
                content=event.partial_text,
                status=MessageStatus.FAILED,
                error=event.message,
                airtable_calls=event.airtable_calls,
            )
        return None

    def _finish_tool(self, event: ToolFinished) -> Message | None:
        message_id = self._tool_rows.pop(event.call_id, None)
        if message_id is None:
            logger.warning("tool finished without a started row", extra={"tool": event.name})
            return None
        if event.stopped:
            status = MessageStatus.STOPPED
        elif event.is_error:
            status = MessageStatus.FAILED
        else:
            status = MessageStatus.COMPLETE
        with self._session_factory() as session:
            row = update_message(
                session=session,
                message_id=message_id,
                user_id=self.user_id,
                status=status,
                content=event.content,
                airtable_calls=event.airtable_calls,
                duration_ms=event.duration_ms,
            )
            if event.action_id is not None:
                _link_action(session, event.action_id, message_id, self.user_id)
            return row

    def _add(self, **fields: Any) -> Message:
        if fields["role"] != MessageRole.USER:
            fields.setdefault("model", self.model)
        with self._session_factory() as session:
            row = add_message(
                session=session,
                conversation_id=self.conversation_id,
                user_id=self.user_id,
                **fields,
            )
        if row.id is not None:
            self.message_ids.append(row.id)
        return row


def _link_action(session: Session, action_id: int, message_id: int, user_id: int) -> None:
    # The tool planned the action before its message row id was known to it.
    action = session.get(Action, action_id)
    if action is None or action.user_id != user_id:
        logger.warning(
            "tool reported an action that is not the user's", extra={"action_id": action_id}
        )
        return
    if action.message_id is None:
        action.message_id = message_id
        session.add(action)
        session.flush()


# --- helpers -------------------------------------------------------------------------


def _assistant_with_results(
    row: Message, later_rows: list[Message], used_tool_rows: set[int]
) -> list[dict[str, Any]]:
    """An assistant row and, if it called tools, one result per call right after it."""
    if row.status not in (MessageStatus.COMPLETE.value, MessageStatus.STOPPED.value):
        return []
    calls = row.tool_calls if row.status == MessageStatus.COMPLETE.value else None
    if not calls:
        return [{"role": "assistant", "content": row.content}] if row.content else []
    messages: list[dict[str, Any]] = [
        {"role": "assistant", "content": row.content or None, "tool_calls": calls}
    ]
    for call in calls:
        call_id = str(call.get("id", ""))
        result = _find_tool_row(call_id, later_rows, used_tool_rows)
        messages.append(
            {"role": "tool", "tool_call_id": call_id, "content": _tool_result_text(result)}
        )
    return messages


def _find_tool_row(call_id: str, later_rows: list[Message], used: set[int]) -> Message | None:
    # The first unused tool row for this id after the assistant message: ids may repeat
    # across turns with some providers, and rows of two tabs may interleave.
    stored_id = call_id[:_MAX_TOOL_CALL_ID]
    for candidate in later_rows:
        if (
            candidate.role == MessageRole.TOOL.value
            and candidate.tool_call_id == stored_id
            and candidate.id not in used
        ):
            if candidate.id is not None:
                used.add(candidate.id)
            return candidate
    return None


def _tool_result_text(row: Message | None) -> str:
    if row is None or row.status in _UNFINISHED:
        return UNFINISHED_TOOL_PLACEHOLDER
    if row.status == MessageStatus.STOPPED.value:
        return row.content or STOPPED_TOOL_PLACEHOLDER
    return row.content or UNFINISHED_TOOL_PLACEHOLDER


def _last_turns(history: list[dict[str, Any]], max_turns: int) -> list[dict[str, Any]]:
    if max_turns <= 0:
        return []
    user_positions = [i for i, message in enumerate(history) if message["role"] == "user"]
    if len(user_positions) <= max_turns:
        return history
    return history[user_positions[-max_turns] :]


def _summarise_turn(rows: list[Message]) -> TurnUsage:
    costs = [row.cost_usd for row in rows if row.cost_usd is not None]
    return TurnUsage(
        prompt_tokens=sum(row.prompt_tokens for row in rows),
        completion_tokens=sum(row.completion_tokens for row in rows),
        cost_usd=sum(costs) if costs else None,
        airtable_calls=sum(row.airtable_calls for row in rows),
        tool_calls=sum(1 for row in rows if row.role == MessageRole.TOOL.value),
    )


def _has_user_message(session: Session, conversation_id: int) -> bool:
    return (
        session.exec(
            select(Message.id).where(
                Message.conversation_id == conversation_id,
                Message.role == MessageRole.USER.value,
            )
        ).first()
        is not None
    )


def _clean_title(title: str) -> str:
    cleaned = " ".join(title.split())
    if not cleaned or len(cleaned) > MAX_TITLE_LENGTH:
        raise InvalidTitleError()
    return cleaned


def _cut(value: str | None, limit: int) -> str | None:
    return value[:limit] if value is not None else None


def _arguments_dict(arguments: dict[str, Any] | str | None) -> dict[str, Any] | None:
    """Tool arguments for the JSON column: the parsed object, or the raw text kept as is."""
    if arguments is None or isinstance(arguments, dict):
        return arguments
    try:
        parsed = json.loads(arguments)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    return {"raw": arguments}


# --- LLM spend against the monthly budgets ----------------------------------------------


def month_start(now: datetime) -> datetime:
    """Midnight UTC of the first day of `now`'s month."""
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_spend(*, session: Session, user_id: int | None, now: datetime | None = None) -> float:
    """LLM cost (USD, litellm's figures) of this UTC month: one user's, or the instance's.

    A sum in the database over the month's messages (`ix_messages_created_at`); models
    without a known price count as 0.

    Args:
        session: The database session.
        user_id: The user; None for every user together.
        now: The current time (tests pass a fixed one).

    Returns:
        The month's spend so far.
    """
    start = month_start(now or utcnow())
    query = select(sa.func.coalesce(sa.func.sum(Message.cost_usd), 0.0)).where(
        col(Message.created_at) >= start
    )
    if user_id is not None:
        query = query.join(Conversation, col(Conversation.id) == Message.conversation_id).where(
            Conversation.user_id == user_id
        )
    return float(session.exec(query).one() or 0.0)


def llm_budget_refusal(
    *, session: Session, user_id: int, now: datetime | None = None
) -> str | None:
    """Why a new turn may not start because a monthly LLM budget is spent, else None.

    Args:
        session: The database session.
        user_id: Who asks.
        now: The current time (tests pass a fixed one).

    Returns:
        The sentence for the user, or None when the turn may start.
    """
    limits = get_llm_budget(session=session)
    now = now or utcnow()
    month = now.astimezone(UTC).strftime("%B %Y")
    if limits.per_user_usd is not None:
        spent = month_spend(session=session, user_id=user_id, now=now)
        if spent >= limits.per_user_usd:
            return (
                f"Your LLM budget for {month} is used up (${spent:,.2f} of "
                f"${limits.per_user_usd:,.2f}), so no new question can be answered until "
                "next month, or until an admin raises it."
            )
    if limits.instance_usd is not None:
        spent = month_spend(session=session, user_id=None, now=now)
        if spent >= limits.instance_usd:
            return (
                f"This instance's LLM budget for {month} is used up (${spent:,.2f} of "
                f"${limits.instance_usd:,.2f}), so no new question can be answered until "
                "next month, or until an admin raises it."
            )
    return None
