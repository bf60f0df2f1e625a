"""`/schedules`: questions the agent answers on a recurrence; their runs and failures.

Opened from an answer's "Schedule this" with `?prompt=…&base=…&model=…`, the form starts
filled with that question. Each handler checks who is asking; the flows find only the
user's own schedules.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import reflex as rx

from pyairtable_ui import routes
from pyairtable_ui.chat import flows as chat_flows
from pyairtable_ui.components.forms import LABEL_STYLE, form_error, form_notice
from pyairtable_ui.components.shell import page_column, private_page
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.routes import login_redirect
from pyairtable_ui.schedules import flows
from pyairtable_ui.schedules.flows import RunItem, ScheduleForm, ScheduleItem
from pyairtable_ui.schedules.recurrence import WEEKDAYS
from pyairtable_ui.state.auth import signed_in_user_id

logger = logging.getLogger(__name__)

# While the page is open it reads the runs again this often, for this long.
WATCH_SECONDS = 3
WATCH_ROUNDS = 200
KIND_LABELS = {
    "daily": "Every day",
    "weekdays": "Weekdays (Mon-Fri)",
    "weekly": "Every week",
    "cron": "Cron expression",
}
_FIELDS = (
    "name",
    "prompt",
    "base_id",
    "model",
    "kind",
    "at",
    "weekday",
    "cron",
    "timezone",
)


class SchedulesState(rx.State):
    """The user's schedules and runs, and the form being filled."""

    schedules: list[ScheduleItem] = []
    runs: list[RunItem] = []
    models: list[str] = []
    bases: list[dict[str, str]] = []
    bases_error: str = ""
    error: str = ""
    notice: str = ""

    form_open: bool = False
    editing_id: int = 0
    name: str = ""
    prompt: str = ""
    base_id: str = ""
    model: str = ""
    kind: str = "weekly"
    at: str = "09:00"
    weekday: str = "mon"
    cron: str = ""
    timezone: str = "UTC"
    email_answer: bool = False
    browser_timezone: str = ""
    _watch: int = 0

    async def _user(self) -> int | None:
        return await signed_in_user_id(self)

    @rx.event
    async def on_load(self):
        """Read the schedules, runs, models and bases; open the form from "Schedule this"."""
        user_id = await self._user()
        if user_id is None:
            yield rx.redirect(login_redirect(routes.SCHEDULES), replace=True)
            return
        self.error = self.notice = ""
        await self._read(user_id)
        try:
            bases = await asyncio.to_thread(chat_flows.bases_for_user, user_id)
            self.bases = [{"id": b.id, "name": b.name} for b in bases]
            self.bases_error = ""
        except UserFacingError as exc:
            self.bases, self.bases_error = [], exc.message
        query = self.router.url.query_parameters
        if query.get("prompt"):
            self._fill_new()
            self.prompt = str(query.get("prompt", ""))[:4000]
            self.base_id = str(query.get("base", "")) or self.base_id
            self.model = str(query.get("model", "")) or self.model
            self.form_open = True
        yield rx.call_script(
            "Intl.DateTimeFormat().resolvedOptions().timeZone",
            callback=SchedulesState.set_browser_timezone,
        )
        yield self._start_watch()

    def _start_watch(self):
        # One watcher per tab: a newer one (page opened again, a run started) ends the older.
        self._watch += 1
        return SchedulesState.watch_runs(self._watch)

    async def _read(self, user_id: int) -> None:
        view = await asyncio.to_thread(flows.schedules_view, user_id)
        self.schedules, self.runs, self.models = view.schedules, view.runs, view.models

    @rx.event
    def set_browser_timezone(self, value: Any):
        """The browser's time zone: the default of a new schedule."""
        if isinstance(value, str) and value:
            self.browser_timezone = value
            if not self.editing_id and self.timezone == "UTC":
                self.timezone = value

    @rx.event(background=True)
    async def watch_runs(self, generation: int):
        """Read the runs again every few seconds while this page is open (runs finish late)."""
        logger.debug("schedules watch starts: %s", generation)
        for _ in range(WATCH_ROUNDS):
            await asyncio.sleep(WATCH_SECONDS)
            async with self:
                path = self.router.url.path
                if generation != self._watch or path.rstrip("/") != routes.SCHEDULES:
                    logger.debug("schedules watch ends: %s %s %r", generation, self._watch, path)
                    return
                user_id = await self._user()
                if user_id is None:
                    return
            view = await asyncio.to_thread(flows.schedules_view, user_id)
            async with self:
                if generation != self._watch:
                    return
                self.schedules, self.runs = view.schedules, view.runs

    def _fill_new(self) -> None:
        self.editing_id = 0
        self.name = self.prompt = self.cron = ""
        self.base_id = self.bases[0]["id"] if self.bases else ""
        self.model = self.models[0] if self.models else ""
        self.kind, self.at, self.weekday = "weekly", "09:00", "mon"
        self.timezone = self.browser_timezone or "UTC"
        self.email_answer = False

    @rx.event
    def new_schedule(self):
        """Open an empty form."""
        self._fill_new()
        self.error = self.notice = ""
        self.form_open = True

    @rx.event
    def edit(self, schedule_id: int):
        """Open the form on one of the listed schedules."""
        item = next((s for s in self.schedules if s["id"] == schedule_id), None)
        if item is None:
            return
        self.editing_id = schedule_id
        for key in _FIELDS:
            setattr(self, key, item[key])  # type: ignore[literal-required]
        if item["kind"] != "cron":
            self.cron = ""
        self.email_answer = item["email_answer"]
        self.error = self.notice = ""
        self.form_open = True

    @rx.event
    def close_form(self):
        """Leave the form without saving."""
        self.form_open = False
        self.error = ""

    @rx.event
    def set_field(self, key: str, value: str):
        """One form field as typed."""
        if key in _FIELDS:
            setattr(self, key, value)

    @rx.event
    def set_email_answer(self, value: bool):
        """The "email me" box."""
        self.email_answer = bool(value)

    def _form(self) -> ScheduleForm:
        base_name = next((b["name"] for b in self.bases if b["id"] == self.base_id), "")
        return ScheduleForm(
            name=self.name,
            prompt=self.prompt,
            base_id=self.base_id,
            base_name=base_name,
            model=self.model,
            kind=self.kind,
            at=self.at,
            weekday=self.weekday,
            cron=self.cron,
            timezone=self.timezone,
            email_answer=self.email_answer,
        )

    async def _act(self, action: Callable[[int], object], done: str) -> bool:
        user_id = await self._user()
        if user_id is None:
            self.error = "Your session ended. Sign in again."
            return False
        try:
            await asyncio.to_thread(action, user_id)
        except UserFacingError as exc:
            self.error, self.notice = exc.message, ""
            return False
        self.error, self.notice = "", done
        await self._read(user_id)
        return True

    @rx.event
    async def save(self):
        """Create the schedule, or save the one being edited."""
        form, editing = self._form(), self.editing_id
        if editing:
            saved = await self._act(
                lambda uid: flows.update_schedule(uid, editing, form), "Schedule saved."
            )
        else:
            saved = await self._act(
                lambda uid: flows.create_schedule(uid, form), "Schedule created."
            )
        if saved:
            self.form_open = False
            return self._start_watch()

    @rx.event
    async def pause(self, schedule_id: int):
        """Stop one schedule firing."""
        await self._act(lambda uid: flows.pause_schedule(uid, schedule_id), "Schedule paused.")

    @rx.event
    async def resume(self, schedule_id: int):
        """Let one schedule fire again."""
        await self._act(lambda uid: flows.resume_schedule(uid, schedule_id), "Schedule resumed.")

    @rx.event
    async def run_now(self, schedule_id: int):
        """Start one run now; it shows in the runs below when it ends."""
        if await self._act(
            lambda uid: flows.run_now(uid, schedule_id),
            "Running now: the answer appears below and in the chat.",
        ):
            return self._start_watch()

    @rx.event
    async def delete(self, schedule_id: int):
        """Delete one schedule (its conversations stay in the chat)."""
        await self._act(lambda uid: flows.delete_schedule(uid, schedule_id), "Schedule deleted.")


