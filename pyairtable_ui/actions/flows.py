"""What the review dialog's buttons do, each as one call: review, approve and run, undo...

A Reflex handler reads its state, awaits one of these (through a worker thread:
they are blocking), and writes what it returns back into its state. Each flow
opens its own sessions, builds the user's Airtable client when it needs one, and
answers with an `Outcome`: the action as it stands afterwards, or the message
of the error that stopped it. Errors a user can act on never escape a flow;
bugs do.

Every flow is scoped by `user_id` (another user's action is "not found"), takes
`sessions` and `client_for` so tests can run it against the emulator, and, given
the `conversation_id` of the sidebar, reads that conversation's actions again
when the flow changed them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from pyairtable_ui.actions import approval, execution, recovery, undo
from pyairtable_ui.actions.base import ActionError, ConfirmationError
from pyairtable_ui.actions.models import Action
from pyairtable_ui.actions.preview import ActionPreview, build_preview
from pyairtable_ui.actions.recovery import UndecidedBatch
from pyairtable_ui.actions.rows import PENDING, ActionItem, action_items
from pyairtable_ui.actions.service import get_action, list_actions, reject_action
from pyairtable_ui.actions.steps import ProgressCallback
from pyairtable_ui.airtable.access import client_for_user
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.core import tracing
from pyairtable_ui.core.db import SessionFactory, session_scope
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

ClientFor = Callable[[int], AirtableClient]
"""Builds the user's Airtable client (`airtable.access.client_for_user`)."""

# What the user may answer about a batch Airtable cannot settle -> (run, decision).
QUESTION_CHOICES = {
    "applied": ("resume", "applied"),
    "send_again": ("resume", "not_applied"),
    "rollback_anyway": ("rollback", "not_applied"),
}


@dataclass(frozen=True)
class Outcome:
    """What a flow leaves for the dialog to show.

    Attributes:
        action: The action as it stands now (None when it could not be read).
        question: Its batch that awaits the user's decision, if one does.
        preview: The preview just read (review only).
        undo_plan: What undo would do (planning an undo only).
        error: Why the flow stopped, for the user ("" when it did not).
        stale: The approval was refused because the preview is too old.
        items: The sidebar's conversation's actions, read again (None: not read).
    """

    action: Action | None = None
    question: UndecidedBatch | None = None
    preview: ActionPreview | None = None
    undo_plan: undo.UndoPlan | None = None
    error: str = ""
    stale: bool = False
    items: list[ActionItem] | None = None


# --- reading ---------------------------------------------------------------------------


def conversation_action_items(
    user_id: int, conversation_id: int, *, sessions: SessionFactory = session_scope
) -> list[ActionItem]:
    """The actions of one of the user's conversations, as the sidebar lists them (blocking)."""
    with sessions() as db:
        return action_items(
            list_actions(session=db, user_id=user_id, conversation_id=conversation_id)
        )


def recover_stale_actions(*, sessions: SessionFactory = session_scope) -> None:
    """Mark actions whose process stopped (no step for a while) as interrupted (blocking).

    Start-up does this too; checking when actions are looked at also covers a replica
    that died while the others kept running.
    """
    older_than = timedelta(seconds=get_settings().action_heartbeat_seconds)
    with sessions() as db:
        recovery.mark_interrupted(session=db, older_than=older_than)


def _sidebar_items(
    user_id: int, conversation_id: int | None, sessions: SessionFactory
) -> list[ActionItem] | None:
    """The sidebar's list read again, when the flow was given the sidebar's conversation."""
    if not conversation_id:
        return None
    return conversation_action_items(user_id, conversation_id, sessions=sessions)


def _read(
    sessions: SessionFactory, user_id: int, action_id: int, conversation_id: int | None = None
) -> Outcome:
    """The action as stored now, with its question (and the sidebar's list when asked)."""
    with sessions() as db:
        action = get_action(session=db, user_id=user_id, action_id=action_id)
        question = recovery.undecided_batch(session=db, user_id=user_id, action_id=action_id)
    return Outcome(
        action=action,
        question=question,
        items=_sidebar_items(user_id, conversation_id, sessions),
    )


def open_action(
    user_id: int, action_id: int, *, sessions: SessionFactory = session_scope
) -> Outcome:
    """An action and its question as they stand, for its controls (no Airtable call).

    Args:
        user_id: The user.
        action_id: The action.
        sessions: Opens database sessions.

    Returns:
        The action, or the error when it is not the user's.
    """
    try:
        return _read(sessions, user_id, action_id)
    except ActionError as exc:
        return Outcome(error=exc.message)


