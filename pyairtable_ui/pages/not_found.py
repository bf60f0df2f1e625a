"""Every unknown path: the product's frame, "Page not found" and the way back in."""

from __future__ import annotations

import reflex as rx

from pyairtable_ui import routes
from pyairtable_ui.components.layout import auth_card
from pyairtable_ui.state.auth import AuthState

# Reflex serves the page registered under this route for any path it does not know.
NOT_FOUND_ROUTE = "404"


def not_found_page() -> rx.Component:
    """A mistyped or stale link still leads somewhere useful."""
    return auth_card(
        "Page not found",
        rx.text("There is no page at this address. It may have moved, or the link is mistyped."),
        rx.cond(
            AuthState.signed_in,
            rx.link("Go to the chat", href=routes.CHAT),
            rx.link("Go to sign in", href=routes.LOGIN),
        ),
    )


def register_not_found(app: rx.App) -> None:
    """Add the branded 404 page to the app."""
    app.add_page(
        not_found_page,
        route=NOT_FOUND_ROUTE,
        title="Page not found · PyAirtable UI",
        on_load=AuthState.check_session,
    )
