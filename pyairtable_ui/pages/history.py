"""`/history`: every action of the user (admins: everyone's), filtered, detailed, exported."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any, Literal

import reflex as rx

from pyairtable_ui import routes
from pyairtable_ui.actions import flows, rows
from pyairtable_ui.actions import history as action_history
from pyairtable_ui.actions.base import ActionError
from pyairtable_ui.actions.models import ActionStatus
from pyairtable_ui.actions.rows import HistoryItem, RecordLinkItem, StepItem
from pyairtable_ui.components.action_review import action_controls, review_dialog
from pyairtable_ui.components.forms import form_error
from pyairtable_ui.components.record_link import record_link
from pyairtable_ui.components.shell import page_column, private_page
from pyairtable_ui.routes import login_redirect
from pyairtable_ui.state.actions import ActionsState
from pyairtable_ui.state.auth import AuthState, signed_in_user_id
from pyairtable_ui.tools import get_registry

PAGE_SIZE = 50
ALL = "all"


def _write_tools() -> list[str]:
    """The tools that propose actions, in the registry's order."""
    registry = get_registry()
    return [name for name in registry.names if (tool := registry.get(name)) and tool.writes]


TOOLS = _write_tools()


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


class HistoryState(rx.State):
    """Filters, one page of rows, and the details of one action."""

    base_id: str = ""
    table: str = ""
    tool: str = ALL
    status: str = ALL
    date_from: str = ""
    date_to: str = ""
    everyone: bool = False

    rows: list[HistoryItem] = []
    total: int = 0
    offset: int = 0
    error: str = ""

    details_open: bool = False
    details_title: str = ""
    details_arguments: str = ""
    details_snapshots: str = ""
    details_steps: list[StepItem] = []
    details_records: list[RecordLinkItem] = []

    def _filters(self) -> action_history.HistoryFilters:
        return action_history.HistoryFilters(
            base_id=self.base_id.strip() or None,
            table=self.table.strip() or None,
            tool=None if self.tool == ALL else self.tool,
            status=None if self.status == ALL else self.status,
            date_from=_parse_date(self.date_from),
            date_to=_parse_date(self.date_to),
        )

    async def _actor(self) -> tuple[int, bool] | None:
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return None
        auth = await self.get_state(AuthState)
        # Admins see everyone's actions only when they ask to; audit re-checks the role.
        return user_id, bool(auth.is_admin and self.everyone)

    @rx.event
    async def on_load(self):
        """Show the newest actions."""
        if await signed_in_user_id(self) is None:
            return rx.redirect(login_redirect(routes.HISTORY), replace=True)
        self.offset = 0
        self.details_open = False
        # The review dialog left open on the chat page must not cover this one.
        actions = await self.get_state(ActionsState)
        actions.open = False
        await asyncio.to_thread(flows.recover_stale_actions)
        return HistoryState.search

    @rx.event
    async def search(self):
        """Read the current page with the current filters."""
        actor = await self._actor()
        if actor is None:
            return
        filters, offset = self._filters(), self.offset
        try:
            page, total = await asyncio.to_thread(
                lambda: action_history.read_history_page(
                    actor_id=actor[0],
                    is_admin=actor[1],
                    filters=filters,
                    limit=PAGE_SIZE,
                    offset=offset,
                )
            )
        except ActionError as exc:
            self.error = exc.message
            return
        self.rows, self.total = [rows.history_item(r) for r in page], total
        self.error = ""

    @rx.event
    async def apply_filters(self, form_data: dict[str, Any]):
        """Filter from the form (dates as YYYY-MM-DD)."""
        self.base_id = str(form_data.get("base_id", ""))[:40]
        self.table = str(form_data.get("table", ""))[:255]
        self.date_from = str(form_data.get("date_from", ""))[:10]
        self.date_to = str(form_data.get("date_to", ""))[:10]
        self.offset = 0
        return HistoryState.search

    @rx.event
    def set_tool(self, value: str):
        """Filter by tool."""
        self.tool = value if value in TOOLS else ALL
        self.offset = 0
        return HistoryState.search

    @rx.event
    def set_status(self, value: str):
        """Filter by status."""
        self.status = value if value in {s.value for s in ActionStatus} else ALL
        self.offset = 0
        return HistoryState.search

    @rx.event
    def set_everyone(self, value: bool):
        """Admins: show every user's actions, not just their own."""
        self.everyone = bool(value)
        self.offset = 0
        return HistoryState.search

    @rx.event
    def page(self, delta: int):
        """Go to the previous or next page."""
        self.offset = max(0, min(self.offset + delta * PAGE_SIZE, max(self.total - 1, 0)))
        return HistoryState.search

    @rx.event
    async def open_details(self, action_id: int):
        """Show the arguments, snapshots and every Airtable request of one action."""
        actor = await self._actor()
        if actor is None:
            return

        try:
            details = await asyncio.to_thread(
                lambda: action_history.read_action_details(
                    actor_id=actor[0], is_admin=actor[1], action_id=action_id
                )
            )
        except ActionError as exc:
            self.error = exc.message
            return
        view = rows.details_view(details)
        self.details_title = view.title
        self.details_arguments = view.arguments
        self.details_snapshots = view.snapshots
        self.details_steps = view.steps
        self.details_records = view.records
        self.details_open = True
        actions = await self.get_state(ActionsState)
        await actions.load_one(action_id)

    @rx.event
    def set_details_open(self, value: bool):
        """Close the details dialog."""
        self.details_open = value

    async def _export(self, kind: Literal["csv", "json"]):
        actor = await self._actor()
        if actor is None:
            return None
        filters = self._filters()
        data = await asyncio.to_thread(
            lambda: action_history.export_history(
                kind, actor_id=actor[0], is_admin=actor[1], filters=filters
            )
        )
        return rx.download(data=data, filename=f"pyairtable-ui-history.{kind}")

    @rx.event
    async def export_csv(self):
        """Download the filtered history as CSV."""
        return await self._export("csv")

    @rx.event
    async def export_json(self):
        """Download the filtered history as JSON, with every step."""
        return await self._export("json")


