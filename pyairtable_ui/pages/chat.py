"""`/chat`: the conversation with the assistant about one base (the hero page).

The turn runs in a background handler: the model's text streams into one small
var (`streaming_text`); finished messages move into `messages`, which changes
only at message boundaries. State holds ids and the slice on screen; the
conversation itself lives in the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, TypedDict

import reflex as rx
from sqlmodel import Session

from pyairtable_ui import routes
from pyairtable_ui.airtable import connections
from pyairtable_ui.airtable.access import check_user_access
from pyairtable_ui.auth.models import User
from pyairtable_ui.chat import agent, service
from pyairtable_ui.chat.models import Message, MessageRole, MessageStatus
from pyairtable_ui.chat.turns import PreparedTurn, TurnSetupError, prepare_turn
from pyairtable_ui.components.action_review import action_card, review_dialog
from pyairtable_ui.components.chat_parts import answer_markdown, message_view, step_view
from pyairtable_ui.components.shell import private_page
from pyairtable_ui.crypto import SecretDecryptionError
from pyairtable_ui.db import session_scope
from pyairtable_ui.platform import service as platform_service
from pyairtable_ui.settings import get_settings
from pyairtable_ui.state.actions import ActionItem, ActionsState, conversation_action_items
from pyairtable_ui.state.auth import AuthState, login_redirect, signed_in_user_id

logger = logging.getLogger(__name__)

# The running turn of each browser tab, so Stop can cancel it at once. The tab's
# websocket is served by one worker, and Stop arrives on the same socket; the
# `stop_requested` state var covers a turn whose tab reconnected elsewhere.
_RUNNING_TURNS: dict[str, tuple[asyncio.Task[Any], PreparedTurn]] = {}

MESSAGES_ON_SCREEN = 200


class ChatItem(TypedDict):
    """One row of the conversation as the page shows it."""

    id: int
    role: str  # user | assistant | tool | error
    content: str
    status: str
    call_id: str
    tool_name: str
    arguments: str
    duration: str
    summary: str
    meta: str


class ConversationItem(TypedDict):
    """A conversation in the list."""

    id: int
    title: str
    updated: str


class BaseItem(TypedDict):
    """A base in the switcher."""

    id: str
    name: str


def _duration(ms: int | None) -> str:
    if ms is None:
        return ""
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _usage_text(prompt: int, completion: int, cost: float | None, calls: int | None = None) -> str:
    parts = [f"{prompt + completion:,} tokens"]
    if cost is not None:
        parts.append(f"${cost:.4f}")
    if calls is not None:
        parts.append(f"{calls} Airtable call{'s' if calls != 1 else ''}")
    return " · ".join(parts)


def _item_from_row(row: Message) -> ChatItem:
    role = row.role
    if row.role == MessageRole.ASSISTANT and row.status == MessageStatus.FAILED:
        role = "error"
    content = row.error or row.content if role == "error" else row.content
    meta = ""
    if row.role == MessageRole.ASSISTANT and (row.prompt_tokens or row.completion_tokens):
        # Airtable calls belong to the turn (shown once, in the turn line), not to a message.
        meta = _usage_text(row.prompt_tokens, row.completion_tokens, row.cost_usd)
    return ChatItem(
        id=row.id or 0,
        role=role,
        content=content or "",
        status=row.status,
        call_id=row.tool_call_id or "",
        tool_name=row.tool_name or "",
        arguments=_short_arguments(row.tool_arguments),
        duration=_duration(row.duration_ms),
        summary=(row.content or "")[:160] if row.role == MessageRole.TOOL else "",
        meta=meta,
    )


def _short_arguments(arguments: dict[str, Any] | str | None) -> str:
    if not arguments:
        return ""
    text = arguments if isinstance(arguments, str) else rx.utils.format.json_dumps(arguments)
    return text if len(text) <= 240 else text[:237] + "…"


def _conversation_items(db: Session, user_id: int) -> list[ConversationItem]:
    return [
        ConversationItem(id=c.id or 0, title=c.title, updated=c.updated_at.strftime("%b %d, %H:%M"))
        for c in service.list_conversations(session=db, user_id=user_id)
    ]


class ChatState(rx.State):
    """The open conversation, the base and model it uses, and the running turn."""

    conversations: list[ConversationItem] = []
    conversation_id: int = 0
    title: str = ""
    messages: list[ChatItem] = []
    streaming_text: str = ""
    running: bool = False
    stop_requested: bool = False
    notice: str = ""

    bases: list[BaseItem] = []
    base_id: str = ""
    models: list[str] = []
    model: str = ""

    sidebar_open: bool = True
    drawer_open: bool = False
    conversations_open: bool = False
    turn_stats: str = ""
    renaming: bool = False

    @rx.var
    def base_name(self) -> str:
        """The name of the selected base."""
        return next((b["name"] for b in self.bases if b["id"] == self.base_id), self.base_id)

    # --- loading -------------------------------------------------------------------

    @rx.event
    async def on_load(self):
        """Open the conversation in the URL (or the newest) on the user's base."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return rx.redirect(login_redirect(routes.CHAT), replace=True)
        self.notice = ""

        def _read() -> tuple[str, str, list[ConversationItem], list[str]]:
            with session_scope() as db:
                user = db.get(User, user_id)
                assert user is not None
                models = platform_service.get_allowed_models(session=db)
                items = _conversation_items(db, user_id)
                model = user.default_model or models[0]
                return user.default_base_id or "", model, items, models

        default_base, default_model, self.conversations, self.models = await asyncio.to_thread(
            _read
        )
        if not self.model or self.model not in self.models:
            self.model = default_model if default_model in self.models else self.models[0]
        requested = self.router.url.query_parameters.get("c", "")
        wanted = int(requested) if requested.isdigit() else 0
        ids = {c["id"] for c in self.conversations}
        if wanted in ids:
            target = wanted
        elif self.conversation_id in ids:
            target = self.conversation_id
        else:
            target = 0
        if not self.base_id:
            self.base_id = default_base
        if target:
            await self._open(user_id, target)
        else:
            await self._reset_conversation()
        return ChatState.load_bases

    async def _reset_conversation(self) -> None:
        self.conversation_id = 0
        actions = await self.get_state(ActionsState)
        actions.show_conversation(0, [])
        self.title = ""
        self.messages = []
        self.streaming_text = ""
        self.turn_stats = ""

    async def _open(self, user_id: int, conversation_id: int) -> None:
        def _read() -> tuple[Any, list[ChatItem], str]:
            with session_scope() as db:
                conversation = service.get_conversation(
                    session=db, conversation_id=conversation_id, user_id=user_id
                )
                rows = service.list_messages(
                    session=db, conversation_id=conversation_id, user_id=user_id
                )[-MESSAGES_ON_SCREEN:]
                usage = service.turn_usage(
                    session=db, conversation_id=conversation_id, user_id=user_id
                )
                stats = ""
                if usage:
                    last = usage[-1]
                    stats = "Last turn: " + _usage_text(
                        last.prompt_tokens,
                        last.completion_tokens,
                        last.cost_usd,
                        last.airtable_calls,
                    )
                return conversation, [_item_from_row(r) for r in rows], stats

        try:
            conversation, self.messages, self.turn_stats = await asyncio.to_thread(_read)
            items = await asyncio.to_thread(conversation_action_items, user_id, conversation_id)
        except service.ConversationNotFoundError:
            await self._reset_conversation()
            return
        actions = await self.get_state(ActionsState)
        actions.show_conversation(conversation_id, items)
        self.conversation_id = conversation_id
        self.title = conversation.title
        if conversation.base_id:
            self.base_id = conversation.base_id
        if conversation.model and conversation.model in self.models:
            self.model = conversation.model
        self.streaming_text = ""

    @rx.event
    async def load_bases(self):
        """Fill the base switcher with the bases the user's token sees."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return

        try:
            check = await asyncio.to_thread(check_user_access, user_id=user_id)
            self.bases = [BaseItem(id=b.id, name=b.name) for b in check.bases]
        except (connections.AirtableTokenError, SecretDecryptionError) as exc:
            self.notice = exc.message
            self.bases = []

    @rx.event
    async def refresh_conversations(self):
        """Read the conversation list again (titles change after the first message)."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return

        def _read() -> list[ConversationItem]:
            with session_scope() as db:
                return _conversation_items(db, user_id)

        self.conversations = await asyncio.to_thread(_read)

    # --- conversations ---------------------------------------------------------------

    @rx.event
    async def open_conversation(self, conversation_id: int):
        """Show another conversation (not while a turn runs)."""
        user_id = await signed_in_user_id(self)
        if user_id is None or self.running:
            return
        await self._open(user_id, conversation_id)
        self.conversations_open = False
        self.notice = ""

    @rx.event
    async def new_conversation(self):
        """Start an empty conversation; it is created when the first message is sent."""
        if self.running:
            return
        await self._reset_conversation()
        self.conversations_open = False
        self.notice = ""

    @rx.event
    async def rename_conversation(self, form_data: dict[str, str]):
        """Rename the open conversation."""
        user_id = await signed_in_user_id(self)
        if user_id is None or not self.conversation_id:
            return
        title = form_data.get("title", "")

        def _rename() -> str:
            with session_scope() as db:
                return service.rename_conversation(
                    session=db, conversation_id=self.conversation_id, user_id=user_id, title=title
                ).title

        try:
            self.title = await asyncio.to_thread(_rename)
        except service.ChatError as exc:
            self.notice = exc.message
            return
        self.renaming = False
        return ChatState.refresh_conversations

    @rx.event
    def set_renaming(self, value: bool):
        """Show or hide the rename field."""
        self.renaming = value

    @rx.event
    async def delete_conversation(self, conversation_id: int):
        """Delete a conversation (its actions stay in the history)."""
        user_id = await signed_in_user_id(self)
        if user_id is None or (self.running and conversation_id == self.conversation_id):
            return

        def _delete() -> None:
            with session_scope() as db:
                service.delete_conversation(
                    session=db, conversation_id=conversation_id, user_id=user_id
                )

        try:
            await asyncio.to_thread(_delete)
        except service.ChatError as exc:
            self.notice = exc.message
            return
        if conversation_id == self.conversation_id:
            await self._reset_conversation()
        return ChatState.refresh_conversations

    # --- base and model --------------------------------------------------------------

    @rx.event
    def choose_base(self, base_id: str):
        """Switch base; the next message is answered about it."""
        if self.running or base_id not in {b["id"] for b in self.bases}:
            return
        self.base_id = base_id

    @rx.event
    def choose_model(self, model: str):
        """Pick one of the models the admin allows."""
        if not self.running and model in self.models:
            self.model = model

    # --- layout ------------------------------------------------------------------------

    @rx.event
    def toggle_sidebar(self):
        """Collapse or expand the action sidebar (desktop)."""
        self.sidebar_open = not self.sidebar_open

    @rx.event
    def set_drawer_open(self, value: bool):
        """Open or close the action drawer (phone)."""
        self.drawer_open = value

    @rx.event
    def set_conversations_open(self, value: bool):
        """Open or close the conversation list."""
        self.conversations_open = value

    # --- the turn ----------------------------------------------------------------------

    @rx.event(background=True)
    async def send(self, form_data: dict[str, str]):
        """Ask the assistant: store the question and answer it, streaming."""
        question = (form_data.get("message") or "").strip()
        if not question:
            return
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None:
                return
            if self.running:
                # The form has already emptied the box: put the question back, not lose it.
                self.notice = (
                    "The assistant is still answering. Your question is back in the box: "
                    "send it when the answer has finished, or press Stop."
                )
                return rx.set_value("message-input", question)
            if not self.base_id:
                self.notice = "Choose a base first (the switcher above the conversation)."
                return
            self.notice = ""
            if not self.conversation_id:
                conversation_id = await asyncio.to_thread(
                    _create_conversation, user_id, self.base_id, self.model
                )
                self.conversation_id = conversation_id
                self.title = service.title_from_first_message(question)
            self.messages = [
                *self.messages,
                ChatItem(
                    id=0,
                    role="user",
                    content=question,
                    status="complete",
                    call_id="",
                    tool_name="",
                    arguments="",
                    duration="",
                    summary="",
                    meta="",
                ),
            ]
            self._begin_turn()
            args = (user_id, self.conversation_id, self.base_id, self.base_name, self.model)
            tab = self.router.session.client_token
        await self._run_turn(tab, *args, question=question)

    @rx.event(background=True)
    async def regenerate(self):
        """Answer the last question again, replacing the previous answer."""
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None or self.running or not self.conversation_id:
                return
            conversation_id = self.conversation_id

            def _drop() -> bool:
                with session_scope() as db:
                    return (
                        service.delete_last_answer(
                            session=db, conversation_id=conversation_id, user_id=user_id
                        )
                        is not None
                    )

            if not await asyncio.to_thread(_drop):
                return
            last_user = max(
                (i for i, m in enumerate(self.messages) if m["role"] == "user"), default=-1
            )
            self.messages = self.messages[: last_user + 1]
            self._begin_turn()
            args = (user_id, conversation_id, self.base_id, self.base_name, self.model)
            tab = self.router.session.client_token
        await self._run_turn(tab, *args, question=None)

    def _begin_turn(self) -> None:
        self.running = True
        self.stop_requested = False
        self.streaming_text = ""
        self.turn_stats = ""

    async def _run_turn(
        self,
        tab: str,
        user_id: int,
        conversation_id: int,
        base_id: str,
        base_name: str,
        model: str,
        *,
        question: str | None,
    ) -> None:
        settings = get_settings()
        try:
            prepared = await asyncio.to_thread(
                prepare_turn,
                user_id=user_id,
                conversation_id=conversation_id,
                base_id=base_id or None,
                base_name=base_name or None,
                model=model,
                question=question,
            )
        except (TurnSetupError, service.ChatError) as exc:
            async with self:
                self._show_error(exc.message)
                self.running = False
            return

        async def on_event(event: agent.AgentEvent) -> None:
            if not isinstance(event, agent.TextDelta | agent.StepStarted | agent.Usage):
                await asyncio.to_thread(prepared.recorder.record, event)
            async with self:
                if self.stop_requested and not isinstance(event, agent.TurnStopped):
                    # Stop pressed in a tab now served by another worker.
                    prepared.tools.cancel()
                    if (task := asyncio.current_task()) is not None:
                        task.cancel()
                    return
                self._apply(event)

        task = asyncio.create_task(
            agent.run_turn(
                history=prepared.history,
                system_prompt=prepared.system_prompt,
                tools=prepared.tools,
                model=model,
                api_base=settings.llm_api_base,
                api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
                timeout=settings.llm_timeout_seconds,
                max_steps=settings.llm_max_steps,
                on_event=on_event,
            )
        )
        _RUNNING_TURNS[tab] = (task, prepared)
        started = time.monotonic()
        try:
            await task
        except asyncio.CancelledError:
            logger.info("turn stopped by the user after %.1fs", time.monotonic() - started)
        except Exception:
            # The loop maps provider errors itself; anything here is our bug.
            logger.exception("chat turn failed")
            async with self:
                self._show_error("Something went wrong while answering. Try again.")
        finally:
            _RUNNING_TURNS.pop(tab, None)
            async with self:
                self.running = False
                self.stop_requested = False
                if self.streaming_text:
                    self.messages = [
                        *self.messages,
                        self._assistant_item(self.streaming_text, "stopped"),
                    ]
                    self.streaming_text = ""
        await self._after_turn(user_id, conversation_id)

    async def _after_turn(self, user_id: int, conversation_id: int) -> None:
        def _read() -> tuple[list[ActionItem], list[ConversationItem]]:
            with session_scope() as db:
                conversations = _conversation_items(db, user_id)
            return conversation_action_items(user_id, conversation_id), conversations

        items, conversations = await asyncio.to_thread(_read)
        async with self:
            if self.conversation_id == conversation_id:
                actions = await self.get_state(ActionsState)
                actions.show_conversation(conversation_id, items)
            self.conversations = conversations

    def _assistant_item(self, content: str, status: str, meta: str = "") -> ChatItem:
        return ChatItem(
            id=0,
            role="assistant",
            content=content,
            status=status,
            call_id="",
            tool_name="",
            arguments="",
            duration="",
            summary="",
            meta=meta,
        )

    def _show_error(self, message: str) -> None:
        self.messages = [
            *self.messages,
            ChatItem(
                id=0,
                role="error",
                content=message,
                status="failed",
                call_id="",
                tool_name="",
                arguments="",
                duration="",
                summary="",
                meta="",
            ),
        ]

    def _apply(self, event: agent.AgentEvent) -> None:
        """Show one agent event (called inside `async with self`)."""
        if isinstance(event, agent.TextDelta):
            self.streaming_text += event.text
        elif isinstance(event, agent.AssistantMessage):
            self.streaming_text = ""
            if event.content:
                meta = _usage_text(event.prompt_tokens, event.completion_tokens, event.cost_usd)
                self.messages = [
                    *self.messages,
                    self._assistant_item(event.content, "complete", meta),
                ]
        elif isinstance(event, agent.ToolStarted):
            self.messages = [
                *self.messages,
                ChatItem(
                    id=0,
                    role="tool",
                    content="",
                    status="running",
                    call_id=event.call_id,
                    tool_name=event.name,
                    arguments=_short_arguments(event.arguments_text),
                    duration="",
                    summary="",
                    meta="",
                ),
            ]
        elif isinstance(event, agent.ToolFinished):
            status = "stopped" if event.stopped else ("failed" if event.is_error else "complete")
            self.messages = [
                ChatItem(
                    **{
                        **m,
                        "status": status,
                        "duration": _duration(event.duration_ms),
                        "summary": event.summary[:160],
                    }
                )
                if m["role"] == "tool" and m["call_id"] == event.call_id
                else m
                for m in self.messages
            ]
        elif isinstance(event, agent.Usage):
            pass
        elif isinstance(event, agent.TurnError):
            if event.partial_text:
                self.messages = [*self.messages, self._assistant_item(event.partial_text, "failed")]
            self.streaming_text = ""
            self._show_error(event.message)
        elif isinstance(event, agent.TurnStopped):
            text = event.result.partial_text or self.streaming_text
            if text:
                self.messages = [*self.messages, self._assistant_item(text, "stopped")]
            self.streaming_text = ""
            self.notice = "Stopped."
        elif isinstance(event, agent.TurnDone):
            result = event.result
            self.turn_stats = "Last turn: " + _usage_text(
                result.prompt_tokens,
                result.completion_tokens,
                result.cost_usd,
                result.airtable_calls,
            )

    @rx.event
    def stop(self):
        """Stop the model and any running tool now."""
        if not self.running:
            return
        self.stop_requested = True
        entry = _RUNNING_TURNS.get(self.router.session.client_token)
        if entry is not None:
            task, prepared = entry
            prepared.tools.cancel()
            task.cancel()


