"""What the chat page asks for, each in one call: open the page, a conversation, rename…

Plain Python (no Reflex); each function opens its own short `session_scope()` and
blocks, so the page calls it through a thread. The turn itself is in `turns`.
Every function is scoped by the signed-in user the caller checked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pyairtable_ui.actions.flows import conversation_action_items
from pyairtable_ui.actions.rows import ActionItem
from pyairtable_ui.airtable.access import check_user_access, client_for_user
from pyairtable_ui.airtable.connections import BaseAccess
from pyairtable_ui.airtable.schema import get_base_schema
from pyairtable_ui.auth.models import User
from pyairtable_ui.chat import examples, export, service
from pyairtable_ui.chat.models import Conversation, Message
from pyairtable_ui.core.db import session_scope, utcnow
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.instance import service as instance_service
from pyairtable_ui.sample.tour import SAMPLE_QUESTIONS, SAMPLE_QUESTIONS_TABLE, is_sample_base_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenedConversation:
    """A conversation as the page opens it.

    Attributes:
        conversation: The conversation (title, base, model).
        messages: Its last messages, oldest first.
        last_turn: What its last turn used, or None before the first one.
        action_items: Its actions, as the sidebar lists them.
    """

    conversation: Conversation
    messages: list[Message]
    last_turn: service.TurnUsage | None
    action_items: list[ActionItem]


@dataclass(frozen=True)
class ChatStart:
    """What the chat page shows when it loads.

    Attributes:
        default_base_id: The user's default base, or "".
        default_model: The user's default model, else the first allowed one.
        models: The models the admin allows, the default first.
        conversations: The user's conversations, most recently active first.
        opened: The conversation the page opens, or None for an empty one.
    """

    default_base_id: str
    default_model: str
    models: list[str]
    conversations: list[Conversation]
    opened: OpenedConversation | None


@dataclass(frozen=True)
class AfterTurn:
    """What the page reads again once a turn has ended.

    Attributes:
        conversations: The conversation list (the first answer names a conversation).
        action_items: The answered conversation's actions (the turn may have proposed some).
    """

    conversations: list[Conversation]
    action_items: list[ActionItem]


def start_chat(user_id: int, *, wanted: Sequence[int] = (), last: int) -> ChatStart:
    """The user's defaults, the allowed models, the conversation list and the one to open.

    Args:
        user_id: The signed-in user.
        wanted: Conversations to open, in order of preference (the one in the address,
            the one the tab had open); the first that is one of the user's opens.
        last: How many of its latest messages to return.

    Returns:
        What the page shows when it loads.
    """
    with session_scope() as db:
        user = db.get(User, user_id)
        assert user is not None
        models = instance_service.get_allowed_models(session=db)
        conversations = service.list_conversations(session=db, user_id=user_id)
    ids = {c.id for c in conversations}
    target = next((c for c in wanted if c in ids), None)
    opened = None
    if target is not None:
        try:
            opened = open_conversation(user_id, target, last=last)
        except service.ConversationNotFoundError:
            pass  # deleted since the list was read (another tab): start empty
    return ChatStart(
        default_base_id=user.default_base_id or "",
        default_model=user.default_model or models[0],
        models=models,
        conversations=conversations,
        opened=opened,
    )


def list_conversations(user_id: int, *, search: str = "") -> list[Conversation]:
    """The user's conversations, most recently active first (titles change after a turn).

    Args:
        user_id: The signed-in user.
        search: When not blank, only those whose title or messages contain it.

    Returns:
        The conversations.
    """
    with session_scope() as db:
        return service.list_conversations(session=db, user_id=user_id, search=search)


def open_conversation(user_id: int, conversation_id: int, *, last: int) -> OpenedConversation:
    """A conversation with its last messages, its last turn's use and its actions.

    Args:
        user_id: The signed-in user.
        conversation_id: One of the user's conversations.
        last: How many of the latest messages to return.

    Returns:
        The conversation as the page shows it.

    Raises:
        service.ConversationNotFoundError: Not this user's, deleted, or no such id.
    """
    with session_scope() as db:
        conversation = service.get_conversation(
            session=db, conversation_id=conversation_id, user_id=user_id
        )
        messages = service.list_messages(
            session=db, conversation_id=conversation_id, user_id=user_id
        )[-last:]
        usage = service.turn_usage(session=db, conversation_id=conversation_id, user_id=user_id)
    return OpenedConversation(
        conversation=conversation,
        messages=messages,
        last_turn=usage[-1] if usage else None,
        action_items=conversation_action_items(user_id, conversation_id),
    )


def after_turn(user_id: int, conversation_id: int, *, search: str = "") -> AfterTurn:
    """The conversation list and the answered conversation's actions, read again.

    Args:
        user_id: The signed-in user.
        conversation_id: The conversation the turn answered in.
        search: The conversation list's search, kept while a turn ran.

    Returns:
        What the page shows once the turn has ended.
    """
    return AfterTurn(
        conversations=list_conversations(user_id, search=search),
        action_items=conversation_action_items(user_id, conversation_id),
    )


def conversation_actions(user_id: int, conversation_id: int) -> list[ActionItem]:
    """The conversation's actions read again (a step of the running turn proposed one)."""
    return conversation_action_items(user_id, conversation_id)


