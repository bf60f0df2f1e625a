"""`/auth/register`: create an account; a verification link goes out by email."""

from __future__ import annotations

import logging

import reflex as rx

from pyairtable_ui import routes
from pyairtable_ui.auth import flows
from pyairtable_ui.components.forms import (
    PASSWORDS_DIFFER,
    auth_form,
    email_field,
    field,
    form_error,
    form_notice,
    new_password_field,
    repeat_password_field,
    submit_button,
)
from pyairtable_ui.components.layout import auth_card
from pyairtable_ui.state.auth import AuthState

logger = logging.getLogger(__name__)


class RegisterState(rx.State):
    """The registration form and its per-field errors."""

    email_error: str = ""
    password_error: str = ""
    confirm_error: str = ""
    name_error: str = ""
    error: str = ""
    done_message: str = ""
    working: bool = False
    # Who may register now, said above the form; the invitation the page was opened with.
    rule_notice: str = ""
    invite_only: bool = False
    invited_email: str = ""
    invite_error: str = ""

    @rx.event
    async def on_load(self):
        """Start with a clean form, saying who may register and whom the link invites."""
        self._clear()
        self.working = False
        rule = await flows.registration_rule(invite=self._invite() or None)
        self.rule_notice = rule.notice
        self.invite_only = rule.invite_only
        self.invited_email = rule.invited_email
        self.invite_error = rule.invite_error

    def _invite(self) -> str:
        return self.router.url.query_parameters.get("invite", "")

    def _clear(self) -> None:
        self.email_error = self.password_error = self.confirm_error = self.name_error = ""
        self.error = self.done_message = ""

    @rx.event
    async def register(self, form_data: dict[str, str]):
        """Create the account, then email the verification link."""
        if self.working:
            return
        self._clear()
        email = form_data.get("email", "").strip()
        password = form_data.get("password", "")
        if password != form_data.get("confirm", ""):
            self.confirm_error = PASSWORDS_DIFFER
            return
        self.working = True
        yield
        result = await flows.register(
            email=email,
            password=password,
            name=form_data.get("name", "").strip(),
            address=self.router.session.client_ip or "unknown",
            invite=self._invite() or None,
        )
        self.email_error = result.email_error
        self.password_error = result.password_error
        self.name_error = result.name_error
        self.error = result.error
        self.done_message = result.done_message
        self.working = False


def _form() -> rx.Component:
    """The fields, with who may register said above them."""
    return auth_form(
        rx.text(RegisterState.rule_notice, size="2", color_scheme="gray"),
        rx.cond(
            RegisterState.invited_email != "",
            rx.text(
                "This invitation is for ",
                rx.text.strong(RegisterState.invited_email),
                ": register with that address.",
                size="2",
            ),
        ),
        form_error(RegisterState.invite_error),
        field(
            "Name",
            "name",
            error=RegisterState.name_error,
            autocomplete="name",
            required=False,
            placeholder="Ana Silva",
        ),
        email_field(error=RegisterState.email_error),
        new_password_field("Password", "password", error=RegisterState.password_error),
        repeat_password_field("Repeat the password", "confirm", error=RegisterState.confirm_error),
        form_error(RegisterState.error),
        submit_button("Create account", loading=RegisterState.working),
        on_submit=RegisterState.register,
    )


def register_page() -> rx.Component:
    """The registration form, or the "check your email" message once done."""
    return auth_card(
        "Create your account",
        rx.cond(
            RegisterState.done_message != "",
            rx.vstack(
                form_notice(RegisterState.done_message),
                rx.link("Go to sign in", href=routes.LOGIN),
                width="100%",
            ),
            rx.cond(
                RegisterState.invite_only & (RegisterState.invited_email == ""),
                # Without a usable invitation there is nothing to fill in: say why.
                rx.vstack(
                    form_notice(RegisterState.rule_notice),
                    form_error(RegisterState.invite_error),
                    width="100%",
                ),
                _form(),
            ),
        ),
        rx.text(
            "Already have an account? ",
            rx.link("Sign in", href=routes.LOGIN),
            size="2",
        ),
    )


def register_register(app: rx.App) -> None:
    """Add the registration page to the app."""
    app.add_page(
        register_page,
        route=routes.REGISTER,
        title="Create your account · PyAirtable UI",
        on_load=[AuthState.skip_if_signed_in, RegisterState.on_load],
    )
