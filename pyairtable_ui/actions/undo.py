"""Undo of completed actions, with the conflicts the user must decide shown first.

`plan_undo` reads the affected records fresh and returns an `UndoPlan` the UI
renders as it is: per record what the action wrote, what the cell holds now and
what undo would write back, with conflicts where someone changed the record
since. `undo_action` then puts things back (see `reversal` for how each kind of
change is reversed), each request an UNDO step written before it is sent:

    DONE (undo available) ─undo_action─▶ UNDOING ─▶ UNDONE (undo DONE or PARTIAL)
                                                 └▶ FAILED | INTERRUPTED (resume to finish)

A record with a conflict needs a resolution ("overwrite" or "skip"); without
one, nothing is sent and `UndoConflictError` carries the plan to show. Created
tables and fields cannot be removed through Airtable's API: their plan says so
and suggests a rename (`propose_rename_instead`).
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlmodel import Session, col

from pyairtable_ui.actions.base import ActionError, ActionStateError
from pyairtable_ui.actions.models import (
    Action,
    ActionStatus,
    ActionStep,
    StepKind,
    StepStatus,
    UndoStatus,
)
from pyairtable_ui.actions.plan import (
    RenameFieldOperation,
    RenameTableOperation,
    SchemaPlan,
    plan_of,
)
from pyairtable_ui.actions.reversal import (
    Choice,
    ReversalRun,
    ReverseItem,
    choose,
    collect_items,
    covered_keys,
    describe_new_ids,
    refresh_items,
    resolve_unfinished,
)
from pyairtable_ui.actions.service import get_action, list_steps, propose_action
from pyairtable_ui.actions.steps import (
    LeaseLostError,
    ProgressCallback,
    StepHook,
    StepWriter,
    api_parts,
    claim,
    finish,
    live,
    load_steps,
    phase_of,
)
from pyairtable_ui.airtable import schema as schema_module
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.errors import AirtableError, ToolCancelled
from pyairtable_ui.core.db import SessionFactory, utcnow

logger = logging.getLogger(__name__)


class UndoCell(TypedDict):
    """One field of a record in the undo plan."""

    field: str
    written: Any  # what the action wrote
    current: Any  # what the cell holds now
    restore: Any  # what undo writes back (None clears it, or deletes the record)
    conflict: bool  # current differs from written: someone changed it since


class UndoRow(TypedDict):
    """One record (or renamed table/field, or comment) and what undo does to it.

    `effect`: restore (values back), delete (a created record), recreate (a
    deleted record, new id), rename (back), delete_comment, none (cannot).
    """

    row_id: str
    record_id: str | None
    label: str
    effect: str
    cells: list[UndoCell]
    conflict: bool
    missing: bool
    note: str


class RenameSuggestion(TypedDict):
    """What to rename a created table or field to, since it cannot be deleted."""

    kind: str  # "table" or "field"
    table_id: str
    field_id: str | None
    current_name: str
    suggested_name: str


class UndoPlan(TypedDict):
    """What undo would do, for the user to check and resolve conflicts."""

    action_id: int
    possible: bool
    message: str
    rows: list[UndoRow]
    conflicts: int
    notes: list[str]
    rename_suggestion: RenameSuggestion | None


class UndoConflictError(ActionError):
    """Records changed since the action and the user has not said what to do with them.

    Attributes:
        plan: The undo plan to show (conflicting rows have `conflict` set).
    """

    def __init__(self, plan: UndoPlan) -> None:
        count = plan["conflicts"]
        super().__init__(
            f"{count} record{'s' if count != 1 else ''} changed since this action. For each, "
            "choose whether undo overwrites the newer values or leaves the record as it is."
        )
        self.plan = plan


# --- planning --------------------------------------------------------------------------------


def _check_undoable(action: Action, steps: list[ActionStep]) -> None:
    """Raise unless undo can run (or continue) now."""
    if action.status in (ActionStatus.FAILED, ActionStatus.INTERRUPTED) and (
        phase_of(steps) == "undo"
    ):
        return
    if action.status == ActionStatus.ROLLED_BACK:
        raise ActionStateError(f"Action #{action.id} was rolled back; there is nothing to undo.")
    if action.undo_status == UndoStatus.NOT_POSSIBLE:
        raise ActionStateError(action.undo_note or f"Action #{action.id} cannot be undone.")
    if action.status == ActionStatus.DONE and action.undo_status == UndoStatus.AVAILABLE:
        return
    if action.status == ActionStatus.UNDONE:
        raise ActionStateError(f"Action #{action.id} was already undone.")
    raise ActionStateError(
        f"Action #{action.id} is {action.status}; only completed actions can be undone "
        "(failed ones can be rolled back)."
    )


def plan_undo(
    *,
    session_factory: SessionFactory,
    user_id: int,
    action_id: int,
    client: AirtableClient,
    schema_cache: schema_module.SchemaCache | None = None,
) -> UndoPlan:
    """What undoing the user's action would do, read fresh from Airtable.

    Blocking: run it in a worker thread.

    Args:
        session_factory: Opens sessions that commit on success.
        user_id: The user (another user's action is not found).
        action_id: The action.
        client: The Airtable client.
        schema_cache: Schema cache.

    Returns:
        The plan; `possible` is False (with a plain message and maybe a rename
        suggestion) for changes Airtable's API cannot reverse.

    Raises:
        ActionNotFoundError: No such action for this user.
        ActionStateError: It is not a completed action.
        AirtableError: Airtable refused or did not answer the reads.
    """
    with session_factory() as session:
        action = get_action(session=session, user_id=user_id, action_id=action_id)
        session.expunge(action)
    steps = load_steps(session_factory, action_id)
    if action.undo_status == UndoStatus.NOT_POSSIBLE and action.status == ActionStatus.DONE:
        return _impossible_plan(action, steps, client, schema_cache)
    _check_undoable(action, steps)
    schema = schema_module.get_base_schema(client, action.base_id, force=True, cache=schema_cache)
    items = _items(action, steps, schema)
    refresh_items(items, client=client, base_id=action.base_id, schema=schema)
    return _plan(action, items, choose(items, None, ask_conflicts=True))


def _items(
    action: Action, steps: list[ActionStep], schema: schema_module.BaseSchema
) -> list[ReverseItem]:
    table = schema.table_by_id(action.table_id) if action.table_id else None
    covered = covered_keys(steps, StepKind.UNDO)
    return [i for i in collect_items(action, steps, table) if i.key not in covered]


def _cells(item: ReverseItem) -> list[UndoCell]:
    current = (item.current or {}).get("fields") or {}
    if item.effect == "restore":
        return [
            UndoCell(
                field=name,
                written=item.written.get(name),
                current=current.get(name),
                restore=value,
                conflict=name in item.conflicts,
            )
            for name, value in item.restore.items()
        ]
    if item.effect == "delete":
        return [
            UndoCell(
                field=name,
                written=value,
                current=current.get(name),
                restore=None,
                conflict=name in item.conflicts,
            )
            for name, value in item.written.items()
        ]
    if item.effect == "recreate":
        return [
            UndoCell(field=name, written=None, current=None, restore=value, conflict=False)
            for name, value in item.restore.items()
        ]
    if item.effect == "rename":
        return [
            UndoCell(
                field="name",
                written=item.written.get("name"),
                current=(item.current or {}).get("name"),
                restore=item.restore.get("name"),
                conflict=bool(item.conflicts),
            )
        ]
    if item.effect == "delete_comment":
        text = item.written.get("text")
        return [UndoCell(field="comment", written=text, current=text, restore=None, conflict=False)]
    return []


def _plan(action: Action, items: list[ReverseItem], choice: Choice) -> UndoPlan:
    assert action.id is not None
    rows = [
        UndoRow(
            row_id=item.key,
            record_id=item.key if item.effect in ("restore", "delete", "recreate") else None,
            label=item.label,
            effect=item.effect,
            cells=_cells(item),
            conflict=bool(item.conflicts) and not item.missing,
            missing=item.missing,
            note=item.note,
        )
        for item in items
    ]
    conflicts = sum(1 for r in rows if r["conflict"])
    counts: dict[str, int] = {}
    for item in items:
        if not item.missing:
            counts[item.effect] = counts.get(item.effect, 0) + 1
    parts: list[str] = []
    if counts.get("restore"):
        parts.append(f"restores the former values of {_n(counts['restore'], 'record')}")
    if counts.get("delete"):
        parts.append(f"deletes the {_n(counts['delete'], 'record')} this action created")
    if counts.get("recreate"):
        parts.append(
            f"re-creates the {_n(counts['recreate'], 'deleted record')} with their former "
            "values; Airtable gives them new ids, and links in other records are pointed "
            "at the new ids"
        )
    if counts.get("rename"):
        names = ", ".join(f"“{i.restore.get('name')}”" for i in items if i.effect == "rename")
        parts.append(f"renames it back to {names}")
    if counts.get("delete_comment"):
        parts.append("deletes the comment it added")
    message = "Undo " + "; ".join(parts) + "." if parts else "There is nothing left to undo."
    missing = sum(1 for i in items if i.missing)
    if missing:
        message += f" {_n(missing, 'record')} no longer exist and will be left alone."
    if conflicts:
        message += (
            f" {_n(conflicts, 'record')} changed since the action: choose for each whether "
            "to overwrite the newer values or keep them."
        )
    notes = [reason for _, reason in choice.skipped if reason]
    return UndoPlan(
        action_id=action.id,
        possible=bool(parts),
        message=message,
        rows=rows,
        conflicts=conflicts,
        notes=notes,
        rename_suggestion=None,
    )


def _n(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _impossible_plan(
    action: Action,
    steps: list[ActionStep],
    client: AirtableClient,
    schema_cache: schema_module.SchemaCache | None,
) -> UndoPlan:
    """The plan of a created table or field: cannot be undone, a rename is suggested."""
    assert action.id is not None
    suggestion = _rename_target(action, steps)
    if suggestion is not None:
        schema = schema_module.get_base_schema(client, action.base_id, cache=schema_cache)
        table = schema.table_by_id(suggestion["table_id"])
        current: str | None = None
        if table is not None and suggestion["kind"] == "table":
            current = table.name
        elif table is not None:
            found = next((f for f in table.fields if f.id == suggestion["field_id"]), None)
            current = found.name if found else None
        if current is None:
            suggestion = None  # already gone: nothing to rename
        else:
            suggestion["current_name"] = current
            suggestion["suggested_name"] = f"{current} (unused)"
    message = action.undo_note or "This action cannot be undone."
    if suggestion is not None:
        message += f" You can rename it to “{suggestion['suggested_name']}” instead."
    return UndoPlan(
        action_id=action.id,
        possible=False,
        message=message,
        rows=[],
        conflicts=0,
        notes=[],
        rename_suggestion=suggestion,
    )


def _rename_target(action: Action, steps: list[ActionStep]) -> RenameSuggestion | None:
    for step in steps:
        parts = api_parts(step.path)
        if step.kind != StepKind.APPLY or step.status != StepStatus.DONE:
            continue
        if parts[:1] != ["meta"] or step.method != "POST":
            continue
        created = (step.after or [{}])[0]
        name = str(created.get("name") or (step.request_body or {}).get("name") or "")
        if len(parts) == 4:
            return RenameSuggestion(
                kind="table",
                table_id=str(created.get("id")),
                field_id=None,
                current_name=name,
                suggested_name=f"{name} (unused)",
            )
        return RenameSuggestion(
            kind="field",
            table_id=parts[4],
            field_id=str(created.get("id")),
            current_name=name,
            suggested_name=f"{name} (unused)",
        )
    return None


def propose_rename_instead(
    *, session: Session, user_id: int, action_id: int, new_name: str
) -> Action:
    """Propose renaming the table or field an action created (it cannot be deleted).

    The rename is an ordinary proposed action: previewed, confirmed, undoable.

    Args:
        session: The database session (flushed; the caller commits).
        user_id: The user.
        action_id: The create_table or create_field action.
        new_name: The name to give it, e.g. the plan's `suggested_name`.

    Returns:
        The new PROPOSED rename action.

    Raises:
        ActionNotFoundError: No such action for this user.
        ActionStateError: It did not create a table or field, or the name is empty.
    """
    action = get_action(session=session, user_id=user_id, action_id=action_id)
    steps = list_steps(session=session, user_id=user_id, action_id=action_id)
    target = _rename_target(action, steps)
    name = new_name.strip()
    if target is None:
        raise ActionStateError(f"Action #{action_id} did not create a table or field.")
    if not name:
        raise ActionStateError("Give the new name.")
    old = target["current_name"]
    operation: RenameTableOperation | RenameFieldOperation
    if target["kind"] == "table":
        operation = RenameTableOperation(op="rename_table", name=name, old_name=old)
        table_id = target["table_id"]
        table_name: str | None = name
        summary = f"Rename table {old} to {name}"
    else:
        operation = RenameFieldOperation(
            op="rename_field", field_id=str(target["field_id"]), name=name, old_name=old
        )
        table_id, table_name = target["table_id"], action.table_name
        summary = f"Rename field {old} in {action.table_name} to {name}"
    return propose_action(
        session=session,
        user_id=user_id,
        conversation_id=action.conversation_id,
        message_id=None,
        tool_name=operation.op,
        base_id=action.base_id,
        table_id=table_id,
        table_name=table_name,
        arguments={"instead_of_undo": action_id, "new_name": name},
        plan=SchemaPlan(kind="schema", op=operation.op, operations=[operation]),
        summary=summary,
        record_count=0,
        needs_typed_confirmation=False,
    )


# --- undoing ---------------------------------------------------------------------------------


def undo_action(
    *,
    session_factory: SessionFactory,
    user_id: int,
    action_id: int,
    client: AirtableClient,
    resolutions: dict[str, str] | None = None,
    schema_cache: schema_module.SchemaCache | None = None,
    on_progress: ProgressCallback | None = None,
    step_hook: StepHook | None = None,
    resend_unknown: bool = False,
) -> Action:
    """Undo the user's completed action (or finish an undo that stopped midway).

    Updates get their before values back, created records are deleted, deleted
    records are re-created (new ids; links re-pointed), renames are reversed,
    added comments deleted. Blocking: run it in a worker thread.

    Args:
        session_factory: Opens sessions that commit on success.
        user_id: The user (another user's action is not found).
        action_id: The action.
        client: The Airtable client.
        resolutions: Row id -> "overwrite" or "skip" for records changed since.
        schema_cache: Schema cache.
        on_progress: Called as ``(done_batches, total_batches, records_written)``.
        step_hook: Test hook, see `steps.StepHook`.
        resend_unknown: See `execution.resume_action`.

    Returns:
        The action: UNDONE (undo_status DONE, or PARTIAL when records were
        skipped; `undo_note` says which and gives the new ids), or FAILED /
        INTERRUPTED when the undo stopped (resume to finish).

    Raises:
        ActionNotFoundError: No such action for this user.
        ActionStateError: It cannot be undone (the message says why).
        UndoConflictError: Records changed since and `resolutions` does not cover them.
    """
    with session_factory() as session:
        action = get_action(session=session, user_id=user_id, action_id=action_id)
        session.expunge(action)
    steps = load_steps(session_factory, action_id)
    _check_undoable(action, steps)
    previous = ActionStatus(action.status)
    claim(
        session_factory,
        user_id=user_id,
        action_id=action_id,
        from_statuses=(previous,),
        to_status=ActionStatus.UNDOING,
    )
    logger.info("action undoing id=%s", action_id)
    writer = StepWriter(
        session_factory=session_factory,
        action_id=action_id,
        client=client,
        kind=StepKind.UNDO,
        step_hook=step_hook,
    )
    with live(action_id, session_factory):
        try:
            return _undo(
                action,
                steps,
                previous=previous,
                writer=writer,
                client=client,
                resolutions=resolutions,
                schema_cache=schema_cache,
                on_progress=on_progress,
                resend_unknown=resend_unknown,
            )
        except ToolCancelled:
            return _stopped(
                writer,
                action_id,
                previous,
                "Undo stopped by the user.",
                status=ActionStatus.INTERRUPTED,
            )
        except AirtableError as exc:
            return _stopped(
                writer,
                action_id,
                previous,
                f"Undo could not read Airtable: {exc.message}",
                status=ActionStatus.FAILED,
            )
        except (UndoConflictError, LeaseLostError):
            raise
        except Exception as exc:
            logger.exception("undo crashed id=%s", action_id)
            _stopped(
                writer,
                action_id,
                previous,
                f"Undo stopped by an internal error ({type(exc).__name__}).",
                status=ActionStatus.FAILED,
            )
            raise


def _undo(
    action: Action,
    steps: list[ActionStep],
    *,
    previous: ActionStatus,
    writer: StepWriter,
    client: AirtableClient,
    resolutions: dict[str, str] | None,
    schema_cache: schema_module.SchemaCache | None,
    on_progress: ProgressCallback | None,
    resend_unknown: bool,
) -> Action:
    assert action.id is not None
    session_factory = writer.session_factory
    unknown = resolve_unfinished(
        writer,
        steps,
        StepKind.UNDO,
        client=client,
        schema_cache=schema_cache,
        resend_unknown=resend_unknown,
    )
    if unknown is not None:
        return finish(
            session_factory,
            action.id,
            ActionStatus.FAILED,
            error=f"Undo cannot tell whether a batch was applied: {unknown.reason} Check the "
            "table in Airtable, then resume choosing to go ahead anyway.",
        )
    steps = load_steps(session_factory, action.id)
    schema = schema_module.get_base_schema(client, action.base_id, force=True, cache=schema_cache)
    items = _items(action, steps, schema)
    refresh_items(items, client=client, base_id=action.base_id, schema=schema)
    choice = choose(items, resolutions, ask_conflicts=True)
    if choice.unresolved:
        _back_to(session_factory, action.id, previous, error=None)
        raise UndoConflictError(_plan(action, items, choice))
    run = ReversalRun(
        action=action,
        writer=writer,
        client=client,
        schema=schema,
        on_progress=on_progress,
        verb="Undo",
    )
    result = run.run(choice.run)
    if isinstance(plan_of(action), SchemaPlan):
        schema_module.invalidate(action.base_id, cache=schema_cache)
    if result.status != "done":
        status = ActionStatus.INTERRUPTED if result.status == "cancelled" else ActionStatus.FAILED
        return finish(session_factory, action.id, status, error=result.message)
    notes: list[str] = []
    if result.new_ids:
        notes.append(describe_new_ids(result.new_ids))
    notes += result.notes
    skipped = [reason for _, reason in choice.skipped]
    notes += skipped
    partial = bool(skipped)
    note = " ".join(notes) or "Undone."
    return finish(
        session_factory,
        action.id,
        ActionStatus.UNDONE,
        error=None,
        undo_status=(UndoStatus.PARTIAL if partial else UndoStatus.DONE).value,
        undo_note=note,
        undone=True,
    )


def _back_to(
    session_factory: SessionFactory, action_id: int, status: ActionStatus, *, error: str | None
) -> None:
    """Return an UNDOING action to where it was (nothing was sent)."""
    with session_factory() as session:
        session.exec(  # type: ignore[call-overload]
            sa.update(Action)
            .where(col(Action.id) == action_id, col(Action.status) == ActionStatus.UNDOING.value)
            .values(
                status=status.value,
                error=error,
                updated_at=utcnow(),
                lease_owner=None,
                lease_expires_at=None,
            )
        )


def _stopped(
    writer: StepWriter,
    action_id: int,
    previous: ActionStatus,
    message: str,
    *,
    status: ActionStatus,
) -> Action:
    """End an undo that stopped: back where it was if nothing was sent, else resumable."""
    sent = any(s.kind == StepKind.UNDO for s in load_steps(writer.session_factory, action_id))
    if not sent:
        _back_to(writer.session_factory, action_id, previous, error=message)
        with writer.session_factory() as session:
            action = session.get(Action, action_id)
            assert action is not None
            return action
    return finish(
        writer.session_factory, action_id, status, error=message + " Resume to finish the undo."
    )
