"""`/settings`: profile, password, Airtable connection, default base and model, sessions."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx
from reflex.event import EventType

from pyairtable_ui import routes
from pyairtable_ui.account import flows as account
from pyairtable_ui.account.flows import BaseChoice, SessionRow, base_choices
from pyairtable_ui.airtable import connections
from pyairtable_ui.airtable.access import check_user_access
from pyairtable_ui.auth import flows as auth_flows
from pyairtable_ui.auth.errors import AuthError
from pyairtable_ui.components.forms import (
    LABEL_STYLE,
    PASSWORDS_DIFFER,
    field,
    form_error,
    form_notice,
    new_password_field,
    repeat_password_field,
    secret_form,
    token_field,
)
from pyairtable_ui.components.shell import page_column, private_page
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.llm.setup import model_label
from pyairtable_ui.routes import login_redirect
from pyairtable_ui.state.auth import AuthState, signed_in_user_id
from pyairtable_ui.state.budget import BudgetState

logger = logging.getLogger(__name__)


class SettingsState(rx.State):
    """Everything the settings page shows and edits, loaded per request for this user."""

    display_name: str = ""
    profile_notice: str = ""
    profile_error: str = ""

    current_password_error: str = ""
    new_password_error: str = ""
    confirm_error: str = ""
    password_notice: str = ""
    changing_password: bool = False

    connected: bool = False
    connected_as: str = ""
    token_hint: str = ""
    connection_notice: str = ""
    connection_error: str = ""
    checking: bool = False
    # The connection is the user's sample base: Settings offers to reset it.
    sample: bool = False
    resetting_sample: bool = False

    bases: list[BaseChoice] = []
    default_base_id: str = ""
    default_model: str = ""
    models: list[str] = []
    defaults_notice: str = ""

    session_rows: list[SessionRow] = []
    sessions_notice: str = ""

    @rx.var
    def model_choices(self) -> list[dict[str, str]]:
        """The allowed models as the picker names them (the demo model says what it is)."""
        return [{"value": model, "label": model_label(model)} for model in self.models]

    async def _ids(self) -> tuple[int, int] | None:
        # This browser's session id too: "sign out other browsers" must keep it.
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return None
        auth = await self.get_state(AuthState)
        return user_id, await auth.require_session_id()

    def _clear_messages(self) -> None:
        self.profile_notice = self.profile_error = ""
        self.current_password_error = self.new_password_error = self.confirm_error = ""
        self.password_notice = self.connection_notice = self.connection_error = ""
        self.defaults_notice = self.sessions_notice = ""

    @rx.event
    async def on_load(self):
        """Load this user's settings from the database (never from the browser)."""
        ids = await self._ids()
        if ids is None:
            return rx.redirect(login_redirect(routes.SETTINGS), replace=True)
        user_id, session_id = ids
        self._clear_messages()

        loaded = await asyncio.to_thread(
            account.account_settings, user_id=user_id, session_id=session_id
        )
        self.connected_as, self.token_hint = loaded.connected_as, loaded.token_hint
        self.session_rows, self.models = loaded.session_rows, loaded.models
        self.connected = bool(self.token_hint)
        self.sample = loaded.sample
        self.display_name = loaded.display_name
        self.default_base_id = loaded.default_base_id
        self.default_model = loaded.default_model
        if self.connected:
            return SettingsState.recheck_connection
        return None

    @rx.event
    async def save_profile(self, form_data: dict[str, str]):
        """Change the name shown in the app."""
        ids = await self._ids()
        if ids is None:
            return
        self._clear_messages()
        try:
            self.display_name = await asyncio.to_thread(
                account.save_profile,
                user_id=ids[0],
                display_name=form_data.get("display_name", ""),
            )
        except AuthError as exc:
            self.profile_error = exc.message
            return
        self.profile_notice = "Saved."
        auth = await self.get_state(AuthState)
        await auth.refresh_user()

    @rx.event
    async def change_password(self, form_data: dict[str, str]):
        """Change the password; other browsers are signed out, this one stays."""
        ids = await self._ids()
        if ids is None or self.changing_password:
            return
        self._clear_messages()
        new = form_data.get("new_password", "")
        if new != form_data.get("confirm_password", ""):
            self.confirm_error = PASSWORDS_DIFFER
            return
        self.changing_password = True
        yield
        result = await auth_flows.change_password(
            user_id=ids[0],
            session_id=ids[1],
            current_password=form_data.get("current_password", ""),
            new_password=new,
        )
        self.current_password_error = result.current_error
        self.new_password_error = result.new_error
        if result.changed:
            self.password_notice = "Password changed. Your other browsers were signed out."  # noqa: S105
            yield SettingsState.reload_sessions
        self.changing_password = False

    @rx.event
    async def recheck_connection(self):
        """Ask Airtable again whether the stored token works, and refresh the base list."""
        ids = await self._ids()
        if ids is None:
            return
        self.checking = True
        self.connection_error = ""
        yield

        try:
            check = await asyncio.to_thread(check_user_access, user_id=ids[0])
        except UserFacingError as exc:
            self.connection_error = exc.message
        else:
            self.bases = base_choices(check)
            self.connection_notice = f"The token works and sees {len(check.bases)} base(s)."
        self.checking = False

    @rx.event
    async def replace_token(self, form_data: dict[str, str]):
        """Check and store a new token in place of the old one."""
        ids = await self._ids()
        if ids is None or self.checking:
            return
        self._clear_messages()
        token = form_data.get("token", "")
        self.checking = True
        yield
        try:
            connected = await asyncio.to_thread(
                account.replace_connection, user_id=ids[0], token=token
            )
        except connections.AirtableTokenError as exc:
            self.connection_error = exc.message
            self.checking = False
            return
        self.token_hint = connected.token_hint
        self.connected = True
        self.sample = False
        self.connected_as = connected.connected_as
        self.bases = base_choices(connected.check)
        if self.default_base_id not in {b["id"] for b in self.bases}:
            self.default_base_id = ""
        self.connection_notice = "The new token is connected. Your conversations are kept."
        self.checking = False

    @rx.event
    async def reset_sample(self):
        """Put the user's sample base back as it came (the page said what that does)."""
        ids = await self._ids()
        if ids is None or self.resetting_sample or not self.sample:
            return
        self._clear_messages()
        self.resetting_sample = True
        yield
        try:
            await asyncio.to_thread(connections.reset_sample, user_id=ids[0])
        except connections.AirtableTokenError as exc:
            self.connection_error = exc.message
        else:
            self.connection_notice = "The sample base is back as it came."
        self.resetting_sample = False

    @rx.event
    async def remove_connection(self):
        """Forget the stored token (the chat needs a new one before it can work)."""
        ids = await self._ids()
        if ids is None:
            return
        self._clear_messages()
        await asyncio.to_thread(connections.disconnect, user_id=ids[0])
        self.connected = self.sample = False
        self.connected_as = self.token_hint = ""
        self.bases = []
        self.connection_notice = "Airtable is disconnected. The stored token was deleted."

    @rx.event
    async def save_defaults(self, form_data: dict[str, str]):
        """Store the default base (one the token sees) and model (one the admin allows)."""
        ids = await self._ids()
        if ids is None:
            return
        self._clear_messages()
        base_id = form_data.get("default_base_id") or self.default_base_id
        model = form_data.get("default_model") or self.default_model
        if base_id and base_id not in {b["id"] for b in self.bases}:
            self.defaults_notice = "Choose one of the bases your token can see."
            return
        try:
            await asyncio.to_thread(
                account.save_defaults, user_id=ids[0], base_id=base_id or None, model=model
            )
        except AuthError as exc:
            self.defaults_notice = exc.message
            return
        self.default_base_id, self.default_model = base_id, model
        self.defaults_notice = "Saved."

    @rx.event
    def set_default_base_id(self, value: str):
        """Keep the picked base until saved."""
        self.default_base_id = value

    @rx.event
    def set_default_model_value(self, value: str):
        """Keep the picked model until saved."""
        self.default_model = value

    @rx.event
    async def reload_sessions(self):
        """Read the list of signed-in browsers again."""
        ids = await self._ids()
        if ids is None:
            return
        self.session_rows = await asyncio.to_thread(
            account.signed_in_browsers, user_id=ids[0], session_id=ids[1]
        )

    @rx.event
    async def sign_out_others(self):
        """Revoke every session of this user except this browser's."""
        ids = await self._ids()
        if ids is None:
            return
        count = await asyncio.to_thread(
            account.sign_out_other_browsers, user_id=ids[0], session_id=ids[1]
        )
        self.sessions_notice = f"Signed out {count} other session(s)."
        return SettingsState.reload_sessions