def _row(item: HistoryItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item["created"], white_space="nowrap"),
        rx.cond(HistoryState.everyone, rx.table.cell(item["who"])),
        rx.table.cell(rx.text(item["tool"], font_family="monospace", size="1")),
        rx.table.cell(item["table"], _sample_badge(item)),
        rx.table.cell(
            item["summary"],
            rx.cond(item["scheduled"], rx.badge("Scheduled", size="1", margin_left="6px")),
        ),
        rx.table.cell(item["records"]),
        rx.table.cell(*_status(item)),
        rx.table.cell(_details_button(item)),
        class_name="history-row",
    )


def _status(item: HistoryItem) -> list[rx.Component]:
    return [
        rx.badge(item["word"], data_status=item["status"], class_name="history-status"),
        rx.cond(item["undo_word"] != "", rx.text(item["undo_word"], size="1")),
        rx.cond(
            item["changed"] > 0,
            rx.text(
                item["changed"], " changed since you reviewed", size="1", color_scheme="orange"
            ),
        ),
    ]


def _sample_badge(item: HistoryItem) -> rx.Component:
    # An action on a user's sample base, not on Airtable (also after connecting Airtable).
    return rx.cond(
        item["sample"], rx.badge("Sample", color_scheme="orange", variant="soft", margin_left="6px")
    )


def _details_button(item: HistoryItem) -> rx.Component:
    return rx.button(
        "Details", size="1", variant="soft", on_click=HistoryState.open_details(item["id"])
    )


def _field(label: str, value: rx.Component, class_name: str) -> rx.Component:
    # Long summaries and table names wrap inside the card instead of widening the page.
    return rx.data_list.item(
        rx.data_list.label(label, min_width="72px"),
        rx.data_list.value(value, class_name=class_name, overflow_wrap="anywhere", min_width="0"),
    )


