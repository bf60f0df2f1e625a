"""One scheduled run: the chat's own turn, headless, for the schedule's owner.

The turn is prepared and run exactly as the chat page does it (`chat.turns`), with the
owner's stored Airtable connection, in a new conversation titled "Scheduled: …". Every
tool either reads or only *proposes* a write (`tools.writes`: an action left PROPOSED
for the owner to review); nothing here approves or executes an action, so whatever the
run proposes waits in the conversation and in /history.

Failures the owner can act on (Airtable not connected or token refused, base gone, the
model's provider failing) come back as a `RunResult` with the reason, never raised: the
engine records them and counts them towards pausing the schedule.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from pyairtable_ui.actions.models import Action
from pyairtable_ui.airtable.access import check_user_access
from pyairtable_ui.auth.models import User
from pyairtable_ui.chat import agent, service, turns
from pyairtable_ui.chat.models import Message, MessageRole, MessageStatus
from pyairtable_ui.core.db import session_scope
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.mail import send_email
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.routes import chat_conversation
from pyairtable_ui.schedules.models import Schedule, ScheduleRun
from pyairtable_ui.schedules.service import RunResult

logger = logging.getLogger(__name__)

TITLE_PREFIX = "Scheduled: "
ACTION_SOURCE = "schedule"
_MAX_TITLE = 200


def _conversation_for(run: ScheduleRun, schedule: Schedule) -> int:
    with session_scope() as db:
        conversation = service.create_conversation(
            session=db,
            user_id=schedule.user_id,
            base_id=schedule.base_id,
            model=schedule.model,
            title=(TITLE_PREFIX + schedule.name)[:_MAX_TITLE],
        )
        assert conversation.id is not None
        return conversation.id


def _final_answer(db: Session, conversation_id: int) -> str:
    statement = (
        select(Message.content)
        .where(
            Message.conversation_id == conversation_id,
            Message.role == MessageRole.ASSISTANT.value,
            Message.status == MessageStatus.COMPLETE.value,
            Message.content != "",
        )
        .order_by(col(Message.id).desc())
        .limit(1)
    )
    return db.exec(statement).first() or ""


def _mark_proposals(db: Session, conversation_id: int) -> int:
    # The history tells a scheduled run's proposals from the chat's by their source.
    db.execute(
        sa.update(Action)
        .where(col(Action.conversation_id) == conversation_id)
        .values(source=ACTION_SOURCE)
    )
    statement = select(func.count()).where(Action.conversation_id == conversation_id)
    return int(db.exec(statement).one())


def _access_problem(schedule: Schedule) -> str | None:
    # Nobody is watching a scheduled run: ask Airtable first whether the owner's token
    # still works and still sees the base, so a revoked token or a deleted base is named
    # as such (a cached schema would otherwise let the turn start and fail tool by tool).
    try:
        access = check_user_access(user_id=schedule.user_id)
    except UserFacingError as exc:
        return exc.message
    if schedule.base_id not in {base.id for base in access.bases}:
        name = schedule.base_name or schedule.base_id
        return (
            f"Your Airtable connection no longer sees the base “{name}” (deleted, or your "
            "access was removed). Edit the schedule and choose another base."
        )
    return None


async def answer_run(run_id: int) -> RunResult:
    """Answer the run's schedule prompt in a new conversation of its owner.

    Args:
        run_id: The run (`service.open_run`).

    Returns:
        The answer, or why there is none.
    """
    with session_scope() as db:
        run = db.get(ScheduleRun, run_id)
        schedule = db.get(Schedule, run.schedule_id) if run else None
    if run is None or schedule is None:
        return RunResult(answered=False, error="The schedule was deleted before it ran.")
    problem = await asyncio.to_thread(_access_problem, schedule)
    if problem is not None:
        logger.info("scheduled run cannot start run_id=%s: %s", run_id, problem)
        return RunResult(answered=False, error=problem)
    conversation_id = await asyncio.to_thread(_conversation_for, run, schedule)
    try:
        prepared = await asyncio.to_thread(
            turns.prepare_turn,
            user_id=schedule.user_id,
            conversation_id=conversation_id,
            base_id=schedule.base_id,
            base_name=schedule.base_name or None,
            model=schedule.model,
            question=schedule.prompt,
        )
    except turns.TurnSetupError as exc:
        return RunResult(answered=False, error=exc.message, conversation_id=conversation_id)
    except service.ConversationNotFoundError:
        return RunResult(answered=False, error="The run's conversation was deleted.")

    provider_errors: list[str] = []

    async def note(event: agent.AgentEvent) -> None:
        if isinstance(event, agent.TurnError):
            provider_errors.append(event.message)

    outcome = await turns.run_turn(prepared, note, turn_key=f"schedule-run-{run_id}")
    with session_scope() as db:
        answer = _final_answer(db, conversation_id)
        proposed = _mark_proposals(db, conversation_id)
    error = outcome.error or (provider_errors[-1] if provider_errors else None)
    if outcome.stopped:
        error = "The run was stopped before it answered."
    if error is not None:
        logger.info("scheduled run failed run_id=%s: %s", run_id, error)
        return RunResult(
            answered=False,
            error=error,
            conversation_id=conversation_id,
            proposed_actions=proposed,
        )
    return RunResult(
        answered=True, answer=answer, conversation_id=conversation_id, proposed_actions=proposed
    )


def email_answer(run_id: int) -> bool:
    """Email a run's answer (or failure) and its link to the owner, when asked and SMTP is set.

    Returns:
        Whether a message was sent.
    """
    settings = get_settings()
    with session_scope() as db:
        run = db.get(ScheduleRun, run_id)
        schedule = db.get(Schedule, run.schedule_id) if run else None
        user = db.get(User, schedule.user_id) if schedule else None
    if run is None or schedule is None or user is None:
        return False
    if not schedule.email_answer or not settings.smtp_configured:
        return False
    link = (
        f"{settings.base_url}{chat_conversation(run.conversation_id)}"
        if run.conversation_id
        else settings.base_url
    )
    if run.error:
        subject = f"Scheduled question failed: {schedule.name}"
        body = f"The scheduled question “{schedule.name}” did not run:\n\n{run.error}\n"
    else:
        subject = f"Scheduled answer: {schedule.name}"
        body = f"{schedule.prompt}\n\n{run.answer}\n"
    if run.proposed_actions:
        body += (
            f"\nIt proposed {run.proposed_actions} change(s); nothing was written. "
            "Review them in the app.\n"
        )
    send_email(to=user.email, subject=subject[:200], text=f"{body}\nOpen it: {link}\n")
    return True