def _card_form(
    *children: rx.Component, on_submit: EventType[dict[str, str]], secret: bool = False
) -> rx.Component:
    """One form of a settings card, its controls stacked and left-aligned.

    A `secret` form (a password, a token) empties its fields once sent, so what was
    typed does not stay on the page.
    """
    controls = rx.vstack(*children, spacing="2", width="100%", align="start")
    if secret:
        return secret_form(controls, on_submit=on_submit, reset_on_submit=True, width="100%")
    return rx.form(controls, on_submit=on_submit, width="100%")


def _section(title: str, *children: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="4", as_="h2"), *children, spacing="3", width="100%"),
        width="100%",
    )


def _session_row(row: SessionRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(row["device"], weight="medium"),
            rx.text(
                "Signed in ",
                row["created"],
                " · last used ",
                row["last_used"],
                " · ",
                row["address"],
                size="1",
                color_scheme="gray",
            ),
            spacing="0",
        ),
        rx.spacer(),
        rx.cond(row["current"], rx.badge("This browser", color_scheme="green")),
        width="100%",
        align="center",
        wrap="wrap",
    )


def _sample_reset() -> rx.Component:
    explanation = (
        "You are connected to your own sample base (a demo sales CRM and product roadmap, "
        "private to you). Resetting it puts every table back as it came: records you "
        "changed, added or deleted return to the original, and fields or tables the "
        "assistant added are removed. Your conversations and history stay."
    )
    return rx.card(
        rx.vstack(
            rx.text(explanation, size="2"),
            rx.text(
                "To use your own Airtable, paste a personal access token below: your "
                "conversations are kept.",
                size="2",
                color_scheme="gray",
            ),
            rx.alert_dialog.root(
                rx.alert_dialog.trigger(
                    rx.button(
                        "Reset the sample base",
                        variant="soft",
                        color_scheme="orange",
                        loading=SettingsState.resetting_sample,
                    ),
                ),
                rx.alert_dialog.content(
                    rx.alert_dialog.title("Reset the sample base?"),
                    rx.alert_dialog.description(explanation),
                    rx.hstack(
                        rx.alert_dialog.cancel(rx.button("Cancel", variant="soft")),
                        rx.alert_dialog.action(
                            rx.button(
                                "Reset it",
                                color_scheme="orange",
                                on_click=SettingsState.reset_sample,
                            )
                        ),
                        spacing="3",
                        justify="end",
                        margin_top="12px",
                    ),
                ),
            ),
            spacing="2",
            align="start",
        ),
        width="100%",
    )