def review(
    user_id: int,
    action_id: int,
    *,
    sessions: SessionFactory = session_scope,
    client_for: ClientFor = client_for_user,
) -> Outcome:
    """Open an action: one waiting for the user gets a fresh preview read from Airtable.

    Stale runs are recovered first, so an action whose process died shows as
    interrupted rather than running.

    Args:
        user_id: The user.
        action_id: The action.
        sessions: Opens database sessions.
        client_for: Builds the user's Airtable client.

    Returns:
        The action (with its preview when it waits, else its question), or the error.
    """
    try:
        recover_stale_actions(sessions=sessions)
        with sessions() as db:
            action = get_action(session=db, user_id=user_id, action_id=action_id)
        if action.status not in PENDING:
            return _read(sessions, user_id, action_id)
        preview = build_preview(
            session_factory=sessions,
            user_id=user_id,
            action_id=action_id,
            client=client_for(user_id),
        )
        with sessions() as db:
            action = get_action(session=db, user_id=user_id, action_id=action_id)
    except UserFacingError as exc:
        return Outcome(error=exc.message)
    return Outcome(action=action, preview=preview)


def reject(
    user_id: int,
    action_id: int,
    *,
    conversation_id: int | None = None,
    sessions: SessionFactory = session_scope,
) -> Outcome:
    """The user declines a proposed action: nothing is sent to Airtable.

    Args:
        user_id: The user.
        action_id: The action, waiting for the user.
        conversation_id: The sidebar's conversation, read again after.
        sessions: Opens database sessions.

    Returns:
        The action, REJECTED, or the error.
    """
    try:
        with sessions() as db:
            action = reject_action(session=db, user_id=user_id, action_id=action_id)
    except ActionError as exc:
        return Outcome(error=exc.message)
    return Outcome(action=action, items=_sidebar_items(user_id, conversation_id, sessions))


def propose_again(
    user_id: int,
    action_id: int,
    *,
    conversation_id: int | None = None,
    sessions: SessionFactory = session_scope,
) -> Outcome:
    """Propose the rows an action left out (changed since the review) as a new action.

    Args:
        user_id: The user.
        action_id: The action that left rows out.
        conversation_id: The sidebar's conversation, read again after.
        sessions: Opens database sessions.

    Returns:
        The new action, PROPOSED (to be reviewed next), or the error.
    """
    try:
        with sessions() as db:
            proposal = approval.propose_changed_again(
                session=db, user_id=user_id, action_id=action_id
            )
    except ActionError as exc:
        return Outcome(error=exc.message)
    return Outcome(action=proposal, items=_sidebar_items(user_id, conversation_id, sessions))


# --- running ---------------------------------------------------------------------------


def _ran(
    work: Callable[[], Action],
    sessions: SessionFactory,
    user_id: int,
    action_id: int,
    conversation_id: int | None,
    kind: str,
) -> Outcome:
    """Run `work`; then read the action, its question and the sidebar's list again.

    When `work` stops on an error the user can act on, the action is read as it
    was left, with the error to show beside it. The run is one trace span (`kind`:
    write, roll_back, resume or undo) with the action id; its Airtable requests nest in it.
    """
    try:
        with tracing.span(
            "action.run", {"pyairtable_ui.action_id": action_id, "pyairtable_ui.run": kind}
        ):
            action = work()
    except UserFacingError as exc:
        message = exc.message
        stale = isinstance(exc, approval.StalePreviewError)
        try:
            left = _read(sessions, user_id, action_id, conversation_id)
        except ActionError:
            return Outcome(error=message, stale=stale)
        return Outcome(
            action=left.action, question=left.question, items=left.items, error=message, stale=stale
        )
    return _read(sessions, user_id, action.id or action_id, conversation_id)


def _recovered(
    run: Callable[..., Action],
    user_id: int,
    action_id: int,
    decisions: dict[int, str] | None,
    on_progress: ProgressCallback | None,
    conversation_id: int | None,
    sessions: SessionFactory,
    client_for: ClientFor,
    kind: str,
) -> Outcome:
    """Roll back or resume (`run`) with the user's client, then read everything again."""
    return _ran(
        lambda: run(
            session_factory=sessions,
            user_id=user_id,
            action_id=action_id,
            client=client_for(user_id),
            on_progress=on_progress,
            decisions=decisions,
        ),
        sessions,
        user_id,
        action_id,
        conversation_id,
        kind,
    )


