"""`/admin/analytics`: the instance's use per day over 7, 30 or 90 days, per user and per
base, with the tables as CSV. Admins only (checked in every handler, not just the page)."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from pyairtable_ui import routes
from pyairtable_ui.analytics import flows
from pyairtable_ui.analytics.flows import DayRow, ToolRow, TotalsRow
from pyairtable_ui.components.forms import form_error
from pyairtable_ui.components.shell import page_column, private_page
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.state.auth import AuthState, NotSignedInError
from pyairtable_ui.state.budget import BudgetState

PERIOD_CHOICES = [str(days) for days in flows.PERIODS]

# The tables' columns: (row key, header).
TOTALS_HEADERS = [
    ("conversations", "Conversations"),
    ("messages", "Messages"),
    ("tool_calls", "Tool calls"),
    ("airtable_requests", "Airtable requests"),
    ("rate_limited", "429s"),
    ("prompt_tokens", "Tokens in"),
    ("completion_tokens", "Tokens out"),
    ("cost_usd", "Cost (USD)"),
    ("failed_turns", "Failed turns"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("undone", "Undone"),
    ("failed_actions", "Failed actions"),
]


class AnalyticsState(rx.State):
    """One row per day, tool, user and base of the period (aggregated by the database)."""

    period: str = "30"
    days: list[DayRow] = []
    tools: list[ToolRow] = []
    users: list[TotalsRow] = []
    bases: list[TotalsRow] = []
    error: str = ""

    async def _admin(self) -> int | None:
        auth = await self.get_state(AuthState)
        try:
            user_id = await auth.require_user_id()
        except NotSignedInError:
            return None
        return user_id if auth.is_admin else None

    async def _reload(self, admin_id: int) -> None:
        self.error = ""
        try:
            view = await asyncio.to_thread(
                flows.analytics_view, admin_id=admin_id, days=int(self.period)
            )
        except UserFacingError as exc:
            self.error = exc.message
            return
        self.days, self.tools, self.users, self.bases = (
            view.days,
            view.tools,
            view.users,
            view.bases,
        )

    @rx.event
    async def on_load(self):
        """Load the period's figures, or send a member away."""
        admin_id = await self._admin()
        if admin_id is None:
            return rx.redirect(routes.CHAT, replace=True)
        await self._reload(admin_id)
        return None

    @rx.event
    async def set_period(self, value: str | list[str]):
        """Show the last 7, 30 or 90 days."""
        admin_id = await self._admin()
        if admin_id is None:
            self.error = "Only admins can do this."
            return
        chosen = value if isinstance(value, str) else (value[0] if value else "")
        if chosen not in PERIOD_CHOICES:
            self.error = flows.UnknownPeriodError().message
            return
        self.period = chosen
        await self._reload(admin_id)

    @rx.event
    async def download_csv(self, by: str):
        """The per-user or per-base table of the period as a CSV file."""
        admin_id = await self._admin()
        if admin_id is None:
            self.error = "Only admins can do this."
            return None
        if by not in ("user", "base"):
            return None
        try:
            text = await asyncio.to_thread(
                flows.totals_csv, admin_id=admin_id, days=int(self.period), by=by
            )
        except UserFacingError as exc:
            self.error = exc.message
            return None
        return rx.download(
            data=text, filename=f"analytics-{by}-{self.period}d.csv", mime_type="text/csv"
        )


def _bar_chart(
    title: str,
    *bars: tuple[str, str, str],
    stacked: bool = False,
    x_key: str = "day",
    data: Any = AnalyticsState.days,
    note: str | None = None,
) -> rx.Component:
    """A card with one bar chart: `bars` are (data key, legend name, Radix colour)."""
    return rx.card(
        rx.vstack(
            rx.heading(title, size="3", as_="h3"),
            rx.recharts.bar_chart(
                rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                *(
                    rx.recharts.bar(
                        data_key=key,
                        name=label,
                        fill=f"var(--{color}-9)",
                        stack_id="stack" if stacked else None,
                        is_animation_active=False,
                    )
                    for key, label, color in bars
                ),
                rx.recharts.x_axis(data_key=x_key),
                rx.recharts.y_axis(allow_decimals=False),
                rx.recharts.graphing_tooltip(),
                rx.recharts.legend(),
                data=data,
                width="100%",
                height=220,
            ),
            *([rx.text(note, size="1", color_scheme="gray")] if note else []),
            width="100%",
        ),
        width="100%",
        class_name="analytics-chart",
    )


def _line_chart(title: str, *lines: tuple[str, str, str]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="3", as_="h3"),
            rx.recharts.line_chart(
                rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                *(
                    rx.recharts.line(
                        data_key=key,
                        name=label,
                        stroke=f"var(--{color}-9)",
                        type_="monotone",
                        is_animation_active=False,
                    )
                    for key, label, color in lines
                ),
                rx.recharts.x_axis(data_key="day"),
                rx.recharts.y_axis(),
                rx.recharts.graphing_tooltip(),
                rx.recharts.legend(),
                data=AnalyticsState.days,
                width="100%",
                height=220,
            ),
            width="100%",
        ),
        width="100%",
        class_name="analytics-chart",
    )


