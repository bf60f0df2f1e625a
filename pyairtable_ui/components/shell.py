"""The frame of signed-in pages: top bar with navigation, and no flash of private content."""

from __future__ import annotations

from typing import Literal

import reflex as rx
from reflex.style import set_color_mode

from pyairtable_ui import routes
from pyairtable_ui.components.layout import brand
from pyairtable_ui.state.auth import AuthState
from pyairtable_ui.state.budget import BudgetState


def _nav_link(label: str, href: str) -> rx.Component:
    return rx.link(label, href=href, size="2", weight="medium", underline="none")


_THEMES: tuple[tuple[str, Literal["light", "dark", "system"], str], ...] = (
    ("Light", "light", "sun"),
    ("Dark", "dark", "moon"),
    ("System", "system", "monitor"),
)


def _theme_items() -> list[rx.Component]:
    """Light, dark or the device's setting; the browser remembers the choice (Reflex)."""
    return [
        rx.box(
            rx.text("Theme", size="1", color_scheme="gray", weight="medium"),
            padding_x="8px",
            padding_y="4px",
        ),
        *(
            rx.menu.item(
                rx.hstack(
                    rx.icon(icon, size=14),
                    rx.text(label),
                    rx.spacer(),
                    rx.cond(rx.color_mode == mode, rx.icon("check", size=14)),
                    width="100%",
                    align="center",
                ),
                on_click=set_color_mode(mode),
                custom_attrs={
                    "role": "menuitemradio",
                    "aria-checked": rx.cond(rx.color_mode == mode, "true", "false"),
                },
                class_name="theme-choice",
            )
            for label, mode, icon in _THEMES
        ),
    ]


def top_bar(*extra: rx.Component) -> rx.Component:
    """Brand, page links and the account menu; wraps on narrow screens."""
    return rx.hstack(
        rx.link(brand(), href=routes.CHAT, underline="none", color="inherit"),
        *extra,
        rx.spacer(),
        rx.hstack(
            _nav_link("Chat", routes.CHAT),
            _nav_link("History", routes.HISTORY),
            _nav_link("Automations", routes.AUTOMATIONS),
            _nav_link("Schedules", routes.SCHEDULES),
            _nav_link("Settings", routes.SETTINGS),
            rx.cond(AuthState.is_admin, _nav_link("Admin", routes.ADMIN)),
            spacing="4",
            align="center",
            display=["none", "none", "flex"],
        ),
        rx.menu.root(
            rx.menu.trigger(
                rx.button(
                    rx.icon("circle-user", size=18),
                    rx.text(AuthState.user_name, display=["none", "inline"]),
                    variant="ghost",
                    aria_label="Account menu",
                ),
            ),
            rx.menu.content(
                rx.box(
                    rx.text(AuthState.user_email, size="1", color_scheme="gray"),
                    padding_x="8px",
                    padding_y="4px",
                ),
                rx.menu.item("Chat", on_click=rx.redirect(routes.CHAT)),
                rx.menu.item("History", on_click=rx.redirect(routes.HISTORY)),
                rx.menu.item("Automations", on_click=rx.redirect(routes.AUTOMATIONS)),
                rx.menu.item("Schedules", on_click=rx.redirect(routes.SCHEDULES)),
                rx.menu.item("Settings", on_click=rx.redirect(routes.SETTINGS)),
                rx.cond(
                    AuthState.is_admin,
                    rx.menu.item("Admin", on_click=rx.redirect(routes.ADMIN)),
                ),
                rx.menu.separator(),
                *_theme_items(),
                rx.menu.separator(),
                rx.menu.item("Sign out", on_click=AuthState.logout, color_scheme="red"),
            ),
        ),
        width="100%",
        align="center",
        padding_x="16px",
        padding_y="10px",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        spacing="3",
        wrap="wrap",
    )


def budget_banner() -> rx.Component:
    """The admins' banner at 80% of the month's Airtable budget (read when a page opens)."""
    return rx.box(
        rx.cond(
            BudgetState.warning != "",
            rx.callout(
                BudgetState.warning,
                icon="triangle-alert",
                color_scheme="orange",
                role="status",
                id="budget-banner",
                margin="8px 16px 0",
            ),
        ),
        on_mount=BudgetState.load,
    )


def private_page(
    *children: rx.Component,
    bar_extra: list[rx.Component] | None = None,
    full_height: bool = False,
) -> rx.Component:
    """Render `children` only once the server confirmed the session (no flash of data).

    Args:
        children: The page's content.
        bar_extra: Components placed in the top bar after the brand.
        full_height: Fill exactly the viewport (the chat scrolls inside, not the page).
    """
    return rx.cond(
        AuthState.signed_in,
        rx.vstack(
            top_bar(*(bar_extra or [])),
            budget_banner(),
            *children,
            spacing="0",
            width="100%",
            height="100dvh" if full_height else "auto",
            min_height="0" if full_height else "100vh",
            overflow="hidden" if full_height else "visible",
            align="stretch",
        ),
        rx.center(rx.spinner(size="3"), min_height="100vh", aria_label="Loading"),
    )


def page_column(*children: rx.Component, max_width: str = "760px") -> rx.Component:
    """A centred column of page content, padded, as wide as `max_width` at most."""
    return rx.center(
        rx.vstack(*children, spacing="4", width="100%", max_width=max_width, padding="20px"),
        width="100%",
    )
