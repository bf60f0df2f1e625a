"""`/auth/verify?token=…`: the link from the verification email."""

from __future__ import annotations

import reflex as rx

from pyairtable_ui import routes
from pyairtable_ui.auth import flows
from pyairtable_ui.auth.errors import AuthError
from pyairtable_ui.components.forms import form_error, form_notice
from pyairtable_ui.components.layout import auth_card


class VerifyState(rx.State):
    """The outcome of following a verification link."""

    checking: bool = True
    verified: bool = False
    error: str = ""

    @rx.event
    async def on_load(self):
        """Use the token from the link once."""
        self.checking = True
        self.verified = False
        self.error = ""
        token = self.router.url.query_parameters.get("token", "")
        if not token:
            self.error = "This page needs the link from your verification email."
        else:
            try:
                await flows.verify_email(token=token)
                self.verified = True
            except AuthError as exc:
                self.error = exc.message
        self.checking = False


def verify_page() -> rx.Component:
    """Shows whether the email is now verified and where to go next."""
    return auth_card(
        "Verify your email",
        rx.cond(
            VerifyState.checking,
            rx.hstack(rx.spinner(), rx.text("Checking your link…")),
            rx.cond(
                VerifyState.verified,
                rx.vstack(
                    form_notice("Your email is verified."),
                    rx.link(
                        rx.button("Sign in", size="3", width="100%"),
                        href=f"{routes.LOGIN}?reason=verified",
                        width="100%",
                    ),
                    width="100%",
                ),
                rx.vstack(
                    form_error(VerifyState.error),
                    rx.text("You can ask for a new link from the sign-in page.", size="2"),
                    rx.link("Go to sign in", href=routes.LOGIN),
                    width="100%",
                ),
            ),
        ),
    )


def register_verify(app: rx.App) -> None:
    """Add the verification page to the app."""
    app.add_page(
        verify_page,
        route=routes.VERIFY,
        title="Verify your email · PyAirtable UI",
        on_load=VerifyState.on_load,
    )
