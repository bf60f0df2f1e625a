"""`/auth/login`: email and password (and single sign-on when configured)."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import reflex as rx
import sqlalchemy as sa

from pyairtable_ui import routes
from pyairtable_ui.api.oauth_routes import OIDC_START
from pyairtable_ui.auth import flows
from pyairtable_ui.components.forms import (
    auth_form,
    email_field,
    field,
    form_error,
    form_notice,
    submit_button,
)
from pyairtable_ui.components.layout import auth_card
from pyairtable_ui.core.mail import EmailDeliveryError
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.routes import safe_next_path
from pyairtable_ui.state.auth import AuthState
from pyairtable_ui.state.outages import describe_failure

logger = logging.getLogger(__name__)


class LoginState(rx.State):
    """The login form."""

    error: str = ""
    notice: str = ""
    working: bool = False
    show_resend: bool = False
    oidc_name: str = ""
    oidc_start_url: str = OIDC_START

    _last_email: str = ""

    @rx.event
    def on_load(self):
        """Reset the form; say why we are here when a link sent the visitor."""
        self.error = ""
        self.working = False
        self.show_resend = False
        settings = get_settings()
        self.oidc_name = settings.oidc_name if settings.oidc_configured else ""
        requested = self.router.url.query_parameters.get("next")
        # The start route checks `next` again; passing it on keeps deep links working.
        self.oidc_start_url = (
            f"{OIDC_START}?{urlencode({'next': requested})}" if requested else OIDC_START
        )
        reason = self.router.url.query_parameters.get("reason", "")
        self.notice = {
            "verified": "Your email is verified. Sign in to continue.",
            "reset": "Your password was changed. Sign in with the new one.",
            "expired": "Your session ended. Please sign in again.",
            "signed_out": "You are signed out.",
        }.get(reason, "")
        provider = settings.oidc_name
        self.error = {
            "sso_failed": (
                f"Signing in with {provider} did not work. Try again, or sign in with "
                "your email and password."
            ),
            "sso_cancelled": (
                f"Signing in with {provider} was cancelled. Try again, or sign in with "
                "your email and password."
            ),
            "sso_email_taken": (
                f"An account with your email already exists, and {provider} did not "
                "confirm that the address is yours. Sign in with your email and password."
            ),
        }.get(reason, "")

    @rx.event
    async def login(self, form_data: dict[str, str]):
        """Check the credentials under the rate limits, then set the session cookie."""
        if self.working:
            return
        email_typed = form_data.get("email", "").strip()
        password = form_data.get("password", "")
        self.error = ""
        self.notice = ""
        self.show_resend = False
        if not email_typed or not password:
            self.error = "Enter your email and password."
            return
        self._last_email = email_typed
        self.working = True
        yield

        try:
            outcome = await flows.sign_in(
                email=email_typed, password=password, address=self._client_address()
            )
        except sa.exc.SQLAlchemyError as exc:  # an outage: say which, and free the button
            logger.warning("sign-in failed on the database: %s", exc.__class__.__name__)
            self.error = describe_failure(exc)
            self.working = False
            return
        if outcome.ticket is None:
            self.show_resend = outcome.unverified
            self.error = outcome.error
            self.working = False
            return

        requested = self.router.url.query_parameters.get("next")
        next_path = outcome.next_path
        if requested and outcome.next_path == routes.CHAT:
            next_path = safe_next_path(requested)
        # The page trades the one-time ticket for the HttpOnly cookie, then reloads
        # so the websocket reconnects carrying it.
        yield rx.call_script(
            "(async () => { const r = await fetch("
            f"{json.dumps(routes.SESSION_COOKIE_ROUTE)}, {{method: 'POST', credentials: "
            "'same-origin', headers: {'content-type': 'application/json'}, body: "
            f"JSON.stringify({{ticket: {json.dumps(outcome.ticket)}}})}});"
            f" if (r.ok) {{ window.location.replace({json.dumps(next_path)}); }}"
            " return r.status; })()",
            callback=LoginState.cookie_result,
        )

    @rx.event
    def cookie_result(self, status: int | str | None):
        """The cookie route's answer; on success the page is already navigating away."""
        if status != 204:
            self.working = False
            self.error = "Signing in did not complete. Please try again."
            logger.warning("session cookie exchange failed with status %s", status)

    def _client_address(self) -> str:
        # Reflex resolves it with TRUSTED_PROXY_HOPS (rxconfig.py).
        return self.router.session.client_ip or "unknown"

    @rx.event
    async def resend_verification(self):
        """Send a new verification link to the email last typed (same reply either way)."""
        try:
            await flows.resend_verification(email=self._last_email, address=self._client_address())
        except EmailDeliveryError as exc:
            self.error = exc.message
            return
        self.show_resend = False
        self.error = ""
        self.notice = flows.resent_message()


def login_page() -> rx.Component:
    """The sign-in form."""
    return auth_card(
        "Sign in",
        form_notice(LoginState.notice),
        auth_form(
            email_field(),
            field("Password", "password", type_="password", autocomplete="current-password"),
            form_error(LoginState.error),
            submit_button("Sign in", loading=LoginState.working),
            on_submit=LoginState.login,
        ),
        rx.cond(
            LoginState.oidc_name != "",
            # A full page load, not client-side routing: the backend serves this route.
            rx.button(
                rx.el.a(
                    "Sign in with ",
                    LoginState.oidc_name,
                    href=LoginState.oidc_start_url,
                    reload_document=True,
                ),
                as_child=True,
                variant="outline",
                size="3",
                width="100%",
            ),
        ),
        rx.cond(
            LoginState.show_resend,
            rx.button(
                "Send the link again",
                on_click=LoginState.resend_verification,
                variant="soft",
                width="100%",
            ),
        ),
        rx.hstack(
            rx.link("Forgot your password?", href=routes.RESET, size="2"),
            rx.spacer(),
            rx.link("Create an account", href=routes.REGISTER, size="2"),
            width="100%",
            wrap="wrap",
        ),
    )


def register_login(app: rx.App) -> None:
    """Add the login page to the app."""
    app.add_page(
        login_page,
        route=routes.LOGIN,
        title="Sign in · PyAirtable UI",
        on_load=[AuthState.skip_if_signed_in, LoginState.on_load],
    )
