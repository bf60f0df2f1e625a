"""Form pieces every page shares: labelled fields with their errors, messages, secret forms."""

from __future__ import annotations

from typing import Any

import reflex as rx

from pyairtable_ui.auth.passwords import MIN_PASSWORD_LENGTH

PASSWORD_RULES_HINT = (
    f"At least {MIN_PASSWORD_LENGTH} characters and hard to guess: not your name or "
    "email, not a common password with a digit added. A few random words work well."
)


def field(
    label: str,
    name: str,
    *,
    error: rx.Var[str] | str = "",
    type_: str = "text",
    autocomplete: str = "",
    placeholder: str = "",
    required: bool = True,
    hint: str = "",
) -> rx.Component:
    """A labelled input with its hint and its error right below it."""
    input_id = f"field-{name}"
    return rx.vstack(
        rx.el.label(label, html_for=input_id, style={"fontWeight": "500", "fontSize": "14px"}),
        rx.input(
            id=input_id,
            name=name,
            type=type_,
            auto_complete=autocomplete or None,
            placeholder=placeholder,
            required=required,
            size="3",
            width="100%",
            aria_invalid=rx.cond(error != "", "true", "false"),
            aria_describedby=f"{input_id}-error",
        ),
        rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")),
        rx.cond(
            error != "",
            rx.text(error, id=f"{input_id}-error", role="alert", size="2", color_scheme="red"),
        ),
        spacing="1",
        width="100%",
        align="stretch",
    )


def form_error(message: rx.Var[str] | str) -> rx.Component:
    """A form-level error (not tied to one field), announced to screen readers."""
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert", width="100%"),
    )


def form_notice(message: rx.Var[str] | str) -> rx.Component:
    """A form-level success or information message."""
    return rx.cond(
        message != "",
        rx.callout(message, icon="info", color_scheme="green", role="status", width="100%"),
    )


def secret_form(*children: rx.Component, **props: Any) -> rx.Component:
    """A form holding a password or token, which the browser never submits by itself.

    Before the page's script has run (a slow phone, a script that failed), a plain HTML
    form submits natively as a GET: the password would land in the address bar, the
    history and the server's access log. Its controls stay disabled until the page is
    hydrated, and a native submit would be a POST (a body, not an address) anyway.
    """
    return rx.form(
        rx.el.fieldset(
            *children,
            disabled=~rx.State.is_hydrated,
            style={"border": "0", "padding": "0", "margin": "0", "minWidth": "0"},
            width="100%",
        ),
        method="post",
        **props,
    )


def new_password_field(label: str, name: str, *, error: rx.Var[str] | str = "") -> rx.Component:
    """A field for choosing a password, with the rules it must follow below it."""
    return field(
        label,
        name,
        type_="password",
        autocomplete="new-password",
        error=error,
        hint=PASSWORD_RULES_HINT,
    )


def token_field(
    label: str, *, error: rx.Var[str] | str = "", required: bool = True
) -> rx.Component:
    """The field a personal access token is pasted in (named "token"; never shown again)."""
    return field(
        label,
        "token",
        type_="password",
        autocomplete="off",
        placeholder="pat…",
        error=error,
        required=required,
    )
