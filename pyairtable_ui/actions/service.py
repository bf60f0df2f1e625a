"""Write actions: proposed by tools, confirmed by the user, executed step by step.

A write tool never writes: it calls `propose_action`, which stores the plan as
a PROPOSED `Action`. The user confirms it as a whole (or rejects it) in the app;
`execute_action` then runs it in batches of at most 10 records. Each batch is an
`ActionStep` written (status PENDING, with the records as they were) and
committed before its request goes out, and marked DONE with Airtable's answer
(or FAILED with the error, which stops the run) in its own transaction after,
so a crash leaves a true record of what was applied.

The rest of safe writes lives beside this module (none imports `reflex`):

- `preview`: `build_preview` re-reads the affected records (old -> new per cell).
- `approval`: `approve_action` (ticked rows, typed count, plan hash),
  `confirmation_needed` (the policy), `auto_approve_action`.
- `execution`: `execute_action` (batches of 10 with progress), `resume_action`,
  `rollback_action`, and restart recovery (`mark_interrupted`).
- `undo`: `plan_undo` (conflicts), `undo_action`.
- `audit`: `list_history`, `action_details`, CSV and JSON export.
- `steps`, `reversal`, `records`: the machinery they share.

Every function is scoped by `user_id`: another user's action is "not found".

Plan format (`Action.plan`)::

    {"kind": "records", "op": "create" | "update" | "upsert" | "delete",
     "typecast": bool, "fields_to_merge_on": [...],        # upsert only
     "operations": [{"op": "update", "record_id": "rec…", "fields": {...}}, ...],
     "new_select_options": {"Status": ["Blocked"]}, "warnings": [...]}
    {"kind": "schema", "op": "create_table" | "create_field" | "rename_table"
     | "rename_field", "operations": [{"op": ..., ...request fields...}]}
    {"kind": "comment", "op": "add_comment",
     "operations": [{"op": "add_comment", "record_id": "rec…", "text": "..."}]}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pyairtable_ui.actions.models import (
    Action,
    ActionStatus,
    ActionStep,
    UndoStatus,
)
from pyairtable_ui.airtable import schema as schema_module
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.db import utcnow
from pyairtable_ui.observability import ACTIONS
from pyairtable_ui.settings import get_settings

logger = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractContextManager[Session]]

BATCH_SIZE = 10  # Airtable's limit of records per write request

RECORD_OPS = ("create", "update", "upsert", "delete")
SCHEMA_OPS = ("create_table", "create_field", "rename_table", "rename_field")
# Schema changes Airtable's API cannot reverse (it has no delete for tables or fields).
IRREVERSIBLE_OPS = ("create_table", "create_field")


class ActionError(Exception):
    """An action cannot be found or cannot do that now; `message` is for the user.

    Attributes:
        message: What the user reads.
    """

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class ActionNotFoundError(ActionError, LookupError):
    """No action with that id belongs to this user."""

    def __init__(self, action_id: int) -> None:
        super().__init__(f"Action #{action_id} was not found.")


class ActionStateError(ActionError):
    """The action cannot do that from where it stands; `message` says why."""


class ConfirmationError(ActionError):
    """The confirmation the action needs was not given (e.g. the count was not typed)."""


class ActionPermissionError(ActionError):
    """The user may not do that (e.g. see other users' actions without being an admin)."""


def session_factory_for(engine: Engine) -> SessionFactory:
    """A session factory on `engine` that commits on success and rolls back on error.

    `pyairtable_ui.db.session_scope` is the same on the app's own engine.

    Args:
        engine: The database engine.

    Returns:
        A callable returning a context manager that yields a session.
    """

    @contextmanager
    def scope() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except Exception:
                session.rollback()
                raise

    return scope


def plan_hash(plan: dict[str, Any]) -> str:
    """A stable, keyed hash of a plan, so execution can prove it runs what was approved.

    Keyed with SECRET_KEY (HMAC-SHA256): a plan edited in the database cannot be
    given a matching hash without the app's secret.

    Args:
        plan: The plan (any JSON; key order does not matter).

    Returns:
        64 hex digits.
    """
    text = json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key = get_settings().secret_key.get_secret_value().encode("utf-8")
    return hmac.new(key, b"action-plan:" + text.encode("utf-8"), hashlib.sha256).hexdigest()


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
    plan: dict[str, Any],
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
        plan: What to do (see the module docstring).
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
        plan=plan,
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
    *, session: Session, user_id: int, action_id: int, approved_plan: dict[str, Any] | None = None
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
    plan = approved_plan if approved_plan is not None else action.plan
    now = utcnow()
    action.approved_plan = plan
    action.approved_plan_hash = plan_hash(plan)
    action.status = ActionStatus.CONFIRMED.value
    action.confirmed_at = now
    action.updated_at = now
    session.add(action)
    session.flush()
    logger.info("action confirmed id=%s user_id=%s", action_id, user_id)
    return action


# --- execution ----------------------------------------------------------------------


def execute_action(
    *,
    session_factory: SessionFactory,
    user_id: int,
    action_id: int,
    client: AirtableClient,
    schema_cache: schema_module.SchemaCache | None = None,
    on_progress: Callable[[int, int, int], None] | None = None,
    step_hook: Callable[[str, int, str], None] | None = None,
) -> Action:
    """Confirm (if it needs only a click) and run the user's action, batch by batch.

    See `pyairtable_ui.actions.execution.execute_action`, which this calls.

    Args:
        session_factory: Opens sessions that commit on success (one per step).
        user_id: The user running it.
        action_id: The action.
        client: The Airtable client (paced; `client.cancel()` stops between batches).
        schema_cache: Schema cache to invalidate after schema changes.
        on_progress: Called as ``(done_batches, total_batches, records_written)``.
        step_hook: Test hook (see `pyairtable_ui.actions.steps.StepHook`).

    Returns:
        The action as it ended: DONE, FAILED or INTERRUPTED.

    Raises:
        ActionNotFoundError: No such action for this user.
        ActionStateError: Not confirmable, already running, or its approved plan altered.
        ConfirmationError: It needs the count typed (`approval.approve_action`).
    """
    # Imported here: the runner builds on this module's functions.
    from pyairtable_ui.actions import execution

    return execution.execute_action(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=client,
        schema_cache=schema_cache,
        on_progress=on_progress,
        step_hook=step_hook,
    )