def apply_by_rule(
    user_id: int,
    action_id: int,
    *,
    client: AirtableClient,
    sessions: SessionFactory = session_scope,
) -> Outcome:
    """Preview, approve on the instance rule's behalf, and write a small proposed action.

    The caller (the write tool) has checked `approval.auto_approval_applies`. A preview
    with a row that cannot be written stops here: the action waits for the user's review
    like any other. Everything else is as for a click: the preview, the approved plan's
    hash, the step log, undo.

    Args:
        user_id: The user whose turn proposed it.
        action_id: The action, PROPOSED.
        client: The turn's Airtable client.
        sessions: Opens database sessions.

    Returns:
        The action as the run left it, or the error that left it waiting for the user.
    """

    def work() -> Action:
        preview = build_preview(
            session_factory=sessions, user_id=user_id, action_id=action_id, client=client
        )
        if any(row.get("blocked") for row in preview["rows"]):
            raise ConfirmationError(
                "A row of this action cannot be written as proposed; it waits for your review."
            )
        with sessions() as db:
            approval.approve_by_rule(session=db, user_id=user_id, action_id=action_id)
        return execution.execute_action(
            session_factory=sessions, user_id=user_id, action_id=action_id, client=client
        )

    return _ran(work, sessions, user_id, action_id, None, "write")


def approve_and_run(
    user_id: int,
    action_id: int,
    *,
    approved_row_ids: list[str] | None,
    typed_count: str | None,
    on_progress: ProgressCallback | None = None,
    conversation_id: int | None = None,
    sessions: SessionFactory = session_scope,
    client_for: ClientFor = client_for_user,
) -> Outcome:
    """Approve the ticked rows (with the typed count when needed) and write them.

    Args:
        user_id: The user.
        action_id: The action, PREVIEWED.
        approved_row_ids: The ticked rows (None: every row that can run).
        typed_count: What the user typed, when the count must be typed.
        on_progress: Called as ``(done_batches, total_batches, records_written)``.
        conversation_id: The sidebar's conversation, read again after.
        sessions: Opens database sessions.
        client_for: Builds the user's Airtable client.

    Returns:
        The action as the run left it (DONE, FAILED or INTERRUPTED), or the error
        that stopped the approval (`stale` when the preview must be read again).
    """

    def work() -> Action:
        with sessions() as db:
            approval.approve_action(
                session=db,
                user_id=user_id,
                action_id=action_id,
                approved_row_ids=approved_row_ids,
                typed_count=typed_count,
            )
        return execution.execute_action(
            session_factory=sessions,
            user_id=user_id,
            action_id=action_id,
            client=client_for(user_id),
            on_progress=on_progress,
        )

    return _ran(work, sessions, user_id, action_id, conversation_id, "write")


def roll_back(
    user_id: int,
    action_id: int,
    *,
    decisions: dict[int, str] | None = None,
    on_progress: ProgressCallback | None = None,
    conversation_id: int | None = None,
    sessions: SessionFactory = session_scope,
    client_for: ClientFor = client_for_user,
) -> Outcome:
    """Put back what a failed or interrupted action applied.

    Args:
        user_id: The user.
        action_id: The action, FAILED or INTERRUPTED.
        decisions: Step id -> "applied" | "not_applied": the user's answer about a
            batch Airtable could not settle.
        on_progress: Called as ``(done_batches, total_batches, records_written)``.
        conversation_id: The sidebar's conversation, read again after.
        sessions: Opens database sessions.
        client_for: Builds the user's Airtable client.

    Returns:
        The action as the roll back left it, or the error.
    """
    return _recovered(
        execution.rollback_action,
        user_id,
        action_id,
        decisions,
        on_progress,
        conversation_id,
        sessions,
        client_for,
        "roll_back",
    )


def resume(
    user_id: int,
    action_id: int,
    *,
    decisions: dict[int, str] | None = None,
    on_progress: ProgressCallback | None = None,
    conversation_id: int | None = None,
    sessions: SessionFactory = session_scope,
    client_for: ClientFor = client_for_user,
) -> Outcome:
    """Send what a failed or interrupted action has not applied yet (or finish its undo).

    Args:
        user_id: The user.
        action_id: The action, FAILED or INTERRUPTED.
        decisions: As for `roll_back`.
        on_progress: Called as ``(done_batches, total_batches, records_written)``.
        conversation_id: The sidebar's conversation, read again after.
        sessions: Opens database sessions.
        client_for: Builds the user's Airtable client.

    Returns:
        The action as the run left it, or the error.
    """
    return _recovered(
        execution.resume_action,
        user_id,
        action_id,
        decisions,
        on_progress,
        conversation_id,
        sessions,
        client_for,
        "resume",
    )