def _create_conversation(user_id: int, base_id: str, model: str) -> int:
    with session_scope() as db:
        conversation = service.create_conversation(
            session=db, user_id=user_id, base_id=base_id or None, model=model
        )
        assert conversation.id is not None
        return conversation.id


# --- the page ---------------------------------------------------------------------------


def _conversation_row(item: ConversationItem) -> rx.Component:
    return rx.hstack(
        rx.button(
            rx.text(item["title"], trim="end", size="2"),
            variant=rx.cond(item["id"] == ChatState.conversation_id, "soft", "ghost"),
            on_click=ChatState.open_conversation(item["id"]),
            flex="1",
            justify="start",
            min_width="0",
            overflow="hidden",
        ),
        rx.icon_button(
            rx.icon("trash-2", size=14),
            variant="ghost",
            color_scheme="gray",
            size="1",
            aria_label="Delete " + item["title"],
            on_click=ChatState.delete_conversation(item["id"]),
        ),
        width="100%",
        align="center",
    )


def _conversation_list() -> rx.Component:
    return rx.vstack(
        rx.button(
            rx.icon("plus", size=16),
            "New conversation",
            on_click=ChatState.new_conversation,
            width="100%",
        ),
        rx.foreach(ChatState.conversations, _conversation_row),
        rx.cond(
            ChatState.conversations.length() == 0,
            rx.text("No conversations yet.", size="2", color_scheme="gray"),
        ),
        spacing="1",
        width="100%",
    )