def _labelled(label: str, control: rx.Component, html_for: str) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=html_for, style=LABEL_STYLE),
        control,
        spacing="1",
        width="100%",
        align="stretch",
    )


def _text_input(label: str, key: str, **props: Any) -> rx.Component:
    input_id = f"schedule-{key}"
    return _labelled(
        label,
        rx.input(
            id=input_id,
            value=getattr(SchedulesState, key),
            on_change=lambda value: SchedulesState.set_field(key, value),
            width="100%",
            **props,
        ),
        input_id,
    )


def _native_select(label: str, key: str, options: Any) -> rx.Component:
    # A native <select>: labelled, keyboard-friendly, and Playwright reads it plainly.
    select_id = f"schedule-{key}"
    return _labelled(
        label,
        rx.el.select(
            options,
            id=select_id,
            value=getattr(SchedulesState, key),
            on_change=lambda value: SchedulesState.set_field(key, value),
            class_name="rt-reset rt-SelectTrigger rt-r-size-2 rt-variant-surface",
            style={"width": "100%"},
        ),
        select_id,
    )


def _form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(
                rx.cond(SchedulesState.editing_id, "Edit schedule", "New schedule"),
                size="4",
                as_="h2",
            ),
            _labelled(
                "Question",
                rx.text_area(
                    id="schedule-prompt",
                    value=SchedulesState.prompt,
                    on_change=lambda value: SchedulesState.set_field("prompt", value),
                    placeholder="Summarise the leads added this week",
                    rows="3",
                    width="100%",
                ),
                "schedule-prompt",
            ),
            _text_input("Name (optional)", "name", placeholder="Weekly leads summary"),
            rx.cond(SchedulesState.bases_error != "", form_error(SchedulesState.bases_error)),
            rx.hstack(
                _native_select(
                    "Base",
                    "base_id",
                    rx.foreach(
                        SchedulesState.bases,
                        lambda b: rx.el.option(b["name"], value=b["id"]),
                    ),
                ),
                _native_select(
                    "Model",
                    "model",
                    rx.foreach(SchedulesState.models, lambda m: rx.el.option(m, value=m)),
                ),
                width="100%",
                spacing="3",
            ),
            rx.hstack(
                _native_select(
                    "How often",
                    "kind",
                    [rx.el.option(label, value=kind) for kind, label in KIND_LABELS.items()],
                ),
                rx.cond(
                    SchedulesState.kind == "weekly",
                    _native_select(
                        "Day",
                        "weekday",
                        [rx.el.option(day.capitalize(), value=day) for day in WEEKDAYS],
                    ),
                ),
                rx.cond(
                    SchedulesState.kind == "cron",
                    _text_input("Cron", "cron", placeholder="0 9 * * 1"),
                    _text_input("Time", "at", type="time"),
                ),
                width="100%",
                spacing="3",
                wrap="wrap",
            ),
            _text_input("Time zone", "timezone", placeholder="Europe/Paris"),
            rx.el.label(
                rx.checkbox(
                    checked=SchedulesState.email_answer,
                    on_change=SchedulesState.set_email_answer,
                ),
                " Email me each answer",
                style={"fontSize": "14px", "display": "flex", "gap": "6px", "alignItems": "center"},
            ),
            rx.text(
                "Each run only reads your base: any change it proposes waits for your "
                "review in the conversation and in History.",
                size="1",
                color_scheme="gray",
            ),
            rx.hstack(
                rx.button("Save schedule", on_click=SchedulesState.save),
                rx.button("Cancel", variant="soft", on_click=SchedulesState.close_form),
                spacing="3",
            ),
            spacing="3",
            width="100%",
            align="stretch",
        ),
        width="100%",
    )


