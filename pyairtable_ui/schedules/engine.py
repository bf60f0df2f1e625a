"""The durable engine behind scheduled prompts: DBOS Transact, in the app's own database.

DBOS keeps its timers, queue and checkpoints in its own tables of DATABASE_URL (SQLite
by default, PostgreSQL in production), so schedules survive restarts and every process
that launches it on one database shares them. Each tick has one workflow id
(`sched-<name>-<time>`) and the database refuses a second one, so with several backend
workers or replicas a tick runs once, whichever process dequeues it.

A run is a workflow of four checkpointed steps: open the run row, answer the prompt
(`runs.answer_run`), record the outcome (and pause after 3 failures), email it. A process
stopped mid-run resumes, on its next start, from the last finished step.

`dbos` is imported when the engine launches, not when the app imports this module: the
page and the tests that do not schedule anything do not pay for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.mail import EmailDeliveryError
from pyairtable_ui.core.settings import Settings, get_settings
from pyairtable_ui.schedules import runs
from pyairtable_ui.schedules import service as schedule_service
from pyairtable_ui.schedules.models import Schedule, ScheduleStatus

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

APP_NAME = "pyairtable-ui"
# One version for every build: a run interrupted by an upgrade resumes under the new code
# (its steps are coarse and idempotent) instead of waiting for the old version to return.
APP_VERSION = "schedules-1"
WORKFLOW_NAME = "scheduled_prompt"
_MANUAL_MARK = "-trigger-"


class EngineUnavailableError(UserFacingError):
    """The scheduler is not running in this process (it failed to start; the log says why)."""

    default_message = (
        "Schedules cannot be changed right now: the scheduler is not running. "
        "Try again in a minute, or ask your admin to check the app's log."
    )


_workflow: Callable[[datetime, Any], None] | None = None


def _open_run(schedule_id: int, workflow_id: str, scheduled_for: datetime) -> int | None:
    from pyairtable_ui.core.db import session_scope

    with session_scope() as db:
        run = schedule_service.open_run(
            session=db,
            schedule_id=schedule_id,
            workflow_id=workflow_id,
            scheduled_for=scheduled_for,
            manual=_MANUAL_MARK in workflow_id,
        )
        return run.id if run else None


def _answer(run_id: int) -> dict[str, Any]:
    # A fresh event loop in the engine's worker thread: the run never blocks the page's.
    result = asyncio.run(runs.answer_run(run_id))
    return dataclasses.asdict(result)


def _finish(run_id: int, result: dict[str, Any]) -> str | None:
    from pyairtable_ui.core.db import session_scope

    with session_scope() as db:
        paused = schedule_service.finish_run(
            session=db, run_id=run_id, result=schedule_service.RunResult(**result)
        )
        return paused.engine_name if paused else None


def _email(run_id: int) -> bool:
    try:
        return runs.email_answer(run_id)
    except EmailDeliveryError:
        # Logged with the server's answer by `send_email`; the run itself stands.
        return False


def scheduled_prompt(scheduled_time: datetime, context: dict[str, Any]) -> None:
    """The workflow each tick (or "Run now") starts: one run of one schedule.

    Args:
        scheduled_time: The tick's time, in the schedule's time zone.
        context: ``{"schedule_id": …}``, set when the schedule was created.
    """
    from dbos import DBOS

    workflow_id = DBOS.workflow_id or ""
    run_id = DBOS.run_step(
        {"name": "open_run"}, _open_run, int(context["schedule_id"]), workflow_id, scheduled_time
    )
    if run_id is None:
        return
    result = DBOS.run_step({"name": "answer"}, _answer, run_id)
    paused_name = DBOS.run_step({"name": "record"}, _finish, run_id, result)
    if paused_name:
        DBOS.pause_schedule(paused_name)
    DBOS.run_step({"name": "email", "retries_allowed": True, "max_attempts": 3}, _email, run_id)


def launch(settings: Settings | None = None) -> None:
    """Start the engine in this process on the app's database (idempotent).

    Args:
        settings: The instance settings; read from the environment by default.
    """
    global _workflow
    from dbos import DBOS

    if _workflow is not None:
        return
    settings = settings or get_settings()
    url = settings.database_url
    if url.startswith("postgresql+psycopg://"):
        url = "postgresql://" + url.removeprefix("postgresql+psycopg://")
    DBOS(
        config={
            "name": APP_NAME,
            "system_database_url": url,
            "application_version": APP_VERSION,
            "scheduler_polling_interval_sec": settings.schedule_poll_seconds,
            # A few connections per process: runs are rare and short on the database side.
            "sys_db_pool_size": 5,
            # Its start-up lines (executor, version, a Conductor address) say nothing to an
            # operator of this app; its warnings and errors still reach the log.
            "log_level": "DEBUG" if settings.log_level.upper() == "DEBUG" else "WARNING",
        }
    )
    _workflow = DBOS.workflow(name=WORKFLOW_NAME)(scheduled_prompt)
    DBOS.launch()
    logger.info("scheduler started on %s", "PostgreSQL" if url.startswith("postgres") else "SQLite")


def shutdown() -> None:
    """Stop the engine (running steps are resumed by the next start)."""
    global _workflow
    from dbos import DBOS

    if _workflow is None:
        return
    DBOS.destroy(destroy_registry=True)
    _workflow = None


def is_running() -> bool:
    """Whether the engine was launched in this process."""
    return _workflow is not None


def _require() -> Callable[[datetime, Any], None]:
    if _workflow is None:
        raise EngineUnavailableError()
    return _workflow


def put(schedule: Schedule) -> None:
    """Create or replace the engine's timer for `schedule`, paused if the schedule is.

    Raises:
        EngineUnavailableError: The engine is not running here.
    """
    from dbos import DBOS

    workflow = _require()
    name = schedule.engine_name
    if DBOS.get_schedule(name) is not None:
        DBOS.delete_schedule(name)
    DBOS.create_schedule(
        schedule_name=name,
        workflow_fn=workflow,
        schedule=schedule.cron,
        context={"schedule_id": schedule.id},
        cron_timezone=schedule.timezone,
    )
    if schedule.status == ScheduleStatus.PAUSED.value:
        DBOS.pause_schedule(name)


def pause(name: str) -> None:
    """Stop the timer firing (a run in progress finishes)."""
    from dbos import DBOS

    _require()
    DBOS.pause_schedule(name)


def resume(name: str) -> None:
    """Let the timer fire again from its next tick."""
    from dbos import DBOS

    _require()
    DBOS.resume_schedule(name)


def trigger(name: str) -> str:
    """Start one run now ("Run now"); returns its workflow id."""
    from dbos import DBOS

    _require()
    return DBOS.trigger_schedule(name).get_workflow_id()


def remove(name: str) -> None:
    """Delete the timer (no-op when there is none)."""
    from dbos import DBOS

    _require()
    DBOS.delete_schedule(name)


def reconcile(schedules: list[Schedule]) -> int:
    """Give every schedule row its timer and drop timers whose row is gone.

    Covers a change the engine missed (a database restored from a backup, a delete
    whose timer removal failed). Idempotent, so processes starting together do no harm.

    Returns:
        How many timers were created or removed.
    """
    from dbos import DBOS

    _require()
    wanted = {s.engine_name: s for s in schedules}
    present = {s["schedule_name"] for s in DBOS.list_schedules(workflow_name=WORKFLOW_NAME)}
    changed = 0
    for name in present - wanted.keys():
        DBOS.delete_schedule(name)
        changed += 1
    for name in wanted.keys() - present:
        try:
            put(wanted[name])
            changed += 1
        except Exception:
            # Another process created it meanwhile; the next start checks again.
            logger.warning("schedule %s not reconciled", name, exc_info=True)
    return changed