def _toolbar() -> rx.Component:
    return rx.hstack(
        rx.drawer.root(
            rx.drawer.trigger(
                rx.button(
                    rx.icon("messages-square", size=16), "Conversations", variant="soft", size="2"
                ),
            ),
            rx.drawer.overlay(),
            rx.drawer.portal(
                rx.drawer.content(
                    rx.vstack(
                        rx.hstack(
                            rx.heading("Conversations", size="4"),
                            rx.spacer(),
                            rx.drawer.close(
                                rx.icon_button(rx.icon("x"), variant="ghost", aria_label="Close")
                            ),
                            width="100%",
                        ),
                        _conversation_list(),
                        padding="16px",
                        width="100%",
                        height="100%",
                        overflow_y="auto",
                    ),
                    background_color=rx.color("gray", 1),
                    width=["85vw", "320px"],
                    height="100%",
                    top="0",
                    left="0",
                ),
            ),
            direction="left",
            open=ChatState.conversations_open,
            on_open_change=ChatState.set_conversations_open,
        ),
        rx.select.root(
            rx.select.trigger(placeholder="Choose a base", aria_label="Base", max_width="220px"),
            rx.select.content(
                rx.foreach(ChatState.bases, lambda b: rx.select.item(b["name"], value=b["id"]))
            ),
            value=ChatState.base_id,
            on_change=ChatState.choose_base,
            disabled=ChatState.running,
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Model", max_width="220px"),
            rx.select.content(rx.foreach(ChatState.models, lambda m: rx.select.item(m, value=m))),
            value=ChatState.model,
            on_change=ChatState.choose_model,
            disabled=ChatState.running,
        ),
        rx.spacer(),
        rx.icon_button(
            rx.icon("panel-right", size=18),
            variant="ghost",
            aria_label="Actions",
            on_click=ChatState.toggle_sidebar,
            display=["none", "none", "inline-flex"],
        ),
        rx.icon_button(
            rx.icon("list-checks", size=18),
            variant="soft",
            aria_label="Actions",
            on_click=ChatState.set_drawer_open(True),
            display=["inline-flex", "inline-flex", "none"],
        ),
        width="100%",
        spacing="2",
        align="center",
        wrap="wrap",
        padding_x="16px",
        padding_y="8px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
    )


