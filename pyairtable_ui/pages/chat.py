"""`/chat`: the conversation with the assistant about one base."""

from __future__ import annotations

import asyncio

import reflex as rx

from pyairtable_ui import routes
from pyairtable_ui.auth.models import User
from pyairtable_ui.components.shell import private_page
from pyairtable_ui.db import session_scope
from pyairtable_ui.state.auth import AuthState, NotSignedInError, login_redirect


class ChatState(rx.State):
    """The open conversation and the base it is about."""

    base_id: str = ""

    @rx.event
    async def on_load(self):
        """Open the chat on the user's base."""
        auth = await self.get_state(AuthState)
        try:
            user_id = await auth.require_user_id()
        except NotSignedInError:
            return rx.redirect(login_redirect(routes.CHAT), replace=True)

        def _read() -> str:
            with session_scope() as db:
                user = db.get(User, user_id)
                return (user.default_base_id or "") if user else ""

        self.base_id = await asyncio.to_thread(_read)
        return None


def chat_page() -> rx.Component:
    """The hero page."""
    return private_page(
        rx.vstack(
            rx.heading("Chat", size="6", as_="h1"),
            rx.text("Base: ", rx.code(ChatState.base_id), id="current-base"),
            padding="20px",
            width="100%",
        ),
    )


def register_chat(app: rx.App) -> None:
    """Add the chat page to the app."""
    app.add_page(
        chat_page,
        route=routes.CHAT,
        title="Chat · PyAirtable UI",
        on_load=[AuthState.guard_private_page, ChatState.on_load],
    )
