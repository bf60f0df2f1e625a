"""`/chat`: the conversation with the assistant about one base (the hero page).

The layout: a toolbar (conversations, base, model), the conversation with its
composer (about 70% on desktop), and the action sidebar (a drawer on phones).
The state is in `state`, how a message and a step look in `parts`.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from pyairtable_ui import routes
from pyairtable_ui.components.action_review import action_card, proposal_card, review_dialog
from pyairtable_ui.components.llm_setup import llm_setup_banner
from pyairtable_ui.components.shell import private_page
from pyairtable_ui.pages.chat.parts import answer_markdown, message_view, step_view
from pyairtable_ui.pages.chat.rows import ConversationItem
from pyairtable_ui.pages.chat.state import ChatState
from pyairtable_ui.state.actions import ActionsState
from pyairtable_ui.state.auth import AuthState


def _conversation_row(item: ConversationItem) -> rx.Component:
    return rx.fragment(
        rx.cond(
            item["first_in_group"],
            rx.heading(
                item["group"],
                as_="h3",
                size="1",
                color_scheme="gray",
                padding_top="8px",
                class_name="conversation-group",
            ),
        ),
        _conversation_button(item),
    )


def _conversation_button(item: ConversationItem) -> rx.Component:
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
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            type="search",
            placeholder="Search conversations",
            aria_label="Search conversations",
            value=ChatState.search,
            on_change=ChatState.search_conversations,
            debounce_timeout=300,
            max_length=200,
            width="100%",
        ),
        rx.cond(
            ChatState.deleted_id != 0,
            rx.hstack(
                rx.text("Deleted “", ChatState.deleted_title, "”.", size="2", trim="end"),
                rx.button("Undo", variant="soft", size="1", on_click=ChatState.undo_delete),
                role="status",
                width="100%",
                align="center",
                justify="between",
                padding="6px 8px",
                border_radius="6px",
                background_color=rx.color("gray", 3),
            ),
        ),
        rx.foreach(ChatState.conversations, _conversation_row),
        rx.cond(
            ChatState.conversations.length() == 0,
            rx.text(
                rx.cond(
                    ChatState.search != "",
                    "No conversation matches your search.",
                    "No conversations yet.",
                ),
                size="2",
                color_scheme="gray",
            ),
        ),
        spacing="1",
        width="100%",
    )


def _toolbar() -> rx.Component:
    return rx.hstack(
        rx.drawer.root(
            rx.drawer.trigger(
                rx.button(
                    rx.icon("messages-square", size=16),
                    # The word from sm up; on a phone the icon, so the toolbar is one row.
                    rx.text("Conversations", display=["none", "inline"]),
                    variant="soft",
                    size="2",
                    aria_label="Conversations",
                    flex_shrink="0",
                ),
            ),
            rx.drawer.overlay(),
            rx.drawer.portal(
                rx.drawer.content(
                    rx.vstack(
                        rx.hstack(
                            rx.heading("Conversations", size="4", as_="h2"),
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
            rx.select.trigger(
                placeholder="Choose a base",
                aria_label="Base",
                max_width="220px",
                flex="3 1 0",
                min_width="0",
            ),
            rx.select.content(
                rx.foreach(ChatState.bases, lambda b: rx.select.item(b["name"], value=b["id"]))
            ),
            value=ChatState.base_id,
            on_change=ChatState.choose_base,
            disabled=ChatState.running,
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Model", max_width="220px", flex="3 1 0", min_width="0"),
            rx.select.content(
                rx.foreach(
                    ChatState.model_choices,
                    lambda m: rx.select.item(m["label"], value=m["value"]),
                )
            ),
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
        _drawer_trigger(),
        width="100%",
        spacing="2",
        align="center",
        # One row on a phone too: the switchers shrink (their text is cut with "…").
        wrap="nowrap",
        id="chat-toolbar",
        padding_x="16px",
        padding_y="8px",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
    )


def _drawer_trigger() -> rx.Component:
    """The phone's Actions button, with how many actions wait for review on it."""
    waiting = ActionsState.waiting_count
    return rx.box(
        rx.icon_button(
            rx.icon("list-checks", size=18),
            variant="soft",
            aria_label=rx.cond(
                waiting > 0,
                "Actions, " + waiting.to_string() + " waiting for review",
                "Actions",
            ),
            on_click=ChatState.set_drawer_open(True),
        ),
        rx.cond(
            waiting > 0,
            rx.badge(
                waiting,
                color_scheme="orange",
                variant="solid",
                radius="full",
                size="1",
                position="absolute",
                top="-6px",
                right="-6px",
                pointer_events="none",
                aria_hidden="true",
                id="actions-waiting",
            ),
        ),
        position="relative",
        flex_shrink="0",
        display=["inline-flex", "inline-flex", "none"],
    )