def _schedule_card(item: ScheduleItem) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(item["name"], weight="bold"),
                rx.cond(
                    item["paused"],
                    rx.badge("Paused", color_scheme="orange"),
                    rx.badge("Active", color_scheme="green"),
                ),
                rx.spacer(),
                rx.text(item["base_name"], " · ", item["model"], size="1", color_scheme="gray"),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            rx.text(item["prompt"], size="2", white_space="pre-wrap"),
            rx.text(
                item["when"],
                rx.cond(item["next_run"] != "", rx.fragment(" · next: ", item["next_run"])),
                rx.cond(item["last_run"] != "", rx.fragment(" · last: ", item["last_run"])),
                rx.cond(
                    (item["failures"] > 0) & ~item["paused"],
                    rx.fragment(" · ", item["failures"], " failed in a row"),
                ),
                size="1",
                color_scheme="gray",
            ),
            rx.cond(item["paused_reason"] != "", form_error(item["paused_reason"], size="1")),
            rx.hstack(
                rx.button(
                    "Run now", size="1", variant="soft", on_click=SchedulesState.run_now(item["id"])
                ),
                rx.cond(
                    item["paused"],
                    rx.button(
                        "Resume",
                        size="1",
                        variant="soft",
                        on_click=SchedulesState.resume(item["id"]),
                    ),
                    rx.button(
                        "Pause", size="1", variant="soft", on_click=SchedulesState.pause(item["id"])
                    ),
                ),
                rx.button(
                    "Edit", size="1", variant="soft", on_click=SchedulesState.edit(item["id"])
                ),
                rx.button(
                    "Delete",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=SchedulesState.delete(item["id"]),
                ),
                spacing="2",
                wrap="wrap",
            ),
            spacing="2",
            width="100%",
            align="stretch",
        ),
        width="100%",
        data_testid="schedule",
    )


