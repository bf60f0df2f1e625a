"""`/onboarding`: connect Airtable → choose a base → quick tour → the chat. Resumable."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from pyairtable_ui import routes
from pyairtable_ui.account import flows
from pyairtable_ui.account.flows import BaseChoice, base_choices
from pyairtable_ui.airtable import connections
from pyairtable_ui.airtable import oauth as airtable_oauth
from pyairtable_ui.airtable.access import check_user_access
from pyairtable_ui.api.oauth_routes import AIRTABLE_START
from pyairtable_ui.auth.models import OnboardingStep
from pyairtable_ui.components.forms import form_error, secret_form, token_field
from pyairtable_ui.components.shell import page_column, private_page
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.llm.loading import warm_up
from pyairtable_ui.routes import login_redirect
from pyairtable_ui.state.auth import AuthState, signed_in_user_id

logger = logging.getLogger(__name__)

STEPS = [
    (OnboardingStep.CONNECT.value, "Connect Airtable"),
    (OnboardingStep.CHOOSE_BASE.value, "Choose a base"),
    (OnboardingStep.TOUR.value, "Quick tour"),
    (OnboardingStep.DONE.value, "Chat"),
]

TOUR_CARDS = [
    (
        "message-square-text",
        "Ask in plain words",
        "“Which deals closed this month?”, “Add a task for Ana due Friday”, “Mark every "
        "overdue task as Blocked”. The assistant reads your base to answer.",
    ),
    (
        "shield-check",
        "Nothing changes without you",
        "Before any write you see a preview, old value → new value for each cell. Confirm, "
        "untick rows, or reject. Every change can be undone later.",
    ),
    (
        "history",
        "Everything is on the record",
        "The sidebar of each conversation lists its actions; the History page lists all of "
        "yours, with what was sent to Airtable, and lets you export them.",
    ),
]


class OnboardingState(rx.State):
    """Where the user is in onboarding, and the data of the current step."""

    step: str = OnboardingStep.CONNECT.value
    connected_as: str = ""
    token_hint: str = ""
    token_error: str = ""
    connecting: bool = False
    bases: list[BaseChoice] = []
    bases_error: str = ""
    loading_bases: bool = False
    base_query: str = ""
    tour_index: int = 0
    airtable_oauth_available: bool = False
    sample_available: bool = False

    @rx.var
    def visible_bases(self) -> list[BaseChoice]:
        """The bases whose name or id contains the search text."""
        query = self.base_query.strip().lower()
        if not query:
            return self.bases
        return [b for b in self.bases if query in b["name"].lower() or query in b["id"].lower()]

    @rx.var
    def step_number(self) -> int:
        """1-based position of the current step."""
        return next((i for i, (key, _) in enumerate(STEPS, 1) if key == self.step), 1)

    @rx.event
    async def on_load(self):
        """Resume where the user left off."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return rx.redirect(login_redirect(routes.ONBOARDING), replace=True)
        self.token_error = self.bases_error = ""
        self.connecting = False
        self.airtable_oauth_available = get_settings().airtable_oauth_configured
        self.sample_available = get_settings().airtable_sample
        # The "Connect with Airtable" callback comes back here with a reason on failure.
        oauth_reason = self.router.url.query_parameters.get("airtable_oauth", "")
        if oauth_reason:
            self.token_error = airtable_oauth.ERROR_MESSAGES.get(
                oauth_reason, airtable_oauth.ERROR_MESSAGES["failed"]
            )

        progress = await asyncio.to_thread(flows.onboarding_progress, user_id=user_id)
        step = progress.step
        self.connected_as, self.token_hint = progress.connected_as, progress.token_hint
        if step == OnboardingStep.DONE:
            return rx.redirect(routes.CHAT, replace=True)
        self.step = step
        if step == OnboardingStep.CHOOSE_BASE:
            return OnboardingState.load_bases
        return None

    @rx.event
    async def connect(self, form_data: dict[str, str]):
        """Check the pasted token with Airtable, store it encrypted, go to the base step."""
        if self.connecting:
            return
        user_id = await signed_in_user_id(self)
        if user_id is None:
            yield rx.redirect(login_redirect(routes.ONBOARDING), replace=True)
            return
        token = form_data.get("token", "")
        self.token_error = ""
        self.connecting = True
        yield
        try:
            connected = await asyncio.to_thread(
                flows.connect_during_onboarding, user_id=user_id, token=token
            )
        except connections.AirtableTokenError as exc:
            self.token_error = exc.message
            self.connecting = False
            return
        self.token_hint = connected.token_hint
        self.connected_as = connected.connected_as
        self.bases = base_choices(connected.check)
        self.step = OnboardingStep.CHOOSE_BASE.value
        self.connecting = False

    @rx.event
    async def try_sample(self):
        """Connect the user to their own sample base, preselect its CRM, go to the tour."""
        if self.connecting or not get_settings().airtable_sample:
            return
        user_id = await signed_in_user_id(self)
        if user_id is None:
            yield rx.redirect(login_redirect(routes.ONBOARDING), replace=True)
            return
        self.token_error = ""
        self.connecting = True
        yield
        try:
            connected = await asyncio.to_thread(flows.start_with_sample, user_id=user_id)
        except connections.AirtableTokenError as exc:
            self.token_error = exc.message
            self.connecting = False
            return
        self.token_hint = connected.token_hint
        self.connected_as = connected.connected_as
        self.bases = base_choices(connected.check)
        self.tour_index = 0
        self.step = OnboardingStep.TOUR.value
        self.connecting = False
        warm_up()  # the first question is a click away

    @rx.event
    async def load_bases(self):
        """List the bases the stored token sees (after a reload on the base step)."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return
        self.loading_bases = True
        self.bases_error = ""
        yield

        try:
            check = await asyncio.to_thread(check_user_access, user_id=user_id)
        except UserFacingError as exc:
            self.bases_error = exc.message
        else:
            self.bases = base_choices(check)
        self.loading_bases = False

    @rx.event
    def set_base_query(self, value: str):
        """Filter the base list as the user types."""
        self.base_query = value[:200]

    @rx.event
    async def choose_base(self, base_id: str):
        """Remember the chosen base (it must be one the token sees) and start the tour."""
        user_id = await signed_in_user_id(self)
        if user_id is None or base_id not in {b["id"] for b in self.bases}:
            return
        await asyncio.to_thread(flows.choose_base, user_id=user_id, base_id=base_id)
        self.tour_index = 0
        self.step = OnboardingStep.TOUR.value
        warm_up()  # the first question is a click away

    @rx.event
    def back_to_connect(self):
        """Let the user paste a different token."""
        self.step = OnboardingStep.CONNECT.value
        self.token_error = ""

    @rx.event
    async def next_card(self):
        """Show the next tour card, or finish on the last one."""
        if self.tour_index < len(TOUR_CARDS) - 1:
            self.tour_index += 1
            return None
        return OnboardingState.finish

    @rx.event
    async def finish(self):
        """Mark onboarding done and open the chat on the chosen base."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return rx.redirect(login_redirect(routes.ONBOARDING), replace=True)
        await asyncio.to_thread(flows.finish_onboarding, user_id=user_id)
        auth = await self.get_state(AuthState)
        await auth.refresh_user()
        return rx.redirect(routes.CHAT, replace=True)


