"""`/admin`: the instance's users (role, enabled), who may register and the invitations,
the models the picker offers and a test of each, the auto-approve rule, the budgets, and
the links no email could carry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import reflex as rx

from pyairtable_ui import routes
from pyairtable_ui.airtable import budget as airtable_budget
from pyairtable_ui.components.forms import form_error, form_notice
from pyairtable_ui.components.shell import page_column, private_page
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.instance import flows
from pyairtable_ui.instance.flows import InviteRow, PendingLinkRow, UserRow
from pyairtable_ui.llm.probe import ModelTestRow, probe_models
from pyairtable_ui.state.auth import AuthState, NotSignedInError


class AdminState(rx.State):
    """Loaded per request, for admins only (checked in every handler, not just the page)."""

    users: list[UserRow] = []
    # Live links (secrets): loaded only after the admin check, for admins only.
    pending_links: list[PendingLinkRow] = []
    models_text: str = ""
    model_tests: list[ModelTestRow] = []
    testing_models: bool = False
    error: str = ""
    notice: str = ""
    registration: str = "open"
    # Pending invitations; a link appears only when no email could carry it (a secret).
    invites: list[InviteRow] = []
    auto_enabled: bool = False
    auto_max_records: str = "5"
    auto_tables: str = ""
    airtable_plan: str = "none"
    airtable_requests: str = ""
    llm_instance_usd: str = ""
    llm_per_user_usd: str = ""

    async def _admin(self) -> int | None:
        auth = await self.get_state(AuthState)
        try:
            user_id = await auth.require_user_id()
        except NotSignedInError:
            return None
        return user_id if auth.is_admin else None

    @rx.event
    async def on_load(self):
        """Load users and the model list, or send a member away."""
        admin_id = await self._admin()
        if admin_id is None:
            return rx.redirect(routes.CHAT, replace=True)
        self.error = self.notice = ""
        self.model_tests = []
        await self._reload(admin_id)
        return None

    async def _reload(self, admin_id: int) -> None:
        view = await asyncio.to_thread(flows.admin_view, admin_id=admin_id)
        self.users, self.pending_links = view.users, view.pending_links
        self.models_text = "\n".join(view.models)
        self.registration, self.invites = view.registration, view.invites
        self.auto_enabled = view.auto_approve.enabled
        self.auto_max_records = str(view.auto_approve.max_records)
        self.auto_tables = "\n".join(view.auto_approve.tables)
        self.airtable_plan = view.airtable_plan
        self.airtable_requests = str(view.airtable_budget or "")
        self.llm_instance_usd = _amount(view.llm_budget.instance_usd)
        self.llm_per_user_usd = _amount(view.llm_budget.per_user_usd)

    async def _act(self, change: Callable[[int], object]) -> None:
        admin_id = await self._admin()
        if admin_id is None:
            self.error = "Only admins can do this."
            return
        self.error = self.notice = ""
        try:
            said = await asyncio.to_thread(change, admin_id)
        except UserFacingError as exc:
            self.error = exc.message
            return
        self.notice = said if isinstance(said, str) else "Saved."
        await self._reload(admin_id)

    @rx.event
    async def save_registration(self, form_data: dict[str, str]):
        """Make registration open to anyone, or by invitation only."""
        mode = form_data.get("registration", "")
        await self._act(lambda admin_id: flows.set_registration(admin_id=admin_id, mode=mode))

    @rx.event
    async def invite(self, form_data: dict[str, str]):
        """Invite an address with a role (emailed, or listed below without SMTP)."""
        email, role = form_data.get("email", ""), form_data.get("role", "member")
        if role not in ("member", "admin"):
            self.error = "Choose member or admin."
            return
        await self._act(lambda admin_id: flows.invite(admin_id=admin_id, email=email, role=role))

    @rx.event
    async def revoke_invite(self, invite_id: int):
        """Revoke a pending invitation: its link stops working at once."""
        await self._act(
            lambda admin_id: flows.revoke_invite(admin_id=admin_id, invite_id=invite_id)
        )

    @rx.event
    async def save_auto_approve(self, form_data: dict[str, str]):
        """Save the auto-approve rule: the switch, the record limit and the tables."""
        enabled = form_data.get("auto_enabled") == "on"
        count, tables = form_data.get("auto_max_records", ""), form_data.get("auto_tables", "")
        await self._act(
            lambda admin_id: flows.save_auto_approve(
                admin_id=admin_id, enabled=enabled, max_records=count, tables=tables
            )
        )

    @rx.event
    async def save_airtable_budget(self, form_data: dict[str, str]):
        """Save the monthly Airtable request budget (a plan, or a number)."""
        plan, requests = form_data.get("plan", "none"), form_data.get("requests", "")
        await self._act(
            lambda admin_id: flows.save_airtable_budget(
                admin_id=admin_id, plan=plan, requests=requests
            )
        )
        # This process holds the new figure at once; the others within a couple of seconds.
        airtable_budget.forget()

    @rx.event
    async def save_llm_budget(self, form_data: dict[str, str]):
        """Save the monthly LLM spend limits, for the instance and for each user."""
        whole, each = form_data.get("instance_usd", ""), form_data.get("per_user_usd", "")
        await self._act(
            lambda admin_id: flows.save_llm_budget(
                admin_id=admin_id, instance_usd=whole, per_user_usd=each
            )
        )

    @rx.event
    async def set_role(self, user_id: int, role: str):
        """Make someone an admin or a member (the last admin stays admin)."""
        await self._act(
            lambda admin_id: flows.set_role(admin_id=admin_id, user_id=user_id, role=role)
        )

    @rx.event
    async def set_active(self, user_id: int, active: bool):
        """Disable (signs them out everywhere) or enable an account."""
        await self._act(
            lambda admin_id: flows.set_active(admin_id=admin_id, user_id=user_id, active=active)
        )

    @rx.event
    async def save_models(self, form_data: dict[str, str]):
        """Save the models the picker offers, one per line, the default first."""
        models = form_data.get("models", "").splitlines()
        await self._act(lambda admin_id: flows.save_models(admin_id=admin_id, models=models))

    @rx.event(background=True)
    async def test_models(self):
        """Send one tiny request to each allowed model; show its time or its error.

        In the background: a provider that does not answer must not hold the page's
        other events for the length of a timeout.
        """
        async with self:
            admin_id = await self._admin()
            if admin_id is None:
                self.error = "Only admins can do this."
                return
            if self.testing_models:
                return
            self.testing_models = True
            self.model_tests = []
            self.error = self.notice = ""
        rows: list[ModelTestRow] = []
        error = ""
        try:
            models = await asyncio.to_thread(flows.models_to_test, admin_id=admin_id)
            rows = await probe_models(models)
        except UserFacingError as exc:
            error = exc.message
        finally:
            async with self:
                self.model_tests, self.error = rows, error
                self.testing_models = False


def _amount(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _copy_button(link: rx.Var[str] | str, email: rx.Var[str] | str) -> rx.Component:
    return rx.button(
        rx.icon("copy", size=14),
        "Copy",
        size="1",
        variant="soft",
        # The link is already on this admin's screen; copying sends nothing back.
        on_click=[rx.set_clipboard(link), rx.toast("Link copied.")],
        aria_label="Copy the link for " + email,
    )


def _table(
    columns: list[str], items: Any, row: Callable[[Any], rx.Component], **props: Any
) -> rx.Component:
    """A table with these column headers and one row per item (`props`: id, ...)."""
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(c) for c in columns])),
        rx.table.body(rx.foreach(items, row)),
        width="100%",
        **props,
    )


def _setting_form(*fields: rx.Component, button: str, on_submit: Any, **props: Any) -> rx.Component:
    """One row of settings fields and their save button (`props`: reset_on_submit, ...)."""
    return rx.form(
        rx.hstack(
            *fields, rx.button(button, type="submit", variant="soft"), align="end", wrap="wrap"
        ),
        on_submit=on_submit,
        width="100%",
        **props,
    )


def _kept_input(label: str, name: str, value: Any, placeholder: str) -> rx.Component:
    """A text field showing the saved value (keyed on it, so a save redraws it)."""
    return _labelled(
        label,
        rx.input(name=name, placeholder=placeholder, default_value=value, key=value),
    )


def _labelled(label: str, control: rx.Component) -> rx.Component:
    return rx.el.label(
        rx.vstack(rx.text(label, size="2"), control, spacing="1"),
        style={"fontSize": "14px"},
    )


_SELECT_STYLE = {"padding": "6px 8px", "borderRadius": "6px", "border": "1px solid #ccc"}


def _invite_row(row: InviteRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row["email"]),
        rx.table.cell(row["role"]),
        rx.table.cell(row["expires"]),
        rx.table.cell(
            rx.cond(
                row["link"] != "",
                rx.hstack(
                    rx.code(row["link"], word_break="break-all"),
                    _copy_button(row["link"], row["email"]),
                ),
                rx.text("emailed", size="1", color_scheme="gray"),
            )
        ),
        rx.table.cell(
            rx.button(
                "Revoke",
                size="1",
                variant="soft",
                color_scheme="red",
                on_click=AdminState.revoke_invite(row["id"]),
                aria_label="Revoke the invitation for " + row["email"],
            )
        ),
    )


def _access_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Access and invitations", size="4", as_="h2"),
            _setting_form(
                _labelled(
                    "Who may create an account",
                    rx.el.select(
                        rx.el.option("Anyone (open)", value="open"),
                        rx.el.option("By invitation only", value="invite-only"),
                        name="registration",
                        default_value=AdminState.registration,
                        key=AdminState.registration,
                        style=_SELECT_STYLE,
                    ),
                ),
                button="Save access",
                on_submit=AdminState.save_registration,
            ),
            rx.form(
                rx.hstack(
                    _labelled(
                        "Invite by email",
                        rx.input(
                            name="email",
                            type="email",
                            placeholder="colleague@company.com",
                            required=True,
                        ),
                    ),
                    _labelled(
                        "Role",
                        rx.el.select(
                            rx.el.option("member", value="member"),
                            rx.el.option("admin", value="admin"),
                            name="role",
                            style=_SELECT_STYLE,
                        ),
                    ),
                    rx.button("Invite", type="submit"),
                    align="end",
                    wrap="wrap",
                ),
                on_submit=AdminState.invite,
                reset_on_submit=True,
                width="100%",
            ),
            rx.text(
                "An invitation is a link that works once, for that address only, for 7 days; "
                "the account gets the role chosen here.",
                size="1",
                color_scheme="gray",
            ),
            rx.cond(
                AdminState.invites.length() > 0,
                rx.box(
                    _table(
                        ["Invited", "Role", "Expires", "Link", ""],
                        AdminState.invites,
                        _invite_row,
                        id="pending-invites",
                    ),
                    overflow_x="auto",
                    width="100%",
                ),
                rx.text("No invitation is pending.", size="2", color_scheme="gray"),
            ),
            width="100%",
        ),
        width="100%",
    )


def _auto_approve_card() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Auto-approve small writes", size="4", as_="h2"),
                rx.text(
                    "When on, creates and updates of at most this many records in the tables "
                    "listed run without a click. Never deletes, schema changes or upserts, and "
                    "never in a conversation that has read record text (it can carry "
                    "instructions). Each such action is recorded, says it was applied by "
                    "this rule, and can be undone.",
                    size="2",
                ),
                rx.el.label(
                    rx.el.input(
                        type="checkbox",
                        name="auto_enabled",
                        default_checked=AdminState.auto_enabled,
                        key=AdminState.auto_enabled.to_string(),
                    ),
                    " Auto-approve small writes",
                    style={"fontSize": "14px"},
                ),
                _labelled(
                    "At most this many records per action",
                    rx.input(
                        name="auto_max_records",
                        type="number",
                        min="1",
                        default_value=AdminState.auto_max_records,
                        key=AdminState.auto_max_records,
                    ),
                ),
                _labelled(
                    "Tables it covers (names or ids, one per line)",
                    rx.text_area(
                        name="auto_tables",
                        default_value=AdminState.auto_tables,
                        key=AdminState.auto_tables,
                        rows="3",
                        width="100%",
                    ),
                ),
                rx.button("Save rule", type="submit", variant="soft"),
                spacing="2",
                width="100%",
                align="start",
            ),
            on_submit=AdminState.save_auto_approve,
            width="100%",
        ),
        width="100%",
    )


def _budgets_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Budgets", size="4", as_="h2"),
            rx.link("See this month's use on Analytics", href=routes.ADMIN_ANALYTICS, size="2"),
            rx.form(
                rx.hstack(
                    _labelled(
                        "Airtable requests per month",
                        rx.el.select(
                            rx.el.option("No budget", value="none"),
                            rx.el.option("Free plan: 1,000", value="free"),
                            rx.el.option("Team plan: 100,000", value="team"),
                            rx.el.option("Business plan: 125,000", value="business"),
                            rx.el.option("A number…", value="custom"),
                            name="plan",
                            default_value=AdminState.airtable_plan,
                            key=AdminState.airtable_plan,
                            style=_SELECT_STYLE,
                        ),
                    ),
                    _kept_input(
                        "Number (for “A number…”)", "requests", AdminState.airtable_requests, "5000"
                    ),
                    rx.button("Save Airtable budget", type="submit", variant="soft"),
                    align="end",
                    wrap="wrap",
                ),
                on_submit=AdminState.save_airtable_budget,
                width="100%",
            ),
            _setting_form(
                _kept_input(
                    "LLM spend per month, instance (USD)",
                    "instance_usd",
                    AdminState.llm_instance_usd,
                    "no limit",
                ),
                _kept_input(
                    "LLM spend per month, each user (USD)",
                    "per_user_usd",
                    AdminState.llm_per_user_usd,
                    "no limit",
                ),
                button="Save LLM budgets",
                on_submit=AdminState.save_llm_budget,
            ),
            rx.text(
                "At 100% of the Airtable budget new Airtable reads and writes are refused "
                "until the month turns or the budget is raised; a question is refused when "
                "its user or the instance has spent its LLM budget.",
                size="1",
                color_scheme="gray",
            ),
            width="100%",
        ),
        width="100%",
    )


def _pending_link_row(row: PendingLinkRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row["email"]),
        rx.table.cell(row["kind"]),
        rx.table.cell(rx.code(row["link"], word_break="break-all")),
        rx.table.cell(row["expires"]),
        rx.table.cell(_copy_button(row["link"], row["email"])),
    )


def _pending_links_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Pending links", size="4", as_="h2"),
            rx.text(
                "No mail server is set (SMTP_HOST), so these verification and password "
                "reset links could not be emailed. Copy each one and pass it to its owner "
                "privately: anyone with a link can use it once. A used link leaves the list.",
                size="2",
            ),
            _table_or_cards(
                _table(
                    ["Account", "Link for", "Link", "Expires", ""],
                    AdminState.pending_links,
                    _pending_link_row,
                ),
                rx.foreach(AdminState.pending_links, _pending_link_card),
                "admin-links",
            ),
            width="100%",
        ),
        width="100%",
    )


def _model_test_row(row: ModelTestRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row["model"])),
        rx.table.cell(
            rx.vstack(
                rx.text(
                    row["outcome"],
                    color_scheme=rx.cond(row["ok"], "green", "red"),
                    weight="medium",
                    size="2",
                ),
                rx.cond(
                    row["detail"] != "",
                    rx.text(row["detail"], size="1", color_scheme="gray", word_break="break-word"),
                ),
                spacing="1",
            )
        ),
    )


def _model_tests() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.button(
                "Test models",
                variant="soft",
                loading=AdminState.testing_models,
                on_click=AdminState.test_models,
            ),
            rx.text(
                "Sends one short request to each saved model, as the chat would.",
                size="1",
                color_scheme="gray",
            ),
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            AdminState.model_tests.length() > 0,
            _table(["Model", "Result"], AdminState.model_tests, _model_test_row, id="model-tests"),
        ),
        spacing="2",
        width="100%",
        margin_top="16px",
    )


def _role_badge(row: UserRow) -> rx.Component:
    return rx.badge(row["role"], color_scheme=rx.cond(row["role"] == "admin", "purple", "gray"))


def _status_badges(row: UserRow) -> rx.Component:
    return rx.flex(
        rx.cond(
            row["active"],
            rx.badge("active", color_scheme="green"),
            rx.badge("disabled", color_scheme="red"),
        ),
        rx.cond(~row["verified"], rx.badge("email not verified", color_scheme="orange")),
        gap="4px",
        wrap="wrap",
    )


def _user_buttons(row: UserRow) -> rx.Component:
    return rx.hstack(
        rx.cond(
            row["role"] == "admin",
            rx.button(
                "Make member",
                size="1",
                variant="soft",
                on_click=AdminState.set_role(row["id"], "member"),
            ),
            rx.button(
                "Make admin",
                size="1",
                variant="soft",
                on_click=AdminState.set_role(row["id"], "admin"),
            ),
        ),
        rx.cond(
            row["active"],
            rx.button(
                "Disable",
                size="1",
                variant="soft",
                color_scheme="red",
                on_click=AdminState.set_active(row["id"], False),
            ),
            rx.button(
                "Enable",
                size="1",
                variant="soft",
                on_click=AdminState.set_active(row["id"], True),
            ),
        ),
        wrap="wrap",
    )


def _user_row(row: UserRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(row["email"], weight="medium"),
                rx.text(row["name"], size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(_role_badge(row)),
        rx.table.cell(_status_badges(row)),
        rx.table.cell(row["created"]),
        rx.table.cell(_user_buttons(row)),
        class_name="admin-user-row",
    )


def _card_field(label: str, value: rx.Component, class_name: str) -> rx.Component:
    # Long addresses and links wrap inside the card instead of widening the page.
    return rx.data_list.item(
        rx.data_list.label(label, min_width="64px"),
        rx.data_list.value(value, class_name=class_name, overflow_wrap="anywhere", min_width="0"),
    )


def _user_card(row: UserRow) -> rx.Component:
    """One account on a phone: every column of the table's row, stacked."""
    return rx.card(
        rx.data_list.root(
            _card_field(
                "Account",
                rx.vstack(
                    rx.text(row["email"], weight="medium"),
                    rx.text(row["name"], size="1", color_scheme="gray"),
                    spacing="0",
                    min_width="0",
                ),
                "admin-card-account",
            ),
            _card_field("Role", _role_badge(row), "admin-card-role"),
            _card_field("Status", _status_badges(row), "admin-card-status"),
            _card_field("Joined", rx.text(row["created"]), "admin-card-joined"),
            size="2",
            width="100%",
        ),
        rx.box(_user_buttons(row), padding_top="8px", class_name="admin-card-actions"),
        class_name="admin-user-card",
        width="100%",
    )