def answer_question(
    user_id: int,
    action_id: int,
    *,
    choice: str,
    step_id: int,
    on_progress: ProgressCallback | None = None,
    conversation_id: int | None = None,
    sessions: SessionFactory = session_scope,
    client_for: ClientFor = client_for_user,
) -> Outcome:
    """Go on with the user's answer about a batch Airtable cannot settle.

    Args:
        user_id: The user.
        action_id: The action, FAILED or INTERRUPTED.
        choice: A key of `QUESTION_CHOICES`: resume (it was applied, or send it
            again) or roll back anyway.
        step_id: The step the answer is about (0: none is shown; no decision).
        on_progress: Called as ``(done_batches, total_batches, records_written)``.
        conversation_id: The sidebar's conversation, read again after.
        sessions: Opens database sessions.
        client_for: Builds the user's Airtable client.

    Returns:
        The action as the run left it, or the error.
    """
    run, decision = QUESTION_CHOICES[choice]
    flow = roll_back if run == "rollback" else resume
    return flow(
        user_id,
        action_id,
        decisions={step_id: decision} if step_id else None,
        on_progress=on_progress,
        conversation_id=conversation_id,
        sessions=sessions,
        client_for=client_for,
    )


# --- undo ------------------------------------------------------------------------------


def plan_undo(
    user_id: int,
    action_id: int,
    *,
    sessions: SessionFactory = session_scope,
    client_for: ClientFor = client_for_user,
) -> Outcome:
    """What undoing the action would do, read fresh from Airtable, conflicts included.

    Args:
        user_id: The user.
        action_id: The action, done.
        sessions: Opens database sessions.
        client_for: Builds the user's Airtable client.

    Returns:
        The undo plan (`possible` False, maybe with a rename suggestion, for a
        created table or field), or the error.
    """
    try:
        plan = undo.plan_undo(
            session_factory=sessions,
            user_id=user_id,
            action_id=action_id,
            client=client_for(user_id),
        )
    except UserFacingError as exc:
        return Outcome(error=exc.message)
    return Outcome(undo_plan=plan)


def undo_action(
    user_id: int,
    action_id: int,
    *,
    resolutions: dict[str, str],
    on_progress: ProgressCallback | None = None,
    conversation_id: int | None = None,
    sessions: SessionFactory = session_scope,
    client_for: ClientFor = client_for_user,
) -> Outcome:
    """Undo the action, with the user's choice for each record changed since.

    Args:
        user_id: The user.
        action_id: The action.
        resolutions: Row id -> "overwrite" | "skip" for records changed since.
        on_progress: Called as ``(done_batches, total_batches, records_written)``.
        conversation_id: The sidebar's conversation, read again after.
        sessions: Opens database sessions.
        client_for: Builds the user's Airtable client.

    Returns:
        The action as the undo left it, or the error.
    """
    return _ran(
        lambda: undo.undo_action(
            session_factory=sessions,
            user_id=user_id,
            action_id=action_id,
            client=client_for(user_id),
            resolutions=resolutions,
            on_progress=on_progress,
        ),
        sessions,
        user_id,
        action_id,
        conversation_id,
        "undo",
    )


def rename_instead(
    user_id: int,
    action_id: int,
    *,
    conversation_id: int | None = None,
    sessions: SessionFactory = session_scope,
    client_for: ClientFor = client_for_user,
) -> Outcome:
    """Propose the rename the undo plan suggests for a created table or field.

    Airtable's API cannot delete tables or fields; renaming one (to "… (unused)")
    is what undo can offer instead. The name is the one the plan suggests, read
    fresh from Airtable (never taken from the browser); the rename is an ordinary
    proposed action, reviewed and approved like any other.

    Args:
        user_id: The user.
        action_id: The create_table or create_field action.
        conversation_id: The sidebar's conversation, read again after.
        sessions: Opens database sessions.
        client_for: Builds the user's Airtable client.

    Returns:
        The rename, PROPOSED (to be reviewed next), or the error.
    """
    try:
        plan = undo.plan_undo(
            session_factory=sessions,
            user_id=user_id,
            action_id=action_id,
            client=client_for(user_id),
        )
        suggestion = plan["rename_suggestion"]
        if suggestion is None:
            return Outcome(error="There is nothing to rename: the table or field is gone.")
        with sessions() as db:
            proposal = undo.propose_rename_instead(
                session=db,
                user_id=user_id,
                action_id=action_id,
                new_name=suggestion["suggested_name"],
            )
    except UserFacingError as exc:
        return Outcome(error=exc.message)
    return Outcome(action=proposal, items=_sidebar_items(user_id, conversation_id, sessions))