def start_conversation(user_id: int, base_id: str | None, model: str) -> int:
    """Create the conversation the first question goes into.

    Args:
        user_id: The signed-in user.
        base_id: The selected base, or None.
        model: The selected model.

    Returns:
        The new conversation's id.
    """
    with session_scope() as db:
        conversation = service.create_conversation(
            session=db, user_id=user_id, base_id=base_id or None, model=model
        )
        assert conversation.id is not None
        return conversation.id


def rename_conversation(user_id: int, conversation_id: int, title: str) -> str:
    """Give one of the user's conversations a new title.

    Args:
        user_id: The signed-in user.
        conversation_id: The conversation.
        title: The title as typed.

    Returns:
        The title as stored (trimmed).

    Raises:
        service.ConversationNotFoundError: Not this user's, deleted, or no such id.
        service.InvalidTitleError: Empty after trimming, or too long.
    """
    with session_scope() as db:
        return service.rename_conversation(
            session=db, conversation_id=conversation_id, user_id=user_id, title=title
        ).title


def delete_conversation(user_id: int, conversation_id: int) -> None:
    """Delete one of the user's conversations (its actions stay in the history).

    Args:
        user_id: The signed-in user.
        conversation_id: The conversation.

    Raises:
        service.ConversationNotFoundError: Not this user's, already deleted, or no such id.
    """
    with session_scope() as db:
        service.delete_conversation(session=db, conversation_id=conversation_id, user_id=user_id)


@dataclass(frozen=True)
class ExportedConversation:
    """A conversation as the Markdown file the person downloads.

    Attributes:
        filename: E.g. `conversation-12-open-tasks.md`.
        markdown: The file's text.
    """

    filename: str
    markdown: str


def export_conversation(user_id: int, conversation_id: int) -> ExportedConversation:
    """One of the user's conversations, every message of it, as Markdown.

    Args:
        user_id: The signed-in user.
        conversation_id: The conversation.

    Returns:
        The file's name and text.

    Raises:
        service.ConversationNotFoundError: Not this user's, deleted, or no such id.
    """
    with session_scope() as db:
        conversation = service.get_conversation(
            session=db, conversation_id=conversation_id, user_id=user_id
        )
        messages = service.list_messages(
            session=db, conversation_id=conversation_id, user_id=user_id
        )
        return ExportedConversation(
            filename=export.export_filename(conversation),
            markdown=export.conversation_markdown(conversation, messages, exported_at=utcnow()),
        )


def restore_conversation(user_id: int, conversation_id: int) -> None:
    """Undo the deletion of one of the user's conversations.

    Args:
        user_id: The signed-in user.
        conversation_id: The conversation.

    Raises:
        service.ConversationNotFoundError: Not this user's, not deleted, or no such id.
    """
    with session_scope() as db:
        service.restore_conversation(session=db, conversation_id=conversation_id, user_id=user_id)


def drop_last_answer(user_id: int, conversation_id: int) -> bool:
    """Remove the answer to the last question, so it can be answered again.

    Args:
        user_id: The signed-in user.
        conversation_id: The conversation.

    Returns:
        Whether there was a question to answer again.

    Raises:
        service.ConversationNotFoundError: Not this user's, deleted, or no such id.
    """
    with session_scope() as db:
        last_question = service.delete_last_answer(
            session=db, conversation_id=conversation_id, user_id=user_id
        )
        return last_question is not None


def drop_last_exchange(user_id: int, conversation_id: int) -> service.DroppedExchange | None:
    """Take out the last question and its answer, for an edited question to replace them.

    Args:
        user_id: The signed-in user.
        conversation_id: One of the user's conversations.

    Returns:
        What was taken out (with the proposals that still wait for review), or None
        when there was no question.

    Raises:
        service.ConversationNotFoundError: Not this user's, deleted, or no such id.
    """
    with session_scope() as db:
        return service.delete_last_exchange(
            session=db, conversation_id=conversation_id, user_id=user_id
        )


def bases_for_user(user_id: int) -> list[BaseAccess]:
    """The bases the user's Airtable token sees now, for the base switcher.

    Args:
        user_id: The signed-in user.

    Returns:
        The bases, by name.

    Raises:
        connections.AirtableTokenError: Not connected, token refused, no bases, unreachable.
        crypto.SecretDecryptionError: SECRET_KEY changed since the token was stored.
    """
    return list(check_user_access(user_id=user_id).bases)


def example_prompts(user_id: int, base_id: str) -> list[str]:
    """Questions to start with, naming this base's own tables and fields.

    The schema comes from the cache the turns share (fetched once with the user's
    own token otherwise, which also proves the token may read it).

    Args:
        user_id: The signed-in user.
        base_id: The base the switcher shows.

    Returns:
        The questions; none when the base's schema cannot be read now (the page
        still works: the first turn reports what is wrong with the base).
    """
    try:
        schema = get_base_schema(client_for_user(user_id), base_id)
    except UserFacingError as exc:
        logger.info("example prompts: schema unreadable for base=%s: %r", base_id, exc)
        return []
    if is_sample_base_id(base_id) and any(t.name == SAMPLE_QUESTIONS_TABLE for t in schema.tables):
        # The sample CRM's own questions: the demo model (`make demo`) answers these.
        return list(SAMPLE_QUESTIONS)
    return examples.example_prompts(schema)