def _pending_link_card(row: PendingLinkRow) -> rx.Component:
    """One pending link on a phone: every column of the table's row, stacked."""
    return rx.card(
        rx.data_list.root(
            _card_field("Account", rx.text(row["email"]), "admin-link-account"),
            _card_field("Link for", rx.text(row["kind"]), "admin-link-kind"),
            _card_field("Link", rx.code(row["link"], word_break="break-all"), "admin-link-link"),
            _card_field("Expires", rx.text(row["expires"]), "admin-link-expires"),
            size="2",
            width="100%",
        ),
        rx.box(_copy_button(row["link"], row["email"]), padding_top="8px"),
        class_name="admin-link-card",
        width="100%",
    )


def _table_or_cards(table: rx.Component, cards: rx.Component, name: str) -> rx.Component:
    """A table from Radix's md breakpoint (768 px) up; stacked cards below it, where the
    columns would run off a phone's screen."""
    return rx.fragment(
        rx.box(
            table,
            overflow_x="auto",
            width="100%",
            display=["none", "none", "block"],
            class_name=f"{name}-table",
        ),
        rx.vstack(
            cards,
            spacing="3",
            width="100%",
            display=["flex", "flex", "none"],
            class_name=f"{name}-cards",
        ),
    )


def admin_page() -> rx.Component:
    """Users and models."""
    return private_page(
        page_column(
            rx.heading("Admin", size="6", as_="h1"),
            rx.link("Analytics: use per day, user and base", href=routes.ADMIN_ANALYTICS, size="2"),
            form_error(AdminState.error),
            form_notice(AdminState.notice),
            rx.cond(AdminState.pending_links.length() > 0, _pending_links_card()),
            rx.card(
                rx.vstack(
                    rx.heading("Users", size="4", as_="h2"),
                    _table_or_cards(
                        _table(
                            ["Account", "Role", "Status", "Joined", ""], AdminState.users, _user_row
                        ),
                        rx.foreach(AdminState.users, _user_card),
                        "admin-users",
                    ),
                    width="100%",
                ),
                width="100%",
            ),
            _access_card(),
            rx.card(
                rx.form(
                    rx.vstack(
                        rx.heading("Models", size="4", as_="h2"),
                        rx.el.label(
                            "Models users may pick, one litellm model string per line; "
                            "the first is the default.",
                            html_for="field-models",
                            style={"fontSize": "14px"},
                        ),
                        rx.text_area(
                            id="field-models",
                            name="models",
                            default_value=AdminState.models_text,
                            key=AdminState.models_text,
                            rows="5",
                            width="100%",
                            font_family="monospace",
                        ),
                        rx.button("Save models", type="submit"),
                        spacing="2",
                        width="100%",
                        align="start",
                    ),
                    on_submit=AdminState.save_models,
                    width="100%",
                ),
                _model_tests(),
                width="100%",
            ),
            _auto_approve_card(),
            _budgets_card(),
            max_width="960px",
        ),
    )


def register_admin(app: rx.App) -> None:
    """Add the admin page to the app."""
    app.add_page(
        admin_page,
        route=routes.ADMIN,
        title="Admin · PyAirtable UI",
        on_load=[AuthState.guard_admin_page, AdminState.on_load],
    )
