"""Running approved actions: execute, resume and roll back.

How an action moves (`Action.status`):

    CONFIRMED ─execute_action─▶ RUNNING ─▶ DONE | FAILED | INTERRUPTED (Stop)
    FAILED | INTERRUPTED ─resume_action─▶ RUNNING ─▶ …          (forward: the batches not DONE)
    FAILED | INTERRUPTED ─rollback_action─▶ ROLLING_BACK ─▶ ROLLED_BACK | FAILED | INTERRUPTED
    RUNNING | ROLLING_BACK | UNDOING, no live worker ─recovery.mark_interrupted─▶ INTERRUPTED
        (with replicas: only once its lease has run out, see `steps`)

What an unfinished (FAILED or INTERRUPTED) action was doing is read from its
steps (`steps.phase_of`): forward runs can be resumed or rolled back; an
interrupted roll back is continued by rolling back again; an interrupted undo
is continued by `resume_action` (or `undo.undo_action`).

Each APPLY step is one batch of at most 10 records; its `seq` is the batch's
number in the approved plan, so a resumed run knows exactly which batches are
DONE. A batch left PENDING (or FAILED without an answer) is checked against
Airtable before anything is sent again (`steps.check_step`): nothing is ever
applied twice. When Airtable's records cannot settle it, the run stops and the
candidate records are kept on the step (`recovery.undecided_batch`); the user's answer
comes back as `decisions` to resume or roll back.

The records read before a batch (its undo snapshot, 100 records per read) are
compared with the old values the user approved (`approval.changed_since_review`):
a row someone changed in Airtable since the review is not written, and is listed
on the action (`Action.changed_since_review`) for the user to review again. For
updates and deletes the next 100 are read while the current ten batches are sent
(`_SnapshotPrefetch`): a snapshot is at most one group of batches old when its
first batch is sent (see `_ApplyRun._before` for the window this leaves).

Every function is blocking (Airtable is paced at 5 requests/s per base): run it
in a worker thread, e.g. ``await client.run(execute_action, ...)``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pyairtable_ui.actions.approval import ChangedRow, ChangedRows, changed_since_review
from pyairtable_ui.actions.base import BATCH_SIZE, IRREVERSIBLE_OPS, ActionStateError, plan_hash
from pyairtable_ui.actions.models import (
    Action,
    ActionStatus,
    ActionStep,
    StepKind,
    StepStatus,
    UndoStatus,
)
from pyairtable_ui.actions.plan import (
    CommentOperation,
    CreateFieldOperation,
    CreateTableOperation,
    Plan,
    RecordOperation,
    RecordsPlan,
    RenameTableOperation,
    SchemaOperation,
    SchemaPlan,
    parse_plan,
    plan_of,
)
from pyairtable_ui.actions.records import READ_CHUNK, read_records_by_id
from pyairtable_ui.actions.reversal import (
    ReversalRun,
    choose,
    collect_items,
    covered_keys,
    describe_new_ids,
    refresh_items,
    resolve_unfinished,
)
from pyairtable_ui.actions.service import confirm_action, get_action
from pyairtable_ui.actions.steps import (
    STILL_RUNNING,
    LeaseLostError,
    Progress,
    ProgressCallback,
    StepHook,
    StepRequest,
    StepWriter,
    Verdict,
    after_records,
    batches_phrase,
    check_step,
    claim,
    decide,
    dumps_key,
    finish,
    held_elsewhere,
    known_record_ids,
    live,
    load_steps,
    outcome_unknown,
    phase_of,
    taken_record_ids,
    upsert_after,
)
from pyairtable_ui.actions.undo import undo_action
from pyairtable_ui.airtable import schema as schema_module
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.errors import AirtableError, ToolCancelled
from pyairtable_ui.airtable.formulas import F, chunked
from pyairtable_ui.core.db import SessionFactory, utcnow

logger = logging.getLogger(__name__)

UNFINISHED = (ActionStatus.FAILED, ActionStatus.INTERRUPTED)
WORKING = (ActionStatus.RUNNING, ActionStatus.ROLLING_BACK, ActionStatus.UNDOING)
# A snapshot read ahead is used only this soon after its read started: ten batches take
# about two seconds at Airtable's pace, so this allows for a shared base's slower pace
# and leaves a held-up loop (a batch retried for seconds) to read its group again.
PREFETCH_MAX_AGE = 6.0
UNDECIDED_HINT = (
    "Open the action to see the records in question, then choose whether it was applied."
)


def _approved_plan(action: Action) -> Plan:
    """The approved plan, after proving it is what the user approved.

    The hash is checked on the plan as stored, before it is read.

    Raises:
        ActionStateError: No approval on record, or the plan no longer matches its hash.
    """
    stored = action.approved_plan
    if stored is None or not action.approved_plan_hash:
        raise ActionStateError(f"Action #{action.id} has no approval on record; it was not run.")
    if plan_hash(stored) != action.approved_plan_hash:
        logger.warning("approved plan hash mismatch action_id=%s", action.id)
        raise ActionStateError(
            f"Action #{action.id}'s approved plan was altered after approval; it was not run. "
            "Preview and approve it again."
        )
    return parse_plan(stored)


def _refuse_if_running_elsewhere(action: Action) -> None:
    """Resume and roll back wait while another process holds the action's lease.

    Raises:
        ActionStateError: Another process is running it.
    """
    if held_elsewhere(action):
        raise ActionStateError(
            f"Action #{action.id} {STILL_RUNNING}; wait for it to finish, then reload."
        )


def execute_action(
    *,
    session_factory: SessionFactory,
    user_id: int,
    action_id: int,
    client: AirtableClient,
    schema_cache: schema_module.SchemaCache | None = None,
    on_progress: ProgressCallback | None = None,
    step_hook: StepHook | None = None,
) -> Action:
    """Run the user's approved action against Airtable, batch by batch.

    A PROPOSED or PREVIEWED action that needs only a click is confirmed as a whole
    first; one that needs a typed confirmation must go through
    `approval.approve_action`. The approved plan's hash is checked before anything
    is sent.

    Args:
        session_factory: Opens sessions that commit on success (one per step).
        user_id: The user running it.
        action_id: The action.
        client: The Airtable client (paced; `client.cancel()` stops between batches).
        schema_cache: Schema cache (invalidated after schema changes).
        on_progress: Called as ``(done_batches, total_batches, records_written)``.
        step_hook: Test hook, see `steps.StepHook`.

    Returns:
        The action as it ended: DONE, FAILED (a batch failed; later ones not sent)
        or INTERRUPTED (Stop pressed).

    Raises:
        ActionNotFoundError: No such action for this user.
        ActionStateError: Not confirmed/confirmable, already running, or altered.
        ConfirmationError: It needs a typed confirmation.
    """
    with session_factory() as session:
        action = get_action(session=session, user_id=user_id, action_id=action_id)
        if action.status in (ActionStatus.PROPOSED, ActionStatus.PREVIEWED):
            action = confirm_action(session=session, user_id=user_id, action_id=action_id)
        if action.status != ActionStatus.CONFIRMED:
            raise ActionStateError(
                f"Action #{action_id} is {action.status} and cannot be run; "
                "it may already be running or finished."
            )
        plan = _approved_plan(action)
    claim(
        session_factory,
        user_id=user_id,
        action_id=action_id,
        from_statuses=(ActionStatus.CONFIRMED,),
        to_status=ActionStatus.RUNNING,
    )
    logger.info("action running id=%s tool=%s", action_id, action.tool_name)
    return _ApplyRun(
        session_factory=session_factory,
        action=action,
        plan=plan,
        client=client,
        schema_cache=schema_cache,
        on_progress=on_progress,
        step_hook=step_hook,
        resend_unknown=False,
        decisions=None,
    ).run()


def resume_action(
    *,
    session_factory: SessionFactory,
    user_id: int,
    action_id: int,
    client: AirtableClient,
    schema_cache: schema_module.SchemaCache | None = None,
    on_progress: ProgressCallback | None = None,
    step_hook: StepHook | None = None,
    resend_unknown: bool = False,
    resolutions: dict[str, str] | None = None,
    decisions: dict[int, str] | None = None,
) -> Action:
    """Carry on with a FAILED or INTERRUPTED action from where it stopped.

    A forward run sends the batches of the approved plan that are not DONE; a
    batch whose outcome was never recorded is first checked in Airtable (applied:
    marked DONE, not sent again). An interrupted undo is finished instead.

    Args:
        session_factory: Opens sessions that commit on success.
        user_id: The user.
        action_id: The action.
        client: The Airtable client.
        schema_cache: Schema cache.
        on_progress: Called as ``(done_batches, total_batches, records_written)``.
        step_hook: Test hook, see `steps.StepHook`.
        resend_unknown: Send again a batch whose outcome Airtable cannot tell
            (records were created meanwhile that do not all match it); only after
            the user has checked the table.
        resolutions: For an interrupted undo: record id -> "overwrite" | "skip".
        decisions: Step id -> "applied" | "not_applied": the user's answer for a
            batch Airtable could not settle (see `recovery.undecided_batch`).

    Returns:
        The action as it ended.

    Raises:
        ActionNotFoundError: No such action for this user.
        ActionStateError: It is not failed or interrupted, was being rolled back, or
            another process is running it.
    """
    with session_factory() as session:
        action = get_action(session=session, user_id=user_id, action_id=action_id)
        _refuse_if_running_elsewhere(action)
        if action.status not in UNFINISHED:
            raise ActionStateError(
                f"Action #{action_id} is {action.status}; only failed or interrupted actions "
                "can be resumed."
            )
    steps = load_steps(session_factory, action_id)
    phase = phase_of(steps)
    if phase == "rollback":
        raise ActionStateError(
            f"Action #{action_id} was being rolled back; roll it back again to finish."
        )
    if phase == "undo":
        return undo_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=action_id,
            client=client,
            resolutions=resolutions,
            schema_cache=schema_cache,
            on_progress=on_progress,
            step_hook=step_hook,
            resend_unknown=resend_unknown,
        )
    plan = _approved_plan(action)
    claim(
        session_factory,
        user_id=user_id,
        action_id=action_id,
        from_statuses=UNFINISHED,
        to_status=ActionStatus.RUNNING,
    )
    logger.info("action resumed id=%s", action_id)
    return _ApplyRun(
        session_factory=session_factory,
        action=action,
        plan=plan,
        client=client,
        schema_cache=schema_cache,
        on_progress=on_progress,
        step_hook=step_hook,
        resend_unknown=resend_unknown,
        decisions=decisions,
    ).run()


def rollback_action(
    *,
    session_factory: SessionFactory,
    user_id: int,
    action_id: int,
    client: AirtableClient,
    schema_cache: schema_module.SchemaCache | None = None,
    on_progress: ProgressCallback | None = None,
    step_hook: StepHook | None = None,
    resend_unknown: bool = False,
    decisions: dict[int, str] | None = None,
) -> Action:
    """Put back the batches a FAILED or INTERRUPTED action applied, newest first.

    Updated records get their before values, created records are deleted, deleted
    records are re-created (new ids; links re-pointed). Each compensation is a
    step of kind COMPENSATE written before it is sent. Values changed by someone
    else since are overwritten: rollback runs right after a failure, undo is the
    one that asks.

    Args:
        session_factory: Opens sessions that commit on success.
        user_id: The user.
        action_id: The action.
        client: The Airtable client.
        schema_cache: Schema cache.
        on_progress: Called as ``(done_batches, total_batches, records_written)``.
        step_hook: Test hook, see `steps.StepHook`.
        resend_unknown: See `resume_action`.
        decisions: See `resume_action`; "not_applied" leaves an undecided batch's
            records as they are ("roll back anyway").

    Returns:
        The action: ROLLED_BACK, or FAILED/INTERRUPTED when the rollback itself stopped.

    Raises:
        ActionNotFoundError: No such action for this user.
        ActionStateError: It is not failed or interrupted, or was being undone.
    """
    with session_factory() as session:
        action = get_action(session=session, user_id=user_id, action_id=action_id)
        _refuse_if_running_elsewhere(action)
        if action.status not in UNFINISHED:
            raise ActionStateError(
                f"Action #{action_id} is {action.status}; only failed or interrupted actions "
                "can be rolled back (finished ones can be undone)."
            )
    steps = load_steps(session_factory, action_id)
    if phase_of(steps) == "undo":
        raise ActionStateError(f"Action #{action_id} was being undone; resume to finish the undo.")
    claim(
        session_factory,
        user_id=user_id,
        action_id=action_id,
        from_statuses=UNFINISHED,
        to_status=ActionStatus.ROLLING_BACK,
    )
    logger.info("action rolling back id=%s", action_id)
    assert action.id is not None
    with live(action.id, session_factory):
        try:
            return _rollback(
                session_factory=session_factory,
                action=action,
                client=client,
                schema_cache=schema_cache,
                on_progress=on_progress,
                step_hook=step_hook,
                resend_unknown=resend_unknown,
                decisions=decisions,
            )
        except LeaseLostError:
            raise
        except ToolCancelled:
            return finish(
                session_factory,
                action.id,
                ActionStatus.INTERRUPTED,
                error="Roll back stopped by the user; roll back again to finish.",
            )
        except AirtableError as exc:
            return finish(
                session_factory,
                action.id,
                ActionStatus.FAILED,
                error=f"Roll back could not read Airtable: {exc.message} "
                "Roll back again to finish.",
            )
        except Exception as exc:
            logger.exception("rollback crashed id=%s", action.id)
            finish(
                session_factory,
                action.id,
                ActionStatus.FAILED,
                error=f"Roll back stopped by an internal error ({type(exc).__name__}); "
                "roll back again to finish.",
            )
            raise


def _rollback(
    *,
    session_factory: SessionFactory,
    action: Action,
    client: AirtableClient,
    schema_cache: schema_module.SchemaCache | None,
    on_progress: ProgressCallback | None,
    step_hook: StepHook | None,
    resend_unknown: bool,
    decisions: dict[int, str] | None,
) -> Action:
    assert action.id is not None
    apply_writer = StepWriter(
        session_factory=session_factory, action_id=action.id, client=client, kind=StepKind.APPLY
    )
    writer = StepWriter(
        session_factory=session_factory,
        action_id=action.id,
        client=client,
        kind=StepKind.COMPENSATE,
        step_hook=step_hook,
    )
    steps = load_steps(session_factory, action.id)
    # First settle what the interrupted run and rollback left unrecorded.
    for kind, step_writer in ((StepKind.APPLY, apply_writer), (StepKind.COMPENSATE, writer)):
        unknown = resolve_unfinished(
            step_writer,
            steps,
            kind,
            client=client,
            schema_cache=schema_cache,
            resend_unknown=resend_unknown,
            decisions=decisions,
        )
        if unknown is not None:
            return finish(
                session_factory,
                action.id,
                ActionStatus.FAILED,
                error=f"Roll back cannot tell whether a batch was applied: {unknown.reason} "
                + (UNDECIDED_HINT if unknown.candidates else "Check it in Airtable."),
            )
    steps = load_steps(session_factory, action.id)
    schema = schema_module.get_base_schema(client, action.base_id, force=True, cache=schema_cache)
    table = schema.table_by_id(action.table_id) if action.table_id else None
    covered = covered_keys(steps, StepKind.COMPENSATE)
    items = [i for i in collect_items(action, steps, table) if i.key not in covered]
    refresh_items(items, client=client, base_id=action.base_id, schema=schema)
    choice = choose(items, None, ask_conflicts=False)
    run = ReversalRun(
        action=action,
        writer=writer,
        client=client,
        schema=schema,
        on_progress=on_progress,
        verb="Roll back",
    )
    result = run.run(choice.run)
    if isinstance(plan_of(action), SchemaPlan):
        schema_module.invalidate(action.base_id, cache=schema_cache)
    notes = [reason for _, reason in choice.skipped] + result.notes
    if result.new_ids:
        notes.insert(0, describe_new_ids(result.new_ids))
    if result.status == "done":
        note = "Rolled back: the applied batches were put back."
        if notes:
            note += " " + " ".join(notes)
        return finish(
            session_factory,
            action.id,
            ActionStatus.ROLLED_BACK,
            error=action.error,
            undo_status=UndoStatus.NOT_POSSIBLE.value,
            undo_note=note,
        )
    status = ActionStatus.INTERRUPTED if result.status == "cancelled" else ActionStatus.FAILED
    return finish(session_factory, action.id, status, error=result.message)


# --- forward runs ----------------------------------------------------------------------------


class _ApplyRun:
    """Sends the batches of an approved plan that are not DONE yet, in order."""

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        action: Action,
        plan: Plan,
        client: AirtableClient,
        schema_cache: schema_module.SchemaCache | None,
        on_progress: ProgressCallback | None,
        step_hook: StepHook | None,
        resend_unknown: bool,
        decisions: dict[int, str] | None,
    ) -> None:
        assert action.id is not None
        self.session_factory = session_factory
        self.action_id: int = action.id
        self.base_id = action.base_id
        self.table_id = action.table_id
        self.plan = plan
        self.client = client
        self.schema_cache = schema_cache
        self.on_progress = on_progress
        self.resend_unknown = resend_unknown
        self.decisions = decisions
        self.writer = StepWriter(
            session_factory=session_factory,
            action_id=action.id,
            client=client,
            kind=StepKind.APPLY,
            step_hook=step_hook,
        )
        self._snapshot: dict[str, dict[str, Any]] = {}
        self._snapshot_through = 0
        self._prefetch = _SnapshotPrefetch()
        # Batches that will read a snapshot (no step row yet), filled by `_run_records`.
        self._to_read: set[int] = set()
        self._inbound: dict[str, list[dict[str, Any]]] | None = None
        self._computed: set[str] | None = None
        # Rows found changed since the review (also by an earlier run): never written.
        self._left_out = {
            str(r.get("row_id")) for r in (action.changed_since_review or {}).get("rows") or []
        }

    def run(self) -> Action:
        """Run to the end, a failure or Stop; record how it ended."""
        with live(self.action_id, self.session_factory), self._prefetch:
            try:
                if isinstance(self.plan, RecordsPlan):
                    return self._run_records(self.plan)
                return self._run_single(self.plan.operations[0])
            except LeaseLostError:
                # Another process runs it now: it records how it ends, not this one.
                logger.warning("action run stopped, taken over id=%s", self.action_id)
                raise
            except Exception as exc:
                # A bug or a database failure: leave a true record, then let it surface.
                logger.exception("action crashed id=%s", self.action_id)
                self._finish(
                    ActionStatus.FAILED,
                    error=f"Stopped by an internal error ({type(exc).__name__}). Resume or roll "
                    "back; batches whose outcome was not recorded are checked first.",
                )
                raise

    # -- records

    def _run_records(self, plan: RecordsPlan) -> Action:
        op = plan.op
        batches = [list(batch) for batch in chunked(plan.operations, BATCH_SIZE)]
        total = len(batches)
        existing = {
            s.seq: s
            for s in load_steps(self.session_factory, self.action_id)
            if s.kind == StepKind.APPLY
        }
        done = [seq for seq, s in existing.items() if s.status == StepStatus.DONE]
        self._to_read = {i for i in range(1, total + 1) if i not in existing}
        written = sum(len(existing[seq].record_ids) for seq in done)
        progress = Progress(self.on_progress, total, len(done), written)
        progress.report()
        for index, batch in enumerate(batches, start=1):
            if index in done:
                continue
            step = existing.get(index)
            batch = [o for o in batch if _reviewed_row(o) not in self._left_out]
            request = self._record_request(plan, batch)
            try:
                if step is not None:
                    verdict = self._settle(step)
                    if verdict.status == "applied":
                        done.append(index)
                        progress.batch_done(len(verdict.record_ids or step.record_ids))
                        continue
                    if verdict.status == "unknown":
                        return self._finish(
                            ActionStatus.FAILED,
                            error=f"Batch {index} of {total} may already have been applied: "
                            f"{verdict.reason} {UNDECIDED_HINT}",
                        )
                    if verdict.remaining is not None:
                        request.body = {"records": verdict.remaining}
                        request.record_ids = verdict.remaining
                    # The first `before` stays: it holds the values before the action.
                    request.before = step.before
                else:
                    before = self._before(plan, batches, index)
                    batch, before = self._leave_out_changed(plan, batch, before)
                    if not batch:
                        progress.batch_done(0)
                        continue
                    request = self._record_request(plan, batch)
                    request.before = before
            except ToolCancelled:
                return self._finish(
                    ActionStatus.INTERRUPTED,
                    error=f"Stopped by the user before batch {index} of {total}. "
                    + batches_phrase(done, total),
                )
            except AirtableError as exc:
                return self._finish(
                    ActionStatus.FAILED,
                    error=f"Could not read the records before batch {index} of {total}: "
                    f"{exc.message} " + batches_phrase(done, total),
                )
            outcome = self.writer.send(
                request,
                seq=index,
                step_id=step.id if step is not None else None,
                read_after=upsert_after if op == "upsert" else after_records,
            )
            if outcome.cancelled:
                return self._finish(
                    ActionStatus.INTERRUPTED,
                    error=f"Stopped by the user at batch {index} of {total}. "
                    + batches_phrase(done, total),
                )
            if outcome.error is not None:
                return self._finish(
                    ActionStatus.FAILED,
                    error=f"Batch {index} of {total} failed: {outcome.error.message} "
                    + batches_phrase(done, total)
                    + " You can roll back the applied batches or resume.",
                )
            done.append(index)
            progress.batch_done(len(outcome.record_ids))
        if self._left_out and not done:
            return self._finish(
                ActionStatus.DONE,
                undo=UndoStatus.NOT_POSSIBLE,
                undo_note="Nothing was written: every row changed in Airtable since you "
                "reviewed it.",
            )
        return self._finish(ActionStatus.DONE, undo=UndoStatus.AVAILABLE)

    def _leave_out_changed(
        self,
        plan: RecordsPlan,
        batch: list[RecordOperation],
        before: list[dict[str, Any]] | None,
    ) -> tuple[list[RecordOperation], list[dict[str, Any]] | None]:
        """The batch without the rows whose records changed since the user reviewed them.

        `before` is the snapshot just read for this batch (the undo record); the rows
        left out are recorded on the action, and the snapshot keeps only the others.
        """
        op = plan.op
        if op == "create" or not any(o.reviewed for o in batch):
            return batch, before
        ignore = self._computed_fields() if op == "delete" else set()
        kept: list[RecordOperation] = []
        changed: list[ChangedRow] = []
        untouched: set[str] = set()
        for o in batch:
            key = o.existing_id if op in ("update", "delete") else _merge_key(plan, o)
            current = self._snapshot.get(key) if key is not None else None
            row = (
                changed_since_review(o.reviewed, current, ignore=ignore)
                if o.reviewed is not None
                else None
            )
            if row is None:
                kept.append(o)
                continue
            changed.append(row)
            if current is not None:
                untouched.add(str(current["id"]))
        if changed:
            self._record_changed(changed)
        if before is not None:
            before = [r for r in before if str(r.get("id")) not in untouched]
        return kept, before

    def _record_changed(self, rows: list[ChangedRow]) -> None:
        self._left_out.update(r["row_id"] for r in rows)
        with self.session_factory() as session:
            action = session.get(Action, self.action_id)
            assert action is not None
            stored = action.changed_since_review or {}
            report: ChangedRows = {
                "rows": [*(stored.get("rows") or []), *rows],
                "proposed_again": stored.get("proposed_again"),
            }
            action.changed_since_review = dict(report)
            action.updated_at = utcnow()
            session.add(action)
        logger.info(
            "rows changed since the review left out action_id=%s rows=%d",
            self.action_id,
            len(rows),
        )

    def _computed_fields(self) -> set[str]:
        """Fields Airtable computes (formulas, last modified…): not compared for deletes."""
        if self._computed is None:
            assert self.table_id is not None
            schema = schema_module.get_base_schema(
                self.client, self.base_id, cache=self.schema_cache
            )
            table = schema.table_by_id(self.table_id)
            self._computed = {f.name for f in table.fields if f.computed} if table else set()
        return self._computed

    def _settle(self, step: ActionStep) -> Verdict:
        """Whether a batch with a step row but no DONE was applied.

        SKIPPED steps were never sent and FAILED ones were refused by Airtable
        (batches are all or nothing); only those without an answer are checked.
        """
        if not outcome_unknown(step):
            return Verdict("not_applied")
        assert step.id is not None
        known = known_record_ids(load_steps(self.session_factory, self.action_id))
        known |= taken_record_ids(self.session_factory, step)
        verdict = check_step(
            step, client=self.client, schema_cache=self.schema_cache, known_ids=known
        )
        verdict = decide(
            verdict, step, decisions=self.decisions, resend_unknown=self.resend_unknown
        )
        if verdict.status == "unknown":
            self.writer.remember_candidates(step.id, verdict.candidates)
        if verdict.status == "applied":
            self.writer.update(
                step.id,
                StepStatus.DONE,
                error="Marked applied as you chose after an interruption; not sent again."
                if verdict.reason == "user"
                else "Found applied in Airtable after an interruption; not sent again.",
                after=verdict.after or None,
                record_ids=verdict.record_ids or step.record_ids,
            )
        return verdict

    def _record_request(self, plan: RecordsPlan, batch: list[RecordOperation]) -> StepRequest:
        assert self.table_id is not None
        components = [self.base_id, self.table_id]
        op, typecast = plan.op, plan.typecast
        if op == "create":
            body = {"records": [{"fields": o.fields} for o in batch], "typecast": typecast}
            return StepRequest("POST", components, body, [])
        if op == "update":
            records = [{"id": o.existing_id, "fields": o.fields} for o in batch]
            body = {"records": records, "typecast": typecast}
            return StepRequest("PATCH", components, body, [o.existing_id for o in batch])
        if op == "upsert":
            body = {
                "records": [{"fields": o.fields} for o in batch],
                "typecast": typecast,
                "performUpsert": {"fieldsToMergeOn": plan.merge_fields},
            }
            return StepRequest("PATCH", components, body, [])
        ids = [o.existing_id for o in batch]
        return StepRequest("DELETE", components, {"records": ids}, ids)

    def _before(
        self, plan: RecordsPlan, batches: list[list[RecordOperation]], index: int
    ) -> list[dict[str, Any]] | None:
        """The records batch `index` touches, as they are now (read 10 batches at a time).

        For updates and deletes the next group's read is started as soon as a group's
        own snapshot is in hand (`_SnapshotPrefetch`), so the 100-record read runs while
        this group's ten batches are sent instead of stalling the loop between groups.
        What that costs the guard "what you approved is what gets written": a row is
        compared with a snapshot read at most one group (ten batches, about two seconds
        at Airtable's pace) before the group in front of it was sent, instead of just
        before its own group; a change made in that window is not seen, as a change made
        between the read and the batch always was not. An upsert's snapshot is read just
        before its group (its merge keys may match records an earlier group creates).
        """
        op = plan.op
        if op == "create":
            return None
        if index > self._snapshot_through:
            # One read of up to 100 records serves the next ten batches.
            group_end = index - 1 + READ_CHUNK // BATCH_SIZE
            self._snapshot = self._group_snapshot(plan, batches, index, group_end)
            self._snapshot_through = group_end
        batch = batches[index - 1]
        if op in ("update", "delete"):
            # A record missing here was deleted since the proposal; Airtable will say so.
            before = [
                self._snapshot[o.existing_id] for o in batch if o.existing_id in self._snapshot
            ]
            if op == "delete":
                inbound = self._inbound_links(batches)
                before = [{**r, "linked_from": inbound.get(r["id"], [])} for r in before]
            return before
        keys = (_merge_key(plan, o) for o in batch)
        return [self._snapshot[k] for k in keys if k is not None and k in self._snapshot]

    def _group_snapshot(
        self, plan: RecordsPlan, batches: list[list[RecordOperation]], first: int, last: int
    ) -> dict[str, dict[str, Any]]:
        """The snapshot of batches `first`..`last` (1-based), and the next group's read started.

        Only batches not DONE yet are read ahead: a resumed run does not read the
        records of batches it will skip.
        """
        ops = [o for batch in batches[first - 1 : last] for o in batch]
        if plan.op not in ("update", "delete"):
            return self._read_snapshot(plan, ops)
        snapshot = self._prefetch.take(first)
        if snapshot is None:
            snapshot = self._read_snapshot(plan, ops)
        # The next group starts at the next batch that will need a snapshot (a resumed
        # run skips batches already DONE or settled from their own step).
        start = next((i for i in range(last + 1, len(batches) + 1) if i in self._to_read), None)
        if start is not None:
            end = start - 1 + READ_CHUNK // BATCH_SIZE
            following = [o for batch in batches[start - 1 : end] for o in batch]
            self._prefetch.start(start, lambda: self._read_snapshot(plan, following))
        return snapshot

    def _read_snapshot(
        self, plan: RecordsPlan, operations: list[RecordOperation]
    ) -> dict[str, dict[str, Any]]:
        assert self.table_id is not None
        if plan.op in ("update", "delete"):
            ids = [o.existing_id for o in operations]
            return read_records_by_id(self.client, self.base_id, self.table_id, ids)
        keys = plan.merge_fields
        conditions: list[str] = []
        for o in operations:
            values = {k: o.fields.get(k) for k in keys}
            if all(isinstance(v, str | int | float) and v != "" for v in values.values()):
                conditions.append(str(F.match(values)))
        if not conditions:
            return {}
        formula = f"OR({','.join(conditions)})" if len(conditions) > 1 else conditions[0]
        records = [
            record
            for page in self.client.iterate_records(self.base_id, self.table_id, formula=formula)
            for record in page
        ]
        return {dumps_key([r["fields"].get(k) for k in keys]): r for r in records}

    def _inbound_links(
        self, batches: list[list[RecordOperation]]
    ) -> dict[str, list[dict[str, Any]]]:
        """Once per run: which records link to the doomed ones through links without an inverse."""
        if self._inbound is None:
            assert self.table_id is not None
            ids = {o.existing_id for batch in batches for o in batch}
            self._inbound = inbound_links(
                self.client, self.base_id, self.table_id, ids, schema_cache=self.schema_cache
            )
        return self._inbound

    # -- schema changes and comments

    def _run_single(self, operation: SchemaOperation | CommentOperation) -> Action:
        existing = [
            s for s in load_steps(self.session_factory, self.action_id) if s.kind == StepKind.APPLY
        ]
        step = existing[0] if existing else None
        try:
            if step is not None and step.status != StepStatus.DONE:
                verdict = self._settle(step)
                if verdict.status == "unknown":
                    return self._finish(
                        ActionStatus.FAILED,
                        error=f"Cannot tell whether the change was applied: {verdict.reason}",
                    )
                if verdict.status == "applied":
                    step.status = StepStatus.DONE.value
            if step is None or step.status != StepStatus.DONE:
                request = self._single_request(operation)
                if step is not None:
                    request.before = step.before or request.before
                outcome = self.writer.send(
                    request, seq=1, step_id=step.id if step is not None else None
                )
                if isinstance(self.plan, SchemaPlan):
                    schema_module.invalidate(self.base_id, cache=self.schema_cache)
                if outcome.cancelled:
                    return self._finish(ActionStatus.INTERRUPTED, error="Stopped by the user.")
                if outcome.error is not None:
                    return self._finish(ActionStatus.FAILED, error=outcome.error.message)
        except ToolCancelled:
            return self._finish(ActionStatus.INTERRUPTED, error="Stopped by the user.")
        except AirtableError as exc:
            return self._finish(ActionStatus.FAILED, error=exc.message)
        except schema_module.UnknownNameError as exc:
            return self._finish(ActionStatus.FAILED, error=exc.message)
        if self.on_progress is not None:
            Progress(self.on_progress, 1, 1, 0).report()
        if operation.op in IRREVERSIBLE_OPS:
            return self._finish(
                ActionStatus.DONE,
                undo=UndoStatus.NOT_POSSIBLE,
                undo_note="Airtable's API cannot delete tables or fields; remove it in "
                "Airtable itself if it is not wanted, or rename it.",
            )
        return self._finish(ActionStatus.DONE, undo=UndoStatus.AVAILABLE)

    def _single_request(self, operation: SchemaOperation | CommentOperation) -> StepRequest:
        base = self.base_id
        meta = ["meta", "bases", base, "tables"]
        if isinstance(operation, CreateTableOperation):
            # Airtable's request body: the operation without its op, empty keys left out.
            body = {k: v for k, v in operation.model_dump(mode="json", exclude={"op"}).items() if v}
            return StepRequest("POST", meta, body, [])
        assert self.table_id is not None
        if isinstance(operation, CreateFieldOperation):
            body = operation.model_dump(mode="json", exclude={"op"}, exclude_none=True)
            return StepRequest("POST", [*meta, self.table_id, "fields"], body, [])
        if isinstance(operation, CommentOperation):
            record_id = operation.record_id
            components = [base, self.table_id, record_id, "comments"]
            return StepRequest("POST", components, {"text": operation.text}, [record_id])
        # A rename: the name as it is now, read fresh; undo renames back to it.
        fresh = schema_module.get_base_schema(
            self.client, base, force=True, cache=self.schema_cache
        )
        table = fresh.table(self.table_id)
        if isinstance(operation, RenameTableOperation):
            before = [{"id": table.id, "name": table.name}]
            return StepRequest("PATCH", [*meta, table.id], {"name": operation.name}, [], before)
        field = table.field(operation.field_id)
        before = [{"id": field.id, "name": field.name}]
        components = [*meta, table.id, "fields", field.id]
        return StepRequest("PATCH", components, {"name": operation.name}, [], before)

    def _finish(
        self,
        status: ActionStatus,
        *,
        error: str | None = None,
        undo: UndoStatus | None = None,
        undo_note: str | None = None,
    ) -> Action:
        action = finish(
            self.session_factory,
            self.action_id,
            status,
            error=error,
            undo_status=undo.value if undo is not None else None,
            undo_note=undo_note,
        )
        logger.info(
            "action run ended id=%s status=%s airtable_calls=%d",
            self.action_id,
            status.value,
            self.client.calls,
        )
        return action


class _SnapshotPrefetch:
    """One snapshot read running ahead of the write loop, in a thread of its own.

    The read shares the client (its pacer slot, its Stop button, its counting) with
    the writes; Airtable's budget is the same, only the wait for the read's answer
    (a filtered read of 100 ids is slow) no longer holds the batches up. A snapshot
    older than `PREFETCH_MAX_AGE` when its group comes up (the loop was held up,
    e.g. retrying a batch) is dropped and read again, so the guard's window stays
    about one group long. Use as a context manager: leaving it waits for a read still
    running, so no request outlives the run.
    """

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._future: Future[dict[str, dict[str, Any]]] | None = None
        self._first = 0
        self._started = 0.0

    def __enter__(self) -> _SnapshotPrefetch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._drop()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def start(self, first: int, read: Callable[[], dict[str, dict[str, Any]]]) -> None:
        """Start reading the snapshot of the group that begins at batch `first`."""
        self._drop()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot")
        self._first = first
        self._started = time.monotonic()
        self._future = self._pool.submit(read)

    def take(self, first: int) -> dict[str, dict[str, Any]] | None:
        """The prefetched snapshot of the group at `first`; None when there is none to use.

        Raises:
            AirtableError: The read failed (as the same read in the loop would have).
            ToolCancelled: Stop was pressed during the read.
        """
        future = self._future
        if future is None or self._first != first:
            self._drop()
            return None
        self._future = None
        snapshot = future.result()
        if time.monotonic() - self._started > PREFETCH_MAX_AGE:
            return None
        return snapshot

    def _drop(self) -> None:
        """Forget the read in flight (waiting for it: the client is not left in use)."""
        future, self._future = self._future, None
        if future is not None and not future.cancel():
            try:
                future.result()
            except Exception:  # noqa: S110 (an unused read's failure changes nothing)
                pass


def _reviewed_row(operation: RecordOperation) -> str | None:
    """The preview row an approved operation came from (None when it carries no review)."""
    return operation.reviewed.row_id if operation.reviewed is not None else None


def _merge_key(plan: RecordsPlan, operation: RecordOperation) -> str | None:
    keys = plan.merge_fields
    return dumps_key([operation.fields.get(k) for k in keys]) if keys else None


def inbound_links(
    client: AirtableClient,
    base_id: str,
    table_id: str,
    record_ids: set[str],
    *,
    schema_cache: schema_module.SchemaCache | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Records linking to `record_ids` through link fields that have no inverse field.

    Ordinary links come in pairs (each side has a field), so a deleted record's
    own snapshot already names the records linking to it. A link without an
    inverse (a table linking to itself, a synced table) is only visible from the
    linking side: those tables are read (only the link field) to find them, so
    that undo can point the links at the re-created records.

    Args:
        client: The Airtable client.
        base_id: ``app...``.
        table_id: The table whose records are deleted.
        record_ids: The records to be deleted.
        schema_cache: Schema cache.

    Returns:
        Deleted record id -> ``[{"table_id", "field_id", "field_name", "record_id"}]``.
    """
    schema = schema_module.get_base_schema(client, base_id, force=True, cache=schema_cache)
    target = schema.table_by_id(table_id)
    target_field_ids = {f.id for f in target.fields} if target else set()
    found: dict[str, list[dict[str, Any]]] = {}
    for table in schema.tables:
        for link in table.fields:
            if link.linked_table_id != table_id:
                continue
            inverse = link.options.get("inverseLinkFieldId")
            if inverse and inverse in target_field_ids and table.id != table_id:
                continue  # the deleted record's own inverse field carries these links
            for page in client.iterate_records(base_id, table.id, fields=[link.name]):
                for record in page:
                    for linked in (record.get("fields") or {}).get(link.name) or []:
                        if linked in record_ids:
                            found.setdefault(linked, []).append(
                                {
                                    "table_id": table.id,
                                    "field_id": link.id,
                                    "field_name": link.name,
                                    "record_id": record["id"],
                                }
                            )
    return found