def _title_bar() -> rx.Component:
    return rx.hstack(
        rx.cond(
            ChatState.renaming,
            rx.form(
                rx.hstack(
                    rx.input(
                        name="title",
                        default_value=ChatState.title,
                        aria_label="Title",
                        auto_focus=True,
                        size="2",
                    ),
                    rx.button("Save", type="submit", size="2"),
                    rx.button(
                        "Cancel",
                        type="button",
                        variant="ghost",
                        size="2",
                        on_click=ChatState.set_renaming(False),
                    ),
                ),
                on_submit=ChatState.rename_conversation,
            ),
            rx.hstack(
                rx.heading(
                    rx.cond(ChatState.title != "", ChatState.title, "New conversation"),
                    size="4",
                    as_="h1",
                    trim="end",
                ),
                rx.cond(
                    ChatState.conversation_id != 0,
                    rx.icon_button(
                        rx.icon("pencil", size=14),
                        variant="ghost",
                        size="1",
                        aria_label="Rename",
                        on_click=ChatState.set_renaming(True),
                    ),
                ),
                align="center",
                min_width="0",
            ),
        ),
        rx.spacer(),
        rx.text(ChatState.turn_stats, size="1", color_scheme="gray", id="turn-stats"),
        width="100%",
        align="center",
        wrap="wrap",
        padding_x="16px",
        padding_top="10px",
    )


