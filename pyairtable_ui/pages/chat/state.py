"""The chat page's state: the open conversation, its base and model, the running turn.

The turn runs in a background handler: the model's text streams into one small
var (`streaming_text`); finished messages move into `messages`, which changes
only at message boundaries. State holds ids and the slice on screen; the
conversation itself lives in the database. The handlers read state, await one
flow (`chat.flows`, `chat.turns`) and write state; the rows come from `rows`.
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx
from reflex.event import EventSpec

from pyairtable_ui import routes
from pyairtable_ui.chat import agent, flows, service, turns
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.llm.setup import model_label
from pyairtable_ui.pages.chat.rows import (
    BaseItem,
    ChatItem,
    ConversationItem,
    Tally,
    address_conversation_id,
    assistant_item,
    base_items,
    conversation_items,
    empty_tally,
    error_item,
    items_from_rows,
    last_answer_index,
    last_question_index,
    running_step_item,
    step_status,
    tally_add,
    tally_text,
    through_last_question,
    user_item,
    with_actions,
    with_last_turn,
    with_step_finished,
)
from pyairtable_ui.routes import login_redirect, return_path
from pyairtable_ui.state.actions import ActionsState
from pyairtable_ui.state.auth import signed_in_user_id

logger = logging.getLogger(__name__)

MESSAGES_ON_SCREEN = 200


def conversation_path(conversation_id: int) -> str:
    """The chat's address with a conversation open (`/chat?c=12`), or the chat's own."""
    return f"{routes.CHAT}?c={conversation_id}" if conversation_id else routes.CHAT


class ChatState(rx.State):
    """The open conversation, the base and model it uses, and the running turn."""

    conversations: list[ConversationItem] = []
    # What the conversation list is searched for ("" lists them all).
    search: str = ""
    # The conversation just deleted, which the list offers to bring back (0: none).
    deleted_id: int = 0
    deleted_title: str = ""
    _deleted_was_open: bool = False
    conversation_id: int = 0
    title: str = ""
    messages: list[ChatItem] = []
    streaming_text: str = ""
    running: bool = False
    stop_requested: bool = False
    notice: str = ""

    bases: list[BaseItem] = []
    base_id: str = ""
    # Questions to start with, naming the selected base's own tables (`chat.examples`).
    examples: list[str] = []
    _examples_base: str = ""
    models: list[str] = []
    model: str = ""

    sidebar_open: bool = True
    drawer_open: bool = False
    conversations_open: bool = False
    # What the running turn has used so far, shown in the details of the answer ending it.
    _tally: Tally = empty_tally()
    renaming: bool = False
    # The last question is back in the composer: sending replaces it and its answer.
    editing: bool = False
    # A question whose turn could not start (so it was not stored), for Retry to send again.
    _unsent_question: str = ""
    # Conversations this tab just put in the address (`_show_in_address`; 0: none open):
    # the on_load that navigation fires finds them already open and loads nothing.
    _address_pending: list[int] = []

    @rx.var
    def base_name(self) -> str:
        """The name of the selected base."""
        return next((b["name"] for b in self.bases if b["id"] == self.base_id), self.base_id)

    @rx.var
    def model_choices(self) -> list[dict[str, str]]:
        """The allowed models as the picker names them (the demo model says what it is)."""
        return [{"value": model, "label": model_label(model)} for model in self.models]

    @rx.var
    def answer_index(self) -> int:
        """Which row answers the last question (-1: none): only it offers Regenerate or Retry."""
        return last_answer_index(self.messages)

    @rx.var
    def question_index(self) -> int:
        """Which row is the last question (-1: none): only it can be edited and resent."""
        return last_question_index(self.messages)

    # --- loading -------------------------------------------------------------------

    @rx.event
    async def on_load(self):
        """Open the conversation in the address (`?c=<id>`, else the tab's) on the user's base.

        Not the user's, deleted or no such id: nothing opens and the notice says only
        that it does not exist, so another user's conversation reveals nothing.
        """
        user_id = await signed_in_user_id(self)
        if user_id is None:
            # Back to this very conversation once signed in (`/chat?c=12`).
            here = return_path(routes.CHAT, self.router.url.query)
            return rx.redirect(login_redirect(here), replace=True)
        query = self.router.url.query_parameters
        requested = query.get("c", "")
        requested_id = address_conversation_id(requested if "c" in query else None)
        if requested_id in self._address_pending:
            pending = list(self._address_pending)
            pending.remove(requested_id)
            self._address_pending = pending
            return None
        self._address_pending = []
        self.notice = ""
        self.search = ""
        self.deleted_id = 0

        # The address names the conversation; without one, the tab's open one stays open.
        wanted = (requested_id,) if "c" in query else (self.conversation_id,)
        start = await asyncio.to_thread(
            flows.start_chat, user_id, wanted=wanted, last=MESSAGES_ON_SCREEN
        )
        self.conversations = conversation_items(start.conversations)
        self.models = start.models
        if not self.model or self.model not in self.models:
            self.model = (
                start.default_model if start.default_model in self.models else self.models[0]
            )
        if not self.base_id:
            self.base_id = start.default_base_id
        if start.opened is not None:
            await self._show_opened(start.opened)
        else:
            await self._reset_conversation()
            if "c" in query:
                # Someone else's looks exactly like one that does not exist.
                self.notice = service.ConversationNotFoundError().message
        address = f"{routes.CHAT}?c={requested}" if "c" in query else routes.CHAT
        if address == conversation_path(self.conversation_id):
            return ChatState.load_bases
        return [self._show_in_address(), ChatState.load_bases]

    def _show_in_address(self) -> EventSpec:
        """Put the open conversation in the address (a link to it), replacing the entry.

        The navigation fires on_load again; `_address_pending` tells it there is
        nothing to open (the bases are not fetched again either).
        """
        self._address_pending = [*self._address_pending, self.conversation_id]
        return rx.redirect(conversation_path(self.conversation_id), replace=True)

    async def _reset_conversation(self) -> None:
        self.conversation_id = 0
        actions = await self.get_state(ActionsState)
        actions.show_conversation(0, [])
        self.title = ""
        self.messages = []
        self.streaming_text = ""
        self._unsent_question = ""
        self.editing = False

    async def _open(self, user_id: int, conversation_id: int) -> None:
        try:
            opened = await asyncio.to_thread(
                flows.open_conversation, user_id, conversation_id, last=MESSAGES_ON_SCREEN
            )
        except service.ConversationNotFoundError:
            await self._reset_conversation()
            return
        await self._show_opened(opened)

    async def _show_opened(self, opened: flows.OpenedConversation) -> None:
        conversation = opened.conversation
        conversation_id = conversation.id or 0
        items = items_from_rows(opened.messages, conversation.base_id or "")
        self.messages = with_actions(with_last_turn(items, opened.last_turn), opened.action_items)
        actions = await self.get_state(ActionsState)
        actions.show_conversation(conversation_id, opened.action_items)
        self.conversation_id = conversation_id
        self.title = conversation.title
        if conversation.base_id:
            self.base_id = conversation.base_id
        if conversation.model and conversation.model in self.models:
            self.model = conversation.model
        self.streaming_text = ""
        self._unsent_question = ""
        self.editing = False

    @rx.event
    async def load_bases(self):
        """Fill the base switcher with the bases the user's token sees."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return None

        try:
            self.bases = base_items(await asyncio.to_thread(flows.bases_for_user, user_id))
        except UserFacingError as exc:
            self.notice = exc.message
            self.bases = []
            return None
        return ChatState.load_examples

    @rx.event
    async def load_examples(self):
        """Write the example questions for the selected base (once per base)."""
        user_id = await signed_in_user_id(self)
        if user_id is None or not self.base_id or self._examples_base == self.base_id:
            return
        base_id = self.base_id
        self.examples = await asyncio.to_thread(flows.example_prompts, user_id, base_id)
        self._examples_base = base_id

    @rx.event
    async def ask_example(self, index: int):
        """Send the example question clicked, as if it had been typed."""
        user_id = await signed_in_user_id(self)
        if user_id is None or self.running or not 0 <= index < len(self.examples):
            return None
        return ChatState.send({"message": self.examples[index]})

    @rx.event
    async def refresh_conversations(self):
        """Read the conversation list again (titles change after the first message)."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return
        self.conversations = conversation_items(
            await asyncio.to_thread(flows.list_conversations, user_id, search=self.search)
        )

    @rx.event
    async def search_conversations(self, value: str):
        """List only the conversations whose title or messages contain what was typed."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return
        self.search = value[: service.MAX_SEARCH_LENGTH]
        self.conversations = conversation_items(
            await asyncio.to_thread(flows.list_conversations, user_id, search=self.search)
        )

    # --- conversations ---------------------------------------------------------------

    @rx.event
    async def open_conversation(self, conversation_id: int):
        """Show another conversation (not while a turn runs)."""
        user_id = await signed_in_user_id(self)
        if user_id is None or self.running:
            return None
        await self._open(user_id, conversation_id)
        self.conversations_open = False
        self.notice = ""
        return self._show_in_address()

    @rx.event
    async def new_conversation(self):
        """Start an empty conversation; it is created when the first message is sent."""
        if self.running:
            return None
        await self._reset_conversation()
        self.conversations_open = False
        self.notice = ""
        return [self._show_in_address(), ChatState.load_examples]

    @rx.event
    async def rename_conversation(self, form_data: dict[str, str]):
        """Rename the open conversation."""
        user_id = await signed_in_user_id(self)
        if user_id is None or not self.conversation_id:
            return
        title = form_data.get("title", "")
        try:
            self.title = await asyncio.to_thread(
                flows.rename_conversation, user_id, self.conversation_id, title
            )
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
        """Delete a conversation (its actions stay in the history); the list offers Undo."""
        user_id = await signed_in_user_id(self)
        if user_id is None or (self.running and conversation_id == self.conversation_id):
            return None
        try:
            await asyncio.to_thread(flows.delete_conversation, user_id, conversation_id)
        except service.ChatError as exc:
            self.notice = exc.message
            return None
        self.deleted_id = conversation_id
        self.deleted_title = next(
            (c["title"] for c in self.conversations if c["id"] == conversation_id), ""
        )
        self._deleted_was_open = conversation_id == self.conversation_id
        if self._deleted_was_open:
            await self._reset_conversation()
            return [self._show_in_address(), ChatState.refresh_conversations]
        return ChatState.refresh_conversations

    @rx.event
    async def undo_delete(self):
        """Bring back the conversation just deleted (and open it again if it was open)."""
        user_id = await signed_in_user_id(self)
        if user_id is None or not self.deleted_id:
            return None
        conversation_id, self.deleted_id = self.deleted_id, 0
        try:
            await asyncio.to_thread(flows.restore_conversation, user_id, conversation_id)
        except service.ChatError as exc:
            self.notice = exc.message
            return None
        if self._deleted_was_open and not self.running and not self.conversation_id:
            await self._open(user_id, conversation_id)
            return [self._show_in_address(), ChatState.refresh_conversations]
        return ChatState.refresh_conversations

    @rx.event
    async def export_conversation(self):
        """Download the open conversation as a Markdown file (a text file, not a page)."""
        user_id = await signed_in_user_id(self)
        if user_id is None or not self.conversation_id:
            return None
        try:
            exported = await asyncio.to_thread(
                flows.export_conversation, user_id, self.conversation_id
            )
        except service.ChatError as exc:
            self.notice = exc.message
            return None
        return rx.download(
            data=exported.markdown, filename=exported.filename, mime_type="text/markdown"
        )

    # --- base and model --------------------------------------------------------------

    @rx.event
    def choose_base(self, base_id: str):
        """Switch base; the next message is answered about it."""
        if self.running or base_id not in {b["id"] for b in self.bases}:
            return None
        self.base_id = base_id
        return ChatState.load_examples

    @rx.event
    def choose_model(self, model: str):
        """Pick one of the models the admin allows."""
        if not self.running and model in self.models:
            self.model = model

    # --- layout ------------------------------------------------------------------------

    @rx.event
    def schedule_this(self):
        """Open /schedules with the last question, base and model filled in (it checks the user)."""
        question = next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")
        return rx.redirect(routes.schedule_question(question, self.base_id, self.model))

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

    @rx.event
    async def edit_last_question(self):
        """Put the last question back in the composer, to change it and send it again."""
        user_id = await signed_in_user_id(self)
        index = last_question_index(self.messages)
        if user_id is None or self.running or index < 0:
            return None
        self.editing = True
        self.notice = ""
        return [
            rx.set_value("message-input", self.messages[index]["content"]),
            rx.set_focus("message-input"),
        ]

    @rx.event
    def cancel_edit(self):
        """Keep the last question and its answer as they are; empty the composer."""
        if not self.editing:
            return None
        self.editing = False
        return rx.set_value("message-input", "")

    async def _drop_edited_exchange(self, user_id: int) -> None:
        """Take the last question and its answer out, for the edited one (inside `async with`).

        A proposal the dropped answer made is not applied and not lost: it stays in
        the Actions list, waiting for review, and the notice says so.
        """
        self.editing = False
        index = last_question_index(self.messages)
        if index < 0:
            return
        if self._unsent_question:
            # The question was never stored (its turn could not start): nothing to delete.
            self._unsent_question = ""
        else:
            dropped = await asyncio.to_thread(
                flows.drop_last_exchange, user_id, self.conversation_id
            )
            if dropped is not None and dropped.waiting_action_ids:
                count = len(dropped.waiting_action_ids)
                self.notice = (
                    f"The replaced answer proposed {count} change{'s' if count > 1 else ''}: "
                    "nothing was written. It is still in Actions, waiting for your review."
                )
        self.messages = self.messages[:index]

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
                yield rx.set_value("message-input", question)
                return
            if not self.base_id:
                self.notice = "Choose a base first (the switcher above the conversation)."
                return
            self.notice = ""
            if self.editing and self.conversation_id:
                await self._drop_edited_exchange(user_id)
            created = not self.conversation_id
            if created:
                self.conversation_id = await asyncio.to_thread(
                    flows.start_conversation, user_id, self.base_id, self.model
                )
                self.title = service.title_from_first_message(question)
            self.messages = [*self.messages, user_item(question)]
            self._begin_turn()
            request = self._turn_request(user_id, question=question)
            tab = self.router.session.client_token
        await self._answer(request, tab)
        if created:
            # Linked once the turn has ended: navigating re-syncs the whole page state,
            # which is better not done while the answer streams in.
            async with self:
                link = (
                    self._show_in_address()
                    if self.conversation_id == request.conversation_id
                    else None
                )
            if link is not None:
                yield link

    @rx.event(background=True)
    async def regenerate(self):
        """Answer the last question again, replacing the previous answer."""
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None or self.running or not self.conversation_id:
                return
            request = await self._answer_again(user_id)
            tab = self.router.session.client_token
        if request is not None:
            await self._answer(request, tab)

    @rx.event(background=True)
    async def retry(self):
        """Ask the question whose answer ended in an error again."""
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None or self.running or not self.conversation_id:
                return
            index = last_answer_index(self.messages)
            if index < 0 or self.messages[index]["role"] != "error":
                return
            if self._unsent_question:
                # The turn never started, so the question was not stored: send it anew.
                self.messages = through_last_question(self.messages)
                question = self._unsent_question
                self._begin_turn()
                request: turns.TurnRequest | None = self._turn_request(user_id, question=question)
            else:
                request = await self._answer_again(user_id)
            tab = self.router.session.client_token
        if request is not None:
            await self._answer(request, tab)

    async def _answer_again(self, user_id: int) -> turns.TurnRequest | None:
        """Drop the last answer and begin answering its question again (inside `async with`)."""
        if not await asyncio.to_thread(flows.drop_last_answer, user_id, self.conversation_id):
            return None
        self.messages = through_last_question(self.messages)
        self._begin_turn()
        return self._turn_request(user_id, question=None)

    def _begin_turn(self) -> None:
        self.running = True
        self.stop_requested = False
        self.streaming_text = ""
        self._tally = empty_tally()
        self._unsent_question = ""

    def _turn_request(self, user_id: int, *, question: str | None) -> turns.TurnRequest:
        return turns.TurnRequest(
            user_id=user_id,
            conversation_id=self.conversation_id,
            base_id=self.base_id or None,
            base_name=self.base_name or None,
            model=self.model,
            question=question,
        )

    async def _answer(self, request: turns.TurnRequest, tab: str) -> None:
        async def show(event: agent.AgentEvent) -> None:
            async with self:
                if self.stop_requested:
                    # Stop pressed in a tab now served by another worker: stop it here
                    # (once; later calls leave it to report how it stopped). How it
                    # stopped is shown (the step, the answer), the text after Stop is not.
                    turns.stop_turn(tab)
                    if isinstance(event, agent.TextDelta):
                        return
                self._apply(event)
            if isinstance(event, agent.ToolFinished) and event.action_id:
                # Its card shows under the step (and the Actions badge counts it) now,
                # not only once the turn has ended.
                await self._show_actions(request.user_id, request.conversation_id)

        outcome = await turns.answer(request, show, turn_key=tab)
        async with self:
            if outcome.error:
                self._show_error(outcome.error)
                if not outcome.started:
                    self._unsent_question = request.question or ""
            self.running = False
            if outcome.started:
                self.stop_requested = False
                if self.streaming_text:
                    self.messages = [
                        *self.messages,
                        assistant_item(self.streaming_text, "stopped"),
                    ]
                    self.streaming_text = ""
        if outcome.started:
            await self._after_turn(request.user_id, request.conversation_id)

    async def _after_turn(self, user_id: int, conversation_id: int) -> None:
        async with self:
            search = self.search
        after = await asyncio.to_thread(flows.after_turn, user_id, conversation_id, search=search)
        async with self:
            if self.conversation_id == conversation_id:
                actions = await self.get_state(ActionsState)
                actions.show_conversation(conversation_id, after.action_items)
            self.conversations = conversation_items(after.conversations)

    async def _show_actions(self, user_id: int, conversation_id: int) -> None:
        items = await asyncio.to_thread(flows.conversation_actions, user_id, conversation_id)
        async with self:
            if self.conversation_id == conversation_id:
                actions = await self.get_state(ActionsState)
                actions.show_conversation(conversation_id, items)

    def _show_error(self, message: str) -> None:
        self.messages = [*self.messages, error_item(message)]

    def _apply(self, event: agent.AgentEvent) -> None:
        """Show one agent event (called inside `async with self`)."""
        if isinstance(event, agent.TextDelta):
            self.streaming_text += event.text
        elif isinstance(event, agent.AssistantMessage):
            self.streaming_text = ""
            self._tally = tally_add(
                self._tally,
                event.prompt_tokens,
                event.completion_tokens,
                event.cost_usd,
                event.airtable_calls,
            )
            if event.content:
                # Tool calls alone show no line: their use goes in the answer's details.
                meta = tally_text(self._tally)
                self._tally = empty_tally()
                self.messages = [*self.messages, assistant_item(event.content, "complete", meta)]
        elif isinstance(event, agent.ToolStarted):
            self.messages = [
                *self.messages,
                running_step_item(event.call_id, event.name, event.arguments_text),
            ]
        elif isinstance(event, agent.ToolFinished):
            self._tally = tally_add(self._tally, calls=event.airtable_calls)
            self.messages = with_step_finished(
                self.messages,
                call_id=event.call_id,
                status=step_status(stopped=event.stopped, is_error=event.is_error),
                duration_ms=event.duration_ms,
                summary=event.summary,
                action_id=event.action_id,
                content=event.content,
                base_id=self.base_id,
            )
        elif isinstance(event, (agent.Usage, agent.TurnDone)):
            pass  # each answer's details carry its turn's use (`_tally`)
        elif isinstance(event, agent.TurnError):
            if event.partial_text:
                self.messages = [*self.messages, assistant_item(event.partial_text, "failed")]
            self.streaming_text = ""
            self._show_error(event.message)
        elif isinstance(event, agent.TurnStopped):
            # Marked stopped even with no text yet (stopped during a tool): what the
            # person sees says the turn was cut short, not that it is still thinking.
            text = event.result.partial_text or self.streaming_text
            meta = tally_text(self._tally)
            self.messages = [*self.messages, assistant_item(text, "stopped", meta)]
            self.streaming_text = ""
            self.notice = "Stopped."

    @rx.event
    def stop(self):
        """Stop the model and any running tool now."""
        if not self.running:
            return
        self.stop_requested = True
        turns.stop_turn(self.router.session.client_token)
