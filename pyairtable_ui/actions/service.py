"""Write actions: proposed by tools, confirmed by the user, executed step by step.

A write tool never writes: it calls `propose_action`, which stores the plan as
a PROPOSED `Action`. The user confirms it as a whole (or rejects it) in the app;
`execute_action` then runs it in batches of at most 10 records. Each batch is an
`ActionStep` written (status PENDING, with the records as they were) and
committed before its request goes out, and marked DONE with Airtable's answer
(or FAILED with the error, which stops the run) in its own transaction after,
so a crash leaves a true record of what was applied.

The safe-writes work builds on this: previews (`Action.preview`), partial
approval (`Action.approved_plan`, whose hash `execute_action` checks), rollback
and undo (steps of kind COMPENSATE and UNDO, using each step's `before`).

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
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import sqlalchemy as sa
from pyairtable import formulas as F
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pyairtable_ui.actions.models import (
    Action,
    ActionStatus,
    ActionStep,
    StepKind,
    StepStatus,
    UndoStatus,
)
from pyairtable_ui.airtable import schema as schema_module
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.errors import AirtableError, ToolCancelled
from pyairtable_ui.db import utcnow
from pyairtable_ui.observability import ACTIONS

logger = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractContextManager[Session]]

BATCH_SIZE = 10  # Airtable's limit of records per write request
# "Before" snapshots are read for this many records at once (one List request per
# ten batches), so taking them costs ~10% of the write throughput, not 50%.
SNAPSHOT_CHUNK = 100

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
    """A stable hash of a plan, so execution can prove it runs what was approved."""
    text = json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    """
    action = get_action(session=session, user_id=user_id, action_id=action_id)
    if action.status == ActionStatus.CONFIRMED:
        return action
    if action.status not in (ActionStatus.PROPOSED, ActionStatus.PREVIEWED):
        raise ActionStateError(f"Action #{action_id} is {action.status} and cannot be confirmed.")
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
) -> Action:
    """Confirm (if not yet) and run the user's action against Airtable, step by step.

    Blocking: run it in a worker thread (`client.run`). Each step is committed
    before its request is sent and again after it answers.

    Args:
        session_factory: Opens sessions that commit on success (one per step).
        user_id: The user running it.
        action_id: The action.
        client: The Airtable client (paced; `client.cancel()` stops between batches).
        schema_cache: Schema cache to invalidate after schema changes.

    Returns:
        The action as it ended: DONE, FAILED (a step failed; later ones not sent)
        or INTERRUPTED (stopped by the user between batches).

    Raises:
        ActionNotFoundError: No such action for this user.
        ActionStateError: It is not proposed/confirmed, is already running, or
            its approved plan was altered.
    """
    with session_factory() as session:
        action = confirm_action(session=session, user_id=user_id, action_id=action_id)
        plan = action.approved_plan or action.plan
        if action.approved_plan_hash and plan_hash(plan) != action.approved_plan_hash:
            raise ActionStateError(f"Action #{action_id}'s approved plan was altered; not run.")
    with session_factory() as session:
        # Conditional update: of two clicks (or two replicas), exactly one starts the run.
        claimed = session.exec(
            sa.update(Action)
            .where(
                col(Action.id) == action_id,
                col(Action.user_id) == user_id,
                col(Action.status) == ActionStatus.CONFIRMED.value,
            )
            .values(status=ActionStatus.RUNNING.value, updated_at=utcnow())
        )
        if claimed.rowcount != 1:
            raise ActionStateError(f"Action #{action_id} is already running or finished.")
    logger.info("action running id=%s tool=%s", action_id, action.tool_name)
    runner = _Runner(
        session_factory=session_factory,
        action=action,
        plan=plan,
        client=client,
        schema_cache=schema_cache,
    )
    return runner.run()