def _empty_state() -> rx.Component:
    return rx.vstack(
        rx.heading("Ask about ", ChatState.base_name, size="5"),
        rx.text(
            "For example: “Which tasks are overdue?”, “How many deals did we win this "
            "quarter?”, “Add a task for Ana due Friday”.",
            color_scheme="gray",
            size="2",
        ),
        padding="32px 16px",
        spacing="2",
        align="center",
        text_align="center",
    )


def _conversation() -> rx.Component:
    return rx.vstack(
        _title_bar(),
        rx.box(
            rx.cond(
                (ChatState.messages.length() == 0) & (ChatState.streaming_text == ""),
                _empty_state(),
            ),
            rx.foreach(
                ChatState.messages,
                lambda m: rx.cond(m["role"] == "tool", step_view(m), message_view(m)),
            ),
            rx.cond(
                ChatState.streaming_text != "",
                rx.box(
                    answer_markdown(ChatState.streaming_text),
                    class_name="assistant-message",
                    id="streaming-message",
                    aria_live="polite",
                ),
            ),
            rx.cond(
                ChatState.running & (ChatState.streaming_text == ""),
                rx.hstack(rx.spinner(size="1"), rx.text("Working…", size="2", color_scheme="gray")),
            ),
            flex="1",
            overflow_y="auto",
            padding="16px",
            width="100%",
            id="conversation",
        ),
        rx.cond(
            ChatState.notice != "",
            rx.callout(ChatState.notice, icon="info", size="1", margin_x="16px", role="status"),
        ),
        rx.form(
            rx.hstack(
                rx.text_area(
                    name="message",
                    placeholder="Ask about your base…",
                    title="Enter sends; Shift+Enter starts a new line",
                    aria_label="Message",
                    enter_key_submit=True,
                    auto_height=True,
                    rows="1",
                    max_length=8000,
                    flex="1",
                    size="3",
                    id="message-input",
                ),
                rx.cond(
                    ChatState.running,
                    rx.button(
                        rx.icon("square", size=16),
                        "Stop",
                        type="button",
                        color_scheme="red",
                        on_click=ChatState.stop,
                        size="3",
                    ),
                    rx.button(rx.icon("send", size=16), "Send", type="submit", size="3"),
                ),
                width="100%",
                align="end",
            ),
            on_submit=ChatState.send,
            reset_on_submit=True,
            width="100%",
            padding="12px 16px 16px",
        ),
        flex="7",
        min_width="0",
        height="100%",
        spacing="0",
    )