def settings_page() -> rx.Component:
    """All personal settings, one card each."""
    return private_page(
        page_column(
            rx.heading("Settings", size="6", as_="h1"),
            _section(
                "Profile",
                rx.text("Email: ", AuthState.user_email, size="2"),
                _card_form(
                    rx.el.label(
                        "Name",
                        html_for="field-display_name",
                        style=LABEL_STYLE,
                    ),
                    rx.input(
                        id="field-display_name",
                        name="display_name",
                        default_value=SettingsState.display_name,
                        width="100%",
                        key=SettingsState.display_name,
                    ),
                    form_error(SettingsState.profile_error),
                    form_notice(SettingsState.profile_notice),
                    rx.button("Save profile", type="submit"),
                    on_submit=SettingsState.save_profile,
                ),
            ),
            _section(
                "Password",
                _card_form(
                    field(
                        "Current password",
                        "current_password",
                        type_="password",
                        autocomplete="current-password",
                        error=SettingsState.current_password_error,
                    ),
                    new_password_field(
                        "New password", "new_password", error=SettingsState.new_password_error
                    ),
                    repeat_password_field(
                        "Repeat the new password",
                        "confirm_password",
                        error=SettingsState.confirm_error,
                    ),
                    form_notice(SettingsState.password_notice),
                    rx.button(
                        "Change password",
                        type="submit",
                        loading=SettingsState.changing_password,
                    ),
                    on_submit=SettingsState.change_password,
                    secret=True,
                ),
            ),
            _section(
                "Airtable connection",
                rx.cond(
                    SettingsState.connected,
                    rx.text(
                        "Connected as ",
                        rx.text.strong(SettingsState.connected_as),
                        " with the token ending in …",
                        SettingsState.token_hint,
                        size="2",
                    ),
                    rx.text("Airtable is not connected.", size="2"),
                ),
                form_error(SettingsState.connection_error),
                form_notice(SettingsState.connection_notice),
                rx.hstack(
                    rx.button(
                        "Check the connection",
                        variant="soft",
                        on_click=SettingsState.recheck_connection,
                        loading=SettingsState.checking,
                        disabled=~SettingsState.connected,
                    ),
                    rx.button(
                        "Disconnect",
                        variant="soft",
                        color_scheme="red",
                        on_click=SettingsState.remove_connection,
                        disabled=~SettingsState.connected,
                    ),
                    wrap="wrap",
                ),
                rx.cond(SettingsState.sample, _sample_reset()),
                _card_form(
                    token_field("Replace with a new personal access token", required=False),
                    rx.button("Connect this token", type="submit", loading=SettingsState.checking),
                    on_submit=SettingsState.replace_token,
                    secret=True,
                ),
            ),
            _section(
                "Defaults for new conversations",
                _card_form(
                    rx.el.label("Base", style=LABEL_STYLE),
                    rx.select.root(
                        rx.select.trigger(
                            placeholder="Choose a base",
                            width="100%",
                            aria_label="Default base",
                        ),
                        rx.select.content(
                            rx.foreach(
                                SettingsState.bases,
                                lambda b: rx.select.item(b["name"], value=b["id"]),
                            )
                        ),
                        name="default_base_id",
                        value=SettingsState.default_base_id,
                        on_change=SettingsState.set_default_base_id,
                    ),
                    rx.el.label("Model", style=LABEL_STYLE),
                    rx.select.root(
                        rx.select.trigger(width="100%", aria_label="Default model"),
                        rx.select.content(
                            rx.foreach(
                                SettingsState.model_choices,
                                lambda m: rx.select.item(m["label"], value=m["value"]),
                            )
                        ),
                        name="default_model",
                        value=SettingsState.default_model,
                        on_change=SettingsState.set_default_model_value,
                    ),
                    form_notice(SettingsState.defaults_notice),
                    rx.button("Save defaults", type="submit"),
                    on_submit=SettingsState.save_defaults,
                ),
            ),
            _section(
                "Usage this month",
                rx.text("Airtable requests (the whole instance): ", BudgetState.airtable, size="2"),
                rx.progress(value=BudgetState.airtable_percent, max=100, width="100%"),
                rx.text("Your LLM spend: ", BudgetState.llm_mine, size="2"),
                rx.text(
                    "When a budget is used up, new questions are refused until the month "
                    "turns or an admin raises it.",
                    size="1",
                    color_scheme="gray",
                ),
            ),
            _section(
                "Signed-in browsers",
                rx.foreach(SettingsState.session_rows, _session_row),
                form_notice(SettingsState.sessions_notice),
                rx.button(
                    "Sign out all other browsers",
                    variant="soft",
                    on_click=SettingsState.sign_out_others,
                ),
            ),
        ),
    )


def register_settings(app: rx.App) -> None:
    """Add the settings page to the app."""
    app.add_page(
        settings_page,
        route=routes.SETTINGS,
        title="Settings · PyAirtable UI",
        on_load=[AuthState.guard_private_page, SettingsState.on_load],
    )
