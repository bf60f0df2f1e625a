"""Page frames: the product's name and the centred card of the auth pages.

Form fields and messages are in `pyairtable_ui.components.forms`.
"""

from __future__ import annotations

import reflex as rx


def brand() -> rx.Component:
    """The product's name, as it heads every page."""
    return rx.hstack(
        rx.icon("table-2", size=22, color=rx.color("accent", 10)),
        rx.text("PyAirtable UI", weight="bold", size="4"),
        align="center",
        spacing="2",
    )


def auth_card(title: str, *children: rx.Component, subtitle: str = "") -> rx.Component:
    """A narrow card centred on the page; fits a 375 px phone without sideways scroll."""
    return rx.center(
        rx.card(
            rx.vstack(
                brand(),
                rx.heading(title, size="6", as_="h1"),
                rx.cond(subtitle != "", rx.text(subtitle, color_scheme="gray", size="2")),
                *children,
                spacing="4",
                width="100%",
            ),
            size="3",
            width="100%",
            max_width="420px",
        ),
        min_height="100vh",
        padding="16px",
        width="100%",
        box_sizing="border-box",
    )
