"""Schedules and runs in the database: each function takes the session, scoped by owner.

The owner-facing functions (create, edit, pause, delete, list) find only the user's own
schedules, so another user's id reads as "not found". The run-side functions
(`open_run`, `finish_run`) are called by the engine, which acts for the owner.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.schedules.models import RunStatus, Schedule, ScheduleRun, ScheduleStatus

logger = logging.getLogger(__name__)

MAX_NAME = 120
MAX_PROMPT = 4000
# A schedule that fails this many runs in a row pauses itself and says why.
FAILURES_BEFORE_PAUSE = 3


class ScheduleNotFoundError(UserFacingError):
    """Not one of the user's schedules (or deleted meanwhile)."""

    default_message = "This schedule does not exist any more. Reload the page."


class InvalidScheduleError(UserFacingError):
    """The form cannot be saved; `message` says what to fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class ScheduleFields:
    """What the owner sets on a schedule (checked by `flows`, cleaned here).

    Attributes:
        name: Shown in the list and in each run's conversation title.
        prompt: The question the agent answers at each run.
        base_id: The base it reads.
        base_name: The base's name when chosen.
        model: The model that answers (one the admin allows).
        cron: A checked cron expression (`recurrence.build_cron`).
        timezone: A checked IANA time zone the cron is read in.
        email_answer: Email the answer to the owner after each run.
    """

    name: str
    prompt: str
    base_id: str
    base_name: str
    model: str
    cron: str
    timezone: str
    email_answer: bool


def _cleaned(fields: ScheduleFields) -> ScheduleFields:
    prompt = fields.prompt.strip()
    if not prompt:
        raise InvalidScheduleError("Write the question the schedule asks.")
    if len(prompt) > MAX_PROMPT:
        raise InvalidScheduleError(f"The question is too long (at most {MAX_PROMPT} characters).")
    if not fields.base_id:
        raise InvalidScheduleError("Choose the base the question is about.")
    name = " ".join(fields.name.split()) or " ".join(prompt.split())[:60]
    if len(name) > MAX_NAME:
        raise InvalidScheduleError(f"The name is too long (at most {MAX_NAME} characters).")
    return ScheduleFields(
        name=name,
        prompt=prompt,
        base_id=fields.base_id,
        base_name=fields.base_name[:200],
        model=fields.model,
        cron=fields.cron,
        timezone=fields.timezone,
        email_answer=fields.email_answer,
    )


def create_schedule(*, session: Session, user_id: int, fields: ScheduleFields) -> Schedule:
    """Store a new, active schedule for the user.

    Raises:
        InvalidScheduleError: Empty or too long question or name, no base.
    """
    clean = _cleaned(fields)
    schedule = Schedule(user_id=user_id, **clean.__dict__)
    session.add(schedule)
    session.flush()
    logger.info("schedule created id=%s user_id=%s cron=%r", schedule.id, user_id, clean.cron)
    return schedule


def get_schedule(*, session: Session, user_id: int, schedule_id: int) -> Schedule:
    """One of the user's schedules.

    Raises:
        ScheduleNotFoundError: Not the user's, or no such id.
    """
    schedule = session.get(Schedule, schedule_id)
    if schedule is None or schedule.user_id != user_id:
        raise ScheduleNotFoundError()
    return schedule


def list_schedules(*, session: Session, user_id: int) -> list[Schedule]:
    """The user's schedules, newest first."""
    statement = (
        select(Schedule)
        .where(Schedule.user_id == user_id)
        .order_by(col(Schedule.created_at).desc(), col(Schedule.id).desc())
    )
    return list(session.exec(statement))


def all_schedules(*, session: Session) -> list[Schedule]:
    """Every user's schedules (the engine's start-up check that each has its timer)."""
    return list(session.exec(select(Schedule).order_by(col(Schedule.id))))


def update_schedule(
    *, session: Session, user_id: int, schedule_id: int, fields: ScheduleFields
) -> Schedule:
    """Change what and when a schedule asks; its status and failure count stay.

    Raises:
        ScheduleNotFoundError: Not the user's.
        InvalidScheduleError: As for `create_schedule`.
    """
    schedule = get_schedule(session=session, user_id=user_id, schedule_id=schedule_id)
    for key, value in _cleaned(fields).__dict__.items():
        setattr(schedule, key, value)
    schedule.updated_at = utcnow()
    session.add(schedule)
    session.flush()
    return schedule


def set_paused(
    *, session: Session, user_id: int, schedule_id: int, paused: bool, reason: str | None = None
) -> Schedule:
    """Pause or resume a schedule. Resuming clears the failure count and the reason.

    Raises:
        ScheduleNotFoundError: Not the user's.
    """
    schedule = get_schedule(session=session, user_id=user_id, schedule_id=schedule_id)
    _set_status(schedule, paused=paused, reason=reason)
    session.add(schedule)
    session.flush()
    return schedule