def _stepper() -> rx.Component:
    return rx.hstack(
        *[
            rx.hstack(
                rx.badge(
                    str(number),
                    variant=rx.cond(OnboardingState.step_number >= number, "solid", "soft"),
                    radius="full",
                ),
                rx.text(label, size="2", weight="medium", display=["none", "none", "inline"]),
                rx.cond(
                    OnboardingState.step_number == number,
                    rx.text(label, size="2", weight="medium", display=["inline", "inline", "none"]),
                ),
                align="center",
                spacing="2",
            )
            for number, (_, label) in enumerate(STEPS, 1)
        ],
        spacing="4",
        wrap="wrap",
        aria_label="Onboarding steps",
    )


def _connect_step() -> rx.Component:
    return rx.vstack(
        rx.heading("Connect your Airtable account", size="5", as_="h1"),
        rx.cond(
            OnboardingState.airtable_oauth_available,
            rx.vstack(
                # A full page load, not client-side routing: the backend serves this route.
                rx.button(
                    rx.el.a("Connect with Airtable", href=AIRTABLE_START, reload_document=True),
                    as_child=True,
                    size="3",
                ),
                rx.text("Or paste a personal access token instead:", size="2", color_scheme="gray"),
                spacing="2",
                width="100%",
                align="start",
            ),
        ),
        rx.text(
            "Create a personal access token in Airtable (Builder hub → Personal access "
            "tokens) with the scopes data.records:read, data.records:write, "
            "schema.bases:read (and schema.bases:write to let the assistant add tables "
            "and fields), and give it the bases you want to use. Paste it here: it is "
            "checked with Airtable, stored encrypted, and never shown again.",
            size="2",
            color_scheme="gray",
        ),
        secret_form(
            rx.vstack(
                token_field("Personal access token", error=OnboardingState.token_error),
                rx.hstack(
                    rx.button(
                        "Connect", type="submit", size="3", loading=OnboardingState.connecting
                    ),
                    rx.cond(
                        OnboardingState.sample_available,
                        rx.button(
                            "Try with a sample base",
                            type="button",
                            size="3",
                            variant="soft",
                            loading=OnboardingState.connecting,
                            on_click=OnboardingState.try_sample,
                        ),
                    ),
                    spacing="3",
                    wrap="wrap",
                ),
                rx.cond(
                    OnboardingState.sample_available,
                    rx.text(
                        "No Airtable at hand? The sample base is a private copy of a demo "
                        "sales CRM and product roadmap, kept by this app just for you. You "
                        "can connect your own Airtable later in Settings.",
                        size="1",
                        color_scheme="gray",
                    ),
                ),
                spacing="2",
                width="100%",
                align="start",
            ),
            on_submit=OnboardingState.connect,
            reset_on_submit=False,
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def _base_row(base: BaseChoice) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.vstack(
                rx.text(base["name"], weight="bold"),
                rx.text(base["id"], size="1", color_scheme="gray", font_family="monospace"),
                spacing="0",
                min_width="0",
            ),
            rx.spacer(),
            rx.badge(base["permission_level"], variant="soft"),
            rx.button(
                "Use this base",
                on_click=OnboardingState.choose_base(base["id"]),
                aria_label="Use " + base["name"],
            ),
            align="center",
            spacing="3",
            wrap="wrap",
            width="100%",
        ),
        width="100%",
    )


