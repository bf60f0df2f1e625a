"""What the schedules page asks for, each in one call: list, create, edit, pause, run now…

Plain Python (no Reflex); each function opens its own short `session_scope()` and
blocks (database, then the engine), so the page calls it through a thread. Every
function is scoped by the signed-in user the caller checked: another user's schedule
is "not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict
from zoneinfo import ZoneInfo

from pyairtable_ui.core.db import session_scope
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.instance import service as instance_service
from pyairtable_ui.routes import chat_conversation
from pyairtable_ui.schedules import engine, recurrence, service
from pyairtable_ui.schedules.models import Schedule, ScheduleRun, ScheduleStatus
from pyairtable_ui.schedules.service import InvalidScheduleError, ScheduleFields

RUNS_SHOWN = 20


@dataclass(frozen=True)
class ScheduleForm:
    """The schedule form as typed (checked by `create_schedule` / `update_schedule`).

    Attributes:
        name: Optional; the question's start by default.
        prompt: The question.
        base_id: The chosen base.
        base_name: Its name, as the picker showed it.
        model: The chosen model.
        kind: ``daily``, ``weekdays``, ``weekly`` or ``cron``.
        at: ``HH:MM`` for the presets.
        weekday: ``mon``..``sun`` for weekly.
        cron: The typed expression for ``cron``.
        timezone: The IANA time zone the time is in (the browser's by default).
        email_answer: Email each answer to the owner.
    """

    name: str
    prompt: str
    base_id: str
    base_name: str
    model: str
    kind: str
    at: str
    weekday: str
    cron: str
    timezone: str
    email_answer: bool


class ScheduleItem(TypedDict):
    """A schedule as the page lists it."""

    id: int
    name: str
    prompt: str
    base_id: str
    base_name: str
    model: str
    when: str
    next_run: str
    paused: bool
    paused_reason: str
    failures: int
    last_run: str
    email_answer: bool
    kind: str
    at: str
    weekday: str
    cron: str
    timezone: str


class RunItem(TypedDict):
    """A run as the page lists it."""

    id: int
    schedule: str
    started: str
    status: str
    error: str
    answer: str
    proposed: int
    link: str
    manual: bool


def _short_time(moment: datetime | None, timezone: str = "UTC") -> str:
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")


def schedule_item(schedule: Schedule) -> ScheduleItem:
    """A schedule as a row of the page (its next run in its own time zone)."""
    assert schedule.id is not None
    paused = schedule.status == ScheduleStatus.PAUSED.value
    form = recurrence.parse_cron(schedule.cron)
    next_run = (
        ""
        if paused
        else _short_time(
            recurrence.next_runs(schedule.cron, schedule.timezone, count=1)[0], schedule.timezone
        )
    )
    return ScheduleItem(
        id=schedule.id,
        name=schedule.name,
        prompt=schedule.prompt,
        base_id=schedule.base_id,
        base_name=schedule.base_name or schedule.base_id,
        model=schedule.model,
        when=recurrence.describe(schedule.cron, schedule.timezone),
        next_run=next_run,
        paused=paused,
        paused_reason=schedule.paused_reason or "",
        failures=schedule.consecutive_failures,
        last_run=_short_time(schedule.last_run_at, schedule.timezone),
        email_answer=schedule.email_answer,
        kind=form.kind,
        at=form.at,
        weekday=form.weekday,
        cron=schedule.cron,
        timezone=schedule.timezone,
    )


def run_item(run: ScheduleRun, names: dict[int, str]) -> RunItem:
    """A run as a row of the page."""
    assert run.id is not None
    return RunItem(
        id=run.id,
        schedule=names.get(run.schedule_id, ""),
        started=_short_time(run.started_at),
        status=run.status,
        error=run.error or "",
        answer=run.answer[:300],
        proposed=run.proposed_actions,
        link=chat_conversation(run.conversation_id) if run.conversation_id else "",
        manual=run.manual,
    )


@dataclass(frozen=True)
class SchedulesView:
    """What the page shows: the user's schedules, their latest runs, the allowed models."""

    schedules: list[ScheduleItem]
    runs: list[RunItem]
    models: list[str]


def schedules_view(user_id: int) -> SchedulesView:
    """The user's schedules and latest runs, and the models a schedule may use."""
    with session_scope() as db:
        schedules = service.list_schedules(session=db, user_id=user_id)
        run_rows = service.list_runs(session=db, user_id=user_id, limit=RUNS_SHOWN)
        models = instance_service.get_allowed_models(session=db)
    names = {s.id: s.name for s in schedules if s.id is not None}
    return SchedulesView(
        schedules=[schedule_item(s) for s in schedules],
        runs=[run_item(r, names) for r in run_rows],
        models=models,
    )


def _fields(form: ScheduleForm) -> ScheduleFields:
    settings = get_settings()
    timezone = recurrence.check_timezone(form.timezone or "UTC")
    cron = recurrence.build_cron(
        form.kind,
        at=form.at,
        weekday=form.weekday,
        cron=form.cron,
        seconds_allowed=settings.schedule_seconds_allowed,
    )
    with session_scope() as db:
        models = instance_service.get_allowed_models(session=db)
    if form.model not in models:
        raise InvalidScheduleError("Choose one of the models your admin allows.")
    return ScheduleFields(
        name=form.name,
        prompt=form.prompt,
        base_id=form.base_id.strip(),
        base_name=form.base_name.strip(),
        model=form.model,
        cron=cron,
        timezone=timezone,
        email_answer=form.email_answer,
    )


def create_schedule(user_id: int, form: ScheduleForm) -> ScheduleItem:
    """Store the schedule and start its timer.

    Raises:
        recurrence.RecurrenceError: The time, cron or time zone is wrong.
        InvalidScheduleError: The question, base, name or model is wrong.
        engine.EngineUnavailableError: The scheduler is not running (nothing stored).
    """
    fields = _fields(form)
    if not engine.is_running():
        raise engine.EngineUnavailableError()
    # Committed before the engine writes: on SQLite both share one write lock.
    with session_scope() as db:
        schedule = service.create_schedule(session=db, user_id=user_id, fields=fields)
    try:
        engine.put(schedule)
    except Exception:
        with session_scope() as db:
            assert schedule.id is not None
            service.delete_schedule(session=db, user_id=user_id, schedule_id=schedule.id)
        raise
    return schedule_item(schedule)


def update_schedule(user_id: int, schedule_id: int, form: ScheduleForm) -> ScheduleItem:
    """Change one of the user's schedules; its timer follows the new recurrence.

    Raises:
        service.ScheduleNotFoundError: Not the user's.
        recurrence.RecurrenceError, InvalidScheduleError: As for `create_schedule`.
    """
    fields = _fields(form)
    with session_scope() as db:
        schedule = service.update_schedule(
            session=db, user_id=user_id, schedule_id=schedule_id, fields=fields
        )
    engine.put(schedule)
    return schedule_item(schedule)


def pause_schedule(user_id: int, schedule_id: int) -> ScheduleItem:
    """Stop one of the user's schedules firing until it is resumed.

    Raises:
        service.ScheduleNotFoundError: Not the user's.
    """
    with session_scope() as db:
        schedule = service.set_paused(
            session=db, user_id=user_id, schedule_id=schedule_id, paused=True
        )
    engine.pause(schedule.engine_name)
    return schedule_item(schedule)


def resume_schedule(user_id: int, schedule_id: int) -> ScheduleItem:
    """Let one of the user's schedules fire again; its failure count starts over.

    Raises:
        service.ScheduleNotFoundError: Not the user's.
    """
    with session_scope() as db:
        schedule = service.set_paused(
            session=db, user_id=user_id, schedule_id=schedule_id, paused=False
        )
    engine.resume(schedule.engine_name)
    return schedule_item(schedule)


def run_now(user_id: int, schedule_id: int) -> None:
    """Start one run of one of the user's schedules now (also when it is paused).

    Raises:
        service.ScheduleNotFoundError: Not the user's.
    """
    with session_scope() as db:
        schedule = service.get_schedule(session=db, user_id=user_id, schedule_id=schedule_id)
        name = schedule.engine_name
    engine.trigger(name)


def delete_schedule(user_id: int, schedule_id: int) -> None:
    """Delete one of the user's schedules and its timer (its conversations stay).

    Raises:
        service.ScheduleNotFoundError: Not the user's.
    """
    with session_scope() as db:
        schedule = service.delete_schedule(session=db, user_id=user_id, schedule_id=schedule_id)
    # A timer left behind (this failing) finds no schedule and runs nothing; the next
    # start removes it.
    engine.remove(schedule.engine_name)


def reconcile_timers() -> int:
    """Give every stored schedule its timer in the engine (at start-up)."""
    with session_scope() as db:
        schedules = service.all_schedules(session=db)
    return engine.reconcile(schedules)
