"""The Reflex app: pages, the HTTP routes beside them, and start-up work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import reflex as rx

from pyairtable_ui import housekeeping
from pyairtable_ui.actions import recovery
from pyairtable_ui.api.app import build_api
from pyairtable_ui.core import migrations
from pyairtable_ui.core.db import get_engine, session_scope
from pyairtable_ui.core.observability import configure_logging
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.core.tracing import configure_tracing
from pyairtable_ui.llm.setup import llm_setup
from pyairtable_ui.pages.admin import register_admin
from pyairtable_ui.pages.admin_analytics import register_admin_analytics
from pyairtable_ui.pages.automations import register_automations
from pyairtable_ui.pages.chat.page import register_chat
from pyairtable_ui.pages.history import register_history
from pyairtable_ui.pages.login import register_login
from pyairtable_ui.pages.not_found import register_not_found
from pyairtable_ui.pages.onboarding import register_onboarding
from pyairtable_ui.pages.register import register_register
from pyairtable_ui.pages.reset import register_reset
from pyairtable_ui.pages.schedules import register_schedules
from pyairtable_ui.pages.settings import register_settings
from pyairtable_ui.pages.verify import register_verify
from pyairtable_ui.schedules import engine as schedule_engine
from pyairtable_ui.schedules import flows as schedule_flows
from pyairtable_ui.state.auth import AuthState, SignedOutStateMiddleware
from pyairtable_ui.state.event_metrics import EventMetricsMiddleware
from pyairtable_ui.state.outages import report_backend_error

logger = logging.getLogger("pyairtable_ui")


def _mark_interrupted_actions() -> None:
    # An action left running by a stopped process shows as interrupted, with resume and
    # roll back offered. Without Redis this is the only process, so nothing else can be
    # running it; with Redis other workers or replicas may be, and keep a fresh heartbeat.
    settings = get_settings()
    older_than = (
        timedelta(seconds=settings.action_heartbeat_seconds) if settings.redis_url else None
    )
    with session_scope() as db:
        marked = recovery.mark_interrupted(session=db, older_than=older_than)
    if marked:
        logger.warning("%d action(s) were interrupted by a restart", len(marked))


@contextlib.asynccontextmanager
async def prepare_database() -> AsyncIterator[None]:
    """Log the model set up, bring the database to the newest schema (replicas take turns),
    then recover actions."""
    configure_logging(get_settings().log_level)
    configure_tracing(get_settings().otel_exporter_otlp_endpoint)
    # Which model answers, and whether a key is set (never the key): a first run without
    # one is named here, not at the first question.
    setup = llm_setup()
    logger.log(logging.INFO if setup.configured else logging.WARNING, setup.log_line())
    await asyncio.to_thread(migrations.upgrade_in_child, get_engine())
    await asyncio.to_thread(_mark_interrupted_actions)
    yield


def _start_scheduler() -> None:
    started = time.monotonic()
    schedule_engine.launch()
    changed = schedule_flows.reconcile_timers()
    logger.info(
        "scheduler ready in %.1fs%s",
        time.monotonic() - started,
        f" ({changed} timer(s) put back in step with the schedules)" if changed else "",
    )


@contextlib.asynccontextmanager
async def run_scheduler() -> AsyncIterator[None]:
    """Start the durable engine for scheduled prompts in this worker; stop it at shutdown.

    Every backend worker (and replica) starts one on the same database: a tick runs
    once whichever takes it. If it cannot start, the app still serves; the schedules
    page says the scheduler is not running, and the log says why.
    """
    try:
        await asyncio.to_thread(_start_scheduler)
    except Exception:
        logger.exception("the scheduler did not start: scheduled prompts will not run")
    try:
        yield
    finally:
        await asyncio.to_thread(schedule_engine.shutdown)


def index() -> rx.Component:
    """`/`: the app lives in the chat; signed-out visitors go to login."""
    return rx.center(rx.spinner(), min_height="100vh")


app = rx.App(
    api_transformer=build_api(),
    html_lang="en",
    # An outage (database locked or gone, Redis down) is named in a toast, not "An error occurred".
    backend_exception_handler=report_backend_error,
    stylesheets=["/chat.css", "/layers.css"],
    head_components=[
        rx.el.meta(name="viewport", content="width=device-width, initial-scale=1"),
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
        # The chat's keyboard and scrolling, in the browser (a file: the CSP allows 'self').
        rx.el.script(src="/chat_view.js", defer=True),
    ],
)
app.register_lifespan_task(prepare_database)
# After the migrations above (tasks start in order): purge and close, now and on a timer.
app.register_lifespan_task(housekeeping.keep_house)
app.register_lifespan_task(run_scheduler)
# First, so the time of every later middleware is part of the event's latency.
app.add_middleware(EventMetricsMiddleware())
app.add_middleware(SignedOutStateMiddleware())

app.add_page(index, route="/", title="PyAirtable UI", on_load=AuthState.guard_private_page)
register_login(app)
register_register(app)
register_verify(app)
register_reset(app)
register_onboarding(app)
register_settings(app)
register_chat(app)
register_admin(app)
register_admin_analytics(app)
register_history(app)
register_automations(app)
register_schedules(app)
register_not_found(app)
