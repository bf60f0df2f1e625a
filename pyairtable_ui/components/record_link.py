"""A record's name as a link to it in Airtable."""

from __future__ import annotations

from typing import Any

import reflex as rx


def record_link(title: Any, url: Any, **props: Any) -> rx.Component:
    """A record's name that opens it in Airtable (a new tab), or plain text without a URL.

    The URL is built on the server from ids of Airtable's shape (`airtable.links`);
    the name is the record's content, shown as text.

    Args:
        title: The record's name (a var or text).
        url: Its page in Airtable, "" for none.
        **props: Text props (size, weight…).
    """
    return rx.cond(
        url != "",
        rx.link(
            title,
            href=url,
            is_external=True,
            rel="noopener noreferrer",
            class_name="record-link",
            **props,
        ),
        rx.text.span(title, **props),
    )