def _set_status(schedule: Schedule, *, paused: bool, reason: str | None) -> None:
    schedule.status = (ScheduleStatus.PAUSED if paused else ScheduleStatus.ACTIVE).value
    schedule.paused_reason = reason if paused else None
    if not paused:
        schedule.consecutive_failures = 0
    schedule.updated_at = utcnow()


def delete_schedule(*, session: Session, user_id: int, schedule_id: int) -> Schedule:
    """Delete a schedule and its run list (the runs' conversations and actions stay).

    Returns:
        The deleted row (for its engine name).

    Raises:
        ScheduleNotFoundError: Not the user's.
    """
    schedule = get_schedule(session=session, user_id=user_id, schedule_id=schedule_id)
    session.execute(sa.delete(ScheduleRun).where(col(ScheduleRun.schedule_id) == schedule_id))
    session.delete(schedule)
    session.flush()
    return schedule


def list_runs(
    *, session: Session, user_id: int, schedule_id: int | None = None, limit: int = 20
) -> list[ScheduleRun]:
    """The user's latest runs (of one schedule, or of all), newest first."""
    statement = select(ScheduleRun).where(ScheduleRun.user_id == user_id)
    if schedule_id is not None:
        statement = statement.where(ScheduleRun.schedule_id == schedule_id)
    statement = statement.order_by(
        col(ScheduleRun.started_at).desc(), col(ScheduleRun.id).desc()
    ).limit(limit)
    return list(session.exec(statement))


# --- the engine's side ------------------------------------------------------------------


def open_run(
    *,
    session: Session,
    schedule_id: int,
    workflow_id: str,
    scheduled_for: datetime,
    manual: bool,
) -> ScheduleRun | None:
    """The run for this tick: the one already opened (a resumed run), or a new one.

    Args:
        session: The database session.
        schedule_id: The schedule that fired.
        workflow_id: The engine's id for this tick (one run per id).
        scheduled_for: The tick's time.
        manual: The owner pressed "Run now" (runs even when paused).

    Returns:
        The run, or None when the schedule is gone, or paused and the tick is not manual
        (a tick already queued when it was paused).
    """
    existing = session.exec(
        select(ScheduleRun).where(ScheduleRun.workflow_id == workflow_id)
    ).first()
    if existing is not None:
        return existing
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        return None
    if schedule.status != ScheduleStatus.ACTIVE.value and not manual:
        return None
    run = ScheduleRun(
        schedule_id=schedule_id,
        user_id=schedule.user_id,
        workflow_id=workflow_id,
        manual=manual,
        scheduled_for=scheduled_for,
    )
    session.add(run)
    schedule.last_run_at = utcnow()
    session.add(schedule)
    session.flush()
    return run


@dataclass(frozen=True)
class RunResult:
    """How a run ended, as the engine checkpoints it.

    Attributes:
        answered: The agent answered (its answer may propose writes, left pending).
        answer: The final answer's text ("" when it failed).
        error: What went wrong, in the owner's words (None when answered).
        conversation_id: The run's conversation, when one was made.
        proposed_actions: Writes the answer proposed, waiting for the owner.
    """

    answered: bool
    answer: str = ""
    error: str | None = None
    conversation_id: int | None = None
    proposed_actions: int = 0


def finish_run(*, session: Session, run_id: int, result: RunResult) -> Schedule | None:
    """Record how a run ended and count failures; pause the schedule at 3 in a row.

    Args:
        session: The database session.
        run_id: The run.
        result: Its outcome.

    Returns:
        The schedule when this run paused it, else None.
    """
    run = session.get(ScheduleRun, run_id)
    if run is None:
        return None
    run.status = (RunStatus.ANSWERED if result.answered else RunStatus.FAILED).value
    run.answer = result.answer
    run.error = result.error
    run.conversation_id = result.conversation_id
    run.proposed_actions = result.proposed_actions
    run.finished_at = utcnow()
    session.add(run)
    schedule = session.get(Schedule, run.schedule_id)
    if schedule is None:
        return None
    paused_now = None
    if result.answered:
        schedule.consecutive_failures = 0
    else:
        schedule.consecutive_failures += 1
        if (
            schedule.consecutive_failures >= FAILURES_BEFORE_PAUSE
            and schedule.status == ScheduleStatus.ACTIVE.value
        ):
            _set_status(
                schedule,
                paused=True,
                reason=(
                    f"Paused after {schedule.consecutive_failures} failed runs in a row. "
                    f"The last one: {result.error}"
                ),
            )
            paused_now = schedule
            logger.warning(
                "schedule paused after %d failures id=%s",
                schedule.consecutive_failures,
                schedule.id,
            )
    session.add(schedule)
    session.flush()
    return paused_now