def _step_with_proposal(step: Any) -> rx.Component:
    """A tool step, and under it the card of the write it proposed (if it did)."""
    return rx.fragment(
        step_view(step),
        rx.cond(
            step["action_id"] != 0,
            rx.foreach(
                ActionsState.items,
                lambda a: rx.cond(a["step_action"] == step["action_id"], proposal_card(a)),
            ),
        ),
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
                rx.cond(
                    ChatState.conversation_id != 0,
                    rx.icon_button(
                        rx.icon("download", size=14),
                        variant="ghost",
                        size="1",
                        aria_label="Export as Markdown",
                        title="Export as Markdown",
                        on_click=ChatState.export_conversation,
                    ),
                ),
                align="center",
                min_width="0",
            ),
        ),
        rx.spacer(),
        width="100%",
        align="center",
        wrap="wrap",
        padding_x="16px",
        padding_top="10px",
    )


def _example_button(prompt: rx.Var[str], index: rx.Var[int]) -> rx.Component:
    return rx.button(
        rx.icon("sparkles", size=14),
        rx.text(prompt, text_align="left"),
        variant="surface",
        color_scheme="gray",
        size="2",
        height="auto",
        padding_y="6px",
        white_space="normal",
        max_width="100%",
        on_click=ChatState.ask_example(index),
        disabled=ChatState.running,
        class_name="example-prompt",
    )


def _empty_state() -> rx.Component:
    """Questions written from the selected base's own tables and fields, to click."""
    return rx.vstack(
        rx.heading("Ask about ", ChatState.base_name, size="5", as_="h2"),
        rx.cond(
            ChatState.examples.length() > 0,
            rx.fragment(
                rx.text("Try one of these:", color_scheme="gray", size="2"),
                rx.flex(
                    rx.foreach(ChatState.examples, _example_button),
                    wrap="wrap",
                    gap="8px",
                    justify="center",
                    max_width="640px",
                    id="example-prompts",
                ),
            ),
            rx.text(
                "Ask about its tables and records, or ask for a change: every change is "
                "shown to you to approve before anything is written.",
                color_scheme="gray",
                size="2",
            ),
        ),
        padding="32px 16px",
        spacing="3",
        align="center",
        text_align="center",
    )


def _jump_to_latest() -> rx.Component:
    """Over the foot of the conversation; shown by assets/chat_view.js when scrolled up."""
    return rx.box(
        rx.button(
            rx.icon("arrow-down", size=14),
            "Jump to latest",
            type="button",
            size="2",
            radius="full",
            variant="solid",
            id="jump-to-latest",
            position="absolute",
            bottom="8px",
            left="50%",
            transform="translateX(-50%)",
            z_index="5",
            box_shadow="0 2px 8px rgba(0, 0, 0, 0.2)",
        ),
        position="relative",
        width="100%",
        height="0",
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
                lambda m, i: rx.cond(
                    m["role"] == "tool",
                    _step_with_proposal(m),
                    message_view(
                        m,
                        is_answer=i == ChatState.answer_index,
                        is_last_question=i == ChatState.question_index,
                    ),
                ),
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
            # Followed in the browser (assets/chat_view.js); another conversation re-pins it.
            data_conversation=ChatState.conversation_id,
            on_mount=rx.call_script("window.chatView && window.chatView.attach()"),
        ),
        _jump_to_latest(),
        rx.cond(
            ChatState.notice != "",
            rx.callout(ChatState.notice, icon="info", size="1", margin_x="16px", role="status"),
        ),
        rx.cond(
            ChatState.editing,
            rx.hstack(
                rx.icon("pencil", size=14),
                rx.text(
                    "Editing your last question: sending replaces it and its answer.",
                    size="2",
                ),
                rx.spacer(),
                rx.button(
                    "Cancel",
                    type="button",
                    variant="ghost",
                    size="1",
                    on_click=ChatState.cancel_edit,
                ),
                role="status",
                id="editing-banner",
                align="center",
                margin="8px 16px 0",
                padding="6px 10px",
                border_radius="6px",
                background_color=rx.color("accent", 3),
            ),
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
                    # Ready to type on arrival (the composer mounts once the session is known).
                    auto_focus=True,
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
                        title="Stop the answer (Esc)",
                        id="stop-button",
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
        llm_setup_banner(),
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
    """Add the chat page to the app (the LLM library is loaded by the first model call)."""
    app.add_page(
        chat_page,
        route=routes.CHAT,
        title="Chat · PyAirtable UI",
        on_load=[AuthState.guard_private_page, ChatState.on_load],
    )
