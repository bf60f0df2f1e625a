"""Form pieces every page shares: labelled fields with their errors, messages, secret forms."""

from __future__ import annotations

from typing import Any, Literal

import reflex as rx
from reflex.event import EventType

from pyairtable_ui.auth.passwords import MIN_PASSWORD_LENGTH

PASSWORD_RULES_HINT = (
    f"At least {MIN_PASSWORD_LENGTH} characters and hard to guess: not your name or "
    "email, not a common password with a digit added. A few random words work well."
)


CalloutSize = Literal["1", "2", "3"]

PASSWORDS_DIFFER = "The two passwords are not the same."

# How every form label reads, whether `field` draws it or a page labels its own control.
LABEL_STYLE = {"fontWeight": "500", "fontSize": "14px"}


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
        rx.el.label(label, html_for=input_id, style=LABEL_STYLE),
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


def form_error(message: rx.Var[str] | str, *, size: CalloutSize | None = None) -> rx.Component:
    """A form-level error (not tied to one field), announced to screen readers.

    `size` "1" where it sits among small controls (the review dialog); else the default.
    """
    return rx.cond(
        message != "",
        rx.callout(
            message,
            icon="triangle-alert",
            color_scheme="red",
            size=size,
            role="alert",
            width="100%",
        ),
    )


def form_notice(message: rx.Var[str] | str, *, size: CalloutSize | None = None) -> rx.Component:
    """A form-level success or information message (`size` as for `form_error`)."""
    return rx.cond(
        message != "",
        rx.callout(
            message, icon="info", color_scheme="green", size=size, role="status", width="100%"
        ),
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


def auth_form(
    *children: rx.Component, on_submit: EventType[dict[str, str]], secret: bool = True
) -> rx.Component:
    """The one form of a sign-in page's card, its fields stacked full width.

    `secret` (the default) when it holds a password (see `secret_form`).
    """
    fields = rx.vstack(*children, spacing="3", width="100%")
    form = secret_form if secret else rx.form
    return form(fields, on_submit=on_submit, width="100%")


def submit_button(label: str, *, loading: rx.Var[bool] | bool) -> rx.Component:
    """The full-width button that sends a sign-in page's form, busy while it works."""
    return rx.button(label, type="submit", size="3", width="100%", loading=loading)


def email_field(*, error: rx.Var[str] | str = "") -> rx.Component:
    """The field an account's email is typed in (named "email")."""
    return field(
        "Email",
        "email",
        type_="email",
        autocomplete="email",
        error=error,
        placeholder="you@company.com",
    )


def repeat_password_field(label: str, name: str, *, error: rx.Var[str] | str) -> rx.Component:
    """The field a chosen password is typed again in; the page compares the two."""
    return field(label, name, type_="password", autocomplete="new-password", error=error)


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