def _card(item: HistoryItem) -> rx.Component:
    """One action on a phone: every column of the table's row, stacked."""
    return rx.card(
        rx.data_list.root(
            _field("What", rx.text(item["summary"]), "history-card-what"),
            _field("Records", rx.text(item["records"]), "history-card-records"),
            _field("Status", rx.vstack(*_status(item), spacing="1"), "history-card-status"),
            _field("When (UTC)", rx.text(item["created"]), "history-card-when"),
            rx.cond(
                HistoryState.everyone,
                _field("Who", rx.text(item["who"]), "history-card-who"),
            ),
            _field(
                "Tool",
                rx.text(item["tool"], font_family="monospace", size="1"),
                "history-card-tool",
            ),
            _field("Table", rx.text(item["table"], _sample_badge(item)), "history-card-table"),
            size="2",
            width="100%",
        ),
        rx.flex(_details_button(item), justify="end", padding_top="8px"),
        class_name="history-card",
        width="100%",
    )


def _filters() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                name="base_id",
                placeholder="Base id (app…)",
                aria_label="Base",
                default_value=HistoryState.base_id,
                width="170px",
            ),
            rx.input(
                name="table",
                placeholder="Table",
                aria_label="Table",
                default_value=HistoryState.table,
                width="150px",
            ),
            rx.el.label(
                "From",
                rx.input(name="date_from", type="date", aria_label="From"),
                style={"fontSize": "13px"},
            ),
            rx.el.label(
                "To",
                rx.input(name="date_to", type="date", aria_label="To"),
                style={"fontSize": "13px"},
            ),
            rx.button("Filter", type="submit", variant="soft"),
            wrap="wrap",
            align="end",
            spacing="2",
        ),
        on_submit=HistoryState.apply_filters,
        reset_on_submit=False,
        width="100%",
    )


def _details_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(HistoryState.details_title),
            rx.vstack(
                # "Review them again" swaps this dialog for the review dialog.
                action_controls(on_review_again=HistoryState.set_details_open(False)),
                rx.cond(
                    HistoryState.details_records.length() > 0,
                    rx.vstack(
                        rx.heading("Records", size="3", as_="h3"),
                        rx.flex(
                            rx.foreach(
                                HistoryState.details_records,
                                lambda r: record_link(r["label"], r["url"], size="2"),
                            ),
                            wrap="wrap",
                            gap="4px 14px",
                            class_name="history-records",
                        ),
                        spacing="1",
                        width="100%",
                    ),
                ),
                rx.heading("Airtable requests", size="3", as_="h3"),
                rx.box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell("#"),
                                rx.table.column_header_cell("Kind"),
                                rx.table.column_header_cell("Request"),
                                rx.table.column_header_cell("Records"),
                                rx.table.column_header_cell("Status"),
                                rx.table.column_header_cell("Time"),
                            )
                        ),
                        rx.table.body(
                            rx.foreach(
                                HistoryState.details_steps,
                                lambda s: rx.table.row(
                                    rx.table.cell(s["seq"]),
                                    rx.table.cell(s["kind"]),
                                    rx.table.cell(
                                        rx.text(s["request"], font_family="monospace", size="1")
                                    ),
                                    rx.table.cell(s["records"]),
                                    rx.table.cell(
                                        s["status"],
                                        rx.text(s["error"], size="1", color_scheme="red"),
                                    ),
                                    rx.table.cell(s["duration"]),
                                ),
                            )
                        ),
                        size="1",
                    ),
                    overflow_x="auto",
                    width="100%",
                ),
                rx.heading("Arguments from the model", size="3", as_="h3"),
                rx.code_block(
                    HistoryState.details_arguments, language="json", wrap_long_lines=True
                ),
                rx.heading("Before and after", size="3", as_="h3"),
                rx.code_block(
                    HistoryState.details_snapshots, language="json", wrap_long_lines=True
                ),
                rx.dialog.close(rx.button("Close", variant="soft")),
                spacing="3",
                width="100%",
            ),
            max_width="960px",
            width="96vw",
        ),
        open=HistoryState.details_open,
        on_open_change=HistoryState.set_details_open,
    )


