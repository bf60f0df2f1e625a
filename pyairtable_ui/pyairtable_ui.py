"""The Reflex app: pages, the HTTP routes beside them, and start-up work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import reflex as rx

from pyairtable_ui import migrations
from pyairtable_ui.api.app import build_api
from pyairtable_ui.db import get_engine
from pyairtable_ui.observability import configure_logging
from pyairtable_ui.pages.admin import register_admin
from pyairtable_ui.pages.chat import register_chat
from pyairtable_ui.pages.login import register_login
from pyairtable_ui.pages.onboarding import register_onboarding
from pyairtable_ui.pages.register import register_register
from pyairtable_ui.pages.reset import register_reset
from pyairtable_ui.pages.settings import register_settings
from pyairtable_ui.pages.verify import register_verify
from pyairtable_ui.settings import get_settings
from pyairtable_ui.state.auth import AuthState

logger = logging.getLogger("pyairtable_ui")


@contextlib.asynccontextmanager
async def apply_migrations() -> AsyncIterator[None]:
    """Bring the database to the newest schema before serving (replicas take turns)."""
    configure_logging(get_settings().log_level)
    await asyncio.to_thread(migrations.upgrade_to_head, get_engine())
    yield


def index() -> rx.Component:
    """`/`: the app lives in the chat; signed-out visitors go to login."""
    return rx.center(rx.spinner(), min_height="100vh")


app = rx.App(
    api_transformer=build_api(),
    html_lang="en",
    stylesheets=["/chat.css"],
    head_components=[
        rx.el.meta(name="viewport", content="width=device-width, initial-scale=1"),
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
    ],
)
app.register_lifespan_task(apply_migrations)

app.add_page(index, route="/", title="PyAirtable UI", on_load=AuthState.guard_private_page)
register_login(app)
register_register(app)
register_verify(app)
register_reset(app)
register_onboarding(app)
register_settings(app)
register_chat(app)
register_admin(app)
