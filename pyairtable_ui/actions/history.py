"""Action history for `/history`: who changed what, when, with which Airtable requests.

A user sees their own actions; an administrator sees everyone's (and may filter
by user). Admin rights are checked against the database, not taken on trust
from the caller. Every shape returned is JSON-ready for the UI; the exports
carry the same rows: CSV flattened to one line per action with counts, JSON
with every step (method, path, request body, before/after, status, timing).

CSV cells that start like a spreadsheet formula are prefixed with ``'``: summaries
and errors can hold text from Airtable or the model.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, TypedDict

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from pyairtable_ui.actions.base import ActionNotFoundError, ActionPermissionError
from pyairtable_ui.actions.models import Action, ActionStep, StepKind, StepStatus
from pyairtable_ui.actions.plan import approved_plan_of
from pyairtable_ui.airtable.formulas import chunked
from pyairtable_ui.auth.errors import PermissionDeniedError
from pyairtable_ui.auth.models import User
from pyairtable_ui.auth.service import require_admin
from pyairtable_ui.core.db import SessionFactory, session_scope

EXPORT_LIMIT = 10_000
_ID_CHUNK = 500  # ids per IN (...) when loading steps


@dataclass(frozen=True)
class HistoryFilters:
    """What `/history` narrows the list to (every field optional).

    Attributes:
        base_id: Only this base.
        table: Table id or name (name matched case-insensitively).
        tool: Tool name, e.g. ``update_records``.
        status: Action status, e.g. ``done``.
        date_from: Created on or after (a date means from its start, UTC).
        date_to: Created on or before (a date means to its end, UTC).
        user_id: Only this user's actions (administrators only).
        conversation_id: Only this conversation's.
    """

    base_id: str | None = None
    table: str | None = None
    tool: str | None = None
    status: str | None = None
    date_from: date | datetime | None = None
    date_to: date | datetime | None = None
    user_id: int | None = None
    conversation_id: int | None = None


class HistoryRow(TypedDict):
    """One action in the history list."""

    id: int
    user_id: int
    user_email: str
    conversation_id: int | None
    # Where it was proposed: chat, import, or schedule (a scheduled question's run).
    source: str
    tool_name: str
    base_id: str
    table_id: str | None
    table_name: str | None
    summary: str
    status: str
    undo_status: str
    record_count: int
    error: str | None
    undo_note: str | None
    # Rows left unwritten because their records changed after the review.
    changed_since_review: list[dict[str, Any]]
    created_at: str
    confirmed_at: str | None
    # "user" (a click or the typed count) or "instance rule" (the admin's auto-approve).
    approved_by: str | None
    finished_at: str | None
    undone_at: str | None


class StepDetail(TypedDict):
    """One Airtable request of an action."""

    kind: str
    seq: int
    status: str
    method: str
    path: str
    request_body: dict[str, Any] | None
    before: list[dict[str, Any]] | None
    after: list[dict[str, Any]] | None
    record_ids: list[str]
    error: str | None
    started_at: str | None
    finished_at: str | None
    duration_ms: float | None


class ActionDetails(TypedDict):
    """Everything about one action, for its details panel and the JSON export."""

    action: HistoryRow
    arguments: dict[str, Any]
    plan: dict[str, Any]
    approved_plan: dict[str, Any] | None
    preview: dict[str, Any] | None
    steps: list[StepDetail]
    airtable_requests: int


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def _check_actor(session: Session, actor_id: int, is_admin: bool) -> None:
    if not is_admin:
        return
    try:
        require_admin(session.get(User, actor_id))
    except PermissionDeniedError as exc:
        raise ActionPermissionError("Only administrators can see other users' actions.") from exc


def _query(
    session: Session, *, actor_id: int, is_admin: bool, filters: HistoryFilters | None
) -> Any:
    filters = filters or HistoryFilters()
    _check_actor(session, actor_id, is_admin)
    query = select(Action, User.email).join(User, col(User.id) == col(Action.user_id))
    if not is_admin:
        if filters.user_id is not None and filters.user_id != actor_id:
            raise ActionPermissionError("Only administrators can see other users' actions.")
        query = query.where(Action.user_id == actor_id)
    elif filters.user_id is not None:
        query = query.where(Action.user_id == filters.user_id)
    if filters.base_id:
        query = query.where(Action.base_id == filters.base_id)
    if filters.table:
        query = query.where(
            sa.or_(
                col(Action.table_id) == filters.table,
                func.lower(col(Action.table_name)) == filters.table.casefold(),
            )
        )
    if filters.tool:
        query = query.where(Action.tool_name == filters.tool)
    if filters.status:
        query = query.where(Action.status == filters.status)
    if filters.conversation_id is not None:
        query = query.where(Action.conversation_id == filters.conversation_id)
    if filters.date_from is not None:
        query = query.where(col(Action.created_at) >= _start(filters.date_from))
    if filters.date_to is not None:
        if isinstance(filters.date_to, datetime):
            query = query.where(col(Action.created_at) <= _start(filters.date_to))
        else:
            query = query.where(
                col(Action.created_at) < _start(filters.date_to) + timedelta(days=1)
            )
    return query


def _row(action: Action, email: str) -> HistoryRow:
    assert action.id is not None
    return HistoryRow(
        id=action.id,
        user_id=action.user_id,
        user_email=email,
        conversation_id=action.conversation_id,
        source=action.source,
        tool_name=action.tool_name,
        base_id=action.base_id,
        table_id=action.table_id,
        table_name=action.table_name,
        summary=action.summary,
        status=action.status,
        undo_status=action.undo_status,
        record_count=action.record_count,
        error=action.error,
        undo_note=action.undo_note,
        changed_since_review=list((action.changed_since_review or {}).get("rows") or []),
        created_at=action.created_at.isoformat(),
        confirmed_at=_iso(action.confirmed_at),
        approved_by=(
            None
            if action.confirmed_at is None
            else "instance rule"
            if action.auto_approved
            else "user"
        ),
        finished_at=_iso(action.finished_at),
        undone_at=_iso(action.undone_at),
    )


def list_history(
    *,
    session: Session,
    actor_id: int,
    is_admin: bool,
    filters: HistoryFilters | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[HistoryRow], int]:
    """One page of action history, newest first, and how many match in all.

    Args:
        session: The database session.
        actor_id: The signed-in user.
        is_admin: Whether they ask as an administrator (checked in the database).
        filters: What to narrow to.
        limit: Rows per page.
        offset: Rows to skip.

    Returns:
        (rows, total).

    Raises:
        ActionPermissionError: Not an administrator but asked as one, or asked for
            another user's actions.
    """
    query = _query(session, actor_id=actor_id, is_admin=is_admin, filters=filters)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = session.exec(
        query.order_by(col(Action.created_at).desc(), col(Action.id).desc())
        .limit(max(1, min(limit, 500)))
        .offset(max(0, offset))
    ).all()
    return [_row(action, email) for action, email in page], int(total)


def _step_detail(step: ActionStep) -> StepDetail:
    duration = None
    if step.started_at is not None and step.finished_at is not None:
        duration = round((step.finished_at - step.started_at).total_seconds() * 1000, 1)
    return StepDetail(
        kind=step.kind,
        seq=step.seq,
        status=step.status,
        method=step.method,
        path=step.path,
        request_body=step.request_body,
        before=step.before,
        after=step.after,
        record_ids=list(step.record_ids or []),
        error=step.error,
        started_at=_iso(step.started_at),
        finished_at=_iso(step.finished_at),
        duration_ms=duration,
    )


def _steps_by_action(session: Session, action_ids: Sequence[int]) -> dict[int, list[ActionStep]]:
    found: dict[int, list[ActionStep]] = {i: [] for i in action_ids}
    for chunk in chunked(list(action_ids), _ID_CHUNK):
        steps = session.exec(
            select(ActionStep)
            .where(col(ActionStep.action_id).in_(chunk))
            .order_by(col(ActionStep.action_id), col(ActionStep.kind), col(ActionStep.seq))
        ).all()
        for step in steps:
            found[step.action_id].append(step)
    # Apply, then roll back, then undo: the order things happened in.
    order = {StepKind.APPLY.value: 0, StepKind.COMPENSATE.value: 1, StepKind.UNDO.value: 2}
    for steps in found.values():
        steps.sort(key=lambda s: (order.get(s.kind, 3), s.seq))
    return found


def _details(action: Action, email: str, steps: list[ActionStep]) -> ActionDetails:
    return ActionDetails(
        action=_row(action, email),
        arguments=action.arguments,
        plan=action.plan,
        approved_plan=action.approved_plan,
        preview=action.preview,
        steps=[_step_detail(s) for s in steps],
        airtable_requests=sum(1 for s in steps if s.status != StepStatus.SKIPPED),
    )


def action_details(
    *, session: Session, actor_id: int, is_admin: bool, action_id: int
) -> ActionDetails:
    """Everything about one action: arguments, plans, preview, every request made.

    Args:
        session: The database session.
        actor_id: The signed-in user.
        is_admin: Whether they ask as an administrator (checked in the database).
        action_id: The action.

    Returns:
        The details.

    Raises:
        ActionNotFoundError: No such action, or another user's (for non-admins).
        ActionPermissionError: Asked as an administrator without being one.
    """
    query = _query(session, actor_id=actor_id, is_admin=is_admin, filters=None)
    found = session.exec(query.where(Action.id == action_id)).first()
    if found is None:
        raise ActionNotFoundError(action_id)
    action, email = found
    return _details(action, email, _steps_by_action(session, [action_id])[action_id])


def _export_rows(
    session: Session,
    *,
    actor_id: int,
    is_admin: bool,
    filters: HistoryFilters | None,
    max_rows: int,
) -> list[tuple[Action, str, list[ActionStep]]]:
    """The actions an export holds, newest first, each with its user's email and its steps."""
    query = _query(session, actor_id=actor_id, is_admin=is_admin, filters=filters)
    rows = session.exec(
        query.order_by(col(Action.created_at).desc(), col(Action.id).desc()).limit(max_rows)
    ).all()
    steps = _steps_by_action(session, [a.id for a, _ in rows if a.id is not None])
    return [(a, email, steps[a.id]) for a, email in rows if a.id is not None]


