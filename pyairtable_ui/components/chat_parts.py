"""How one chat message and one tool step look.

Airtable content is data: Markdown is rendered without raw HTML, so a cell holding
`<script>` or `<img onerror=…>` shows as text.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

_STATUS_COLOR = {
    "running": "blue",
    "complete": "green",
    "failed": "red",
    "stopped": "orange",
}


def _status_badge(status: rx.Var[str]) -> rx.Component:
    return rx.match(
        status,
        ("running", rx.badge(rx.spinner(size="1"), "running", color_scheme="blue")),
        ("complete", rx.badge("done", color_scheme="green")),
        ("failed", rx.badge("failed", color_scheme="red")),
        ("stopped", rx.badge("stopped", color_scheme="orange")),
        rx.badge(status),
    )


def message_view(message: Any) -> rx.Component:
    """A user question, an assistant answer (Markdown, no raw HTML) or an error."""
    from pyairtable_ui.pages.chat import ChatState  # the page's state; avoids an import cycle

    return rx.match(
        message["role"],
        (
            "user",
            rx.flex(
                rx.box(
                    rx.text(message["content"], white_space="pre-wrap", size="3"),
                    background_color=rx.color("accent", 3),
                    padding="10px 14px",
                    border_radius="12px",
                    max_width="85%",
                    class_name="user-message",
                ),
                justify="end",
                width="100%",
                margin_y="8px",
            ),
        ),
        (
            "error",
            rx.callout(
                message["content"],
                icon="triangle-alert",
                color_scheme="red",
                role="alert",
                margin_y="8px",
                class_name="error-message",
            ),
        ),
        rx.box(
            rx.markdown(message["content"], use_raw=False),
            rx.hstack(
                rx.cond(
                    message["status"] == "stopped",
                    rx.badge("stopped", color_scheme="orange", size="1"),
                ),
                rx.text(message["meta"], size="1", color_scheme="gray"),
                rx.icon_button(
                    rx.icon("copy", size=12),
                    variant="ghost",
                    size="1",
                    aria_label="Copy message",
                    on_click=[
                        rx.set_clipboard(message["content"]),
                        rx.toast("Copied", duration=1500),
                    ],
                ),
                rx.cond(
                    message["id"] == ChatState.messages[-1]["id"],
                    rx.cond(
                        ~ChatState.running,
                        rx.icon_button(
                            rx.icon("refresh-cw", size=12),
                            variant="ghost",
                            size="1",
                            aria_label="Regenerate",
                            on_click=ChatState.regenerate,
                        ),
                    ),
                ),
                spacing="2",
                align="center",
            ),
            class_name="assistant-message",
            margin_y="8px",
            width="100%",
            overflow_x="auto",
        ),
    )


def step_view(step: Any) -> rx.Component:
    """A tool call as a live step: name, arguments, status and duration."""
    return rx.hstack(
        rx.icon("wrench", size=14, color=rx.color("gray", 9)),
        rx.text(step["tool_name"], size="2", weight="medium", font_family="monospace"),
        _status_badge(step["status"]),
        rx.text(step["duration"], size="1", color_scheme="gray"),
        rx.tooltip(
            rx.text(
                step["arguments"],
                size="1",
                color_scheme="gray",
                trim="end",
                max_width="40ch",
                font_family="monospace",
            ),
            content=step["summary"],
        ),
        class_name="tool-step",
        data_status=step["status"],
        spacing="2",
        align="center",
        padding="4px 10px",
        margin_y="2px",
        border_radius="8px",
        background_color=rx.color("gray", 2),
        width="fit-content",
        max_width="100%",
        wrap="wrap",
    )