def history_page() -> rx.Component:
    """The filterable audit log."""
    return private_page(
        page_column(
            rx.hstack(
                rx.heading("History", size="6", as_="h1"),
                rx.spacer(),
                rx.button(
                    rx.icon("download", size=14),
                    "CSV",
                    variant="soft",
                    on_click=HistoryState.export_csv,
                ),
                rx.button(
                    rx.icon("download", size=14),
                    "JSON",
                    variant="soft",
                    on_click=HistoryState.export_json,
                ),
                width="100%",
                align="center",
            ),
            _filters(),
            rx.hstack(
                rx.select.root(
                    rx.select.trigger(aria_label="Tool"),
                    rx.select.content(
                        rx.select.item("Every tool", value=ALL),
                        *[rx.select.item(t, value=t) for t in TOOLS],
                    ),
                    value=HistoryState.tool,
                    on_change=HistoryState.set_tool,
                ),
                rx.select.root(
                    rx.select.trigger(aria_label="Status"),
                    rx.select.content(
                        rx.select.item("Every status", value=ALL),
                        *[
                            rx.select.item(words, value=value)
                            for value, words in rows.status_filter_options()
                        ],
                    ),
                    value=HistoryState.status,
                    on_change=HistoryState.set_status,
                ),
                rx.cond(
                    AuthState.is_admin,
                    rx.el.label(
                        rx.checkbox(
                            checked=HistoryState.everyone, on_change=HistoryState.set_everyone
                        ),
                        " Everyone's actions",
                        style={
                            "fontSize": "14px",
                            "display": "flex",
                            "gap": "6px",
                            "alignItems": "center",
                        },
                    ),
                ),
                wrap="wrap",
                spacing="3",
                align="center",
            ),
            form_error(HistoryState.error),
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("When (UTC)"),
                            rx.cond(HistoryState.everyone, rx.table.column_header_cell("Who")),
                            rx.table.column_header_cell("Tool"),
                            rx.table.column_header_cell("Table"),
                            rx.table.column_header_cell("What"),
                            rx.table.column_header_cell("Records"),
                            rx.table.column_header_cell("Status"),
                            rx.table.column_header_cell(""),
                        )
                    ),
                    rx.table.body(rx.foreach(HistoryState.rows, _row)),
                    width="100%",
                ),
                overflow_x="auto",
                width="100%",
                # A table from Radix's md breakpoint (768 px) up; cards below it, where the
                # eight columns would leave What, Records and Status beyond the screen.
                display=["none", "none", "block"],
                class_name="history-table",
            ),
            rx.vstack(
                rx.foreach(HistoryState.rows, _card),
                spacing="3",
                width="100%",
                display=["flex", "flex", "none"],
                class_name="history-cards",
            ),
            rx.cond(
                HistoryState.total == 0,
                rx.text("No action matches.", color_scheme="gray", size="2"),
            ),
            rx.hstack(
                rx.button(
                    "Newer",
                    variant="soft",
                    on_click=HistoryState.page(-1),
                    disabled=HistoryState.offset == 0,
                ),
                rx.text(HistoryState.total, " actions", size="2"),
                rx.button(
                    "Older",
                    variant="soft",
                    on_click=HistoryState.page(1),
                    disabled=HistoryState.offset + PAGE_SIZE >= HistoryState.total,
                ),
                align="center",
            ),
            _details_dialog(),
            # Opened by "Review them again" for rows changed since an action's review.
            review_dialog(),
            max_width="1200px",
        ),
    )


def register_history(app: rx.App) -> None:
    """Add the history page to the app."""
    app.add_page(
        history_page,
        route=routes.HISTORY,
        title="History · PyAirtable UI",
        on_load=[AuthState.guard_private_page, HistoryState.on_load],
    )
