"""Write actions: proposed by tools, confirmed by the user, executed step by step.

A write tool never writes: it calls `propose_action`, which stores the plan as
a PROPOSED `Action`. The user confirms it as a whole (or rejects it) in the app;
`execute_action` then runs it in batches of at most 10 records. Each batch is an
`ActionStep` written (status PENDING, with the records as they were) and
committed before its request goes out, and marked DONE with Airtable's answer
(or FAILED with the error, which stops the run) in its own transaction after,
so a crash leaves a true record of what was applied.

The rest of safe writes lives beside this module (none imports `reflex`):

- `base`: the errors, `BATCH_SIZE` and `plan_hash` every module shares (it
  imports no other module of the package).
- `plan`: the typed `Plan` of an action (records, schema or comment).
- `preview`: `build_preview` re-reads the affected records (old -> new per cell).
- `approval`: `approve_action` (ticked rows, typed count, plan hash),
  `confirmation_needed` (the policy).
- `execution`: `execute_action` (batches of 10 with progress), `resume_action`,
  `rollback_action`.
- `recovery`: restart recovery (`mark_interrupted`) and the batch the user must
  decide about (`undecided_batch`).
- `undo`: `plan_undo` (conflicts), `undo_action`.
- `history`: `list_history`, `action_details`, CSV and JSON export.
- `steps`, `reversal`, `records`: the machinery they share.
- `flows`: what the review dialog's buttons do, one call each (`review`,
  `approve_and_run`, `roll_back`, `resume`, `undo_action`...), for Reflex handlers.
- `rows`: actions as the pages show them (plain row builders, no Reflex).

Every function is scoped by `user_id`: another user's action is "not found".
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from pyairtable_ui.actions.base import (
    ActionNotFoundError,
    ActionStateError,
    ConfirmationError,
    plan_hash,
)
from pyairtable_ui.actions.models import (
    Action,
    ActionStatus,
    ActionStep,
    UndoStatus,
)
from pyairtable_ui.actions.plan import Plan, plan_json, plan_of
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.observability import ACTIONS

logger = logging.getLogger(__name__)


# --- proposing and reading ------------------------------------------------------------


def propose_action(
    *,
    session: Session,
    user_id: int,
    conversation_id: int | None,
    message_id: int | None,
    tool_name: str,
    base_id: str,
    table_id: str | None,
    table_name: str | None,
    arguments: dict[str, Any],
    plan: Plan,
    summary: str,
    record_count: int,
    needs_typed_confirmation: bool,
) -> Action:
    """Store a write the model wants as a PROPOSED action; nothing is sent to Airtable.

    Args:
        session: The database session (flushed here; the caller commits).
        user_id: Whose action it is.
        conversation_id: The conversation it came from.
        message_id: The assistant message whose tool call proposed it.
        tool_name: The tool, e.g. ``update_records``.
        base_id: ``app...``.
        table_id: ``tbl...`` (None for create_table).
        table_name: The table's name when proposed.
        arguments: The tool arguments as the model sent them (validated).
        plan: What to do (see `plan`).
        summary: One line for the user, e.g. "Update 12 records in Tasks (Status)".
        record_count: Records the action touches.
        needs_typed_confirmation: Deletes and large changes need the user to type.

    Returns:
        The action, with its id.
    """
    action = Action(
        user_id=user_id,
        conversation_id=conversation_id,
        message_id=message_id,
        tool_name=tool_name,
        base_id=base_id,
        table_id=table_id,
        table_name=table_name,
        summary=summary[:500],
        arguments=arguments,
        plan=plan_json(plan),
        record_count=record_count,
        needs_typed_confirmation=needs_typed_confirmation,
        status=ActionStatus.PROPOSED.value,
        undo_status=UndoStatus.NOT_YET.value,
    )
    session.add(action)
    session.flush()
    logger.info(
        "action proposed id=%s user_id=%s tool=%s base=%s records=%d",
        action.id,
        user_id,
        tool_name,
        base_id,
        record_count,
    )
    return action


def get_action(*, session: Session, user_id: int, action_id: int) -> Action:
    """The user's action with this id.

    Args:
        session: The database session.
        user_id: The user asking (another user's action is not found).
        action_id: The action id.

    Returns:
        The action.

    Raises:
        ActionNotFoundError: No such action for this user.
    """
    action = session.exec(
        select(Action).where(Action.id == action_id, Action.user_id == user_id)
    ).first()
    if action is None:
        raise ActionNotFoundError(action_id)
    return action


def list_actions(
    *,
    session: Session,
    user_id: int,
    conversation_id: int | None = None,
    limit: int = 200,
) -> list[Action]:
    """The user's actions, newest first.

    Args:
        session: The database session.
        user_id: Whose actions.
        conversation_id: Only this conversation's (the chat sidebar).
        limit: The most to return.

    Returns:
        The actions.
    """
    query = select(Action).where(Action.user_id == user_id)
    if conversation_id is not None:
        query = query.where(Action.conversation_id == conversation_id)
    query = query.order_by(col(Action.created_at).desc(), col(Action.id).desc()).limit(limit)
    return list(session.exec(query).all())


def list_steps(*, session: Session, user_id: int, action_id: int) -> list[ActionStep]:
    """The steps of the user's action, in order.

    Raises:
        ActionNotFoundError: No such action for this user.
    """
    get_action(session=session, user_id=user_id, action_id=action_id)
    return list(
        session.exec(
            select(ActionStep)
            .where(ActionStep.action_id == action_id)
            .order_by(col(ActionStep.kind), col(ActionStep.seq))
        ).all()
    )


def reject_action(*, session: Session, user_id: int, action_id: int) -> Action:
    """The user declines a proposed action; it will never run.

    Args:
        session: The database session (the caller commits).
        user_id: The user.
        action_id: The action.

    Returns:
        The action, now REJECTED.

    Raises:
        ActionNotFoundError: No such action for this user.
        ActionStateError: It already ran or is running.
    """
    action = get_action(session=session, user_id=user_id, action_id=action_id)
    waiting = (ActionStatus.PROPOSED, ActionStatus.PREVIEWED, ActionStatus.CONFIRMED)
    if action.status not in waiting:
        raise ActionStateError(f"Action #{action_id} is {action.status} and cannot be rejected.")
    now = utcnow()
    action.status = ActionStatus.REJECTED.value
    action.updated_at = now
    action.finished_at = now
    session.add(action)
    session.flush()
    ACTIONS.labels(tool=action.tool_name, status=action.status).inc()
    logger.info("action rejected id=%s user_id=%s", action_id, user_id)
    return action


def confirm_action(
    *, session: Session, user_id: int, action_id: int, approved_plan: Plan | None = None
) -> Action:
    """The user approves the action (as a whole unless `approved_plan` narrows it).

    Args:
        session: The database session (the caller commits).
        user_id: The user.
        action_id: The action.
        approved_plan: The plan the user approved (e.g. with rows unticked);
            defaults to the proposed plan.

    Returns:
        The action, now CONFIRMED.

    Raises:
        ActionNotFoundError: No such action for this user.
        ActionStateError: It is not waiting for confirmation.
        ConfirmationError: It needs a typed confirmation (`approval.approve_action`).
    """
    action = get_action(session=session, user_id=user_id, action_id=action_id)
    if action.status == ActionStatus.CONFIRMED:
        return action
    if action.status not in (ActionStatus.PROPOSED, ActionStatus.PREVIEWED):
        raise ActionStateError(f"Action #{action_id} is {action.status} and cannot be confirmed.")
    if action.needs_typed_confirmation:
        # Deletes and large changes are confirmed by typing the count (approve_action).
        raise ConfirmationError(
            f"Action #{action_id} needs the number of records typed to confirm it; "
            "open its preview to confirm."
        )
    plan = approved_plan if approved_plan is not None else plan_of(action)
    record_approval(session=session, action=action, plan=plan, at=utcnow())
    logger.info("action confirmed id=%s user_id=%s", action_id, user_id)
    return action


def record_approval(*, session: Session, action: Action, plan: Plan, at: datetime) -> None:
    """Store the plan the user approved with its keyed hash; the action is CONFIRMED.

    Args:
        session: The database session (flushed; the caller commits).
        action: The action, waiting for confirmation.
        plan: What the user approved.
        at: When.
    """
    stored = plan_json(plan)
    action.approved_plan = stored
    action.approved_plan_hash = plan_hash(stored)
    action.status = ActionStatus.CONFIRMED.value
    action.confirmed_at = at
    action.updated_at = at
    session.add(action)
    session.flush()