def _run_row(run: RunItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(run["started"], white_space="nowrap"),
        rx.table.cell(run["schedule"]),
        rx.table.cell(
            rx.cond(
                run["status"] == "failed",
                rx.badge("Failed", color_scheme="red"),
                rx.cond(
                    run["status"] == "answered",
                    rx.badge("Answered", color_scheme="green"),
                    rx.badge("Running", color_scheme="blue"),
                ),
            )
        ),
        rx.table.cell(
            rx.cond(run["error"] != "", rx.text(run["error"], color_scheme="red"), run["answer"]),
            rx.cond(
                run["proposed"] > 0,
                rx.text(run["proposed"], " change(s) proposed, waiting for your review", size="1"),
            ),
        ),
        rx.table.cell(rx.cond(run["link"] != "", rx.link("Open", href=run["link"]))),
    )


def schedules_page() -> rx.Component:
    """The list of schedules, the form, and the latest runs."""
    return private_page(
        page_column(
            rx.hstack(
                rx.heading("Scheduled questions", size="6", as_="h1"),
                rx.spacer(),
                rx.button(
                    rx.icon("plus", size=14), "New schedule", on_click=SchedulesState.new_schedule
                ),
                width="100%",
                align="center",
            ),
            rx.cond(SchedulesState.error != "", form_error(SchedulesState.error)),
            rx.cond(SchedulesState.notice != "", form_notice(SchedulesState.notice)),
            rx.cond(SchedulesState.form_open, _form()),
            rx.cond(
                SchedulesState.schedules.length() > 0,
                rx.vstack(
                    rx.foreach(SchedulesState.schedules, _schedule_card),
                    spacing="3",
                    width="100%",
                ),
                rx.cond(
                    ~SchedulesState.form_open,
                    rx.text(
                        "No schedules yet. Ask a question in the chat and choose "
                        "“Schedule this”, or start a new one here.",
                        color_scheme="gray",
                    ),
                ),
            ),
            rx.heading("Latest runs", size="4", as_="h2"),
            rx.cond(
                SchedulesState.runs.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Started (UTC)"),
                            rx.table.column_header_cell("Schedule"),
                            rx.table.column_header_cell("Status"),
                            rx.table.column_header_cell("Answer"),
                            rx.table.column_header_cell(""),
                        )
                    ),
                    rx.table.body(rx.foreach(SchedulesState.runs, _run_row)),
                    width="100%",
                    id="schedule-runs",
                ),
                rx.text("No runs yet.", color_scheme="gray", size="2"),
            ),
            max_width="960px",
        ),
    )


def register_schedules(app: rx.App) -> None:
    """Add `/schedules`."""
    app.add_page(
        schedules_page,
        route=routes.SCHEDULES,
        title="Schedules · PyAirtable UI",
        on_load=SchedulesState.on_load,
    )