CSV_COLUMNS = (
    "id",
    "created_at",
    "user_email",
    "conversation_id",
    "tool_name",
    "base_id",
    "table_id",
    "table_name",
    "summary",
    "status",
    "undo_status",
    "record_count",
    "approved_records",
    "apply_steps",
    "apply_steps_done",
    "apply_steps_failed",
    "records_written",
    "changed_since_review",
    "rollback_steps",
    "undo_steps",
    "airtable_requests",
    "error",
    "undo_note",
    "confirmed_at",
    "approved_by",
    "finished_at",
    "undone_at",
)


def _safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_history_as(
    kind: Literal["csv", "json"],
    *,
    session: Session,
    actor_id: int,
    is_admin: bool,
    filters: HistoryFilters | None = None,
    max_rows: int = EXPORT_LIMIT,
) -> str:
    """The filtered history as CSV or JSON text, newest first.

    CSV has one line per action with counts of its steps (`CSV_COLUMNS`, a header
    line first); JSON is a list of `ActionDetails`, every step included.

    Args:
        kind: "csv" or "json".
        session: The database session.
        actor_id: The signed-in user.
        is_admin: Whether they ask as an administrator (checked in the database).
        filters: As for `list_history`.
        max_rows: The most actions exported (newest first).

    Returns:
        The text.

    Raises:
        ActionPermissionError: As for `list_history`.
    """
    rows = _export_rows(
        session, actor_id=actor_id, is_admin=is_admin, filters=filters, max_rows=max_rows
    )
    return _csv_text(rows) if kind == "csv" else _json_text(rows)


