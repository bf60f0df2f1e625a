"""`/auth/reset`: ask for a reset link, or (with `?token=`) choose a new password."""

from __future__ import annotations

import logging

import reflex as rx

from pyairtable_ui import routes
from pyairtable_ui.auth import flows
from pyairtable_ui.auth.errors import AuthError, WeakPasswordError
from pyairtable_ui.components.forms import (
    PASSWORDS_DIFFER,
    auth_form,
    email_field,
    form_error,
    form_notice,
    new_password_field,
    repeat_password_field,
    submit_button,
)
from pyairtable_ui.components.layout import auth_card
from pyairtable_ui.core.mail import EmailDeliveryError

logger = logging.getLogger(__name__)


class ResetState(rx.State):
    """Both halves of the reset flow."""

    has_token: bool = False
    sent_message: str = ""
    password_error: str = ""
    confirm_error: str = ""
    error: str = ""
    working: bool = False

    @rx.event
    def on_load(self):
        """Pick the half of the flow from the link."""
        self.has_token = bool(self.router.url.query_parameters.get("token"))
        self.sent_message = self.password_error = self.confirm_error = self.error = ""
        self.working = False

    @rx.event
    async def request_link(self, form_data: dict[str, str]):
        """Email a reset link; the reply is the same whether the account exists or not."""
        if self.working:
            return
        self.working = True
        self.error = ""
        yield
        try:
            await flows.request_password_reset(
                email=form_data.get("email", ""),
                address=self.router.session.client_ip or "unknown",
            )
            self.sent_message = flows.reset_requested_message()
        except EmailDeliveryError as exc:
            self.error = exc.message
        self.working = False

    @rx.event
    async def set_password(self, form_data: dict[str, str]):
        """Use the link's token to set the new password, then go to sign in."""
        if self.working:
            return
        self.password_error = self.confirm_error = self.error = ""
        password = form_data.get("password", "")
        if password != form_data.get("confirm", ""):
            self.confirm_error = PASSWORDS_DIFFER
            return
        self.working = True
        yield
        token = self.router.url.query_parameters.get("token", "")
        try:
            await flows.reset_password(token=token, new_password=password)
        except WeakPasswordError as exc:
            self.password_error = exc.message
        except AuthError as exc:
            self.error = exc.message
        else:
            self.working = False
            yield rx.redirect(f"{routes.LOGIN}?reason=reset", replace=True)
            return
        self.working = False


def reset_page() -> rx.Component:
    """Request form without a token; new-password form with one."""
    return auth_card(
        "Reset your password",
        rx.cond(
            ResetState.has_token,
            auth_form(
                new_password_field("New password", "password", error=ResetState.password_error),
                repeat_password_field(
                    "Repeat the new password", "confirm", error=ResetState.confirm_error
                ),
                form_error(ResetState.error),
                submit_button("Set new password", loading=ResetState.working),
                on_submit=ResetState.set_password,
            ),
            rx.cond(
                ResetState.sent_message != "",
                form_notice(ResetState.sent_message),
                auth_form(
                    email_field(),
                    form_error(ResetState.error),
                    submit_button("Email me a reset link", loading=ResetState.working),
                    on_submit=ResetState.request_link,
                    secret=False,
                ),
            ),
        ),
        rx.link("Back to sign in", href=routes.LOGIN, size="2"),
    )


def register_reset(app: rx.App) -> None:
    """Add the password reset page to the app."""
    app.add_page(
        reset_page,
        route=routes.RESET,
        title="Reset your password · PyAirtable UI",
        on_load=ResetState.on_load,
    )
