"""Recovery: runs a restart left orphaned, and the batch a user must decide about.

`mark_interrupted` runs at app start (and, with replicas, periodically with
`older_than`): an action left RUNNING, ROLLING_BACK or UNDOING with no live worker
(and no live lease) becomes INTERRUPTED with a note of where it stood, so its owner
can resume or roll it back (`execution`). `undecided_batch` shows the owner a batch
whose outcome neither the log nor Airtable can tell, with the records that may be
its own; their answer goes back to `execution` as `decisions`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pyairtable_ui.actions.base import BATCH_SIZE
from pyairtable_ui.actions.execution import UNFINISHED, WORKING
from pyairtable_ui.actions.models import Action, ActionStatus, ActionStep, StepKind, StepStatus
from pyairtable_ui.actions.plan import approved_plan_of, plan_of
from pyairtable_ui.actions.service import get_action
from pyairtable_ui.actions.steps import is_live, lease_is_free, lease_owner_id, outcome_unknown
from pyairtable_ui.core.db import utcnow

logger = logging.getLogger(__name__)


def find_interrupted_actions(
    *, session: Session, older_than: timedelta | None = None
) -> list[Action]:
    """Actions left running, rolling back or undoing with no worker left to finish them.

    At app start in a single process every such action is orphaned. With several
    replicas, pass `older_than`: a live run bumps `updated_at` at every step and
    keeps its lease renewed while a request is in flight, so only runs silent for
    that long whose lease has expired are taken.

    Args:
        session: The database session.
        older_than: Only actions not touched for this long and not leased by a live run.

    Returns:
        The actions, oldest first.
    """
    query = select(Action).where(col(Action.status).in_([s.value for s in WORKING]))
    if older_than is not None:
        now = utcnow()
        query = query.where(
            col(Action.updated_at) < now - older_than,
            lease_is_free(now=now, owner=lease_owner_id()),
        )
    actions = session.exec(query.order_by(col(Action.updated_at))).all()
    return [a for a in actions if a.id is not None and not is_live(a.id)]


def mark_interrupted(*, session: Session, older_than: timedelta | None = None) -> list[Action]:
    """Mark orphaned runs INTERRUPTED, with a note of where each stood. Call at app start.

    The note says how many batches were done and which batch was being sent (its
    outcome is checked in Airtable before anything is sent again). An undo that
    was interrupted before it sent anything goes back to DONE, undo still available.

    Args:
        session: The database session (flushed; the caller commits).
        older_than: See `find_interrupted_actions`.

    Returns:
        The actions marked.
    """
    marked: list[Action] = []
    for action in find_interrupted_actions(session=session, older_than=older_than):
        steps = list(
            session.exec(select(ActionStep).where(ActionStep.action_id == action.id)).all()
        )
        previous = action.status
        note, status = _interruption_note(action, steps)
        # Conditional: a worker that finishes (or renews its lease) right now wins.
        now = utcnow()
        conditions = [col(Action.id) == action.id, col(Action.status) == previous]
        if older_than is not None:
            conditions.append(lease_is_free(now=now, owner=lease_owner_id()))
        result = session.exec(  # type: ignore[call-overload]
            sa.update(Action)
            .where(*conditions)
            .values(
                status=status.value,
                error=note,
                updated_at=now,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        if result.rowcount == 1:
            session.refresh(action)
            marked.append(action)
            logger.warning(
                "action interrupted by restart id=%s was=%s now=%s", action.id, previous, status
            )
    session.flush()
    return marked


def _interruption_note(action: Action, steps: list[ActionStep]) -> tuple[str, ActionStatus]:
    by_kind = {
        kind: [s for s in steps if s.kind == kind]
        for kind in (StepKind.APPLY, StepKind.COMPENSATE, StepKind.UNDO)
    }
    if action.status == ActionStatus.UNDOING and not by_kind[StepKind.UNDO]:
        return (
            "The undo was interrupted by a server restart before it changed anything; undo again.",
            ActionStatus.DONE,
        )
    if action.status == ActionStatus.RUNNING:
        plan = approved_plan_of(action) or plan_of(action)
        total = max(1, math.ceil(len(plan.operations) / BATCH_SIZE))
        kind, doing, what = StepKind.APPLY, "running", f"of {total} batches"
    elif action.status == ActionStatus.ROLLING_BACK:
        kind, doing, what = StepKind.COMPENSATE, "rolling back", "roll-back batches"
    else:
        kind, doing, what = StepKind.UNDO, "undoing", "undo batches"
    done = sorted(s.seq for s in by_kind[kind] if s.status == StepStatus.DONE)
    pending = sorted(s.seq for s in by_kind[kind] if s.status == StepStatus.PENDING)
    note = f"Interrupted by a server restart while {doing}: {len(done)} {what} done."
    if pending:
        note += (
            f" Batch {pending[0]} was being sent; whether Airtable applied it is checked "
            "before anything is sent again."
        )
    if kind == StepKind.APPLY:
        note += " Resume to finish, or roll back the applied batches."
    elif kind == StepKind.COMPENSATE:
        note += " Roll back again to finish."
    else:
        note += " Resume to finish the undo."
    return note, ActionStatus.INTERRUPTED


# --- a batch Airtable cannot settle: the user decides ------------------------------------


@dataclass
class UndecidedBatch:
    """A batch whose outcome neither the log nor Airtable can tell, shown to its owner.

    Attributes:
        step_id: The step the decision is about (passed back in `decisions`).
        seq: Its number (the batch number for forward runs).
        kind: ``apply`` or ``compensate``.
        sent: What it asked for, one line per record.
        candidates: Records created since it was sent that may be its own:
            ``{"id", "created", "values", "likely"}``.
    """

    step_id: int
    seq: int
    kind: str
    sent: list[str]
    candidates: list[dict[str, Any]]


def _values_line(fields: dict[str, Any], limit: int = 4) -> str:
    parts = [f"{name}: {value}" for name, value in list(fields.items())[:limit]]
    text = ", ".join(parts) if parts else "(no values)"
    return text if len(text) <= 160 else text[:159] + "…"


def undecided_batch(*, session: Session, user_id: int, action_id: int) -> UndecidedBatch | None:
    """The user's unfinished action's batch that awaits their decision, if one does.

    Args:
        session: The database session.
        user_id: The user (another user's action is not found).
        action_id: The action.

    Returns:
        The batch with its candidate records, or None when nothing awaits a decision.

    Raises:
        ActionNotFoundError: No such action for this user.
    """
    action = get_action(session=session, user_id=user_id, action_id=action_id)
    if action.status not in UNFINISHED:
        return None
    steps = session.exec(
        select(ActionStep)
        .where(
            ActionStep.action_id == action_id,
            col(ActionStep.kind).in_([StepKind.APPLY.value, StepKind.COMPENSATE.value]),
            col(ActionStep.candidates).is_not(None),
        )
        .order_by(col(ActionStep.kind), col(ActionStep.seq))
    ).all()
    step = next((s for s in steps if outcome_unknown(s) and s.candidates), None)
    if step is None or step.id is None:
        return None
    sent = [
        _values_line(r.get("fields") or {})
        for r in (step.request_body or {}).get("records") or []
        if isinstance(r, dict)
    ]
    candidates = [
        {
            "id": str(c.get("id") or ""),
            "created": str(c.get("createdTime") or ""),
            "values": _values_line(c.get("fields") or {}),
            "likely": bool(c.get("likely")),
        }
        for c in step.candidates or []
        if isinstance(c, dict)
    ]
    return UndecidedBatch(step.id, step.seq, step.kind, sent, candidates)