def _csv_text(rows: list[tuple[Action, str, list[ActionStep]]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for action, email, own in rows:
        apply = [s for s in own if s.kind == StepKind.APPLY]
        done = [s for s in apply if s.status == StepStatus.DONE]
        line: dict[str, Any] = dict(_row(action, email))
        approved = approved_plan_of(action)
        line.update(
            approved_records=len(approved.operations) if approved is not None else 0,
            apply_steps=len(apply),
            apply_steps_done=len(done),
            apply_steps_failed=sum(1 for s in apply if s.status == StepStatus.FAILED),
            records_written=sum(len(s.record_ids or []) for s in done),
            changed_since_review=len(line["changed_since_review"]),
            rollback_steps=sum(1 for s in own if s.kind == StepKind.COMPENSATE),
            undo_steps=sum(1 for s in own if s.kind == StepKind.UNDO),
            airtable_requests=sum(1 for s in own if s.status != StepStatus.SKIPPED),
        )
        writer.writerow({k: _safe_cell(line.get(k)) for k in CSV_COLUMNS})
    return out.getvalue()


def _json_text(rows: list[tuple[Action, str, list[ActionStep]]]) -> str:
    details = [_details(a, email, own) for a, email, own in rows]
    return json.dumps(details, ensure_ascii=False, indent=2, default=str)


# --- for /history: each opens its own session (blocking; call through a thread) ---------


def read_history_page(
    *,
    actor_id: int,
    is_admin: bool,
    filters: HistoryFilters | None,
    limit: int,
    offset: int,
    sessions: SessionFactory = session_scope,
) -> tuple[list[HistoryRow], int]:
    """One page of history and the total, as `list_history`, in a session of its own.

    Raises:
        ActionPermissionError: As for `list_history`.
    """
    with sessions() as db:
        return list_history(
            session=db,
            actor_id=actor_id,
            is_admin=is_admin,
            filters=filters,
            limit=limit,
            offset=offset,
        )


def read_action_details(
    *, actor_id: int, is_admin: bool, action_id: int, sessions: SessionFactory = session_scope
) -> ActionDetails:
    """One action's details, as `action_details`, in a session of its own.

    Raises:
        ActionNotFoundError: As for `action_details`.
        ActionPermissionError: As for `action_details`.
    """
    with sessions() as db:
        return action_details(session=db, actor_id=actor_id, is_admin=is_admin, action_id=action_id)


def export_history(
    kind: Literal["csv", "json"],
    *,
    actor_id: int,
    is_admin: bool,
    filters: HistoryFilters | None,
    sessions: SessionFactory = session_scope,
) -> str:
    """The filtered history as CSV or JSON, as `export_history_as`, in a session of its own.

    Raises:
        ActionPermissionError: As for `list_history`.
    """
    with sessions() as db:
        return export_history_as(
            kind, session=db, actor_id=actor_id, is_admin=is_admin, filters=filters
        )