class _Runner:
    """Runs one claimed action; every state change is its own committed transaction."""

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        action: Action,
        plan: dict[str, Any],
        client: AirtableClient,
        schema_cache: schema_module.SchemaCache | None,
    ) -> None:
        assert action.id is not None
        self.session_factory = session_factory
        self.action_id: int = action.id
        self.tool_name = action.tool_name
        self.base_id = action.base_id
        self.table_id = action.table_id
        self.plan = plan
        self.client = client
        self.schema_cache = schema_cache
        self.seq = 0

    # -- orchestration

    def run(self) -> Action:
        kind = self.plan.get("kind")
        try:
            if kind == "records":
                outcome = self._run_records()
            elif kind in ("schema", "comment"):
                outcome = self._run_single()
            else:
                outcome = self._finish(ActionStatus.FAILED, error=f"Unknown plan kind {kind!r}.")
        except Exception as exc:
            # A bug or a database failure: leave a true record, then let it surface.
            logger.exception("action crashed id=%s", self.action_id)
            self._finish(ActionStatus.FAILED, error=f"Internal error: {type(exc).__name__}.")
            raise
        return outcome

    def _run_records(self) -> Action:
        op = str(self.plan.get("op"))
        operations: list[dict[str, Any]] = list(self.plan.get("operations") or [])
        batches = [operations[i : i + BATCH_SIZE] for i in range(0, len(operations), BATCH_SIZE)]
        total = len(batches)
        batches_per_snapshot = SNAPSHOT_CHUNK // BATCH_SIZE
        for group_start in range(0, total, batches_per_snapshot):
            group = batches[group_start : group_start + batches_per_snapshot]
            try:
                befores = self._snapshot(op, [o for batch in group for o in batch])
            except ToolCancelled:
                return self._finish(
                    ActionStatus.INTERRUPTED,
                    error=f"Stopped by the user after {group_start} of {total} batches.",
                )
            except AirtableError as exc:
                return self._finish(
                    ActionStatus.FAILED,
                    error=f"Could not read the records before batch {group_start + 1} of "
                    f"{total}: {exc.message_for_user}",
                )
            for batch in group:
                method, components, body, record_ids = self._record_request(op, batch)
                before: list[dict[str, Any]] | None = None
                if op in ("update", "delete"):
                    # A record missing here was deleted since the proposal; Airtable will say so.
                    before = [befores[r] for r in record_ids if r in befores]
                elif op == "upsert":
                    keys = (_merge_key(self.plan, o) for o in batch)
                    before = [befores[k] for k in keys if k is not None and k in befores]
                failed = self._run_step(
                    method, components, body, record_ids, before, position=f"of {total}"
                )
                if failed is not None:
                    return failed
        return self._finish(ActionStatus.DONE)

    def _run_single(self) -> Action:
        operation = dict((self.plan.get("operations") or [{}])[0])
        op = str(operation.get("op") or self.plan.get("op"))
        try:
            method, components, body, before, record_ids = self._single_request(op, operation)
        except ToolCancelled:
            return self._finish(ActionStatus.INTERRUPTED, error="Stopped by the user.")
        except AirtableError as exc:
            return self._finish(ActionStatus.FAILED, error=exc.message_for_user)
        failed = self._run_step(method, components, body, record_ids, before, position="of 1")
        if self.plan.get("kind") == "schema":
            schema_module.invalidate(self.base_id, cache=self.schema_cache)
        if failed is not None:
            return failed
        if op in IRREVERSIBLE_OPS:
            return self._finish(
                ActionStatus.DONE,
                undo=UndoStatus.NOT_POSSIBLE,
                undo_note="Airtable's API cannot delete tables or fields; remove it in "
                "Airtable itself if it is not wanted.",
            )
        return self._finish(ActionStatus.DONE)

    # -- one step

    def _run_step(
        self,
        method: str,
        components: Sequence[str],
        body: dict[str, Any],
        record_ids: list[str],
        before: list[dict[str, Any]] | None,
        *,
        position: str,
    ) -> Action | None:
        """Write the step, send it, record the outcome; returns the finished action on failure."""
        self.seq += 1
        path = "/v0/" + "/".join(components)
        with self.session_factory() as session:
            step = ActionStep(
                action_id=self.action_id,
                kind=StepKind.APPLY.value,
                seq=self.seq,
                status=StepStatus.PENDING.value,
                method=method,
                path=path[:500],
                request_body=body,
                before=before,
                record_ids=record_ids,
                started_at=utcnow(),
            )
            session.add(step)
            session.flush()
            step_id = step.id
        calls_before = self.client.calls
        try:
            if method == "DELETE":
                response = self.client.request(
                    method, *components, params={"records[]": record_ids}
                )
            else:
                response = self.client.request(method, *components, json=body)
        except ToolCancelled:
            sent = self.client.calls != calls_before
            self._update_step(
                step_id,
                StepStatus.FAILED if sent else StepStatus.SKIPPED,
                error="Stopped by the user"
                + (" while Airtable was retrying: the outcome is unknown." if sent else "."),
            )
            return self._finish(
                ActionStatus.INTERRUPTED,
                error=f"Stopped by the user at batch {self.seq} {position}.",
            )
        except AirtableError as exc:
            self._update_step(step_id, StepStatus.FAILED, error=exc.message_for_user)
            applied = self.seq - 1
            note = f" Batches 1-{applied} were applied." if applied > 1 else ""
            note = " Batch 1 was applied." if applied == 1 else note
            return self._finish(
                ActionStatus.FAILED,
                error=f"Batch {self.seq} {position} failed: {exc.message_for_user}{note}",
            )
        after, ids = _after_records(response)
        self._update_step(step_id, StepStatus.DONE, after=after, record_ids=ids or record_ids)
        return None

    def _update_step(
        self,
        step_id: int | None,
        status: StepStatus,
        *,
        error: str | None = None,
        after: list[dict[str, Any]] | None = None,
        record_ids: list[str] | None = None,
    ) -> None:
        with self.session_factory() as session:
            step = session.get(ActionStep, step_id)
            assert step is not None
            step.status = status.value
            step.error = error
            step.finished_at = utcnow()
            if after is not None:
                step.after = after
            if record_ids is not None:
                step.record_ids = record_ids
            session.add(step)

    def _finish(
        self,
        status: ActionStatus,
        *,
        error: str | None = None,
        undo: UndoStatus | None = None,
        undo_note: str | None = None,
    ) -> Action:
        with self.session_factory() as session:
            action = session.get(Action, self.action_id)
            assert action is not None
            now = utcnow()
            action.status = status.value
            action.error = error
            action.finished_at = now
            action.updated_at = now
            if status == ActionStatus.DONE:
                action.undo_status = (undo or UndoStatus.AVAILABLE).value
            if undo_note:
                action.undo_note = undo_note
            session.add(action)
            session.flush()
        ACTIONS.labels(tool=self.tool_name, status=status.value).inc()
        logger.info(
            "action finished id=%s status=%s steps=%d airtable_calls=%d",
            self.action_id,
            status.value,
            self.seq,
            self.client.calls,
        )
        return action

    # -- requests

    def _record_request(
        self, op: str, batch: list[dict[str, Any]]
    ) -> tuple[str, list[str], dict[str, Any], list[str]]:
        assert self.table_id is not None
        components = [self.base_id, self.table_id]
        typecast = bool(self.plan.get("typecast"))
        if op == "create":
            body = {"records": [{"fields": o["fields"]} for o in batch], "typecast": typecast}
            return "POST", components, body, []
        if op == "update":
            records = [{"id": o["record_id"], "fields": o["fields"]} for o in batch]
            body = {"records": records, "typecast": typecast}
            return "PATCH", components, body, [o["record_id"] for o in batch]
        if op == "upsert":
            body = {
                "records": [{"fields": o["fields"]} for o in batch],
                "typecast": typecast,
                "performUpsert": {"fieldsToMergeOn": list(self.plan["fields_to_merge_on"])},
            }
            return "PATCH", components, body, []
        if op == "delete":
            ids = [o["record_id"] for o in batch]
            return "DELETE", components, {"records": ids}, ids
        raise ActionStateError(f"Unknown record operation {op!r}.")

    def _single_request(
        self, op: str, operation: dict[str, Any]
    ) -> tuple[str, list[str], dict[str, Any], list[dict[str, Any]] | None, list[str]]:
        base = self.base_id
        meta = ["meta", "bases", base, "tables"]
        if op == "create_table":
            body = {k: operation[k] for k in ("name", "fields", "description") if operation.get(k)}
            return "POST", meta, body, None, []
        assert self.table_id is not None
        if op == "create_field":
            keys = ("name", "type", "options", "description")
            body = {k: operation[k] for k in keys if operation.get(k) is not None}
            return "POST", [*meta, self.table_id, "fields"], body, None, []
        if op in ("rename_table", "rename_field"):
            # The name as it is now, read fresh: undo renames back to it.
            fresh = schema_module.get_base_schema(
                self.client, base, force=True, cache=self.schema_cache
            )
            table = fresh.table(self.table_id)
            if op == "rename_table":
                before = [{"id": table.id, "name": table.name}]
                return "PATCH", [*meta, table.id], {"name": operation["name"]}, before, []
            field = table.field(str(operation["field_id"]))
            before = [{"id": field.id, "name": field.name}]
            components = [*meta, table.id, "fields", field.id]
            return "PATCH", components, {"name": operation["name"]}, before, []
        if op == "add_comment":
            record_id = str(operation["record_id"])
            components = [base, self.table_id, record_id, "comments"]
            return "POST", components, {"text": operation["text"]}, None, [record_id]
        raise ActionStateError(f"Unknown operation {op!r}.")

    def _snapshot(self, op: str, operations: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The records these operations touch, as they are now (keyed by id or merge key)."""
        assert self.table_id is not None
        if op in ("update", "delete"):
            ids = [str(o["record_id"]) for o in operations]
            by_id: list[F.Formula] = [F.EQ(F.RECORD_ID(), i) for i in ids]
            records = self._list_all(str(F.OR(*by_id) if len(by_id) > 1 else by_id[0]))
            return {r["id"]: r for r in records}
        if op == "upsert":
            keys = list(self.plan.get("fields_to_merge_on") or [])
            conditions: list[F.Formula] = []
            for o in operations:
                values = {k: o["fields"].get(k) for k in keys}
                if all(isinstance(v, (str, int, float)) and v != "" for v in values.values()):
                    conditions.append(F.match(values))
            if not conditions:
                return {}
            records = self._list_all(
                str(F.OR(*conditions) if len(conditions) > 1 else conditions[0])
            )
            return {json.dumps([r["fields"].get(k) for k in keys], default=str): r for r in records}
        return {}

    def _list_all(self, formula: str) -> list[dict[str, Any]]:
        assert self.table_id is not None
        return [
            record
            for page in self.client.iterate_records(self.base_id, self.table_id, formula=formula)
            for record in page
        ]


def _merge_key(plan: dict[str, Any], operation: dict[str, Any]) -> str | None:
    keys = list(plan.get("fields_to_merge_on") or [])
    values = [operation["fields"].get(k) for k in keys]
    return json.dumps(values, default=str) if keys else None


def _after_records(response: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Airtable's answer as the step's `after`, and the record ids it names."""
    if isinstance(response, dict) and isinstance(response.get("records"), list):
        records = [r for r in response["records"] if isinstance(r, dict)]
        return records, [str(r["id"]) for r in records if r.get("id")]
    if isinstance(response, dict):
        return [response], []
    return [], []
