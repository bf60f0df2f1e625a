"""Set up one chat turn: the user's token, the turn's Airtable client and tools, the prompt.

Plain Python (no Reflex). The chat page calls `prepare_turn` in a thread, then
drives `agent.run_turn` with the returned pieces and a `TurnRecorder`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pyairtable_ui.airtable import connections
from pyairtable_ui.airtable import oauth as airtable_oauth
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.errors import AirtableError
from pyairtable_ui.airtable.schema import schema_for_prompt
from pyairtable_ui.auth.models import User
from pyairtable_ui.chat import service
from pyairtable_ui.chat.prompts import build_system_prompt
from pyairtable_ui.crypto import SecretDecryptionError
from pyairtable_ui.db import session_scope
from pyairtable_ui.settings import get_settings
from pyairtable_ui.tools import ToolContext, TurnTools, get_registry

logger = logging.getLogger(__name__)

# Older turns are summarised by what the model said; the context stays bounded.
HISTORY_TURNS = 20


class TurnSetupError(Exception):
    """The turn cannot start; `message` says what the user should do."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass
class PreparedTurn:
    """Everything `agent.run_turn` needs, made fresh for one turn."""

    history: list[dict[str, Any]]
    system_prompt: str
    tools: TurnTools
    recorder: service.TurnRecorder
    model: str


def prepare_turn(
    *,
    user_id: int,
    conversation_id: int,
    base_id: str | None,
    base_name: str | None,
    model: str,
    question: str | None,
) -> PreparedTurn:
    """Store the question and build the turn's client, tools, history and prompt.

    The base schema comes from the cache when fresh (no Airtable call), else is
    fetched once through the turn's client, so it counts as one of the turn's calls.

    Args:
        user_id: The signed-in user (checked by the caller).
        conversation_id: One of the user's conversations.
        base_id: The base the conversation is about, or None.
        base_name: The base's name as the switcher shows it.
        model: The litellm model string to answer with (one the admin allows).
        question: The new user message, or None to answer the last one again.

    Returns:
        The prepared turn.

    Raises:
        TurnSetupError: Airtable is not connected, the token cannot be read, or
            the base cannot be read.
        service.ConversationNotFoundError: Not this user's conversation.
    """
    settings = get_settings()
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise TurnSetupError("Your account was not found. Sign in again.")
        try:
            token = airtable_oauth.get_valid_token(session=db, user=user)
        except (connections.AirtableTokenError, SecretDecryptionError) as exc:
            raise TurnSetupError(exc.message) from exc
        service.set_conversation_context(
            session=db,
            conversation_id=conversation_id,
            user_id=user_id,
            base_id=base_id,
            model=model,
        )

    client = AirtableClient(token, api_url=settings.airtable_api_url)
    ctx = ToolContext(
        user_id=user_id,
        base_id=base_id,
        client=client,
        session_factory=session_scope,
        conversation_id=conversation_id,
        confirm_threshold=settings.confirm_threshold,
    )
    schema_text = ""
    if base_id:
        try:
            schema_text = schema_for_prompt(ctx.schema())
        except AirtableError as exc:
            logger.info("turn: base schema unreadable: %r", exc)
            raise TurnSetupError(exc.message_for_user) from exc

    recorder = service.TurnRecorder(conversation_id=conversation_id, user_id=user_id, model=model)
    if question is not None:
        recorder.add_user_message(question)
    with session_scope() as db:
        history = service.history_for_llm(
            session=db, conversation_id=conversation_id, user_id=user_id, max_turns=HISTORY_TURNS
        )
    prompt = build_system_prompt(base_name=base_name, base_id=base_id, schema_text=schema_text)
    return PreparedTurn(
        history=history,
        system_prompt=prompt,
        tools=TurnTools(get_registry(), ctx),
        recorder=recorder,
        model=model,
    )