def _actions_panel() -> rx.Component:
    return rx.vstack(
        rx.heading("Actions", size="3", as_="h2"),
        rx.text(
            "Writes the assistant proposed in this conversation.", size="1", color_scheme="gray"
        ),
        rx.foreach(ActionsState.items, action_card),
        rx.cond(
            ActionsState.items.length() == 0,
            rx.text("Nothing yet.", size="2", color_scheme="gray"),
        ),
        rx.link("All actions in History", href=routes.HISTORY, size="2"),
        spacing="3",
        width="100%",
        padding="16px",
    )


def chat_page() -> rx.Component:
    """The conversation (about 70% on desktop) and the action sidebar (a drawer on phones)."""
    return private_page(
        _toolbar(),
        rx.hstack(
            _conversation(),
            rx.cond(
                ChatState.sidebar_open,
                rx.box(
                    _actions_panel(),
                    flex="3",
                    max_width="420px",
                    min_width="260px",
                    height="100%",
                    overflow_y="auto",
                    border_left=f"1px solid {rx.color('gray', 4)}",
                    display=["none", "none", "block"],
                    id="action-sidebar",
                ),
            ),
            width="100%",
            flex="1",
            min_height="0",
            spacing="0",
            align="stretch",
        ),
        rx.drawer.root(
            rx.drawer.overlay(),
            rx.drawer.portal(
                rx.drawer.content(
                    rx.box(
                        rx.hstack(
                            rx.spacer(),
                            rx.drawer.close(
                                rx.icon_button(
                                    rx.icon("x"), variant="ghost", aria_label="Close actions"
                                )
                            ),
                            padding="8px",
                        ),
                        _actions_panel(),
                        overflow_y="auto",
                        height="100%",
                    ),
                    background_color=rx.color("gray", 1),
                    width="88vw",
                    max_width="420px",
                    height="100%",
                    top="0",
                    right="0",
                    left="auto",
                ),
            ),
            direction="right",
            open=ChatState.drawer_open,
            on_open_change=ChatState.set_drawer_open,
        ),
        review_dialog(),
        full_height=True,
    )


def register_chat(app: rx.App) -> None:
    """Add the chat page to the app."""
    app.add_page(
        chat_page,
        route=routes.CHAT,
        title="Chat · PyAirtable UI",
        on_load=[AuthState.guard_private_page, ChatState.on_load],
    )