def _base_step() -> rx.Component:
    return rx.vstack(
        rx.heading("Choose a base", size="5", as_="h1"),
        rx.cond(
            OnboardingState.connected_as != "",
            rx.text(
                "Connected as ",
                rx.text.strong(OnboardingState.connected_as),
                " (token …",
                OnboardingState.token_hint,
                "). ",
                rx.link("Use another token", on_click=OnboardingState.back_to_connect, href="#"),
                size="2",
            ),
        ),
        rx.el.label("Search bases", html_for="base-search", style={"fontSize": "14px"}),
        rx.input(
            id="base-search",
            placeholder="Type part of a base name",
            value=OnboardingState.base_query,
            on_change=OnboardingState.set_base_query,
            width="100%",
            size="3",
        ),
        form_error(OnboardingState.bases_error),
        rx.cond(OnboardingState.loading_bases, rx.hstack(rx.spinner(), rx.text("Loading bases…"))),
        rx.vstack(
            rx.foreach(OnboardingState.visible_bases, _base_row),
            rx.cond(
                (OnboardingState.visible_bases.length() == 0) & ~OnboardingState.loading_bases,
                rx.text("No base matches.", size="2", color_scheme="gray"),
            ),
            width="100%",
            spacing="2",
        ),
        spacing="3",
        width="100%",
    )


def _tour_step() -> rx.Component:
    return rx.vstack(
        rx.heading("A quick tour", size="5", as_="h1"),
        rx.match(
            OnboardingState.tour_index,
            *[
                (
                    index,
                    rx.card(
                        rx.hstack(
                            rx.icon(
                                icon,
                                size=28,
                                color=rx.color("accent", 10),
                                # A flex item would shrink beside a long text on a phone.
                                flex_shrink="0",
                                class_name="tour-icon",
                            ),
                            rx.vstack(
                                rx.text(title, weight="bold", size="4"),
                                rx.text(body, size="3"),
                                spacing="1",
                                min_width="0",
                            ),
                            spacing="4",
                            align="start",
                        ),
                        width="100%",
                    ),
                )
                for index, (icon, title, body) in enumerate(TOUR_CARDS)
            ],
        ),
        rx.text(
            OnboardingState.tour_index + 1, f" of {len(TOUR_CARDS)}", size="1", color_scheme="gray"
        ),
        rx.hstack(
            rx.button("Skip the tour", variant="soft", on_click=OnboardingState.finish),
            rx.button(
                rx.cond(
                    OnboardingState.tour_index == len(TOUR_CARDS) - 1, "Start chatting", "Next"
                ),
                on_click=OnboardingState.next_card,
            ),
            spacing="3",
        ),
        spacing="3",
        width="100%",
    )


def onboarding_page() -> rx.Component:
    """The four steps, one at a time."""
    return private_page(
        page_column(
            _stepper(),
            rx.match(
                OnboardingState.step,
                (OnboardingStep.CONNECT.value, _connect_step()),
                (OnboardingStep.CHOOSE_BASE.value, _base_step()),
                (OnboardingStep.TOUR.value, _tour_step()),
                rx.spinner(),
            ),
            max_width="720px",
        ),
    )


def register_onboarding(app: rx.App) -> None:
    """Add the onboarding page to the app."""
    app.add_page(
        onboarding_page,
        route=routes.ONBOARDING,
        title="Get started · PyAirtable UI",
        on_load=[AuthState.guard_private_page, OnboardingState.on_load],
    )