def _tools_chart() -> rx.Component:
    return _bar_chart(
        "Tool calls by tool",
        ("calls", "Calls", "blue"),
        ("failed", "Failed", "red"),
        x_key="tool",
        data=AnalyticsState.tools,
    )


def _bases_chart() -> rx.Component:
    return _bar_chart(
        "Airtable requests by base",
        ("airtable_requests", "Requests", "teal"),
        ("rate_limited", "Answered 429", "red"),
        x_key="key",
        data=AnalyticsState.bases,
        note="Every request sent for chat turns, action runs and schema loads, "
        "retries included; account-wide calls (listing bases) have no base.",
    )


def _totals_table(title: str, key_header: str, rows: list[TotalsRow], by: str) -> rx.Component:
    def row(item: TotalsRow) -> rx.Component:
        return rx.table.row(
            rx.table.row_header_cell(item["key"]),
            *(rx.table.cell(item[key]) for key, _ in TOTALS_HEADERS),  # type: ignore[literal-required]
        )

    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(title, size="4", as_="h2"),
                rx.spacer(),
                rx.button(
                    rx.icon("download", size=14),
                    "Download CSV",
                    size="1",
                    variant="soft",
                    on_click=AnalyticsState.download_csv(by),
                    aria_label=f"Download {title.lower()} as CSV",
                ),
                width="100%",
                align="center",
            ),
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell(key_header),
                            *(rx.table.column_header_cell(label) for _, label in TOTALS_HEADERS),
                        )
                    ),
                    rx.table.body(rx.foreach(rows, row)),
                    width="100%",
                    size="1",
                ),
                overflow_x="auto",
                width="100%",
            ),
            width="100%",
        ),
        width="100%",
    )


def analytics_page() -> rx.Component:
    """Charts per day, then the per-user and per-base tables."""
    return private_page(
        page_column(
            rx.hstack(
                rx.heading("Analytics", size="6", as_="h1"),
                rx.spacer(),
                rx.segmented_control.root(
                    *(
                        rx.segmented_control.item(f"{days} days", value=days)
                        for days in PERIOD_CHOICES
                    ),
                    value=AnalyticsState.period,
                    on_change=AnalyticsState.set_period,
                    aria_label="Period",
                ),
                width="100%",
                align="center",
            ),
            rx.link("Back to admin", href=routes.ADMIN, size="2"),
            form_error(AnalyticsState.error),
            rx.card(
                rx.vstack(
                    rx.heading("This month against the budgets", size="4", as_="h2"),
                    rx.text("Airtable requests: ", BudgetState.airtable, size="2"),
                    rx.progress(value=BudgetState.airtable_percent, max=100, width="100%"),
                    rx.text("LLM spend, the instance: ", BudgetState.llm_instance, size="2"),
                    rx.link("Change the budgets on Admin", href=routes.ADMIN, size="2"),
                    spacing="2",
                    width="100%",
                ),
                width="100%",
                id="budget-use",
            ),
            rx.heading("Per day", size="4", as_="h2"),
            rx.grid(
                _bar_chart("Active users", ("active_users", "Active users", "blue")),
                _bar_chart(
                    "Conversations and messages",
                    ("conversations", "Conversations", "violet"),
                    ("messages", "Messages", "blue"),
                ),
                _bar_chart("Tool calls", ("tool_calls", "Tool calls", "cyan")),
                _bar_chart(
                    "Airtable requests",
                    ("airtable_requests", "Requests", "teal"),
                    ("rate_limited", "Answered 429", "red"),
                ),
                _bar_chart(
                    "Tokens in and out",
                    ("prompt_tokens", "In", "indigo"),
                    ("completion_tokens", "Out", "amber"),
                    stacked=True,
                ),
                _line_chart("Cost (USD)", ("cost_usd", "Cost", "green")),
                _bar_chart(
                    "Failed turns and actions",
                    ("failed_turns", "Failed turns", "red"),
                    ("failed_actions", "Failed actions", "orange"),
                ),
                _line_chart("Error rate (%)", ("error_rate", "Error rate", "red")),
                _line_chart(
                    "Turn latency (ms)", ("p50_ms", "p50", "blue"), ("p95_ms", "p95", "purple")
                ),
                _bar_chart(
                    "Actions",
                    ("approved", "Approved", "green"),
                    ("rejected", "Rejected", "gray"),
                    ("undone", "Undone", "amber"),
                ),
                _tools_chart(),
                _bases_chart(),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="3",
                width="100%",
            ),
            _totals_table("Per user", "Account", AnalyticsState.users, "user"),
            _totals_table("Per base", "Base", AnalyticsState.bases, "base"),
            rx.text(
                "Days are UTC. Turn latency is the sum of a turn's model calls and tool "
                "runs; cost counts the model calls whose price is known. Airtable "
                "requests and 429s are counted since the version that added this page "
                "(saved every few seconds per user and base, not per request).",
                size="1",
                color_scheme="gray",
            ),
            max_width="1200px",
        ),
    )


def register_admin_analytics(app: rx.App) -> None:
    """Add the analytics page to the app."""
    app.add_page(
        analytics_page,
        route=routes.ADMIN_ANALYTICS,
        title="Analytics · PyAirtable UI",
        on_load=[AuthState.guard_admin_page, AnalyticsState.on_load],
    )
